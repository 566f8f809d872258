package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var historyTags = []string{"History"}

// Revision describes one revision of a firewall's tree.
type Revision struct {
	Revision  int64     `json:"revision" doc:"The revision number." example:"7"`
	CreatedAt time.Time `json:"created_at" doc:"When the change committed."`
	Actor     string    `json:"actor" doc:"Who made the change: the token's subject."`
	RequestID string    `json:"request_id" doc:"The request that made the change, as the audit log names it."`
	Summary   string    `json:"summary" doc:"What the change did, in one line."`
}

func revisionOut(r firewall.RevisionRecord) Revision {
	return Revision{Revision: r.Revision, CreatedAt: r.CreatedAt, Actor: r.Actor, RequestID: r.RequestID, Summary: r.Summary}
}

// RevisionParams names a revision of a firewall in the path.
type RevisionParams struct {
	FirewallParams
	Revision int64 `path:"revision" minimum:"1" doc:"The revision number." example:"7"`
}

// RevisionDiffOutput is what changed from one revision to another.
type RevisionDiffOutput struct {
	Revision   int64            `json:"revision" doc:"The newer side: the revision in the path."`
	Against    int64            `json:"against" doc:"The older side: the revision named by against."`
	Structural service.TreeDiff `json:"structural" doc:"Policies and rules added, removed, changed (field by field) and moved, matched by id, from against to revision."`
	Semantic   SemanticDiff     `json:"semantic" doc:"The regions of flows whose decision changes from against to revision, each with an example flow and both decisions."`
	// ChangedGroups comes from each side's own groups.
	ChangedGroups []service.GroupChange `json:"changed_groups" doc:"The groups both revisions use whose contents (name, members, nesting) differ, each side's as of its revision."`
}

// RollbackInput names the revision to go back to.
type RollbackInput struct {
	Revision int64 `json:"revision" minimum:"1" doc:"The revision whose tree the firewall takes again." example:"7"`
}

func (a *api) listRevisions() endpoint {
	return handle(huma.Operation{
		OperationID: "list-revisions", Tags: historyTags,
		Summary:     "List a firewall's revisions",
		Description: "Lists the firewall's kept revisions, by default newest first, with when, who, the request and a one-line summary. filter selects them and order_by orders them as other lists do; see docs/filtering.md. See docs/history.md for what retention keeps.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		FirewallParams
		ListParams
	}) (*struct{ Body Page[Revision] }, error) {
		page, err := a.svc.ListRevisions(ctx, in.FirewallID, in.query())
		if err != nil {
			return nil, inQuery(err)
		}
		return &struct{ Body Page[Revision] }{Body: pageOf(page, revisionOut)}, nil
	}).with(nil, describeList(service.RevisionList))
}

func (a *api) getRevision() endpoint {
	return handle(huma.Operation{
		OperationID: "get-revision", Tags: historyTags,
		Summary:     "Get the tree as of a revision",
		Description: "Returns the firewall's whole tree as it was at the revision, in the shape of GET .../tree. A revision the firewall has not reached answers 404, a pruned one 410.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusGone), func(ctx context.Context, in *RevisionParams) (*treeResponse, error) {
		t, err := a.svc.TreeAt(ctx, in.FirewallID, in.Revision)
		if err != nil {
			return nil, inPath(err)
		}
		return &treeResponse{ETag: quoteETag(service.TreeETag(t.Firewall.Revision)), Body: TreeDocumentOf(t)}, nil
	})
}

func (a *api) diffRevision() endpoint {
	return handle(huma.Operation{
		OperationID: "diff-revision", Tags: historyTags,
		Summary:     "Diff a revision against another",
		Description: "Gives what changed from the revision named by against to the one in the path: the structural diff (policies and rules added, removed, changed field by field, and moved) and the semantic diff (the regions of flows whose decision changes, each with an example flow), as a dry-run PUT of the tree reports them. Each side is judged with its own groups as of its revision, so a group edit shows in the semantic diff, and changed_groups lists the groups whose contents differ.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusGone), func(ctx context.Context, in *struct {
		RevisionParams
		Against    int64 `query:"against" required:"true" minimum:"1" doc:"The revision to diff against: the older side." example:"6"`
		MaxRegions int   `query:"max_regions" minimum:"0" maximum:"10000" doc:"How many regions to list (0: as a dry run lists them); all are counted."`
	}) (*struct{ Body RevisionDiffOutput }, error) {
		d, err := a.svc.DiffRevisions(ctx, in.FirewallID, in.Revision, in.Against, in.MaxRegions)
		if err != nil {
			return nil, inQuery(inPath(err), "against")
		}
		sem := semanticDiffOut(&d.Semantic)
		return &struct{ Body RevisionDiffOutput }{Body: RevisionDiffOutput{
			Revision: d.Revision, Against: d.Against, Structural: d.Structural, Semantic: *sem,
			ChangedGroups: nonNilChanges(d.ChangedGroups)}}, nil
	})
}

func (a *api) rollback() endpoint {
	return handle(huma.Operation{
		OperationID: "rollback", Tags: historyTags,
		Summary:     "Roll back to a revision",
		Description: "Makes a new revision whose tree equals the one named, through the tree replace: each change is audited like any other, policies and rules still present keep their ids, and those deleted since come back under theirs. A tree that already equals it makes no revision. If-Match takes the tree's etag. Rules get back their group references (by id), but groups, shared by every firewall, keep today's contents: a group the revision used that has been deleted since answers 409 naming it, and changed_groups lists those whose name, members or nesting differ from the revision's (docs/history.md).",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusGone, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			Body RollbackInput
		}) (*treeChangeResponse, error) {
			res, err := a.svc.Rollback(ctx, in.FirewallID, in.precondition(), in.Body.Revision)
			if err != nil {
				return nil, err
			}
			return treeChangeReply(res), nil
		})
}

// inPath moves a problem about the revision under "path.", where the
// revision was given.
func inPath(err error) error {
	var de *firewall.Error
	if !errors.As(err, &de) {
		return err
	}
	moved := *de
	moved.Problems = slices.Clone(de.Problems)
	for i, p := range moved.Problems {
		if p.Location == "revision" {
			moved.Problems[i].Location = "path.revision"
		}
	}
	return &moved
}

func nonNilChanges(c []service.GroupChange) []service.GroupChange {
	if c == nil {
		return []service.GroupChange{}
	}
	return c
}
