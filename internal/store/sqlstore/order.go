package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fireflow/fireflow/internal/store"
)

// Rules are ordered within a policy by order_key, a sparse integer key,
// and their 1..n positions are derived on read. A new policy's first rule
// gets firstKey; a rule placed at the top or the bottom gets its
// neighbour's key minus or plus keyGap; a rule placed between two gets the
// midpoint of their keys. So an insert or a move writes one row. Only when
// two neighbours' keys are adjacent (after some 32 inserts at one place)
// are the keys around the place spread out again (respace), over as few
// rules as leave minGap between each.
const (
	firstKey = int64(1) << 62
	keyGap   = int64(1) << 32
)

// Positions are counted with the help of rule_buckets, which holds how
// many of a policy's rules have keys in each run of 2^bucketShift keys
// (64 rules as freshly numbered): a position is the sum of the counts of
// the buckets before the rule's, plus a count within its bucket. Inserts,
// moves and deletes keep the counts; renumbering rebuilds them.
const (
	bucketShift = 38
	// bucketSize is 2^bucketShift as SQL text, so that statements that
	// group by bucket name the same expression throughout.
	bucketSize = "274877906944"
)

func bucketOf(key int64) int64 { return key >> bucketShift }

// bucketStatement adds delta to the count of key's bucket.
func bucketStatement(policyID string, key int64, delta int) Statement {
	return Statement{`INSERT INTO rule_buckets (policy_id, bucket, n) VALUES (?, ?, ?)
		ON CONFLICT (policy_id, bucket) DO UPDATE SET n = rule_buckets.n + excluded.n`,
		[]any{policyID, bucketOf(key), int64(delta)}}
}

// rebuildBuckets counts the policy's rules per bucket afresh.
func rebuildBuckets(policyID string) []Statement {
	return []Statement{
		{`DELETE FROM rule_buckets WHERE policy_id = ?`, []any{policyID}},
		{`INSERT INTO rule_buckets (policy_id, bucket, n)
			SELECT policy_id, order_key / ` + bucketSize + `, COUNT(*) FROM rules WHERE policy_id = ?
			GROUP BY policy_id, order_key / ` + bucketSize, []any{policyID}},
	}
}

// keyOf is the key that position pos of a freshly numbered policy holds,
// as migration 00005 and renumber assign them.
func keyOf(pos int) int64 { return firstKey + int64(pos-1)*keyGap }

// placeFor returns the order key that puts a rule at position (0: after
// the last rule) among the policy's other rules, and the position it takes
// there. A move passes the rule's id and current key, which is kept if it
// already lies there. An out-of-range position returns the
// firewall.CodeInvalid error of store.CheckPosition.
func (t *Tx) placeFor(ctx context.Context, policyID, id string, position int, current *int64) (int64, int, error) {
	for renumbered := false; ; renumbered = true {
		lo, hi, pos, err := t.neighbours(ctx, policyID, position, current)
		if err != nil {
			return 0, 0, err
		}
		if current != nil && (lo == nil || *lo < *current) && (hi == nil || *current < *hi) {
			return *current, pos, nil
		}
		if key, ok := keyBetween(lo, hi); ok {
			return key, pos, nil
		}
		if renumbered {
			// Renumbering leaves keyGap between neighbours; no room after it
			// means that the keys ran out, which 2^30 rules would take.
			return 0, 0, t.classify(errNoRoom, "place rule in filtering policy %s", policyID)
		}
		if lo != nil && hi != nil {
			err = t.respace(ctx, policyID, *lo, *hi)
		} else {
			err = t.renumber(ctx, policyID)
		}
		if err != nil {
			return 0, 0, err
		}
		if current != nil {
			if err := t.q.queryRow(ctx, `SELECT order_key FROM rules WHERE id = ?`, id).Scan(current); err != nil {
				return 0, 0, t.classify(err, "place rule in filtering policy %s", policyID)
			}
		}
	}
}

