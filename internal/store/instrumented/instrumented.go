// Package instrumented wraps a store.Store so that every call shows as a
// database span under the request's span, and committed audit events are
// counted. It depends only on the store contract, so it serves every
// store implementation alike.
package instrumented

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// AuditCounter counts audit events once their transaction commits.
type AuditCounter interface {
	AuditEvent(action, resourceType string)
}

// Options configures Wrap.
type Options struct {
	// Tracer makes the database spans; nil makes none, at no cost.
	Tracer trace.Tracer
	// System names the database in span attributes: "sqlite" or "postgresql".
	System string
	// Audit counts committed audit events; nil counts nothing.
	Audit AuditCounter
}

// Wrap returns st with tracing and audit counting.
func Wrap(st store.Store, opts Options) store.Store {
	t := tracer{opts.Tracer, attribute.String("db.system.name", opts.System)}
	return &wrapped{reader: reader{next: st, t: t}, next: st, audit: opts.Audit}
}

type tracer struct {
	t      trace.Tracer
	system attribute.KeyValue
}

// start begins a client span named for the store operation; without a
// tracer it returns ctx as is and a nil span.
func (t tracer) start(ctx context.Context, op string) (context.Context, trace.Span) {
	if t.t == nil {
		return ctx, nil
	}
	return t.t.Start(ctx, "store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(t.system, attribute.String("db.operation.name", op)))
}

// end ends span, marking it failed if err is not nil.
func end(span trace.Span, err error) error {
	if span == nil {
		return err
	}
	if err != nil {
		// Expected outcomes such as not found are errors for the caller,
		// not failures of the database.
		if code := firewall.CodeOf(err); code == "" || code == firewall.CodeUnavailable {
			span.RecordError(err)
			span.SetStatus(codes.Error, "store error")
		} else {
			span.SetAttributes(attribute.String("fireflow.error_code", string(code)))
		}
	}
	span.End()
	return err
}

type wrapped struct {
	reader
	next  store.Store
	audit AuditCounter
}

// auditEntry is an audit event appended in a transaction, counted only if
// the transaction commits.
type auditEntry struct{ action, resourceType string }

func (w *wrapped) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	ctx, span := w.t.start(ctx, "Update")
	var events []auditEntry
	err := w.next.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		events = events[:0] // the store may run fn again after a serialisation failure
		return fn(ctx, &txWrapper{reader: reader{next: tx, t: w.t}, next: tx, events: &events})
	})
	if err == nil && w.audit != nil {
		for _, ev := range events {
			w.audit.AuditEvent(ev.action, ev.resourceType)
		}
	}
	return end(span, err)
}

func (w *wrapped) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	ctx, span := w.t.start(ctx, "LoadTree")
	t, err := w.next.LoadTree(ctx, firewallID)
	return t, end(span, err)
}

func (w *wrapped) Ready(ctx context.Context) error { return w.next.Ready(ctx) }

// SetRetention passes the retention on to the wrapped store when it keeps
// revisions, so that pruning is the same traced or not.
func (w *wrapped) SetRetention(r firewall.Retention) {
	if rs, ok := w.next.(interface{ SetRetention(firewall.Retention) }); ok {
		rs.SetRetention(r)
	}
}

func (w *wrapped) Close() error { return w.next.Close() }

// reader traces the read methods shared by the store and its transactions.
type reader struct {
	next store.Reader
	t    tracer
}

func (r reader) GetFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	ctx, span := r.t.start(ctx, "GetFirewall")
	v, err := r.next.GetFirewall(ctx, id)
	return v, end(span, err)
}

func (r reader) ListFirewalls(ctx context.Context, q firewall.Query) (firewall.Page[firewall.Firewall], error) {
	ctx, span := r.t.start(ctx, "ListFirewalls")
	v, err := r.next.ListFirewalls(ctx, q)
	return v, end(span, err)
}

func (r reader) GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error) {
	ctx, span := r.t.start(ctx, "GetPolicy")
	v, err := r.next.GetPolicy(ctx, firewallID, id)
	return v, end(span, err)
}

func (r reader) ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error) {
	ctx, span := r.t.start(ctx, "ListPolicies")
	v, err := r.next.ListPolicies(ctx, firewallID, q)
	return v, end(span, err)
}

func (r reader) GetRule(ctx context.Context, firewallID, policyID, id string) (firewall.Rule, error) {
	ctx, span := r.t.start(ctx, "GetRule")
	v, err := r.next.GetRule(ctx, firewallID, policyID, id)
	return v, end(span, err)
}

func (r reader) ListRules(ctx context.Context, firewallID, policyID string, q firewall.Query) (firewall.Page[firewall.Rule], error) {
	ctx, span := r.t.start(ctx, "ListRules")
	v, err := r.next.ListRules(ctx, firewallID, policyID, q)
	return v, end(span, err)
}

func (r reader) ListAuditEvents(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AuditEvent], error) {
	ctx, span := r.t.start(ctx, "ListAuditEvents")
	v, err := r.next.ListAuditEvents(ctx, q)
	return v, end(span, err)
}

func (r reader) GetRevision(ctx context.Context, firewallID string) (int64, error) {
	ctx, span := r.t.start(ctx, "GetRevision")
	v, err := r.next.GetRevision(ctx, firewallID)
	return v, end(span, err)
}

// txWrapper traces a transaction's calls and notes its audit events.
type txWrapper struct {
	reader
	next   store.Tx
	events *[]auditEntry
}

func (x *txWrapper) LockFirewall(ctx context.Context, id string) (firewall.Firewall, error) {
	ctx, span := x.t.start(ctx, "LockFirewall")
	v, err := x.next.LockFirewall(ctx, id)
	return v, end(span, err)
}

