package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// GetIdempotencyRecord reads the record stored under key.
func (t *tx) GetIdempotencyRecord(ctx context.Context, key string) (store.IdempotencyRecord, error) {
	rec := store.IdempotencyRecord{Key: key}
	var created int64
	err := t.q.QueryRowContext(ctx, `SELECT request_hash, resource_id, response, created_at
		FROM idempotency_records WHERE key = ?`, key).
		Scan(&rec.RequestHash, &rec.ResourceID, &rec.Response, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, firewall.NotFound("idempotency record", key)
	}
	rec.CreatedAt = fromMicros(created)
	return rec, classify(err, "get idempotency record")
}

// PutIdempotencyRecord purges records created before purgeBefore, then
// stores rec. Purging first lets an expired key be used again.
func (t *tx) PutIdempotencyRecord(ctx context.Context, rec store.IdempotencyRecord, purgeBefore time.Time) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM idempotency_records WHERE created_at < ?`, micros(purgeBefore))
	if err != nil {
		return classify(err, "purge idempotency records")
	}
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO idempotency_records
		(key, request_hash, resource_id, response, created_at) VALUES (?, ?, ?, ?, ?)`,
		rec.Key, rec.RequestHash, rec.ResourceID, response, micros(rec.CreatedAt))
	if uniqueOn(err, "idempotency_records", "key") {
		return firewall.ConflictOn("idempotency_key", rec.Key, "idempotency key %q is already in use", rec.Key)
	}
	return classify(err, "put idempotency record")
}