// neighbours returns the keys of the rules that would come just before
// and just after a rule at position (nil at either end) once the rule
// whose key is current, if any, is taken out, and the position itself (the
// count plus one for 0). It reads at most three keys, walking the index
// from the nearer end of the policy: a read, where stored positions would
// write every row after the place.
func (t *Tx) neighbours(ctx context.Context, policyID string, position int, current *int64) (lo, hi *int64, pos int, err error) {
	if position == 0 && current == nil {
		return t.lastKey(ctx, policyID)
	}
	n, err := t.CountRules(ctx, policyID)
	if err != nil {
		return nil, nil, 0, err
	}
	others := n // the rules the placed one goes among
	if current != nil {
		others--
	}
	if position == 0 {
		position = others + 1
	}
	if err := store.CheckPosition(position, others+1); err != nil {
		return nil, nil, 0, err
	}
	// The new neighbours are others[position-2] and others[position-1]
	// (0-based); others[i] is all[i] before the moved rule and all[i+1]
	// after it, so all[position-2 .. position] holds them.
	first, last := max(0, position-2), min(n-1, position)
	if first > last {
		return nil, nil, position, nil // an empty policy
	}
	keys, err := t.keyRun(ctx, policyID, n, first, last)
	if err != nil {
		return nil, nil, 0, err
	}
	at := func(i int) *int64 {
		if i < 0 || i >= others {
			return nil
		}
		k := keys[i-first]
		if current != nil && k >= *current {
			k = keys[i+1-first]
		}
		return &k
	}
	return at(position - 2), at(position - 1), position, nil
}

// lastKey is neighbours for an append, the common case: it reads the
// count and the last key in one statement, where the general path takes
// two round trips.
func (t *Tx) lastKey(ctx context.Context, policyID string) (lo, hi *int64, pos int, err error) {
	var n int
	var last *int64
	err = t.q.queryRow(ctx, `SELECT COALESCE((SELECT rule_count FROM policies WHERE id = ?), 0),
		(SELECT order_key FROM rules WHERE policy_id = ? ORDER BY order_key DESC LIMIT 1)`,
		policyID, policyID).Scan(&n, &last)
	if err != nil {
		return nil, nil, 0, t.classify(err, "read order keys of filtering policy %s", policyID)
	}
	if n == 0 {
		return nil, nil, 1, nil
	}
	if last == nil {
		return nil, nil, 0, fmt.Errorf("filtering policy %s counts %d rules but holds fewer", policyID, n)
	}
	return last, nil, n + 1, nil
}

// keyRun reads the keys of the policy's rules first..last (0-based, in key
// order) of its n: near either end of the policy by walking the index from
// that end, elsewhere by finding the bucket that holds the first of them
// from the bucket counts and walking from its start.
func (t *Tx) keyRun(ctx context.Context, policyID string, n, first, last int) ([]int64, error) {
	scanKey := func(row Row) (int64, error) {
		var k int64
		return k, row.Scan(&k)
	}
	count := last - first + 1
	var keys []int64
	var err error
	switch fromEnd := n - 1 - last; {
	case first <= nearEnd && first <= fromEnd:
		keys, err = queryAll(ctx, t.q, scanKey, `SELECT order_key FROM rules WHERE policy_id = ?
			ORDER BY order_key`+limit(count, first), policyID)
	case fromEnd <= nearEnd:
		keys, err = queryAll(ctx, t.q, scanKey, `SELECT order_key FROM rules WHERE policy_id = ?
			ORDER BY order_key DESC`+limit(count, fromEnd), policyID)
		slices.Reverse(keys)
	default:
		var bucket, before int64
		err = t.q.queryRow(ctx, `SELECT bucket, upto - n FROM
			(SELECT bucket, n, SUM(n) OVER (ORDER BY bucket) AS upto FROM rule_buckets WHERE policy_id = ?) AS b
			WHERE upto > ? ORDER BY bucket LIMIT 1`, policyID, int64(first)).Scan(&bucket, &before)
		if err == nil {
			keys, err = queryAll(ctx, t.q, scanKey, `SELECT order_key FROM rules WHERE policy_id = ? AND order_key >= ?
				ORDER BY order_key`+limit(count, first-int(before)), policyID, bucket<<bucketShift)
		}
	}
	if err != nil {
		return nil, t.classify(err, "read order keys of filtering policy %s", policyID)
	}
	if len(keys) != count {
		return nil, fmt.Errorf("filtering policy %s counts %d rules but holds fewer", policyID, n)
	}
	return keys, nil
}

// limit is a LIMIT and OFFSET clause with the numbers written out: bound
// as parameters, PostgreSQL's generic plan of a prepared statement cannot
// see that few rows are wanted, and may sort the whole policy.
func limit(count, offset int) string {
	return " LIMIT " + strconv.Itoa(count) + " OFFSET " + strconv.Itoa(offset)
}

// nearEnd is how far from an end of a policy a walk from that end is
// cheaper than finding the place through the bucket counts.
const nearEnd = 256

