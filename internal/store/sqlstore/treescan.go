package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Reading a whole tree decodes every rule of the firewall, 10,000 and
// more, and most of the time goes to the driver's work per column and to
// allocations per rule. The tree readers therefore scan fewer columns
// than ruleColumns (the firewall is known, and the four lists come as one
// text), scan into one reusable set of destinations, and decode the
// lists of all rules into shared backing arrays.

// treeRuleColumns are the columns the tree readers scan, with id the
// column holding the rule's id.
func treeRuleColumns(id string) string {
	return id + `, policy_id, name, description, order_key, ` + flagsColumn + `, ` + listsColumn + `,
		expires_at, etag, created_at, updated_at`
}

// flagsColumn is a rule's action, protocol and enabled flag as one text,
// such as "allow tcp 1"; cutFlags cuts it apart. Neither enum holds a
// space (the rules table checks both against their few values).
const flagsColumn = `action || ' ' || protocol || CASE WHEN enabled THEN ' 1' ELSE ' 0' END`

// cutFlags cuts what flagsColumn reads. The enums come back as the
// package's constants where they are one, so that the text can go.
func cutFlags(text string) (firewall.Action, firewall.Protocol, bool, bool) {
	action, rest, ok1 := strings.Cut(text, " ")
	protocol, enabled, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || (enabled != "0" && enabled != "1") {
		return "", "", false, false
	}
	a, p := firewall.Action(action), firewall.Protocol(protocol)
	for _, known := range []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject} {
		if a == known {
			a = known
		}
	}
	for _, known := range []firewall.Protocol{firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6} {
		if p == known {
			p = known
		}
	}
	return a, p, enabled == "1", true
}

// listsColumn is the four list columns as one text, their JSON arrays
// back to back; cutLists cuts it apart. The casts turn PostgreSQL's jsonb
// into text and leave SQLite's text as it is.
const listsColumn = `CAST(sources AS TEXT) || CAST(destinations AS TEXT) || CAST(source_ports AS TEXT) || CAST(destination_ports AS TEXT)`

// cutLists cuts what listsColumn reads into the four JSON arrays.
func cutLists(text string) ([4]string, bool) {
	var out [4]string
	s := text
	for k := range out {
		s = trimJSONSpace(s)
		n, ok := jsonArrayLen(s)
		if !ok {
			return out, false
		}
		out[k], s = s[:n], s[n:]
	}
	return out, trimJSONSpace(s) == ""
}

