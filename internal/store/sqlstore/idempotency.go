package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

var idempotencyPKey = Constraint{Table: "idempotency_records", Column: "key", Name: "idempotency_records_pkey"}

// GetIdempotencyRecord reads the record stored under key. Where the
// dialect has a key lock (LockKey), it takes it first, so that two
// replicas given the same key at once take turns: the second waits for the
// first to commit, then reads its record and replays the response. The
// read is a separate statement because a READ COMMITTED statement sees only
// what was committed when it began.
func (t *Tx) GetIdempotencyRecord(ctx context.Context, key string) (store.IdempotencyRecord, error) {
	rec := store.IdempotencyRecord{Key: key}
	if t.q.d.LockKey != "" {
		if _, err := t.q.exec(ctx, t.q.d.LockKey, key); err != nil {
			return rec, t.classify(err, "lock idempotency key")
		}
	}
	err := t.q.queryRow(ctx, `SELECT request_hash, resource_id, response, created_at
		FROM idempotency_records WHERE key = ?`, key).
		Scan(&rec.RequestHash, &rec.ResourceID, &rec.Response, timeScan{&rec.CreatedAt})
	if errors.Is(err, ErrNoRows) {
		return rec, firewall.NotFound("idempotency record", key)
	}
	return rec, t.classify(err, "get idempotency record")
}

// PutIdempotencyRecord purges records created before purgeBefore, then
// stores rec. Purging first lets an expired key be used again.
func (t *Tx) PutIdempotencyRecord(ctx context.Context, rec store.IdempotencyRecord, purgeBefore time.Time) error {
	_, err := t.q.exec(ctx, `DELETE FROM idempotency_records WHERE created_at < ?`, t.q.d.Time(purgeBefore))
	if err != nil {
		return t.classify(err, "purge idempotency records")
	}
	response := rec.Response
	if response == nil {
		response = []byte{} // the column is NOT NULL
	}
	_, err = t.q.exec(ctx, `INSERT INTO idempotency_records
		(key, request_hash, resource_id, response, created_at) VALUES (?, ?, ?, ?, ?)`,
		rec.Key, rec.RequestHash, rec.ResourceID, response, t.q.d.Time(rec.CreatedAt))
	if err != nil && t.q.d.Unique(err, idempotencyPKey) {
		return firewall.ConflictOn("idempotency_key", rec.Key, "idempotency key %q is already in use", rec.Key)
	}
	return t.classify(err, "put idempotency record")
}
