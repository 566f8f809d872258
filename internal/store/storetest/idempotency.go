package storetest

import (
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func idempotencyCases() []testCase {
	return []testCase{
		{"Idempotency/PutGetRoundTrip", idempotencyRoundTrip},
		{"Idempotency/GetMissing", idempotencyMissing},
		{"Idempotency/PutPurgesOldRecords", idempotencyPurge},
		{"Idempotency/SameKeyTwiceConflicts", idempotencyDuplicate},
	}
}

func (f *fixture) record(key string) store.IdempotencyRecord {
	return store.IdempotencyRecord{
		Key:         key,
		RequestHash: "sha256:" + key,
		ResourceID:  f.id(),
		Response:    []byte(`{"id":"` + key + `","name":"edge"}` + "\x00\xff"),
		CreatedAt:   f.now(),
	}
}

// get reads the record under key in a transaction.
func (f *fixture) getRecord(key string) (store.IdempotencyRecord, error) {
	var rec store.IdempotencyRecord
	err := f.try(func(tx store.Tx) error {
		var err error
		rec, err = tx.GetIdempotencyRecord(f.ctx, key)
		return err
	})
	return rec, err
}

func (f *fixture) putRecord(rec store.IdempotencyRecord, purgeBefore time.Time) error {
	return f.try(func(tx store.Tx) error { return tx.PutIdempotencyRecord(f.ctx, rec, purgeBefore) })
}

func idempotencyRoundTrip(t *testing.T, f *fixture) {
	want := f.record("POST /api/v1/firewalls:key-1")
	if err := f.putRecord(want, want.CreatedAt.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := f.getRecord(want.Key)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "record", got, want)
	wantUTC(t, got.CreatedAt)
}

func idempotencyMissing(t *testing.T, f *fixture) {
	_, err := f.getRecord("nope")
	wantCode(t, err, firewall.CodeNotFound)
}

func idempotencyPurge(t *testing.T, f *fixture) {
	old := f.record("old")
	kept := f.record("kept")
	for _, rec := range []store.IdempotencyRecord{old, kept} {
		if err := f.putRecord(rec, old.CreatedAt.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// Records created before kept go; kept itself stays.
	newer := f.record("newer")
	if err := f.putRecord(newer, kept.CreatedAt); err != nil {
		t.Fatal(err)
	}
	_, err := f.getRecord(old.Key)
	wantCode(t, err, firewall.CodeNotFound)
	for _, key := range []string{kept.Key, newer.Key} {
		if _, err := f.getRecord(key); err != nil {
			t.Fatalf("record %q: %v", key, err)
		}
	}
	// An expired key may be used again: the purge runs before the insert.
	again := f.record("kept")
	if err := f.putRecord(again, again.CreatedAt); err != nil {
		t.Fatalf("reusing an expired key: %v", err)
	}
	got, err := f.getRecord("kept")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "reused record", got, again)
}

func idempotencyDuplicate(t *testing.T, f *fixture) {
	first := f.record("k")
	if err := f.putRecord(first, first.CreatedAt.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	second := f.record("k")
	wantCode(t, f.putRecord(second, first.CreatedAt), firewall.CodeConflict)
	got, err := f.getRecord("k")
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "first record", got, first)
}
