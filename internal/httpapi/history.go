package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var historyTags = []string{"History"}

// treeMaxBodySize bounds a whole tree sent with PUT: some 10,000 rules take
// a few MiB of JSON.
const treeMaxBodySize = 64 << 20

// RevisionParams names a revision in the path.
type RevisionParams struct {
	FirewallParams
	Revision int64 `path:"revision" minimum:"1" doc:"The revision number." example:"7"`
}

// RevisionPageParams pages the revision list, which is always newest first.
type RevisionPageParams struct {
	PageSize  int    `query:"page_size" minimum:"1" maximum:"1000" default:"50" doc:"How many revisions to return, 1 to 1000."`
	PageToken string `query:"page_token" maxLength:"2048" doc:"The next_page_token of the previous page; leave it out for the first page."`
}

// RevisionTreeOutput is a revision with the tree as of it.
type RevisionTreeOutput struct {
	service.Revision
	Tree TreeDocument `json:"tree" doc:"The whole tree as of the revision, in the shape of GET .../tree."`
}

// RollbackInput names the revision to go back to.
type RollbackInput struct {
	Revision int64 `json:"revision" minimum:"1" doc:"The revision whose tree the firewall gets back." example:"7"`
}

// TreeChangeOutput is what a PUT of the tree or a rollback did, or what a
// dry run would do.
type TreeChangeOutput struct {
	Changed         bool                    `json:"changed" doc:"false when the tree already was the one sent: no revision was made."`
	DryRun          bool                    `json:"dry_run" doc:"true when nothing was saved."`
	Revision        int64                   `json:"revision" doc:"The firewall's revision after the change (the current one for a dry run or an unchanged tree)."`
	Tree            TreeDocument            `json:"tree" doc:"The tree after the change, or as it would be."`
	Structural      service.TreeDiff        `json:"structural" doc:"What changes, matched by id."`
	Semantic        *service.SemanticDiff   `json:"semantic,omitempty" doc:"For a dry run: the regions of flows whose decision would change."`
	FindingsAdded   []service.FindingChange `json:"findings_added,omitempty" doc:"For a dry run: analysis findings the change would add."`
	FindingsRemoved []service.FindingChange `json:"findings_removed,omitempty" doc:"For a dry run: analysis findings the change would remove."`
}

type treeChangeResponse struct {
	ETag string `header:"ETag" doc:"The tree's etag after the change."`
	Body TreeChangeOutput
}

func treeChangeReply(res service.TreeResult) *treeChangeResponse {
	return &treeChangeResponse{ETag: quoteETag(service.TreeETag(res.Revision)), Body: TreeChangeOutput{
		Changed: res.Changed, DryRun: res.DryRun, Revision: res.Revision, Tree: TreeDocumentOf(res.Tree),
		Structural: res.Structural, Semantic: res.Semantic, FindingsAdded: res.FindingsAdded, FindingsRemoved: res.FindingsRemoved,
	}}
}

func (a *api) listRevisions() endpoint {
	return handle(huma.Operation{
		OperationID: "list-revisions", Tags: historyTags,
		Summary:     "List a firewall's revisions",
		Description: "Lists the kept revisions of the firewall's tree, newest first, with when, who, the request id and a one-line summary. Old revisions may be pruned by the retention settings; the current one is always kept.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		FirewallParams
		RevisionPageParams
	}) (*struct{ Body Page[service.Revision] }, error) {
		page, err := a.svc.ListRevisions(ctx, in.FirewallID, firewall.Query{PageSize: in.PageSize, PageToken: in.PageToken})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[service.Revision] }{Body: pageOf(page, func(r service.Revision) service.Revision { return r })}, nil
	})
}

func (a *api) getRevision() endpoint {
	return handle(huma.Operation{
		OperationID: "get-revision", Tags: historyTags,
		Summary:     "Get the tree as of a revision",
		Description: "Returns the firewall's whole tree as it was at the revision.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *RevisionParams) (*struct{ Body RevisionTreeOutput }, error) {
		v, err := a.svc.GetRevision(ctx, in.FirewallID, in.Revision)
		if err != nil {
			return nil, err
		}
		return &struct{ Body RevisionTreeOutput }{Body: RevisionTreeOutput{Revision: v.Revision, Tree: TreeDocumentOf(v.Tree)}}, nil
	})
}