// keyBetween returns a key strictly between lo and hi (either may be nil,
// for no bound), and whether there is room for one.
func keyBetween(lo, hi *int64) (int64, bool) {
	switch {
	case lo == nil && hi == nil:
		return firstKey, true
	case lo == nil:
		if *hi > keyGap {
			return *hi - keyGap, true
		}
		// Keys stay >= 1, which the schema checks.
		return 1 + (*hi-1)/2, *hi >= 2
	case hi == nil:
		if *lo <= math.MaxInt64-keyGap {
			return *lo + keyGap, true
		}
		return *lo + 1 + (math.MaxInt64-*lo-1)/2, *lo < math.MaxInt64
	}
	return *lo + (*hi-*lo)/2, *hi-*lo >= 2
}

// minGap is the least room respace leaves between two keys: 20 more
// halvings before the place fills up again.
const minGap = int64(1) << 20

// respace spreads out the keys of the rules around the place between the
// neighbouring keys lo and hi, which have no room left between them. It
// takes w rules on each side, for w = 8, 32, 128 ..., until the keys just
// outside them leave minGap for each rule and for the one to come, and
// gives those rules evenly spaced keys, leaving the middle slot free. A
// window that grows to the whole policy renumbers it.
func (t *Tx) respace(ctx context.Context, policyID string, lo, hi int64) error {
	scanKey := func(row Row) (int64, error) {
		var k int64
		return k, row.Scan(&k)
	}
	for w := 8; ; w *= 4 {
		below, err := queryAll(ctx, t.q, scanKey, `SELECT order_key FROM rules WHERE policy_id = ? AND order_key <= ?
			ORDER BY order_key DESC`+limit(w+1, 0), policyID, lo)
		if err != nil {
			return t.classify(err, "respace rules of filtering policy %s", policyID)
		}
		above, err := queryAll(ctx, t.q, scanKey, `SELECT order_key FROM rules WHERE policy_id = ? AND order_key >= ?
			ORDER BY order_key`+limit(w+1, 0), policyID, hi)
		if err != nil {
			return t.classify(err, "respace rules of filtering policy %s", policyID)
		}
		// The window's keys lie strictly between low and high.
		low, high := int64(0), int64(math.MaxInt64)
		if len(below) > w {
			low, below = below[w], below[:w]
		}
		if len(above) > w {
			high, above = above[w], above[:w]
		}
		slots := int64(len(below) + len(above) + 1)
		step := (high - low) / (slots + 1)
		if step >= minGap {
			slices.Reverse(below)
			old := slices.Concat(below, above)
			fresh := make([]int64, len(old))
			for i := range old {
				slot := int64(i)
				if i >= len(below) {
					slot++ // the free slot between lo and hi
				}
				fresh[i] = low + step*(slot+1)
			}
			return t.rekey(ctx, policyID, old, fresh)
		}
		if len(below) < w && len(above) < w {
			return t.renumber(ctx, policyID) // the window is the whole policy
		}
	}
}

// rekey changes the keys old (ascending) of the policy's rules to fresh
// (ascending, over the same span), one row at a time in an order that
// never lets two rows share a key: the rules whose keys fall first, from
// the least, then those whose keys rise, from the greatest. It then counts
// the buckets of the span afresh.
func (t *Tx) rekey(ctx context.Context, policyID string, old, fresh []int64) error {
	if err := t.versionKeys(ctx, policyID, `AND order_key >= ? AND order_key <= ?`, old[0], old[len(old)-1]); err != nil {
		return err
	}
	var stmts []Statement
	update := func(i int) {
		stmts = append(stmts, Statement{`UPDATE rules SET order_key = ? WHERE policy_id = ? AND order_key = ?`,
			[]any{fresh[i], policyID, old[i]}})
	}
	for i := range old {
		if fresh[i] < old[i] {
			update(i)
		}
	}
	for i := len(old) - 1; i >= 0; i-- {
		if fresh[i] > old[i] {
			update(i)
		}
	}
	first := bucketOf(min(old[0], fresh[0]))
	last := bucketOf(max(old[len(old)-1], fresh[len(fresh)-1]))
	stmts = append(stmts,
		Statement{`DELETE FROM rule_buckets WHERE policy_id = ? AND bucket BETWEEN ? AND ?`, []any{policyID, first, last}},
		Statement{`INSERT INTO rule_buckets (policy_id, bucket, n)
			SELECT policy_id, order_key / ` + bucketSize + `, COUNT(*) FROM rules
			WHERE policy_id = ? AND order_key >= ? AND order_key <= ?
			GROUP BY policy_id, order_key / ` + bucketSize,
			[]any{policyID, first << bucketShift, last<<bucketShift + (1<<bucketShift - 1)}})
	return t.classify(t.q.run(ctx, stmts), "respace rules of filtering policy %s", policyID)
}

