package store

import "github.com/fireflow/fireflow/internal/firewall"

// PageSize applies the default page size, and caps a size the caller
// failed to check.
func PageSize(n int) int {
	switch {
	case n <= 0:
		return firewall.DefaultPageSize
	case n > firewall.MaxPageSize:
		return firewall.MaxPageSize
	}
	return n
}

// CheckPosition refuses a rule position that would leave a gap in 1..highest.
// The service checks first; stores repeat it so that positions stay 1..n
// whatever the caller does.
func CheckPosition(pos, highest int) error {
	if pos >= 1 && pos <= highest {
		return nil
	}
	var ps firewall.Problems
	ps.Add("position", pos, "position must be between 1 and %d", highest)
	return ps.Err("the position is out of range")
}

// ParseList parses a stored list of canonical strings. An empty list parses
// to nil, like the lists of firewall.NewRule.
func ParseList[T any](entries []string, parse func(string) (T, error)) ([]T, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]T, len(entries))
	for i, s := range entries {
		v, err := parse(s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
