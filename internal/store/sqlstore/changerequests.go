package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

// changeRequestColumns are what a listed change request shows; a single
// one adds its base tree (changeRequestBase), which can be large.
const changeRequestColumns = `id, firewall_id, title, description, base_revision, operations, candidate, impact, no_op,
	state, author, reviewer, comments, applied_revision, stale_reason, etag, created_at, updated_at`

var changeRequestPKey = Constraint{Table: "change_requests", Column: "id", Name: "change_requests_pkey"}

// changeRequestScan holds the columns of a change request as scanned.
type changeRequestScan struct {
	cr                     firewall.ChangeRequest
	ops, candidate         sql.NullString
	impact, comments, base string
}

func (c *changeRequestScan) dest() []any {
	return []any{&c.cr.ID, &c.cr.FirewallID, &c.cr.Title, &c.cr.Description, &c.cr.BaseRevision, &c.ops, &c.candidate,
		&c.impact, &c.cr.NoOp, &c.cr.State, &c.cr.Author, &c.cr.Reviewer, &c.comments, &c.cr.AppliedRevision,
		&c.cr.StaleReason, &c.cr.ETag, timeScan{&c.cr.CreatedAt}, timeScan{&c.cr.UpdatedAt}}
}

func (c *changeRequestScan) decode(withBase bool) (firewall.ChangeRequest, error) {
	cr := c.cr
	cr.Impact = json.RawMessage(c.impact)
	if err := json.Unmarshal([]byte(c.comments), &cr.Comments); err != nil {
		return cr, fmt.Errorf("decode comments of change request %s: %w", cr.ID, err)
	}
	if c.ops.Valid {
		if err := json.Unmarshal([]byte(c.ops.String), &cr.Operations); err != nil {
			return cr, fmt.Errorf("decode operations of change request %s: %w", cr.ID, err)
		}
	}
	if c.candidate.Valid {
		cr.Candidate = new(firewall.Tree)
		if err := json.Unmarshal([]byte(c.candidate.String), cr.Candidate); err != nil {
			return cr, fmt.Errorf("decode candidate of change request %s: %w", cr.ID, err)
		}
	}
	if withBase {
		cr.Base = new(firewall.Tree)
		if err := json.Unmarshal([]byte(c.base), cr.Base); err != nil {
			return cr, fmt.Errorf("decode base tree of change request %s: %w", cr.ID, err)
		}
	}
	return cr, nil
}

func scanChangeRequest(row Row) (firewall.ChangeRequest, error) {
	var c changeRequestScan
	if err := row.Scan(c.dest()...); err != nil {
		return firewall.ChangeRequest{}, err
	}
	return c.decode(false)
}

// GetChangeRequest reads one change request of a firewall, with its base tree.
func (r Reader) GetChangeRequest(ctx context.Context, firewallID, id string) (firewall.ChangeRequest, error) {
	var c changeRequestScan
	err := r.q.queryRow(ctx, `SELECT `+changeRequestColumns+`, base_tree FROM change_requests
		WHERE id = ? AND firewall_id = ?`, id, firewallID).Scan(append(c.dest(), &c.base)...)
	if errors.Is(err, ErrNoRows) {
		if err := r.missing(ctx, firewallID, ""); err != nil {
			return firewall.ChangeRequest{}, err
		}
		return firewall.ChangeRequest{}, firewall.NotFound("change request", id)
	}
	if err != nil {
		return firewall.ChangeRequest{}, r.classify(err, "get change request %s", id)
	}
	return c.decode(true)
}

// ListChangeRequests reads one page of a firewall's change requests, by
// default newest first, without their base trees.
func (r Reader) ListChangeRequests(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.ChangeRequest], error) {
	l := listStatement{resource: filter.ChangeRequests, columns: changeRequestColumns, from: "change_requests",
		where: func(b *filter.Builder) []string { return []string{"firewall_id = " + b.Arg(firewallID)} }}
	p, err := listPage(ctx, r.q, l, q, scanChangeRequest)
	if err != nil {
		return p, r.classify(err, "list change requests of firewall %s", firewallID)
	}
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, "")
	}
	return p, nil
}

// marshalNullable encodes v, or SQL NULL when absent is true.
func marshalNullable(v any, absent bool) (sql.NullString, error) {
	if absent {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v)
	return sql.NullString{String: string(b), Valid: err == nil}, err
}

func comments(cr *firewall.ChangeRequest) (string, error) {
	if cr.Comments == nil {
		return "[]", nil
	}
	b, err := json.Marshal(cr.Comments)
	return string(b), err
}

// CreateChangeRequest inserts cr with its base tree.
func (t *Tx) CreateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error {
	ops, err := marshalNullable(cr.Operations, cr.Operations == nil)
	if err != nil {
		return fmt.Errorf("encode operations: %w", err)
	}
	cand, err := marshalNullable(cr.Candidate, cr.Candidate == nil)
	if err != nil {
		return fmt.Errorf("encode candidate: %w", err)
	}
	if cr.Base == nil {
		return errors.New("create change request: no base tree")
	}
	base, err := json.Marshal(cr.Base)
	if err != nil {
		return fmt.Errorf("encode base tree: %w", err)
	}
	com, err := comments(cr)
	if err != nil {
		return fmt.Errorf("encode comments: %w", err)
	}
	impact := string(cr.Impact)
	if impact == "" {
		impact = "{}"
	}
	_, err = t.q.exec(ctx, `INSERT INTO change_requests (`+changeRequestColumns+`, base_tree)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		cr.ID, cr.FirewallID, cr.Title, cr.Description, cr.BaseRevision, ops, cand, impact, cr.NoOp,
		cr.State, cr.Author, cr.Reviewer, com, cr.AppliedRevision, cr.StaleReason, cr.ETag,
		t.q.d.Time(cr.CreatedAt), t.q.d.Time(cr.UpdatedAt), string(base))
	switch {
	case err == nil:
		return nil
	case t.q.d.Unique(err, changeRequestPKey):
		return firewall.ConflictOn("id", cr.ID, "a change request with id %q already exists", cr.ID)
	case t.q.d.ForeignKey(err):
		return firewall.NotFound("firewall", cr.FirewallID)
	}
	return t.classify(err, "create change request in firewall %s", cr.FirewallID)
}

// UpdateChangeRequest writes cr's review fields.
func (t *Tx) UpdateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error {
	com, err := comments(cr)
	if err != nil {
		return fmt.Errorf("encode comments: %w", err)
	}
	n, err := t.q.exec(ctx, `UPDATE change_requests
		SET state = ?, reviewer = ?, comments = ?, applied_revision = ?, stale_reason = ?, etag = ?, updated_at = ?
		WHERE id = ? AND firewall_id = ?`,
		cr.State, cr.Reviewer, com, cr.AppliedRevision, cr.StaleReason, cr.ETag, t.q.d.Time(cr.UpdatedAt),
		cr.ID, cr.FirewallID)
	if err != nil {
		return t.classify(err, "update change request %s", cr.ID)
	}
	if n == 0 {
		return firewall.NotFound("change request", cr.ID)
	}
	return nil
}
