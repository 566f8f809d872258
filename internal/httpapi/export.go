package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/service"
)

// ExportParams are the query parameters of an export.
type ExportParams struct {
	Format   string `query:"format" required:"true" maxLength:"16" doc:"The ruleset syntax: nftables (one table inet for nft -f), iptables or ip6tables (iptables-restore input for the filter table)." example:"nftables"`
	Hook     string `query:"hook" maxLength:"16" doc:"The hook of the base chain: forward (default), input or output." example:"forward"`
	Stateful string `query:"stateful" maxLength:"8" doc:"true accepts established and related traffic before any rule, so that return traffic passes; every new flow is decided as before. Default false." example:"false"`
	Merge    string `query:"merge" maxLength:"8" doc:"nftables only: true joins consecutive rules of the same shape and action into one statement with a set or concatenation, keeping first-match order exactly, so that the kernel walks fewer rules. Default false." example:"false"`
	IPSet    string `query:"ipset" maxLength:"8" doc:"iptables and ip6tables only: true renders each address group the rules use as an ipset (g_<name>_v4 / _v6, hash:net) matched with -m set, instead of expanding its members into the rules. The answer is then JSON holding both files: ipsets (ipset restore input, to load first) and ruleset (iptables-restore input). Default false." example:"false"`
}

// ExportWithIPSets is an iptables or ip6tables export with ipset=true:
// the ipset definitions beside the ruleset that matches on them, from one
// revision.
type ExportWithIPSets struct {
	Format   string `json:"format" enum:"iptables,ip6tables" doc:"The ruleset's format."`
	Revision int64  `json:"revision" doc:"The firewall revision both were rendered from."`
	IPSets   string `json:"ipsets" doc:"ipset restore input defining the sets the ruleset matches on (create -exist, flush, add): load it first, e.g. jq -r .ipsets | ipset restore. Empty when no rule uses an address group."`
	Ruleset  string `json:"ruleset" doc:"iptables-restore (or ip6tables-restore) input, e.g. jq -r .ruleset | iptables-restore."`
}

// exportResponse is an export: the ruleset as text, and its ETag.
type exportResponse struct {
	ContentType string `header:"Content-Type"`
	ETag        string `header:"ETag"`
	Body        []byte
}

func (a *api) exportFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "export-firewall", Tags: []string{"Export"},
		Summary: "Export as nftables or iptables",
		Description: "Renders the firewall's current tree as a ruleset Linux loads: `nft -f` (one `table inet` named after the firewall, " +
			"replaced atomically) or `iptables-restore`/`ip6tables-restore` input for the filter table. Policies become chains jumped to " +
			"in priority order, rules keep their order, disabled and expired rules are left out with a comment (expiry judged now). " +
			"The header comment and the ETag name the revision. A tree that cannot be rendered faithfully answers 422 listing each rule and why. " +
			"With ipset=true (iptables, ip6tables) address groups become ipsets and the answer is JSON holding the ipset restore input beside the ruleset.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			FirewallParams
			ExportParams
		}) (*exportResponse, error) {
			opt, err := service.ParseExportOptions(in.Format, in.Hook, in.Stateful, in.Merge)
			if err == nil {
				err = service.ParseExportIPSet(&opt, in.IPSet)
			}
			if err != nil {
				return nil, inQuery(err)
			}
			res, rev, err := a.svc.Export(ctx, in.FirewallID, opt)
			if err != nil {
				return nil, err
			}
			if !opt.IPSet {
				return &exportResponse{ContentType: res.ContentType, ETag: exportETag(rev, res.Text), Body: res.Text}, nil
			}
			body, err := json.Marshal(ExportWithIPSets{Format: in.Format, Revision: rev, IPSets: string(res.IPSets), Ruleset: string(res.Text)})
			if err != nil {
				return nil, fmt.Errorf("encode the export: %w", err)
			}
			etag := exportETag(rev, append(slices.Clip(res.Text), res.IPSets...))
			return &exportResponse{ContentType: "application/json", ETag: etag, Body: body}, nil
		}).with(nil, func(doc *huma.Operation) {
		doc.Responses["422"].Description = "The firewall cannot be rendered faithfully in this format; `errors` lists each rule and why."
		doc.Responses["200"].Description = "The ruleset as text; with ipset=true (iptables, ip6tables), JSON holding the ipsets and the ruleset."
		doc.Responses["200"].Content = map[string]*huma.MediaType{
			"text/plain":       {Schema: &huma.Schema{Type: "string"}},
			"application/json": {Schema: a.humaAPI.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(ExportWithIPSets{}), true, "ExportWithIPSets")},
		}
	})
}

// exportETag names the revision and the rendered rules: the text but for
// its header line saying when expiry was judged, which changes on every
// request while the rules do not.
func exportETag(rev int64, text []byte) string {
	h := fnv.New64a()
	lines := strings.SplitN(string(text), "\n", 4)
	for i, l := range lines {
		if i == len(lines)-1 || !strings.Contains(l, "expiry judged at") {
			h.Write([]byte(l))
			h.Write([]byte{'\n'})
		}
	}
	return fmt.Sprintf(`"r%d-%016x"`, rev, h.Sum64())
}
