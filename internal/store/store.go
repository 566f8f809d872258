// Package store declares the storage contract that the service layer uses,
// and the helpers every store implementation shares. The conformance suite
// that each implementation must pass lives in store/storetest.
package store

import (
	"context"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Reader reads resources. List methods compile the query's filter and
// order with the matching internal/filter resource, and answer a
// firewall.CodeInvalid error for a bad filter, order_by or page token.
// Get and List return a firewall.CodeNotFound error
// that names the first missing resource on the path, parents first, so that
// a missing firewall is reported as such rather than as a missing rule.
type Reader interface {
	GroupReader
	GetFirewall(ctx context.Context, id string) (firewall.Firewall, error)
	// ListFirewalls orders by name (case-insensitive), then id, unless q.OrderBy says otherwise.
	ListFirewalls(ctx context.Context, q firewall.Query) (firewall.Page[firewall.Firewall], error)
	GetPolicy(ctx context.Context, firewallID, id string) (firewall.Policy, error)
	// ListPolicies orders by priority, then id, by default.
	ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error)
	GetRule(ctx context.Context, firewallID, policyID, id string) (firewall.Rule, error)
	// ListRules orders by position, then id, by default.
	ListRules(ctx context.Context, firewallID, policyID string, q firewall.Query) (firewall.Page[firewall.Rule], error)
	// ListAuditEvents orders newest first by default.
	ListAuditEvents(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AuditEvent], error)
	// GetRevision returns the firewall's revision: one indexed read, cheap
	// enough to check before every evaluation that a compiled tree is current.
	GetRevision(ctx context.Context, firewallID string) (int64, error)
	// ListRevisions lists the firewall's kept revisions, newest first, paged
	// by q.PageSize and q.PageToken; it takes no filter or order.
	ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.RevisionRecord], error)
	// GetChangeRequest reads one change request of a firewall, with its
	// base tree.
	GetChangeRequest(ctx context.Context, firewallID, id string) (firewall.ChangeRequest, error)
	// ListChangeRequests orders newest first by default. The items leave
	// out their base trees.
	ListChangeRequests(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.ChangeRequest], error)
}

// Tree is a firewall with all of its policies and rules, read from one
// consistent snapshot, so that the rules belong to the revision given.
type Tree struct {
	Firewall firewall.Firewall
	// Policies are in priority order.
	Policies []firewall.Policy
	// Rules are grouped by policy, each group in position order.
	Rules []firewall.Rule
	// Groups holds the groups the rules refer to, nesting included.
	Groups firewall.Groups
}

// Tx is a read-write transaction. The caller sets ids, etags and timestamps;
// the store persists them as given. Uniqueness clashes return
// firewall.CodeConflict errors naming the field; a missing parent returns
// firewall.CodeNotFound.
type Tx interface {
	Reader
	GroupWriter

	// LockFirewall reads the firewall and holds a write lock on it until the
	// transaction ends, so that changes within one firewall's tree are
	// serialised across processes. Every change to a tree takes it first.
	LockFirewall(ctx context.Context, id string) (firewall.Firewall, error)
	// BumpRevision raises the firewall's revision by one, sets its etag and
	// updated_at, and returns the new revision.
	BumpRevision(ctx context.Context, id, etag string, at time.Time) (int64, error)

	CreateFirewall(ctx context.Context, f *firewall.Firewall) error
	UpdateFirewall(ctx context.Context, f *firewall.Firewall) error
	// DeleteFirewall deletes the firewall. Without cascade it returns a
	// firewall.CodeConflict error if the firewall has policies.
	DeleteFirewall(ctx context.Context, id string, cascade bool) error

	CreatePolicy(ctx context.Context, p *firewall.Policy) error
	UpdatePolicy(ctx context.Context, p *firewall.Policy) error
	// DeletePolicy deletes the policy. Without cascade it returns a
	// firewall.CodeConflict error if the policy has rules.
	DeletePolicy(ctx context.Context, firewallID, id string, cascade bool) error

	// CountRules returns the number of rules in the policy.
	CountRules(ctx context.Context, policyID string) (int, error)
	// CreateRule inserts r at r.Position, shifting the rules at and after it
	// down by one. Position 0 appends. It sets r.Position to the final value.
	// The caller checks that the position is between 1 and count+1.
	CreateRule(ctx context.Context, r *firewall.Rule) error
	// UpdateRule writes every field of r except its position.
	UpdateRule(ctx context.Context, r *firewall.Rule) error
	// MoveRule moves r to position, shifting the rules in between so that
	// positions stay 1..n, and writes r's etag and updated_at. It sets
	// r.Position. The caller checks that position is between 1 and count.
	MoveRule(ctx context.Context, r *firewall.Rule, position int) error
	// DeleteRule deletes the rule and closes the gap it leaves.
	DeleteRule(ctx context.Context, firewallID, policyID, id string) error

	// LoadTree reads the firewall's tree inside the transaction, seeing its
	// own writes.
	LoadTree(ctx context.Context, firewallID string) (Tree, error)

	// NoteRevision sets the one-line summary of the revision this
	// transaction makes of the firewall, in place of the one the store
	// derives from the transaction's audit events.
	NoteRevision(firewallID, summary string)

	// AppendAuditEvent records a change. It runs in the change's own
	// transaction, so that a change without its event never commits.
	AppendAuditEvent(ctx context.Context, ev firewall.AuditEvent) error

	// CreateChangeRequest inserts cr, with its base tree.
	CreateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error
	// UpdateChangeRequest writes cr's review: state, reviewer, comments,
	// applied revision, stale reason, etag and updated_at. The proposed
	// change, its base and its impact never change.
	UpdateChangeRequest(ctx context.Context, cr *firewall.ChangeRequest) error

	// GetIdempotencyRecord returns the record stored under key, or a
	// firewall.CodeNotFound error.
	GetIdempotencyRecord(ctx context.Context, key string) (IdempotencyRecord, error)
	// PutIdempotencyRecord stores rec and deletes records created before purgeBefore.
	PutIdempotencyRecord(ctx context.Context, rec IdempotencyRecord, purgeBefore time.Time) error
}

// IdempotencyRecord remembers the response to a POST sent with an
// Idempotency-Key, so that a retry gets the same answer.
type IdempotencyRecord struct {
	// Key is the client's key, scoped by the caller (for example by method and path).
	Key string
	// RequestHash identifies the request body; a different body under the same key is refused.
	RequestHash string
	// ResourceID is the id of the resource the first request created.
	ResourceID string
	// Response is the first response's resource snapshot, as the service encoded it.
	Response  []byte
	CreatedAt time.Time
}

// Store is a FireFlow database.
type Store interface {
	Reader
	// Update runs fn in a read-write transaction, committing if fn returns
	// nil and rolling back otherwise. It may run fn again after a
	// serialisation failure, so fn must not have effects outside tx.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// LoadTree reads a firewall's whole tree in one read transaction.
	LoadTree(ctx context.Context, firewallID string) (Tree, error)
	// TreeAt reads the firewall's tree as it was at revision, in one read
	// transaction. A revision above the current one answers a
	// firewall.CodeNotFound error, a pruned one firewall.CodeGone.
	TreeAt(ctx context.Context, firewallID string, revision int64) (Tree, error)
	// Ready reports whether the database answers and its schema is current.
	Ready(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}