// jsonArrayLen returns the length of the JSON array s starts with, found
// by matching brackets outside strings. It does not check what is
// between them: the list decoder does, and within a valid array the
// first bracket to close the outermost one is its end.
func jsonArrayLen(s string) (int, bool) {
	if s == "" || s[0] != '[' {
		return 0, false
	}
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// arenaChunk is how many entries a list arena allocates at once.
const arenaChunk = 4096

// listArena decodes many rules' lists into shared backing arrays: one
// allocation per some thousand entries instead of two per list. Each
// list is cut off at its own length, so that appending to one never
// writes into the next.
type listArena struct {
	items    []string
	prefixes []netip.Prefix
	ports    []firewall.PortRange
}

// decodeInto decodes text, as decodeList does, into the free end of slab.
func decodeInto[T any](a *listArena, slab *[]T, text string, parse func(string) (T, error)) ([]T, error) {
	items, ok := appendList(a.items[:0], text)
	a.items = items
	if !ok {
		return decodeList(text, parse)
	}
	if len(items) == 0 {
		return nil, nil
	}
	if cap(*slab)-len(*slab) < len(items) {
		*slab = make([]T, 0, max(arenaChunk, len(items)))
	}
	start := len(*slab)
	for _, item := range items {
		v, err := parse(item)
		if err != nil {
			*slab = (*slab)[:start]
			return nil, err
		}
		*slab = append(*slab, v)
	}
	return (*slab)[start:len(*slab):len(*slab)], nil
}

// decodeLists decodes what listsColumn reads into r's four lists.
func (a *listArena) decodeLists(r *firewall.Rule, text string) error {
	lists, ok := cutLists(text)
	if !ok {
		return errors.New("decode stored rule " + r.ID + ": its lists are not four JSON arrays")
	}
	var errs [4]error
	r.Sources, errs[0] = decodeInto(a, &a.prefixes, lists[0], firewall.ParsePrefix)
	r.Destinations, errs[1] = decodeInto(a, &a.prefixes, lists[1], firewall.ParsePrefix)
	r.SourcePorts, errs[2] = decodeInto(a, &a.ports, lists[2], firewall.ParsePortRange)
	r.DestinationPorts, errs[3] = decodeInto(a, &a.ports, lists[3], firewall.ParsePortRange)
	if err := errors.Join(errs[:]...); err != nil {
		return errors.Join(errors.New("decode stored rule "+r.ID), err)
	}
	return nil
}

// ruleScanner scans the rows of treeRuleColumns through one set of
// destinations.
type ruleScanner struct {
	id, policyID, name, description string
	key                             int64
	flags, lists                    string
	expiresAt                       *time.Time
	etag                            string
	createdAt, updatedAt            time.Time
	dest                            []any
	arena                           listArena
}

// newRuleScanner returns a scanner of treeRuleColumns followed by
// columns scanned into extra.
func newRuleScanner(extra ...any) *ruleScanner {
	s := &ruleScanner{}
	s.dest = append([]any{&s.id, &s.policyID, &s.name, &s.description, &s.key, &s.flags, &s.lists,
		nullTimeScan{&s.expiresAt}, &s.etag, timeScan{&s.createdAt}, timeScan{&s.updatedAt}}, extra...)
	return s
}

// scan reads the row into r, a rule of the firewall, and returns its
// order key.
func (s *ruleScanner) scan(row Row, firewallID string, r *firewall.Rule) (int64, error) {
	if err := row.Scan(s.dest...); err != nil {
		return 0, err
	}
	*r = firewall.Rule{
		Meta:       firewall.Meta{ID: s.id, ETag: s.etag, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt},
		FirewallID: firewallID, PolicyID: s.policyID, Name: s.name, Description: s.description,
		ExpiresAt: s.expiresAt,
	}
	var ok bool
	if r.Action, r.Protocol, r.Enabled, ok = cutFlags(s.flags); !ok {
		return 0, fmt.Errorf("decode stored rule %s: its action, protocol and flag read %q", r.ID, s.flags)
	}
	return s.key, s.arena.decodeLists(r, s.lists)
}

// treeRead says how readTreeRules reads a tree's rules.
type treeRead struct {
	// hint is about how many rules there are.
	hint int
	// sorted says that the query returns the rules in order of policy id
	// and order key; else they are sorted after reading.
	sorted bool
	// extra, if set, are the destinations of columns the query selects
	// after treeRuleColumns, and then is called with each rule once they
	// are scanned.
	extra []any
	then  func(*firewall.Rule) error
}

// readTreeRules runs query, which selects treeRuleColumns of the
// firewall's rules, and returns the rules numbered in order of policy id
// and order key.
func (r Reader) readTreeRules(ctx context.Context, firewallID string, how treeRead, query string, args ...any) ([]firewall.Rule, error) {
	rows, err := r.q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rules := make([]firewall.Rule, 0, how.hint)
	keys := make([]int64, 0, how.hint)
	s := newRuleScanner(how.extra...)
	for rows.Next() {
		rules = append(rules, firewall.Rule{})
		rule := &rules[len(rules)-1]
		key, err := s.scan(rows, firewallID, rule)
		if err == nil && how.then != nil {
			err = how.then(rule)
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !how.sorted {
		sortRules(rules, keys)
	}
	number(rules)
	return rules, nil
}

// sortRules puts rules in order of policy id and key, keys[i] being the
// key of rules[i]. It sorts small entries rather than the rules, which
// are large, and then moves each rule at most once, in place.
func sortRules(rules []firewall.Rule, keys []int64) {
	type entry struct {
		policy int32
		from   int32
		key    int64
	}
	// The policies' ids are ranked once, not compared per comparison.
	var ids []string
	rank := map[string]int32{}
	for i := range rules {
		if _, ok := rank[rules[i].PolicyID]; !ok {
			rank[rules[i].PolicyID] = 0
			ids = append(ids, rules[i].PolicyID)
		}
	}
	slices.Sort(ids)
	for i, id := range ids {
		rank[id] = int32(i)
	}
	order := make([]entry, len(rules))
	for i := range rules {
		order[i] = entry{policy: rank[rules[i].PolicyID], from: int32(i), key: keys[i]}
	}
	byPolicyAndKey := func(a, b entry) int { return cmp.Or(cmp.Compare(a.policy, b.policy), cmp.Compare(a.key, b.key)) }
	if slices.IsSortedFunc(order, byPolicyAndKey) {
		return
	}
	slices.SortFunc(order, byPolicyAndKey)
	// Follow each cycle of the permutation: rules[i] takes rules[order[i].from].
	for start := range order {
		if order[start].from < 0 || int(order[start].from) == start {
			continue
		}
		held := rules[start]
		i := start
		for {
			from := int(order[i].from)
			order[i].from = -1
			if from == start {
				rules[i] = held
				break
			}
			rules[i] = rules[from]
			i = from
		}
	}
}

// number sets the positions of rules in order of policy and key: 1..n
// within each policy.
func number(rules []firewall.Rule) {
	pos := 0
	for i := range rules {
		if i == 0 || rules[i].PolicyID != rules[i-1].PolicyID {
			pos = 0
		}
		pos++
		rules[i].Position = pos
	}
}

// ruleCountHint returns how many rules the firewall has now, to size the
// result of a tree read.
func (r Reader) ruleCountHint(ctx context.Context, firewallID string) (int, error) {
	var n int64
	err := r.q.queryRow(ctx, `SELECT COALESCE(SUM(rule_count), 0) FROM policies WHERE firewall_id = ?`, firewallID).Scan(&n)
	return int(n), err
}
