package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const firewallColumns = `id, name, description, labels, default_action, revision, etag, created_at, updated_at`

func scanFirewall(row scanner) (firewall.Firewall, error) {
	var f firewall.Firewall
	var labels string
	var created, updated int64
	err := row.Scan(&f.ID, &f.Name, &f.Description, &labels, &f.DefaultAction,
		&f.Revision, &f.ETag, &created, &updated)
	if err != nil {
		return f, err
	}
	f.CreatedAt, f.UpdatedAt = fromMicros(created), fromMicros(updated)
	f.Labels, err = decodeLabels(labels)
	return f, err
}

// GetFirewall reads one firewall.
func (r reader) GetFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	row := r.q.QueryRowContext(ctx, `SELECT `+firewallColumns+` FROM firewalls WHERE id = ?`, id)
	f, err := scanFirewall(row)
	if errors.Is(err, sql.ErrNoRows) {
		return f, firewall.NotFound("firewall", id)
	}
	return f, classify(err, "get firewall %s", id)
}

// ListFirewalls reads one page of firewalls, by default in name order.
func (r reader) ListFirewalls(ctx context.Context, q firewall.Query) (firewall.Page[firewall.Firewall], error) {
	l := store.ListStatement{Resource: filter.Firewalls, Columns: firewallColumns, From: "firewalls"}
	p, err := listPage(ctx, r.q, l, q, scanFirewall)
	return p, classify(err, "list firewalls")
}

// missing returns a NotFound error for the firewall if it does not exist,
// else for the policy if policyID is set and the policy is not in that
// firewall, else nil. Lookups that found nothing call it to say which
// ancestor is to blame; one statement answers both questions.
func (r reader) missing(ctx context.Context, firewallID, policyID string) error {
	var fw, pol bool
	err := r.q.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM firewalls WHERE id = ?),
		EXISTS (SELECT 1 FROM policies WHERE id = ? AND firewall_id = ?)`,
		firewallID, policyID, firewallID).Scan(&fw, &pol)
	switch {
	case err != nil:
		return classify(err, "look up firewall %s", firewallID)
	case !fw:
		return firewall.NotFound("firewall", firewallID)
	case policyID != "" && !pol:
		return firewall.NotFound("filtering policy", policyID)
	}
	return nil
}

// LockFirewall reads the firewall. The IMMEDIATE transaction already holds
// the database's write lock, which covers every firewall.
func (t *tx) LockFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return t.GetFirewall(ctx, id)
}

// BumpRevision raises the firewall's revision and returns the new value.
func (t *tx) BumpRevision(ctx context.Context, id, etag string, at time.Time) (int64, error) {
	var rev int64
	err := t.q.QueryRowContext(ctx, `UPDATE firewalls
		SET revision = revision + 1, etag = ?, updated_at = ?
		WHERE id = ? RETURNING revision`, etag, micros(at), id).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, firewall.NotFound("firewall", id)
	}
	return rev, classify(err, "bump revision of firewall %s", id)
}

// CreateFirewall inserts f.
func (t *tx) CreateFirewall(ctx context.Context, f *firewall.Firewall) error {
	labels, err := encodeLabels(f.Labels)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO firewalls
		(id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, firewall.NameKey(f.Name), f.Description, labels, f.DefaultAction,
		f.Revision, f.ETag, micros(f.CreatedAt), micros(f.UpdatedAt))
	return t.firewallWriteError(ctx, err, f, "create")
}

// UpdateFirewall writes f's name, description, labels, default action, etag
// and updated_at. Its revision changes only through BumpRevision.
func (t *tx) UpdateFirewall(ctx context.Context, f *firewall.Firewall) error {
	labels, err := encodeLabels(f.Labels)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `UPDATE firewalls
		SET name = ?, name_key = ?, description = ?, labels = ?, default_action = ?, etag = ?, updated_at = ?
		WHERE id = ?`,
		f.Name, firewall.NameKey(f.Name), f.Description, labels, f.DefaultAction,
		f.ETag, micros(f.UpdatedAt), f.ID)
	if err != nil {
		return t.firewallWriteError(ctx, err, f, "update")
	}
	if !affected(res) {
		return firewall.NotFound("firewall", f.ID)
	}
	return nil
}

func (t *tx) firewallWriteError(ctx context.Context, err error, f *firewall.Firewall, op string) error {
	switch {
	case err == nil:
		return nil
	case uniqueOn(err, "firewalls", "name_key"):
		// Name the existing firewall as it is spelled, which may differ in
		// case from the name asked for.
		existing := f.Name
		_ = t.q.QueryRowContext(ctx, `SELECT name FROM firewalls WHERE name_key = ?`,
			firewall.NameKey(f.Name)).Scan(&existing)
		return firewall.ConflictOn("name", f.Name, "a firewall named %q already exists", existing)
	case uniqueOn(err, "firewalls", "id"):
		return firewall.ConflictOn("id", f.ID, "a firewall with id %q already exists", f.ID)
	}
	return classify(err, "%s firewall %s", op, f.ID)
}

// DeleteFirewall deletes the firewall and, with cascade, its whole tree.
func (t *tx) DeleteFirewall(ctx context.Context, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT name, (SELECT COUNT(*) FROM policies WHERE firewall_id = f.id)
		FROM firewalls f WHERE id = ?`, id).Scan(&name, &n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return firewall.NotFound("firewall", id)
	case err != nil:
		return classify(err, "delete firewall %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("firewall %q still has %d filtering %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "policy", "policies"))
	}
	_, err = t.q.ExecContext(ctx, `DELETE FROM firewalls WHERE id = ?`, id)
	return classify(err, "delete firewall %s", id)
}

// affected reports whether a statement changed any row. The SQLite driver
// always knows the count, so RowsAffected has no error to report.
func affected(res sql.Result) bool {
	n, _ := res.RowsAffected()
	return n > 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
