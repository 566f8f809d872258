package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var treeTags = []string{"Tree"}

// treeMaxBodySize bounds a whole tree sent with PUT: some 10,000 rules take
// a few MiB of JSON.
const treeMaxBodySize = 64 << 20

// TreeChangeOutput is what a PUT of the tree did, or what a dry run would do.
type TreeChangeOutput struct {
	Changed         bool                    `json:"changed" doc:"false when the tree already was the one sent: no revision was made."`
	DryRun          bool                    `json:"dry_run" doc:"true when nothing was saved."`
	Revision        int64                   `json:"revision" doc:"The firewall's revision after the change (the current one for a dry run or an unchanged tree)."`
	Tree            TreeDocument            `json:"tree" doc:"The tree after the change, or as it would be."`
	Structural      service.TreeDiff        `json:"structural" doc:"What changes, matched by id."`
	Semantic        *SemanticDiff           `json:"semantic,omitempty" doc:"For a dry run: the regions of flows whose decision would change."`
	FindingsAdded   []service.FindingChange `json:"findings_added,omitempty" doc:"For a dry run: analysis findings the change would add."`
	FindingsRemoved []service.FindingChange `json:"findings_removed,omitempty" doc:"For a dry run: analysis findings the change would remove."`
	ChangedGroups   []service.GroupChange   `json:"changed_groups,omitempty" doc:"For a rollback: the groups the revision used whose contents differ now. The rollback restores the rules' references to them, not their contents, which other firewalls share."`
}

type treeChangeResponse struct {
	ETag string `header:"ETag" doc:"The tree's etag after the change."`
	Body TreeChangeOutput
}

func treeChangeReply(res service.TreeResult) *treeChangeResponse {
	return &treeChangeResponse{ETag: quoteETag(service.TreeETag(res.Revision)), Body: TreeChangeOutput{
		Changed: res.Changed, DryRun: res.DryRun, Revision: res.Revision, Tree: TreeDocumentOf(res.Tree),
		Structural: res.Structural, Semantic: semanticDiffOut(res.Semantic), FindingsAdded: res.FindingsAdded, FindingsRemoved: res.FindingsRemoved,
		ChangedGroups: res.ChangedGroups,
	}}
}

// SemanticDiff is what a change does to the flows, in the shape of a compare.
type SemanticDiff struct {
	NoOp    bool            `json:"no_op" doc:"true when no flow's decision changes."`
	Total   int             `json:"total" doc:"The number of regions whose decision changes, listed or not."`
	Regions []ChangedRegion `json:"regions" doc:"Regions of flows whose decision changes, each with one example flow."`
}

func semanticDiffOut(d *service.SemanticDiff) *SemanticDiff {
	if d == nil {
		return nil
	}
	out := &SemanticDiff{NoOp: d.NoOp, Total: d.Total, Regions: make([]ChangedRegion, len(d.Regions))}
	for i, r := range d.Regions {
		out.Regions[i] = ChangedRegion{Example: flowOut(r.Example), Old: decisionOut(r.Old), New: decisionOut(r.New)}
	}
	return out
}

type treeResponse struct {
	ETag string `header:"ETag" doc:"The tree's etag: it changes exactly when the firewall's revision does."`
	Body TreeDocument
}

func (a *api) getTree() endpoint {
	return handle(huma.Operation{
		OperationID: "get-tree", Tags: treeTags,
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
		OperationID: "put-tree", Tags: treeTags,
		Summary:     "Replace the whole tree",
		Description: "Replaces the firewall's tree atomically. Policies and rules are matched to the current ones by id, else by name, so their ids survive; the rest are created, and current ones not in the document are deleted. The same document sent twice makes no new revision. If-Match takes the tree's etag; stale answers 412. With dry_run=true nothing is saved and the answer gives the structural and semantic diffs and the findings added and removed.",
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
