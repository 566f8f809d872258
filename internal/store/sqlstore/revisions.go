package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// revisionsBinding ties a revisions page token to the revisions listing.
const revisionsBinding = "revisions:newest-first"

// ListRevisions reads one page of a firewall's revisions, newest first,
// paging by keyset on the revision number.
func (r Reader) ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[store.Revision], error) {
	var page firewall.Page[store.Revision]
	if q.Filter != "" || q.OrderBy != "" {
		var ps firewall.Problems
		if q.Filter != "" {
			ps.Add("filter", q.Filter, "revisions take no filter")
		}
		if q.OrderBy != "" {
			ps.Add("order_by", q.OrderBy, "revisions are listed newest first and take no order_by")
		}
		return page, ps.Err("the revision list query is not valid")
	}
	before := int64(1) << 62
	if q.PageToken != "" {
		c, err := store.DecodeCursor(q.PageToken, revisionsBinding)
		if err != nil {
			return page, err
		}
		if len(c.Keys) != 1 || json.Unmarshal(c.Keys[0], &before) != nil {
			var ps firewall.Problems
			ps.Add("page_token", q.PageToken, "the page token is not valid")
			return page, ps.Err("the page token is not valid")
		}
	}
	if err := r.missing(ctx, firewallID, ""); err != nil {
		return page, err
	}
	size := store.PageSize(q.PageSize)
	items, err := queryAll(ctx, r.q, scanRevisionHead, `SELECT firewall_id, revision, created_at, actor, request_id, summary
		FROM firewall_revisions WHERE firewall_id = ? AND revision < ? ORDER BY revision DESC LIMIT ?`,
		firewallID, before, size+1)
	if err != nil {
		return page, r.classify(err, "list revisions of firewall %s", firewallID)
	}
	if len(items) > size {
		items = items[:size]
		page.NextPageToken = store.EncodeCursor(store.NewCursor(revisionsBinding, []any{items[size-1].Revision}))
	}
	page.Items = items
	return page, nil
}

func scanRevisionHead(row Row) (store.Revision, error) {
	var v store.Revision
	err := row.Scan(&v.FirewallID, &v.Revision, timeScan{&v.CreatedAt}, &v.Actor, &v.RequestID, &v.Summary)
	return v, err
}

// GetTreeRevision reads one revision with its tree.
func (r Reader) GetTreeRevision(ctx context.Context, firewallID string, revision int64) (store.Revision, error) {
	var v store.Revision
	var tree string
	err := r.q.queryRow(ctx, `SELECT firewall_id, revision, created_at, actor, request_id, summary, tree
		FROM firewall_revisions WHERE firewall_id = ? AND revision = ?`, firewallID, revision).
		Scan(&v.FirewallID, &v.Revision, timeScan{&v.CreatedAt}, &v.Actor, &v.RequestID, &v.Summary, &tree)
	if errors.Is(err, ErrNoRows) {
		if err := r.missing(ctx, firewallID, ""); err != nil {
			return v, err
		}
		return v, firewall.NotFound("revision", fmt.Sprint(revision))
	}
	if err != nil {
		return v, r.classify(err, "get revision %d of firewall %s", revision, firewallID)
	}
	v.Tree = []byte(tree)
	return v, nil
}

// PutRevision stores one revision.
func (t *Tx) PutRevision(ctx context.Context, v store.Revision) error {
	_, err := t.q.exec(ctx, `INSERT INTO firewall_revisions
		(firewall_id, revision, created_at, actor, request_id, summary, tree) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		v.FirewallID, v.Revision, t.q.d.Time(v.CreatedAt), v.Actor, v.RequestID, v.Summary, string(v.Tree))
	if err != nil && t.q.d.ForeignKey(err) {
		return firewall.NotFound("firewall", v.FirewallID)
	}
	return t.classify(err, "store revision %d of firewall %s", v.Revision, v.FirewallID)
}

// PruneRevisions deletes the revisions retention lets go, keeping the newest.
func (t *Tx) PruneRevisions(ctx context.Context, firewallID string, ret store.Retention) (int64, error) {
	var newest int64
	err := t.q.queryRow(ctx, `SELECT COALESCE(MAX(revision), 0) FROM firewall_revisions WHERE firewall_id = ?`,
		firewallID).Scan(&newest)
	if err != nil {
		return 0, t.classify(err, "prune revisions of firewall %s", firewallID)
	}
	var n int64
	if ret.Keep > 0 {
		m, err := t.q.exec(ctx, `DELETE FROM firewall_revisions WHERE firewall_id = ? AND revision <= ?`,
			firewallID, newest-int64(ret.Keep))
		if err != nil {
			return 0, t.classify(err, "prune revisions of firewall %s", firewallID)
		}
		n += m
	}
	if !ret.Before.IsZero() {
		m, err := t.q.exec(ctx, `DELETE FROM firewall_revisions WHERE firewall_id = ? AND revision < ? AND created_at < ?`,
			firewallID, newest, t.q.d.Time(ret.Before))
		if err != nil {
			return 0, t.classify(err, "prune revisions of firewall %s", firewallID)
		}
		n += m
	}
	return n, nil
}

// LoadTree reads the firewall's tree inside the transaction.
func (t *Tx) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	return t.loadTree(ctx, firewallID)
}
