package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// History is kept as versions of elements (migration 00006). A write
// transaction notes which firewalls, policies and rules it touched, and
// what revision each firewall's change became; when fn returns, before
// the commit, flushHistory closes the current version of each touched
// element at that revision and copies its live row (if it still exists)
// as the version valid from it, and records the revision. So a write
// costs versions in proportion to what it changed, not to the tree.
//
// A rule version keeps the rule's order_key, and reading revision n
// numbers rules by key. That is right only if, at every revision, the
// keys of the versions valid then order the rules as they stood: every
// change of a live key must make a version. Inserts and moves change one
// key. Respace changes the keys of a small window of rules around a crowded
// place (a few dozen, after some 20 inserts at that place) and they get
// new versions at the write's revision: amortised O(1) per write, like the
// respace itself. Renumbering a whole policy (when its key space is spent:
// some 2^30 inserts at one end) versions the whole policy, as it rewrites
// it.

// history is what one write transaction changed, per firewall.
type history struct {
	revs      map[string]*pendingRevision
	firewalls map[string]bool
	policies  map[string]string // policy id → firewall id
	rules     map[string]ruleMark
	// created are rules this transaction inserted: they have no open
	// version to close, so their versioning skips that statement.
	created map[string]bool
	// wholePolicies are policies all of whose rules changed (renumbered or
	// bulk-loaded): policy id → firewall id.
	wholePolicies map[string]string
	deleted       map[string]bool
	retention     firewall.Retention
	groups        groupHistory
}

type ruleMark struct{ firewallID, policyID string }

// pendingRevision is a firewall's revision as this transaction makes it.
type pendingRevision struct {
	rev int64
	at  time.Time
	// fresh says that rev was made in this transaction (created or
	// bumped), so that no version can be valid from it yet.
	fresh     bool
	actor     string
	requestID string
	noted     string
	events    []eventNote
	// changed says that the transaction wrote some of the tree.
	changed bool
	// newElements says that the versions being written are of elements
	// this transaction created (see forNew).
	newElements bool
}

type eventNote struct {
	action firewall.AuditAction
	kind   string
	name   string
}

func newHistory() *history {
	return &history{revs: map[string]*pendingRevision{}, firewalls: map[string]bool{},
		policies: map[string]string{}, rules: map[string]ruleMark{}, created: map[string]bool{}, wholePolicies: map[string]string{},
		deleted: map[string]bool{}}
}

// rev returns the firewall's pending revision.
func (h *history) rev(firewallID string) *pendingRevision {
	p := h.revs[firewallID]
	if p == nil {
		p = &pendingRevision{}
		h.revs[firewallID] = p
	}
	return p
}

// changed returns the firewall's pending revision, marked changed.
func (h *history) changed(firewallID string) *pendingRevision {
	p := h.rev(firewallID)
	p.changed = true
	return p
}

func (h *history) firewall(id string)           { h.firewalls[id] = true; h.changed(id) }
func (h *history) policy(firewallID, id string) { h.policies[id] = firewallID; h.changed(firewallID) }
func (h *history) rule(firewallID, policyID, id string) {
	h.rules[id] = ruleMark{firewallID, policyID}
	h.changed(firewallID)
}

// createdRule notes a rule inserted by this transaction. One that reuses
// the id of a rule this transaction deleted is versioned as a change, so
// that the deleted rule's open version is closed.
func (h *history) createdRule(firewallID, policyID, id string) {
	if _, seen := h.rules[id]; !seen {
		h.created[id] = true
	}
	h.rule(firewallID, policyID, id)
}
func (h *history) wholePolicy(firewallID, policyID string) {
	h.wholePolicies[policyID] = firewallID
	h.changed(firewallID)
}

// made notes that the firewall's revision is now rev, made at at.
func (h *history) made(firewallID string, rev int64, at time.Time) {
	p := h.changed(firewallID)
	p.rev, p.at, p.fresh = rev, at, true
	h.firewalls[firewallID] = true // the revision, etag and update time changed
}

// NoteRevision sets the summary of the revision this transaction makes.
func (t *Tx) NoteRevision(firewallID, summary string) { t.hist.rev(firewallID).noted = summary }

// noteEvent keeps what an audit event says about the revision it is part of.
func (h *history) noteEvent(ev firewall.AuditEvent) {
	if ev.FirewallID == "" {
		return
	}
	p := h.rev(ev.FirewallID)
	if p.actor == "" {
		p.actor = ev.ActorSubject
	}
	if p.requestID == "" {
		p.requestID = ev.RequestID
	}
	image := ev.After
	if image == nil {
		image = ev.Before
	}
	var named struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(image, &named) // the name only decorates the summary
	p.events = append(p.events, eventNote{ev.Action, ev.ResourceType, named.Name})
}

