package service

import (
	"context"
	"fmt"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Retention says which revisions each firewall keeps: at most Keep (0: no
// limit by count) and none older than MaxAge (0: no limit by age). The
// current revision is always kept, whatever its age, so that the tree can
// always be read back and diffed against.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}

// Revision is one revision of a firewall's tree, without the tree.
type Revision struct {
	Revision  int64     `json:"revision" doc:"The revision number."`
	CreatedAt time.Time `json:"created_at" doc:"When the change was committed."`
	Actor     string    `json:"actor" doc:"The subject of the token that made the change."`
	RequestID string    `json:"request_id" doc:"The id of the request that made the change."`
	Summary   string    `json:"summary" doc:"One line saying what changed."`
}

// RevisionTree is a revision with the tree as of it.
type RevisionTree struct {
	Revision
	Tree firewall.Tree
}

// snapshot stores the firewall's tree as of rev, read inside tx so that it
// includes the change being committed, and prunes what retention lets go.
func (s *Service) snapshot(ctx context.Context, tx store.Tx, firewallID string, rev int64, summary string) error {
	t, err := tx.LoadTree(ctx, firewallID)
	if err != nil {
		return fmt.Errorf("snapshot firewall %s: %w", firewallID, err)
	}
	body, err := encodeSnapshot(engineTree(t))
	if err != nil {
		return fmt.Errorf("encode tree of firewall %s: %w", firewallID, err)
	}
	caller := callerFrom(ctx)
	now := s.now().UTC().Truncate(time.Microsecond)
	err = tx.PutRevision(ctx, store.Revision{FirewallID: firewallID, Revision: rev, CreatedAt: now,
		Actor: caller.Subject, RequestID: caller.RequestID, Summary: summary, Tree: body})
	if err != nil {
		return err
	}
	if s.retention.Keep == 0 && s.retention.MaxAge == 0 {
		return nil
	}
	ret := store.Retention{Keep: s.retention.Keep}
	if s.retention.MaxAge > 0 {
		ret.Before = now.Add(-s.retention.MaxAge)
	}
	if _, err := tx.PruneRevisions(ctx, firewallID, ret); err != nil {
		return fmt.Errorf("prune revisions of firewall %s: %w", firewallID, err)
	}
	return nil
}

func ruleSummary(verb string, r firewall.Rule) string {
	if r.Name != "" {
		return fmt.Sprintf("%s rule %q in policy %s", verb, r.Name, r.PolicyID)
	}
	return fmt.Sprintf("%s rule %s in policy %s", verb, r.ID, r.PolicyID)
}

// ListRevisions returns one page of a firewall's kept revisions, newest first.
func (s *Service) ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[Revision], error) {
	p, err := s.store.ListRevisions(ctx, firewallID, clampPage(q))
	if err != nil {
		return firewall.Page[Revision]{}, err
	}
	out := firewall.Page[Revision]{NextPageToken: p.NextPageToken, Items: make([]Revision, len(p.Items))}
	for i, v := range p.Items {
		out.Items[i] = revisionOf(v)
	}
	return out, nil
}

func revisionOf(v store.Revision) Revision {
	return Revision{Revision: v.Revision, CreatedAt: v.CreatedAt, Actor: v.Actor, RequestID: v.RequestID, Summary: v.Summary}
}

// GetRevision returns the firewall's tree as of revision n.
func (s *Service) GetRevision(ctx context.Context, firewallID string, n int64) (RevisionTree, error) {
	v, err := s.store.GetTreeRevision(ctx, firewallID, n)
	if err != nil {
		return RevisionTree{}, err
	}
	t, err := decodeSnapshot(v.Tree)
	if err != nil {
		return RevisionTree{}, fmt.Errorf("decode revision %d of firewall %s: %w", n, firewallID, err)
	}
	return RevisionTree{Revision: revisionOf(v), Tree: t}, nil
}

// RevisionDiff is what changed from revision Against to revision Revision.
type RevisionDiff struct {
	Revision   int64        `json:"revision" doc:"The revision diffed."`
	Against    int64        `json:"against" doc:"The revision it is diffed against, the older side."`
	Structural TreeDiff     `json:"structural" doc:"Policies and rules added, removed, changed field by field, and moved, matched by id."`
	Semantic   SemanticDiff `json:"semantic" doc:"The regions of flows whose decision changes, with an example flow each, from the exact analysis compare."`
}

// DiffRevisions diffs revision n against revision m, structurally and
// semantically.
func (s *Service) DiffRevisions(ctx context.Context, firewallID string, n, m int64, maxRegions int) (RevisionDiff, error) {
	newer, err := s.GetRevision(ctx, firewallID, n)
	if err != nil {
		return RevisionDiff{}, err
	}
	older, err := s.GetRevision(ctx, firewallID, m)
	if err != nil {
		var ps firewall.Problems
		if firewall.CodeOf(err) == firewall.CodeNotFound {
			ps.Add("query.against", m, "revision %d of this firewall does not exist or was pruned", m)
			return RevisionDiff{}, ps.Err("the diff is not valid")
		}
		return RevisionDiff{}, err
	}
	out := RevisionDiff{Revision: n, Against: m, Structural: DiffTrees(older.Tree, newer.Tree)}
	out.Semantic, err = s.semanticDiff(older.Tree, newer.Tree, maxRegions)
	if err != nil {
		return RevisionDiff{}, err
	}
	return out, nil
}

// Rollback makes a new revision whose tree equals revision n's. Elements
// deleted since n come back with their old ids. It is audited like any
// change; rolling back to a tree equal to the current one makes no
// revision.
func (s *Service) Rollback(ctx context.Context, firewallID string, pre Precondition, n int64) (TreeResult, error) {
	v, err := s.GetRevision(ctx, firewallID, n)
	if err != nil {
		if firewall.CodeOf(err) == firewall.CodeNotFound {
			if _, ferr := s.store.GetFirewall(ctx, firewallID); ferr != nil {
				return TreeResult{}, ferr
			}
			var ps firewall.Problems
			ps.Add("revision", n, "revision %d of this firewall does not exist or was pruned", n)
			return TreeResult{}, ps.Err("the rollback is not valid")
		}
		return TreeResult{}, err
	}
	return s.replaceTree(ctx, firewallID, pre, v.Tree, replaceOptions{keepIDs: true,
		summary: fmt.Sprintf("roll back to revision %d", n)})
}
