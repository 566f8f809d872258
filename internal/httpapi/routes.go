package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/auth"
)

// The paths of the API.
const (
	firewallsPath         = "/api/v1/firewalls"
	firewallPath          = firewallsPath + "/{firewall_id}"
	evaluatePath          = firewallPath + "/evaluate"
	analysisPath          = firewallPath + "/analysis"
	searchPath            = firewallPath + "/search"
	comparePath           = firewallPath + "/compare"
	exportPath            = firewallPath + "/export"
	importPath            = firewallPath + "/import"
	policiesPath          = firewallPath + "/filtering-policies"
	policyPath            = policiesPath + "/{policy_id}"
	rulesPath             = policyPath + "/rules"
	rulePath              = rulesPath + "/{rule_id}"
	ruleMovePath          = rulePath + "/move"
	auditPath             = "/api/v1/audit-events"
	treePath              = firewallPath + "/tree"
	addressGroupsPath     = "/api/v1/address-groups"
	addressGroupPath      = addressGroupsPath + "/{group_id}"
	addressGroupUsagePath = addressGroupPath + "/usage"
	serviceGroupsPath     = "/api/v1/service-groups"
	serviceGroupPath      = serviceGroupsPath + "/{group_id}"
	serviceGroupUsagePath = serviceGroupPath + "/usage"
	revisionsPath         = firewallPath + "/revisions"
	revisionPath          = revisionsPath + "/{revision}"
	rollbackPath          = firewallPath + "/rollback"
	crsPath               = firewallPath + "/change-requests"
	crPath                = crsPath + "/{change_request_id}"
)

// public is the role of an operation that needs no token.
const public auth.Role = ""

// route is one operation: method, path, the role it needs, and its handler.
type route struct {
	method  string
	path    string
	role    auth.Role
	handler endpoint
}

// routes is every operation the API serves, one line each. To add one,
// write a maker method returning an endpoint (see handle), next to its
// resource's other handlers, and add its line here; build registers it,
// documents its role and error responses, and maps its errors to
// problem+json.
func (a *api) routes() []route {
	return []route{
		{http.MethodGet, "/health-check", public, a.healthCheck()},
		{http.MethodGet, "/healthz", public, a.liveness()},
		{http.MethodGet, "/readyz", public, a.readiness()},

		{http.MethodGet, firewallsPath, auth.Viewer, a.listFirewalls()},
		{http.MethodPost, firewallsPath, auth.Editor, a.createFirewall()},
		{http.MethodGet, firewallPath, auth.Viewer, a.getFirewall()},
		{http.MethodPatch, firewallPath, auth.Editor, a.updateFirewall()},
		{http.MethodDelete, firewallPath, auth.Editor, a.deleteFirewall()},

		{http.MethodGet, policiesPath, auth.Viewer, a.listPolicies()},
		{http.MethodPost, policiesPath, auth.Editor, a.createPolicy()},
		{http.MethodGet, policyPath, auth.Viewer, a.getPolicy()},
		{http.MethodPatch, policyPath, auth.Editor, a.updatePolicy()},
		{http.MethodDelete, policyPath, auth.Editor, a.deletePolicy()},

		{http.MethodGet, rulesPath, auth.Viewer, a.listRules()},
		{http.MethodPost, rulesPath, auth.Editor, a.createRule()},
		{http.MethodGet, rulePath, auth.Viewer, a.getRule()},
		{http.MethodPatch, rulePath, auth.Editor, a.updateRule()},
		{http.MethodPost, ruleMovePath, auth.Editor, a.moveRule()},
		{http.MethodDelete, rulePath, auth.Editor, a.deleteRule()},

		{http.MethodGet, auditPath, auth.Admin, a.listAuditEvents()},
		{http.MethodPost, evaluatePath, auth.Viewer, a.evaluate()},
		{http.MethodGet, analysisPath, auth.Viewer, a.analyzeFirewall()},
		{http.MethodPost, searchPath, auth.Viewer, a.searchFlows()},
		{http.MethodPost, comparePath, auth.Viewer, a.compareFirewall()},
		{http.MethodGet, exportPath, auth.Viewer, a.exportFirewall()},
		{http.MethodPost, importPath, auth.Editor, a.importRuleset()},

		{http.MethodGet, treePath, auth.Viewer, a.getTree()},
		{http.MethodPut, treePath, auth.Editor, a.putTree()},

		{http.MethodGet, revisionsPath, auth.Viewer, a.listRevisions()},
		{http.MethodGet, revisionPath, auth.Viewer, a.getRevision()},
		{http.MethodGet, revisionPath + "/diff", auth.Viewer, a.diffRevision()},
		{http.MethodPost, rollbackPath, auth.Editor, a.rollback()},
		{http.MethodGet, crsPath, auth.Viewer, a.listChangeRequests()},
		{http.MethodPost, crsPath, auth.Editor, a.createChangeRequest()},
		{http.MethodGet, crPath, auth.Viewer, a.getChangeRequest()},
		{http.MethodPost, crPath + "/approve", auth.Approver, a.approveChangeRequest()},
		{http.MethodPost, crPath + "/reject", auth.Approver, a.rejectChangeRequest()},
		{http.MethodPost, crPath + "/apply", auth.Editor, a.applyChangeRequest()},
		{http.MethodPost, crPath + "/cancel", auth.Editor, a.cancelChangeRequest()},
		{http.MethodGet, addressGroupsPath, auth.Viewer, a.listAddressGroups()},
		{http.MethodPost, addressGroupsPath, auth.Editor, a.createAddressGroup()},
		{http.MethodGet, addressGroupPath, auth.Viewer, a.getAddressGroup()},
		{http.MethodPatch, addressGroupPath, auth.Editor, a.updateAddressGroup()},
		{http.MethodDelete, addressGroupPath, auth.Editor, a.deleteAddressGroup()},
		{http.MethodGet, addressGroupUsagePath, auth.Viewer, a.addressGroupUsage()},
		{http.MethodGet, serviceGroupsPath, auth.Viewer, a.listServiceGroups()},
		{http.MethodPost, serviceGroupsPath, auth.Editor, a.createServiceGroup()},
		{http.MethodGet, serviceGroupPath, auth.Viewer, a.getServiceGroup()},
		{http.MethodPatch, serviceGroupPath, auth.Editor, a.updateServiceGroup()},
		{http.MethodDelete, serviceGroupPath, auth.Editor, a.deleteServiceGroup()},
		{http.MethodGet, serviceGroupUsagePath, auth.Viewer, a.serviceGroupUsage()},
	}
}