// summary is the revision's one-line description.
func (p *pendingRevision) summary() string {
	if p.noted != "" {
		return p.noted
	}
	switch len(p.events) {
	case 0:
		return "changed"
	case 1:
		e := p.events[0]
		s := string(e.action) + "d " + strings.ReplaceAll(e.kind, "_", " ")
		if e.action == firewall.AuditMove {
			s = "moved " + e.kind
		}
		if e.name != "" {
			s += fmt.Sprintf(" %q", e.name)
		}
		return s
	}
	counts := map[firewall.AuditAction]int{}
	for _, e := range p.events {
		counts[e.action]++
	}
	var parts []string
	for _, a := range []firewall.AuditAction{firewall.AuditCreate, firewall.AuditUpdate, firewall.AuditMove, firewall.AuditDelete} {
		if counts[a] > 0 {
			verb := string(a) + "d"
			if a == firewall.AuditMove {
				verb = "moved"
			}
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], verb))
		}
	}
	return fmt.Sprintf("%d changes: %s", len(p.events), strings.Join(parts, ", "))
}

// versionBatch is how many ids one statement closes or copies.
const versionBatch = 500

// flushHistory writes the versions and revision records of what the
// transaction changed; Store.Update runs it before committing.
func (t *Tx) flushHistory(ctx context.Context) error {
	h := t.hist
	for _, fw := range slices.Sorted(maps.Keys(h.revs)) {
		if h.deleted[fw] || !h.revs[fw].changed {
			continue
		}
		if err := t.flushFirewall(ctx, fw, h.revs[fw]); err != nil {
			return t.classify(err, "record revision of firewall %s", fw)
		}
	}
	return nil
}

func (t *Tx) flushFirewall(ctx context.Context, fw string, p *pendingRevision) error {
	h := t.hist
	if !p.fresh {
		// A change without a revision bump: it amends the current revision.
		var at int64
		err := t.q.queryRow(ctx, `SELECT revision FROM firewalls WHERE id = ?`, fw).Scan(&at)
		if err != nil {
			return err
		}
		p.rev, p.at = at, time.Now().UTC().Truncate(time.Microsecond)
	}
	var stmts []Statement
	if h.firewalls[fw] {
		stmts = append(stmts, t.versionStatements(p, "firewall_versions", "firewall_id", "firewalls", "id",
			`name, description, labels, default_action, etag, created_at, updated_at`,
			"firewall_id = ?", []any{fw})...)
	}
	var pols []string
	for id, f := range h.policies {
		if f == fw {
			pols = append(pols, id)
		}
	}
	stmts = append(stmts, t.batchedVersions(p, "policy_versions", "policy_id", "policies",
		`firewall_id, name, description, priority, default_action, enabled, etag, created_at, updated_at`, pols)...)
	var rules, created []string
	for id, m := range h.rules {
		if _, whole := h.wholePolicies[m.policyID]; m.firewallID == fw && !whole {
			if h.created[id] {
				created = append(created, id)
			} else {
				rules = append(rules, id)
			}
		}
	}
	const ruleVersionColumns = `firewall_id, policy_id, name, description, order_key, action, protocol,
		sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at, group_refs`
	stmts = append(stmts, t.batchedVersions(p, "rule_versions", "rule_id", "rules", ruleVersionColumns, rules)...)
	stmts = append(stmts, t.batchedVersions(p.forNew(), "rule_versions", "rule_id", "rules", ruleVersionColumns, created)...)
	for pol, f := range h.wholePolicies {
		if f == fw {
			stmts = append(stmts, t.versionStatements(p, "rule_versions", "rule_id", "rules", "id", ruleVersionColumns,
				"rule_id IN (SELECT id FROM rules WHERE policy_id = ?)", []any{pol})...)
		}
	}
	groupStmts, err := t.firewallGroupStatements(ctx, fw, p, rules)
	if err != nil {
		return err
	}
	stmts = append(stmts, groupStmts...)
	stmts = append(stmts, Statement{`INSERT INTO firewall_revisions (firewall_id, revision, created_at, actor, request_id, summary)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (firewall_id, revision) DO UPDATE SET created_at = excluded.created_at, actor = excluded.actor,
			request_id = excluded.request_id, summary = excluded.summary`,
		[]any{fw, p.rev, t.q.d.Time(p.at), p.actor, p.requestID, p.summary()}})
	if err := t.q.run(ctx, stmts); err != nil {
		return err
	}
	return t.prune(ctx, fw, p)
}

