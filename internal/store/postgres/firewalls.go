package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const firewallColumns = `id, name, description, labels, default_action, revision, etag, created_at, updated_at`

func scanFirewall(row scanner) (firewall.Firewall, error) {
	var f firewall.Firewall
	err := row.Scan(&f.ID, &f.Name, &f.Description, &f.Labels, &f.DefaultAction,
		&f.Revision, &f.ETag, &f.CreatedAt, &f.UpdatedAt)
	f.CreatedAt, f.UpdatedAt = utc(f.CreatedAt), utc(f.UpdatedAt)
	return f, err
}

// GetFirewall reads one firewall.
func (r reader) GetFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return r.getFirewall(ctx, id, "")
}

// getFirewall reads one firewall, with suffix (such as FOR UPDATE) appended
// to the statement.
func (r reader) getFirewall(ctx context.Context, id, suffix string) (firewall.Firewall, error) {
	row := r.q.QueryRow(ctx, `SELECT `+firewallColumns+` FROM firewalls WHERE id = $1`+suffix, id)
	f, err := scanFirewall(row)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := r.q.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM firewalls WHERE id = $1),
		EXISTS (SELECT 1 FROM policies WHERE id = $2 AND firewall_id = $1)`,
		firewallID, policyID).Scan(&fw, &pol)
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

// LockFirewall reads the firewall and locks its row until the transaction
// ends. Every change to the firewall's tree takes this lock first, so two
// replicas changing one tree take turns, and the second sees the first's
// committed rows (READ COMMITTED reads afresh at each statement).
func (t *tx) LockFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	return t.getFirewall(ctx, id, " FOR UPDATE")
}

// BumpRevision raises the firewall's revision and returns the new value.
func (t *tx) BumpRevision(ctx context.Context, id, etag string, at time.Time) (int64, error) {
	var rev int64
	err := t.q.QueryRow(ctx, `UPDATE firewalls
		SET revision = revision + 1, etag = $1, updated_at = $2
		WHERE id = $3 RETURNING revision`, etag, at, id).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, firewall.NotFound("firewall", id)
	}
	return rev, classify(err, "bump revision of firewall %s", id)
}

// CreateFirewall inserts f.
func (t *tx) CreateFirewall(ctx context.Context, f *firewall.Firewall) error {
	_, err := t.q.Exec(ctx, `INSERT INTO firewalls
		(id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		f.ID, f.Name, firewall.NameKey(f.Name), f.Description, labelsOf(f.Labels), f.DefaultAction,
		f.Revision, f.ETag, f.CreatedAt, f.UpdatedAt)
	return t.firewallWriteError(ctx, err, f, "create")
}

// UpdateFirewall writes f's name, description, labels, default action, etag
// and updated_at. Its revision changes only through BumpRevision.
func (t *tx) UpdateFirewall(ctx context.Context, f *firewall.Firewall) error {
	tag, err := t.q.Exec(ctx, `UPDATE firewalls
		SET name = $1, name_key = $2, description = $3, labels = $4, default_action = $5, etag = $6, updated_at = $7
		WHERE id = $8`,
		f.Name, firewall.NameKey(f.Name), f.Description, labelsOf(f.Labels), f.DefaultAction,
		f.ETag, f.UpdatedAt, f.ID)
	if err != nil {
		return t.firewallWriteError(ctx, err, f, "update")
	}
	if tag.RowsAffected() == 0 {
		return firewall.NotFound("firewall", f.ID)
	}
	return nil
}

func (t *tx) firewallWriteError(ctx context.Context, err error, f *firewall.Firewall, op string) error {
	switch {
	case err == nil:
		return nil
	case violates(err, "firewalls_name_key_unique"):
		// Name the existing firewall as it is spelled, which may differ in
		// case from the name asked for.
		existing := f.Name
		_ = t.pool.QueryRow(ctx, `SELECT name FROM firewalls WHERE name_key = $1`,
			firewall.NameKey(f.Name)).Scan(&existing)
		return firewall.ConflictOn("name", f.Name, "a firewall named %q already exists", existing)
	case violates(err, "firewalls_pkey"):
		return firewall.ConflictOn("id", f.ID, "a firewall with id %q already exists", f.ID)
	}
	return classify(err, "%s firewall %s", op, f.ID)
}

// DeleteFirewall deletes the firewall and, with cascade, its whole tree.
func (t *tx) DeleteFirewall(ctx context.Context, id string, cascade bool) error {
	var name string
	var n int
	err := t.q.QueryRow(ctx, `SELECT name, (SELECT COUNT(*) FROM policies WHERE firewall_id = f.id)
		FROM firewalls f WHERE id = $1`, id).Scan(&name, &n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return firewall.NotFound("firewall", id)
	case err != nil:
		return classify(err, "delete firewall %s", id)
	case n > 0 && !cascade:
		return firewall.Conflict("firewall %q still has %d filtering %s; delete them first or pass ?cascade=true",
			name, n, plural(n, "policy", "policies"))
	}
	_, err = t.q.Exec(ctx, `DELETE FROM firewalls WHERE id = $1`, id)
	return classify(err, "delete firewall %s", id)
}