// endpoint is a handler with its documentation, as a maker method returns
// it; the routes table says where it is served and to whom.
type endpoint struct {
	// doc holds the operation's id, tags, summary, description and
	// default status; route fills in the method and path.
	doc huma.Operation
	// errors lists the error statuses the handler answers with, beyond
	// the 500 and 503 every documented operation may answer.
	errors []int
	// bare operations document no error responses: probes that the
	// process answers by itself.
	bare bool
	// tune adjusts the operation before it is registered, for the few
	// that differ from the defaults (body limit, validation).
	tune func(*huma.Operation)
	// describe amends the operation's documentation once registered.
	describe func(*huma.Operation)
	// register registers the typed handler; handle makes it.
	register func(a *api, op huma.Operation)
}

// handle makes an endpoint of a typed handler. Whatever error the handler
// returns is mapped to problem+json by toProblem, here and nowhere else.
func handle[I, O any](doc huma.Operation, errs []int, h func(context.Context, *I) (*O, error)) endpoint {
	return endpoint{doc: doc, errors: errs, register: func(a *api, op huma.Operation) {
		huma.Register(a.humaAPI, op, func(ctx context.Context, in *I) (*O, error) {
			out, err := h(ctx, in)
			if err != nil {
				return nil, a.toProblem(ctx, err)
			}
			return out, nil
		})
	}}
}

// with returns e with its tune and describe steps set.
func (e endpoint) with(tune, describe func(*huma.Operation)) endpoint {
	e.tune, e.describe = tune, describe
	return e
}

// register adds r to the API and its OpenAPI document.
func (a *api) register(r route) {
	op := r.handler.doc
	op.Method, op.Path = r.method, r.path
	if !r.handler.bare {
		op = a.operation(op, r.role, r.handler.errors...)
	}
	if r.handler.tune != nil {
		r.handler.tune(&op)
	}
	r.handler.register(a, op)
	if r.handler.describe != nil {
		r.handler.describe(documented(a.humaAPI.OpenAPI(), r.method, r.path))
	}
}

// documented returns the operation of the document at method and path.
func documented(doc *huma.OpenAPI, method, path string) *huma.Operation {
	item := doc.Paths[path]
	if item == nil {
		panic("httpapi: no path " + path + " in the document")
	}
	op := map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
		http.MethodPatch: item.Patch, http.MethodDelete: item.Delete}[method]
	if op == nil {
		panic("httpapi: no operation " + method + " " + path + " in the document")
	}
	return op
}

// errs lists error statuses, for the makers' endpoint declarations.
func errs(codes ...int) []int { return codes }
