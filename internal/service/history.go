package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
)

// ListRevisions returns one page of the firewall's kept revisions, newest
// first.
func (s *Service) ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.RevisionRecord], error) {
	return s.store.ListRevisions(ctx, firewallID, clampPage(q))
}

// TreeAt returns the firewall's tree as it was at revision. A revision the
// firewall has not reached is not found; a pruned one is gone.
func (s *Service) TreeAt(ctx context.Context, firewallID string, revision int64) (firewall.Tree, error) {
	t, err := s.store.TreeAt(ctx, firewallID, revision)
	if err != nil {
		return firewall.Tree{}, err
	}
	return engineTree(t), nil
}

// RevisionDiff is what changed from one revision to another.
type RevisionDiff struct {
	// Revision is the newer side, Against the older (either may be the
	// greater number: the diff goes from Against to Revision).
	Revision, Against int64
	Structural        TreeDiff
	Semantic          SemanticDiff
	// ChangedGroups are the groups both sides use whose contents differ,
	// each side's as of its revision.
	ChangedGroups []GroupChange
}

// DiffRevisions compares the firewall's tree at against with its tree at
// revision: the structural diff, elements matched by id, and the semantic
// one, the regions of flows whose decision changes, as a dry-run PUT of the
// tree reports them. maxRegions bounds the regions listed (0: the compare's
// default).
func (s *Service) DiffRevisions(ctx context.Context, firewallID string, revision, against int64, maxRegions int) (RevisionDiff, error) {
	newer, err := s.TreeAt(ctx, firewallID, revision)
	if err != nil {
		return RevisionDiff{}, err
	}
	older, err := s.TreeAt(ctx, firewallID, against)
	if err != nil {
		return RevisionDiff{}, asAgainst(err)
	}
	out := RevisionDiff{Revision: revision, Against: against, Structural: DiffTrees(older, newer),
		ChangedGroups: diffGroups(older.Groups, newer.Groups)}
	mo, mn, err := s.models(older, newer)
	if err != nil {
		return RevisionDiff{}, err
	}
	if out.Semantic, err = compareModels(mo, mn, maxRegions); err != nil {
		return RevisionDiff{}, err
	}
	return out, nil
}

// asAgainst renames the revision a problem is about to "against", the
// parameter that named it.
func asAgainst(err error) error {
	var fe *firewall.Error
	if !errors.As(err, &fe) {
		return err
	}
	moved := *fe
	moved.Problems = make([]firewall.Problem, len(fe.Problems))
	for i, p := range fe.Problems {
		if p.Location == "revision" {
			p.Location = "against"
		}
		moved.Problems[i] = p
	}
	return &moved
}

// Rollback makes the firewall's tree equal its tree at revision, as a new
// revision made through the tree replace, so that each change is audited
// like any other. Elements still present keep their ids, and those deleted
// since come back under theirs, so that the result diffs empty against the
// revision. A tree that already equals it makes no revision.
//
// Groups are shared by every firewall, so a rollback restores the rules'
// references to them, not their contents: a group deleted since answers a
// conflict naming it, and the groups whose contents differ now from the
// revision's are listed in ChangedGroups (docs/history.md).
func (s *Service) Rollback(ctx context.Context, firewallID string, pre Precondition, revision int64) (TreeResult, error) {
	target, err := s.TreeAt(ctx, firewallID, revision)
	if err != nil {
		return TreeResult{}, err
	}
	changed, err := restorableGroups(ctx, s.store, &target, revision)
	if err != nil {
		return TreeResult{}, fmt.Errorf("roll back firewall %s to revision %d: %w", firewallID, revision, err)
	}
	res, err := s.replaceTree(ctx, firewallID, pre, target,
		treeReplace{restore: true, summary: fmt.Sprintf("rolled back to revision %d", revision)})
	if err != nil {
		return TreeResult{}, fmt.Errorf("roll back firewall %s to revision %d: %w", firewallID, revision, err)
	}
	res.ChangedGroups = changed
	return res, nil
}