func (x *txWrapper) BumpRevision(ctx context.Context, id, etag string, at time.Time) (int64, error) {
	ctx, span := x.t.start(ctx, "BumpRevision")
	v, err := x.next.BumpRevision(ctx, id, etag, at)
	return v, end(span, err)
}

func (x *txWrapper) CreateFirewall(ctx context.Context, f *firewall.Firewall) error {
	ctx, span := x.t.start(ctx, "CreateFirewall")
	return end(span, x.next.CreateFirewall(ctx, f))
}

func (x *txWrapper) UpdateFirewall(ctx context.Context, f *firewall.Firewall) error {
	ctx, span := x.t.start(ctx, "UpdateFirewall")
	return end(span, x.next.UpdateFirewall(ctx, f))
}

func (x *txWrapper) DeleteFirewall(ctx context.Context, id string, cascade bool) error {
	ctx, span := x.t.start(ctx, "DeleteFirewall")
	return end(span, x.next.DeleteFirewall(ctx, id, cascade))
}

func (x *txWrapper) CreatePolicy(ctx context.Context, p *firewall.Policy) error {
	ctx, span := x.t.start(ctx, "CreatePolicy")
	return end(span, x.next.CreatePolicy(ctx, p))
}

func (x *txWrapper) UpdatePolicy(ctx context.Context, p *firewall.Policy) error {
	ctx, span := x.t.start(ctx, "UpdatePolicy")
	return end(span, x.next.UpdatePolicy(ctx, p))
}

func (x *txWrapper) DeletePolicy(ctx context.Context, firewallID, id string, cascade bool) error {
	ctx, span := x.t.start(ctx, "DeletePolicy")
	return end(span, x.next.DeletePolicy(ctx, firewallID, id, cascade))
}

func (x *txWrapper) CountRules(ctx context.Context, policyID string) (int, error) {
	ctx, span := x.t.start(ctx, "CountRules")
	v, err := x.next.CountRules(ctx, policyID)
	return v, end(span, err)
}

func (x *txWrapper) CreateRule(ctx context.Context, r *firewall.Rule) error {
	ctx, span := x.t.start(ctx, "CreateRule")
	return end(span, x.next.CreateRule(ctx, r))
}

func (x *txWrapper) UpdateRule(ctx context.Context, r *firewall.Rule) error {
	ctx, span := x.t.start(ctx, "UpdateRule")
	return end(span, x.next.UpdateRule(ctx, r))
}

func (x *txWrapper) MoveRule(ctx context.Context, r *firewall.Rule, position int) error {
	ctx, span := x.t.start(ctx, "MoveRule")
	return end(span, x.next.MoveRule(ctx, r, position))
}

func (x *txWrapper) DeleteRule(ctx context.Context, firewallID, policyID, id string) error {
	ctx, span := x.t.start(ctx, "DeleteRule")
	return end(span, x.next.DeleteRule(ctx, firewallID, policyID, id))
}

func (x *txWrapper) AppendAuditEvent(ctx context.Context, ev firewall.AuditEvent) error {
	ctx, span := x.t.start(ctx, "AppendAuditEvent")
	err := x.next.AppendAuditEvent(ctx, ev)
	if err == nil {
		*x.events = append(*x.events, auditEntry{string(ev.Action), ev.ResourceType})
	}
	return end(span, err)
}

func (x *txWrapper) GetIdempotencyRecord(ctx context.Context, key string) (store.IdempotencyRecord, error) {
	ctx, span := x.t.start(ctx, "GetIdempotencyRecord")
	v, err := x.next.GetIdempotencyRecord(ctx, key)
	return v, end(span, err)
}

func (x *txWrapper) PutIdempotencyRecord(ctx context.Context, rec store.IdempotencyRecord, purgeBefore time.Time) error {
	ctx, span := x.t.start(ctx, "PutIdempotencyRecord")
	return end(span, x.next.PutIdempotencyRecord(ctx, rec, purgeBefore))
}

func (x *txWrapper) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	ctx, span := x.t.start(ctx, "TxLoadTree")
	v, err := x.next.LoadTree(ctx, firewallID)
	return v, end(span, err)
}

func (r reader) ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.RevisionRecord], error) {
	ctx, span := r.t.start(ctx, "ListRevisions")
	v, err := r.next.ListRevisions(ctx, firewallID, q)
	return v, end(span, err)
}

func (w *wrapped) TreeAt(ctx context.Context, firewallID string, revision int64) (store.Tree, error) {
	ctx, span := w.t.start(ctx, "TreeAt")
	t, err := w.next.TreeAt(ctx, firewallID, revision)
	return t, end(span, err)
}

func (x *txWrapper) NoteRevision(firewallID, summary string) {
	x.next.NoteRevision(firewallID, summary)
}

func (r reader) GetChangeRequest(ctx context.Context, firewallID, id string) (firewall.ChangeRequest, error) {
	ctx, span := r.t.start(ctx, "GetChangeRequest")
	v, err := r.next.GetChangeRequest(ctx, firewallID, id)
	return v, end(span, err)
}

func (r reader) ListChangeRequests(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.ChangeRequest], error) {
	ctx, span := r.t.start(ctx, "ListChangeRequests")
	v, err := r.next.ListChangeRequests(ctx, firewallID, q)
	return v, end(span, err)
}

func (x *txWrapper) CreateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error {
	ctx, span := x.t.start(ctx, "CreateChangeRequest")
	return end(span, x.next.CreateChangeRequest(ctx, cr))
}

func (x *txWrapper) UpdateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error {
	ctx, span := x.t.start(ctx, "UpdateChangeRequest")
	return end(span, x.next.UpdateChangeRequest(ctx, cr))
}
