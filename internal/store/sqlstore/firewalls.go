package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

const firewallColumns = `id, name, description, labels, default_action, revision, etag, created_at, updated_at`

// The uniqueness constraints of the firewalls table.
var (
	firewallPKey = Constraint{Table: "firewalls", Column: "id", Name: "firewalls_pkey"}
	firewallName = Constraint{Table: "firewalls", Column: "name_key", Name: "firewalls_name_key_unique"}
)

func scanFirewall(row Row) (firewall.Firewall, error) {
	var f firewall.Firewall
	var labels string
	err := row.Scan(&f.ID, &f.Name, &f.Description, &labels, &f.DefaultAction,
		&f.Revision, &f.ETag, timeScan{&f.CreatedAt}, timeScan{&f.UpdatedAt})
	if err != nil {
		return f, err
	}
	f.Labels, err = decodeLabels(labels)
	return f, err
}

// GetFirewall reads one firewall.
func (r Reader) GetFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return r.getFirewall(ctx, id, "")
}

// getFirewall reads one firewall, with suffix (such as FOR UPDATE) appended
// to the statement.
func (r Reader) getFirewall(ctx context.Context, id, suffix string) (firewall.Firewall, error) {
	f, err := scanFirewall(r.q.queryRow(ctx, `SELECT `+firewallColumns+` FROM firewalls WHERE id = ?`+suffix, id))
	if errors.Is(err, ErrNoRows) {
		return f, firewall.NotFound("firewall", id)
	}
	return f, r.classify(err, "get firewall %s", id)
}

// ListFirewalls reads one page of firewalls, by default in name order.
func (r Reader) ListFirewalls(ctx context.Context, q firewall.Query) (firewall.Page[firewall.Firewall], error) {
	l := listStatement{resource: filter.Firewalls, columns: firewallColumns, from: "firewalls"}
	p, err := listPage(ctx, r.q, l, q, scanFirewall)
	return p, r.classify(err, "list firewalls")
}

// missing returns a NotFound error for the firewall if it does not exist,
// else for the policy if policyID is set and the policy is not in that
// firewall, else nil. Lookups that found nothing call it to say which
// ancestor is to blame; one statement answers both questions.
func (r Reader) missing(ctx context.Context, firewallID, policyID string) error {
	var fw, pol bool
	err := r.q.queryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM firewalls WHERE id = ?),
		EXISTS (SELECT 1 FROM policies WHERE id = ? AND firewall_id = ?)`,
		firewallID, policyID, firewallID).Scan(&fw, &pol)
	switch {
	case err != nil:
		return r.classify(err, "look up firewall %s", firewallID)
	case !fw:
		return firewall.NotFound("firewall", firewallID)
	case policyID != "" && !pol:
		return firewall.NotFound("filtering policy", policyID)
	}
	return nil
}

// GetRevision reads a firewall's revision. Every replica reads it before
// using a compiled tree, so a change made through another shows at once.
func (r Reader) GetRevision(ctx context.Context, firewallID string) (int64, error) {
	var rev int64
	err := r.q.queryRow(ctx, `SELECT revision FROM firewalls WHERE id = ?`, firewallID).Scan(&rev)
	if errors.Is(err, ErrNoRows) {
		return 0, firewall.NotFound("firewall", firewallID)
	}
	return rev, r.classify(err, "get revision of firewall %s", firewallID)
}

// LockFirewall reads the firewall and holds its lock until the transaction
// ends: a row lock where the dialect has one (FOR UPDATE), so that changes
// to one tree take turns across processes; SQLite's IMMEDIATE transaction
// already holds the database's write lock.
func (t *Tx) LockFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return t.getFirewall(ctx, id, t.q.d.ForUpdate)
}

// BumpRevision raises the firewall's revision and returns the new value.
func (t *Tx) BumpRevision(ctx context.Context, id, etag string, at time.Time) (int64, error) {
	var rev int64
	err := t.q.queryRow(ctx, `UPDATE firewalls
		SET revision = revision + 1, etag = ?, updated_at = ?
		WHERE id = ? RETURNING revision`, etag, t.q.d.Time(at), id).Scan(&rev)
	if errors.Is(err, ErrNoRows) {
		return 0, firewall.NotFound("firewall", id)
	}
	if err == nil {
		t.hist.made(id, rev, at)
	}
	return rev, t.classify(err, "bump revision of firewall %s", id)
}

// CreateFirewall inserts f.
func (t *Tx) CreateFirewall(ctx context.Context, f *firewall.Firewall) error {
	labels, err := encodeLabels(f.Labels)
	if err != nil {
		return err
	}
	_, err = t.q.exec(ctx, `INSERT INTO firewalls
		(id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, firewall.NameKey(f.Name), f.Description, labels, f.DefaultAction,
		f.Revision, f.ETag, t.q.d.Time(f.CreatedAt), t.q.d.Time(f.UpdatedAt))
	if err == nil {
		t.hist.made(f.ID, f.Revision, f.UpdatedAt)
	}
	return t.firewallWriteError(ctx, err, f, "create")
}

// UpdateFirewall writes f's name, description, labels, default action, etag
// and updated_at. Its revision changes only through BumpRevision.
func (t *Tx) UpdateFirewall(ctx context.Context, f *firewall.Firewall) error {
	labels, err := encodeLabels(f.Labels)
	if err != nil {
		return err
	}
	n, err := t.q.exec(ctx, `UPDATE firewalls
		SET name = ?, name_key = ?, description = ?, labels = ?, default_action = ?, etag = ?, updated_at = ?
		WHERE id = ?`,
		f.Name, firewall.NameKey(f.Name), f.Description, labels, f.DefaultAction,
		f.ETag, t.q.d.Time(f.UpdatedAt), f.ID)
	if err != nil {
		return t.firewallWriteError(ctx, err, f, "update")
	}
	if n == 0 {
		return firewall.NotFound("firewall", f.ID)
	}
	t.hist.firewall(f.ID)
	return nil
}

func (t *Tx) firewallWriteError(ctx context.Context, err error, f *firewall.Firewall, op string) error {
	switch {
	case err == nil:
		return nil
	case t.q.d.Unique(err, firewallName):
		// Name the existing firewall as it is spelled, which may differ in
		// case from the name asked for.
		existing := f.Name
		_ = t.explain.q.queryRow(ctx, `SELECT name FROM firewalls WHERE name_key = ?`,
			firewall.NameKey(f.Name)).Scan(&existing)
		return firewall.ConflictOn("name", f.Name, "a firewall named %q already exists", existing)
	case t.q.d.Unique(err, firewallPKey):
		return firewall.ConflictOn("id", f.ID, "a firewall with id %q already exists", f.ID)
	}
	return t.classify(err, "%s firewall %s", op, f.ID)
}

// DeleteFirewall deletes the firewall and, with cascade, its whole tree.
func (t *Tx) DeleteFirewall(ctx context.Context, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.queryRow(ctx, `SELECT name, (SELECT COUNT(*) FROM policies WHERE firewall_id = f.id)
		FROM firewalls f WHERE id = ?`, id).Scan(&name, &n)
	switch {
	case errors.Is(err, ErrNoRows):
		return firewall.NotFound("firewall", id)
	case err != nil:
		return t.classify(err, "delete firewall %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("firewall %q still has %d filtering %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "policy", "policies"))
	}
	if _, err = t.q.exec(ctx, `DELETE FROM firewalls WHERE id = ?`, id); err != nil {
		return t.classify(err, "delete firewall %s", id)
	}
	return t.deleteHistory(ctx, id)
}