// batchedVersions versions the rows of table whose ids are given, some
// hundreds per statement.
func (t *Tx) batchedVersions(p *pendingRevision, versions, idColumn, table, columns string, ids []string) []Statement {
	slices.Sort(ids)
	var stmts []Statement
	for start := 0; start < len(ids); start += versionBatch {
		chunk := ids[start:min(start+versionBatch, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := idColumn + " IN (?" + strings.Repeat(", ?", len(chunk)-1) + ")"
		stmts = append(stmts, t.versionStatements(p, versions, idColumn, table, "id", columns, in, args)...)
	}
	return stmts
}

// forNew is p as versionStatements sees it for elements that this
// transaction created: a deleted element's versions are all closed, so a
// new one has no open version to close.
func (p *pendingRevision) forNew() *pendingRevision {
	q := *p
	q.newElements = true
	return &q
}

// versionStatements close the current versions in versions that match
// cond (written on the versions' id column) at p's revision, and copy the
// live rows of table with those ids as the versions valid from it. A
// version already valid from p's revision (an amended revision) is
// replaced.
func (t *Tx) versionStatements(p *pendingRevision, versions, idColumn, table, liveID, columns, cond string, args []any) []Statement {
	liveCond := strings.Replace(cond, idColumn, liveID, 1)
	var stmts []Statement
	if !p.fresh {
		stmts = append(stmts, Statement{`DELETE FROM ` + versions + ` WHERE valid_from = ? AND ` + cond,
			append([]any{p.rev}, args...)})
	}
	if !p.newElements {
		stmts = append(stmts, Statement{`UPDATE ` + versions + ` SET valid_to = ? WHERE valid_to IS NULL AND ` + cond,
			append([]any{p.rev}, args...)})
	}
	return append(stmts,
		Statement{`INSERT INTO ` + versions + ` (` + idColumn + `, valid_from, ` + columns + `)
			SELECT ` + liveID + `, CAST(? AS BIGINT), ` + columns + ` FROM ` + table + ` WHERE ` + liveCond,
			append([]any{p.rev}, args...)})
}

// prune deletes the revisions the retention no longer keeps, and the
// versions valid only before the oldest kept one. It reads the oldest
// revision first, so that a write with nothing to prune costs one or two
// indexed reads.
func (t *Tx) prune(ctx context.Context, fw string, p *pendingRevision) error {
	r := t.hist.retention
	if r.Keep <= 0 && r.MaxAge <= 0 {
		return nil
	}
	keepFrom := int64(1)
	if r.Keep > 0 {
		keepFrom = p.rev - int64(r.Keep) + 1
	}
	if r.MaxAge > 0 {
		var young int64
		err := t.q.queryRow(ctx, `SELECT revision FROM firewall_revisions WHERE firewall_id = ? AND created_at >= ?
			ORDER BY revision LIMIT 1`, fw, t.q.d.Time(p.at.Add(-r.MaxAge))).Scan(&young)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return err
		}
		if errors.Is(err, ErrNoRows) {
			young = p.rev
		}
		keepFrom = max(keepFrom, young)
	}
	keepFrom = min(keepFrom, p.rev)
	var oldest int64
	if err := t.q.queryRow(ctx, `SELECT COALESCE(MIN(revision), 0) FROM firewall_revisions WHERE firewall_id = ?`, fw).Scan(&oldest); err != nil {
		return err
	}
	if oldest >= keepFrom {
		return nil
	}
	if err := t.dropGroupVersions(ctx, fw, &keepFrom); err != nil {
		return err
	}
	return t.q.run(ctx, []Statement{
		{`DELETE FROM firewall_revisions WHERE firewall_id = ? AND revision < ?`, []any{fw, keepFrom}},
		{`DELETE FROM firewall_versions WHERE firewall_id = ? AND valid_to <= ?`, []any{fw, keepFrom}},
		{`DELETE FROM policy_versions WHERE firewall_id = ? AND valid_to <= ?`, []any{fw, keepFrom}},
		{`DELETE FROM rule_versions WHERE firewall_id = ? AND valid_to <= ?`, []any{fw, keepFrom}},
	})
}

// deleteHistory deletes a deleted firewall's history: the audit log keeps
// its before-image, and nothing can read a tree whose firewall is gone.
func (t *Tx) deleteHistory(ctx context.Context, fw string) error {
	t.hist.deleted[fw] = true
	if err := t.dropGroupVersions(ctx, fw, nil); err != nil {
		return t.classify(err, "delete history of firewall %s", fw)
	}
	stmts := []Statement{
		{`DELETE FROM firewall_revisions WHERE firewall_id = ?`, []any{fw}},
		{`DELETE FROM firewall_versions WHERE firewall_id = ?`, []any{fw}},
		{`DELETE FROM policy_versions WHERE firewall_id = ?`, []any{fw}},
		{`DELETE FROM rule_versions WHERE firewall_id = ?`, []any{fw}},
	}
	return t.classify(t.q.run(ctx, stmts), "delete history of firewall %s", fw)
}