// versionKeys notes the policy's rules that cond (with args) selects as
// changed, because their keys are about to change: their positions do
// not, but reading history numbers rules by key (see history.go).
func (t *Tx) versionKeys(ctx context.Context, policyID, cond string, args ...any) error {
	marks, err := queryAll(ctx, t.q, func(row Row) ([2]string, error) {
		var m [2]string
		return m, row.Scan(&m[0], &m[1])
	}, `SELECT id, firewall_id FROM rules WHERE policy_id = ? `+cond, append([]any{policyID}, args...)...)
	if err != nil {
		return t.classify(err, "respace rules of filtering policy %s", policyID)
	}
	for _, m := range marks {
		t.hist.rule(m[1], policyID, m[0])
	}
	return nil
}

// renumber gives the policy's rules the keys keyOf(1..n), keeping their
// order. Both engines check UNIQUE (policy_id, order_key) row by row, so
// the rules first move, in order, to a run of keys that neither the old
// keys nor the new ones use, and from there to their new keys.
func (t *Tx) renumber(ctx context.Context, policyID string) error {
	var n int
	var least, most int64
	err := t.q.queryRow(ctx, `SELECT COUNT(*), COALESCE(MIN(order_key), 0), COALESCE(MAX(order_key), 0)
		FROM rules WHERE policy_id = ?`, policyID).Scan(&n, &least, &most)
	if err != nil {
		return t.classify(err, "renumber rules of filtering policy %s", policyID)
	}
	if err := t.versionKeys(ctx, policyID, ""); err != nil {
		return err
	}
	last := keyOf(n)
	// The staging run lies above both the old keys and the new ones, or
	// else below both.
	var stage int64
	switch top := max(most, last); {
	case top <= math.MaxInt64-int64(n):
		stage = top
	case min(least, firstKey)-int64(n) >= 1:
		stage = min(least, firstKey) - int64(n) - 1
	default:
		return t.classify(errNoRoom, "renumber rules of filtering policy %s", policyID)
	}
	_, err = t.q.exec(ctx, `UPDATE rules SET order_key = ? + o.rn
		FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY order_key) AS rn FROM rules WHERE policy_id = ?) AS o
		WHERE rules.id = o.id`, stage, policyID)
	if err != nil {
		return t.classify(err, "renumber rules of filtering policy %s", policyID)
	}
	_, err = t.q.exec(ctx, `UPDATE rules SET order_key = ? + (order_key - ? - 1) * ? WHERE policy_id = ?`,
		firstKey, stage, keyGap, policyID)
	if err != nil {
		return t.classify(err, "renumber rules of filtering policy %s", policyID)
	}
	return t.classify(t.q.run(ctx, rebuildBuckets(policyID)), "renumber rules of filtering policy %s", policyID)
}

// setPositions derives the positions of rules read from one policy from
// their keys. Most pages hold a run of consecutive rules (every page in
// position order without a filter), which numberRun numbers in one
// statement; other pages go to numberSpread.
//
// Their statements take every argument through a CAST (textArg, intArg):
// SQLite's planner, once ANALYZE has run, looks at the values of bare
// parameters in indexed conditions, and then prepares the statement again
// each time they are bound, which would cost more than the statement runs.
func (r Reader) setPositions(ctx context.Context, policyID string, rules []keyedRule) error {
	order := make([]int, len(rules)) // indexes of rules, in key order
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rules[a].key, rules[b].key) })
	// Only a page read in key order, either way, is worth trying as a run.
	byKey := func(a, b keyedRule) int { return cmp.Compare(a.key, b.key) }
	inKeyOrder := slices.IsSortedFunc(rules, byKey) || slices.IsSortedFunc(rules, func(a, b keyedRule) int { return byKey(b, a) })
	if len(order) > 1 && inKeyOrder {
		if done, err := r.numberRun(ctx, policyID, rules, order); done || err != nil {
			return err
		}
	}
	return r.numberSpread(ctx, policyID, rules, order)
}

