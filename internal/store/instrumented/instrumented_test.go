package instrumented_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/instrumented"
	"github.com/fireflow/fireflow/internal/store/sqlite"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

// counter is an AuditCounter that remembers what it counted.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) AuditEvent(action, resourceType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[action+" "+resourceType]++
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestConformance runs the store contract's suite through the wrapper, with
// tracing on and off, so that every method is shown to pass its call on
// unchanged.
func TestConformance(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter())))
	for name, opts := range map[string]instrumented.Options{
		"traced":   {Tracer: tp.Tracer("test"), System: "sqlite", Audit: &counter{}},
		"untraced": {},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return instrumented.Wrap(openSQLite(t), opts) })
		})
	}
}

// TestAuditCountedOnCommit counts an audit event only when its transaction
// commits: a rolled-back change recorded nothing.
func TestAuditCountedOnCommit(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)))
	c := &counter{}
	st := instrumented.Wrap(openSQLite(t), instrumented.Options{Tracer: tp.Tracer("test"), System: "sqlite", Audit: c})
	now := time.Now().UTC().Truncate(time.Microsecond)
	event := func(id string) firewall.AuditEvent {
		return firewall.AuditEvent{ID: id, OccurredAt: now, ActorSubject: "alice", Action: firewall.AuditCreate,
			ResourceType: firewall.KindFirewall, ResourceID: id, FirewallID: id}
	}
	fail := errors.New("changed my mind")
	err := st.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.AppendAuditEvent(ctx, event("0190a0b0-0000-7000-8000-000000000001")); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Update: %v", err)
	}
	key := "create " + firewall.KindFirewall
	if got := c.get(key); got != 0 {
		t.Fatalf("rolled-back event counted %d times", got)
	}
	err = st.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAuditEvent(ctx, event("0190a0b0-0000-7000-8000-000000000002"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.get(key); got != 1 {
		t.Fatalf("committed event counted %d times, want 1", got)
	}
	// The failed Update is an error span; the append under it is not.
	spans := exp.GetSpans()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name+"/"+s.Status.Code.String())
	}
	want := []string{"store.AppendAuditEvent/Unset", "store.Update/Error", "store.AppendAuditEvent/Unset", "store.Update/Unset"}
	if len(names) != len(want) {
		t.Fatalf("spans %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("spans %v, want %v", names, want)
		}
	}
	if spans[0].Parent.SpanID() != spans[1].SpanContext.SpanID() {
		t.Errorf("the append span is not a child of its Update span")
	}
}