func (a *api) diffRevision() endpoint {
	return handle(huma.Operation{
		OperationID: "diff-revision", Tags: historyTags,
		Summary:     "Diff a revision against another",
		Description: "Gives what changed from revision `against` to this one: structurally (policies and rules added, removed, changed field by field, moved; matched by id) and semantically (the regions of flows whose decision changes, each with an example flow, from the exact analysis compare). Without `against`, the revision before.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity), func(ctx context.Context, in *struct {
		RevisionParams
		Against    int64 `query:"against" minimum:"0" doc:"The revision to diff against; 0 or absent means the one before."`
		MaxRegions int   `query:"max_regions" minimum:"0" maximum:"10000" doc:"How many regions to list at most (all are counted); 0 means 100."`
	}) (*struct{ Body service.RevisionDiff }, error) {
		against := in.Against
		if against == 0 {
			against = in.Revision - 1
		}
		if against < 1 {
			var ps firewall.Problems
			ps.Add("query.against", strconv.FormatInt(in.Against, 10), "revision 1 has no revision before it; name one with against")
			return nil, ps.Err("the diff is not valid")
		}
		d, err := a.svc.DiffRevisions(ctx, in.FirewallID, in.Revision, against, in.MaxRegions)
		if err != nil {
			return nil, err
		}
		return &struct{ Body service.RevisionDiff }{Body: d}, nil
	})
}

func (a *api) rollback() endpoint {
	return handle(huma.Operation{
		OperationID: "rollback-firewall", Tags: historyTags,
		Summary:     "Roll the tree back to a revision",
		Description: "Makes a new revision whose tree equals the revision's: policies and rules deleted since come back with their ids, later ones go. Audited like any change. If-Match takes the tree's etag (GET .../tree).",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity),
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

type treeResponse struct {
	ETag string `header:"ETag" doc:"The tree's etag: it changes exactly when the firewall's revision does."`
	Body TreeDocument
}

func (a *api) getTree() endpoint {
	return handle(huma.Operation{
		OperationID: "get-tree", Tags: historyTags,
		Summary:     "Get the whole tree",
		Description: "Returns the firewall with its policies and rules as one document, the shape PUT .../tree and analysis candidates take.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *FirewallParams) (*treeResponse, error) {
		t, err := a.svc.GetTree(ctx, in.FirewallID)
		if err != nil {
			return nil, err
		}
		return &treeResponse{ETag: quoteETag(service.TreeETag(t.Firewall.Revision)), Body: TreeDocumentOf(t)}, nil
	})
}

func (a *api) putTree() endpoint {
	return handle(huma.Operation{
		OperationID: "put-tree", Tags: historyTags,
		Summary:     "Replace the whole tree",
		Description: "Replaces the firewall's tree atomically. Policies and rules are matched to the current ones by id, else by name, so their ids and history survive; the rest are created, and current ones not in the document are deleted. The same document sent twice makes no new revision. If-Match takes the tree's etag; stale answers 412. With dry_run=true nothing is saved and the answer gives the structural and semantic diffs and the findings added and removed.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			DryRun bool `query:"dry_run" doc:"Report what would change and save nothing."`
			Body   TreeDocument
		}) (*treeChangeResponse, error) {
			if in.Body.ID != "" && in.Body.ID != in.FirewallID {
				var ps firewall.Problems
				ps.Add("id", in.Body.ID, "the document's id must be the firewall's, %s, or left out", in.FirewallID)
				return nil, ps.Err("the firewall tree is not valid")
			}
			t, err := in.Body.Tree()
			if err != nil {
				return nil, err
			}
			res, err := a.svc.ReplaceTree(ctx, in.FirewallID, in.precondition(), t, in.DryRun)
			if err != nil {
				return nil, err
			}
			return treeChangeReply(res), nil
		}).with(func(op *huma.Operation) {
		op.MaxBodyBytes = bodyLimit(treeMaxBodySize)
	}, nil)
}