// numberRun numbers rules, whose indexes in key order are order, if they
// are consecutive rules of the policy, and reports whether they were. One
// statement counts the rules from the first key to the last, stopping past
// as many as were read, and the position of the first.
func (r Reader) numberRun(ctx context.Context, policyID string, rules []keyedRule, order []int) (bool, error) {
	first, last := rules[order[0]].key, rules[order[len(order)-1]].key
	var span, before, within int64
	err := r.q.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM (SELECT 1 FROM rules WHERE policy_id = `+textArg+` AND order_key >= `+intArg+` AND order_key <= `+intArg+`
			LIMIT `+intArg+`) AS run),
		(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM rule_buckets WHERE policy_id = `+textArg+` AND bucket < `+intArg+`),
		(SELECT COUNT(*) FROM rules WHERE policy_id = `+textArg+` AND order_key >= `+intArg+` AND order_key <= `+intArg+`)`,
		policyID, first, last, int64(len(order)+1),
		policyID, bucketOf(first),
		policyID, bucketOf(first)<<bucketShift, first).Scan(&span, &before, &within)
	if err != nil {
		return false, r.classify(err, "number rules of filtering policy %s", policyID)
	}
	if span != int64(len(order)) {
		return false, nil
	}
	for j, i := range order {
		rules[i].Position = int(before + within + int64(j))
	}
	return true, nil
}

// numberSpread numbers rules, whose indexes in key order are order. Taken in
// key order, each rule's position is the previous one's plus the rules
// after the previous key up to its own: counted directly while the two keys
// share a bucket, and otherwise as the bucket counts from the previous
// key's bucket up to this one's, plus a count from the start of this key's
// bucket. So each index entry and bucket row up to the page's last key is
// visited at most once. It all goes in one statement, of one arm per rule
// (see positionStatement).
func (r Reader) numberSpread(ctx context.Context, policyID string, rules []keyedRule, order []int) error {
	arms := positionArms(len(order))
	args := make([]any, 0, 5*arms+2)
	for j := range arms {
		// A padding arm (j beyond the page) counts two empty ranges.
		bucketLo, bucketHi, keyLo, keyHi := int64(0), int64(0), int64(0), int64(0)
		if j < len(order) {
			key := rules[order[j]].key
			keyHi = key
			switch {
			case j == 0:
				bucketLo, bucketHi, keyLo = math.MinInt64, bucketOf(key), bucketOf(key)<<bucketShift-1
			case bucketOf(key) == bucketOf(rules[order[j-1]].key):
				keyLo = rules[order[j-1]].key
			default:
				bucketLo, bucketHi, keyLo = bucketOf(rules[order[j-1]].key), bucketOf(key), bucketOf(key)<<bucketShift-1
			}
		}
		args = append(args, int64(j), bucketLo, bucketHi, keyLo, keyHi)
	}
	args = append(args, policyID, policyID)
	steps, err := queryAll(ctx, r.q, func(row Row) ([3]int64, error) {
		var s [3]int64
		return s, row.Scan(&s[0], &s[1], &s[2])
	}, positionStatement(arms), args...)
	if err != nil {
		return r.classify(err, "number rules of filtering policy %s", policyID)
	}
	if len(steps) != arms {
		return fmt.Errorf("number rules of filtering policy %s: %d of %d steps", policyID, len(steps), arms)
	}
	slices.SortFunc(steps, func(a, b [3]int64) int { return cmp.Compare(a[0], b[0]) })
	var before, within int64 // the rules of the buckets before this key's, and of its bucket up to it
	for j, i := range order {
		s := steps[j]
		if j == 0 || bucketOf(rules[i].key) != bucketOf(rules[order[j-1]].key) {
			before, within = before+s[1], 0
		}
		within += s[2]
		rules[i].Position = int(before + within)
	}
	return nil
}

// textArg and intArg are a parameter through a CAST (see setPositions).
const (
	textArg = "CAST(? AS TEXT)"
	intArg  = "CAST(? AS BIGINT)"
)

// positionArms is how many arms setPositions' statement has for a page of
// n rules: n rounded up to a power of two, so that pages of any size share
// a few statement texts, which the statement caches keep prepared.
func positionArms(n int) int {
	arms := 1
	for arms < n {
		arms *= 2
	}
	return arms
}

// positionStatement returns setPositions' statement of the given number
// of arms. Each arm returns its index, the bucket counts of the buckets from
// its bucket_lo up to its bucket_hi (excluded), and the count of keys above
// its key_lo up to its key_hi. The arms are rows of a VALUES list, which
// SQLite does not limit to 500 as it does the arms of a UNION.
func positionStatement(arms int) string {
	const row = `(` + intArg + `, ` + intArg + `, ` + intArg + `, ` + intArg + `, ` + intArg + `)`
	return `WITH arm (j, bucket_lo, bucket_hi, key_lo, key_hi) AS (VALUES ` + strings.Repeat(row+", ", arms-1) + row + `)
		SELECT j, (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM rule_buckets
			WHERE policy_id = ` + textArg + ` AND bucket >= arm.bucket_lo AND bucket < arm.bucket_hi),
		(SELECT COUNT(*) FROM rules WHERE policy_id = ` + textArg + ` AND order_key > arm.key_lo AND order_key <= arm.key_hi)
		FROM arm`
}
