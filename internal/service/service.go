// Package service holds FireFlow's use cases: it validates changes, runs
// them in transactions, keeps rule positions and firewall revisions right,
// and makes POSTs idempotent. It knows nothing of HTTP or SQL.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// idempotencyTTL is how long a POST's response is kept for replay.
const idempotencyTTL = 24 * time.Hour

// Service runs FireFlow's use cases against a store.
type Service struct {
	store    store.Store
	now      func() time.Time
	matchers matchers
	analyses analyses
	stale    staleVerdicts
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the service read time from now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a Service over st.
func New(st store.Store, opts ...Option) *Service {
	s := &Service{store: st, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Idempotency identifies a POST that may be retried. A zero value means the
// request carried no Idempotency-Key.
type Idempotency struct {
	// Key is the client's key, already scoped to the route it was sent to.
	Key string
	// RequestHash identifies the request body.
	RequestHash string
}

// Precondition is the set of etags an If-Match header accepted. Empty means
// no precondition; "*" matches any existing resource.
type Precondition []string

func (p Precondition) check(kind, id, etag string) error {
	if len(p) == 0 || slices.Contains(p, "*") || slices.Contains(p, etag) {
		return nil
	}
	return firewall.PreconditionFailed(kind, id)
}

// stamp gives a resource a fresh etag and update time, and on creation an id.
func (s *Service) stamp(m *firewall.Meta) {
	now := s.now().UTC().Truncate(time.Microsecond)
	if m.ID == "" {
		m.ID = newID()
		m.CreatedAt = now
	}
	m.UpdatedAt = now
	m.ETag = newETag()
}

func newID() string {
	// NewV7 fails only if the system's random source fails, which Go treats as fatal anyway.
	return uuid.Must(uuid.NewV7()).String()
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

// bump raises the firewall's revision after a change in its tree.
func (s *Service) bump(ctx context.Context, tx store.Tx, firewallID string) error {
	var m firewall.Meta
	s.stamp(&m)
	if _, err := tx.BumpRevision(ctx, firewallID, m.ETag, m.UpdatedAt); err != nil {
		return fmt.Errorf("bump revision of firewall %s: %w", firewallID, err)
	}
	return nil
}

// create runs insert in a transaction, honouring an idempotency key: a retry
// with the same body returns the first response, and the same key with a
// different body is refused. It returns whether the response is a replay.
func create[T any](ctx context.Context, s *Service, idem Idempotency, out *T, id func(*T) string, insert func(context.Context, store.Tx) error) (bool, error) {
	replayed := false
	err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		replayed = false
		if idem.Key != "" {
			rec, err := tx.GetIdempotencyRecord(ctx, idem.Key)
			switch {
			case err == nil && s.now().Sub(rec.CreatedAt) < idempotencyTTL:
				if rec.RequestHash != idem.RequestHash {
					return &firewall.Error{Code: firewall.CodeIdempotencyMismatch,
						Message: "this Idempotency-Key was already used with a different request body; use a new key for a new request"}
				}
				replayed = true
				return json.Unmarshal(rec.Response, out)
			case err != nil && firewall.CodeOf(err) != firewall.CodeNotFound:
				return fmt.Errorf("read idempotency record: %w", err)
			}
		}
		if err := insert(ctx, tx); err != nil {
			return err
		}
		if idem.Key == "" {
			return nil
		}
		return s.remember(ctx, tx, idem, id(out), out)
	})
	return replayed, err
}

func (s *Service) remember(ctx context.Context, tx store.Tx, idem Idempotency, resourceID string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode idempotent response: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	rec := store.IdempotencyRecord{Key: idem.Key, RequestHash: idem.RequestHash, ResourceID: resourceID, Response: body, CreatedAt: now}
	if err := tx.PutIdempotencyRecord(ctx, rec, now.Add(-idempotencyTTL)); err != nil {
		return fmt.Errorf("store idempotency record: %w", err)
	}
	return nil
}

func clampPage(q firewall.Query) firewall.Query {
	if q.PageSize <= 0 {
		q.PageSize = firewall.DefaultPageSize
	}
	q.PageSize = min(q.PageSize, firewall.MaxPageSize)
	return q
}
