package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GetIdempotencyRecord reads the record stored under key. It first takes a
// transaction-scoped advisory lock on the key, so that two replicas given
// the same key at once take turns: the second waits for the first to
// commit, then reads its record and replays the response instead of
// creating a second resource. The read is a separate statement because a
// READ COMMITTED statement sees only what was committed when it began.
func (t *tx) GetIdempotencyRecord(ctx context.Context, key string) (store.IdempotencyRecord, error) {
	rec := store.IdempotencyRecord{Key: key}
	if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return rec, classify(err, "lock idempotency key")
	}
	err := t.q.QueryRow(ctx, `SELECT request_hash, resource_id, response, created_at
		FROM idempotency_records WHERE key = $1`, key).
		Scan(&rec.RequestHash, &rec.ResourceID, &rec.Response, &rec.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, firewall.NotFound("idempotency record", key)
	}
	rec.CreatedAt = utc(rec.CreatedAt)
	return rec, classify(err, "get idempotency record")
}

// PutIdempotencyRecord purges records created before purgeBefore, then
// stores rec. Purging first lets an expired key be used again.
func (t *tx) PutIdempotencyRecord(ctx context.Context, rec store.IdempotencyRecord, purgeBefore time.Time) error {
	_, err := t.q.Exec(ctx, `DELETE FROM idempotency_records WHERE created_at < $1`, purgeBefore)
	if err != nil {
		return classify(err, "purge idempotency records")
	}
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	_, err = t.q.Exec(ctx, `INSERT INTO idempotency_records
		(key, request_hash, resource_id, response, created_at) VALUES ($1, $2, $3, $4, $5)`,
		rec.Key, rec.RequestHash, rec.ResourceID, response, rec.CreatedAt)
	if violates(err, "idempotency_records_pkey") {
		return firewall.ConflictOn("idempotency_key", rec.Key, "idempotency key %q is already in use", rec.Key)
	}
	return classify(err, "put idempotency record")
}
