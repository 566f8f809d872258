package filter

import (
	"cmp"
	"fmt"
	"strings"

	"go.einride.tech/aip/filtering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Kind is the type of a filterable field.
type Kind int

// The field kinds.
const (
	KindString   Kind = iota + 1 // text; = and != take * wildcards
	KindEnum                     // one of a fixed set of words
	KindInt                      // integer
	KindBool                     // true or false
	KindTime                     // RFC 3339 timestamp
	KindLabels                   // map of string to string, as JSON
	KindPrefixes                 // list of CIDRs, in the rule_addresses child table
	KindPorts                    // list of port ranges, in the rule_ports child table
	KindStrings                  // list of strings, as a JSON array
	KindGroups                   // list of group references, in rule_address_groups or rule_service_groups
)

var kindNames = map[Kind]string{
	KindString: "string", KindEnum: "enum", KindInt: "integer", KindBool: "boolean", KindTime: "timestamp",
	KindLabels: "map of string to string", KindPrefixes: "list of CIDRs", KindPorts: "list of port ranges",
	KindStrings: "list of strings", KindGroups: "list of groups",
}

// String names the kind as the documentation does.
func (k Kind) String() string { return kindNames[k] }

// Side says which end of a flow a rule's address or port list constrains,
// as stored in the side column of the child tables.
type Side int

// The sides, as stored.
const (
	Source      Side = 1
	Destination Side = 2
	// ServiceSide marks the service_groups field, whose references have
	// a table of their own.
	ServiceSide Side = 3
)

// Field is one filterable field of a resource.
type Field struct {
	// Name is the field's name in the API.
	Name string
	// Column is the SQL expression that holds it, qualified by the table.
	Column string
	Kind   Kind
	// Values lists an enum's words.
	Values []string
	// Nullable fields compare false with NULL, under NOT too.
	Nullable bool
	// OrderColumn, if set, makes the field orderable by that SQL expression.
	OrderColumn string
	// Side is the side of a prefix or port list.
	Side Side
	// Rank, if set, makes the field derived: a row's 1-based rank in its
	// scope, ordered by Column, which holds a sparse sort key. Comparisons
	// with a number turn into comparisons of the key with the key of the
	// row at that rank.
	Rank *Rank
	// Doc describes the field in the documentation.
	Doc string
}

// Rank says how a ranked field's rows are counted: among the rows of
// Table that share the Scope column, in Key order.
type Rank struct {
	Table, Scope, Key string
}

// Resource declares what a collection can be filtered and ordered by.
type Resource struct {
	// Name is the collection's name, part of what a page token is bound to.
	Name string
	// Table is the SQL table the columns are qualified by.
	Table  string
	Fields []Field
	// DefaultOrder applies without order_by, before the id tie-breaker.
	DefaultOrder []OrderTerm
	// Network enables the rule network functions.
	Network bool
	// Example is a filter shown in the API documentation.
	Example string
	// Tie names the unique field that makes every order total; "" is id.
	Tie string

	byName map[string]*Field
	decls  *filtering.Declarations
}

// Field returns the named field.
func (r *Resource) Field(name string) (*Field, bool) {
	f, ok := r.byName[name]
	return f, ok
}

// FieldNames lists the filterable fields, for messages and documentation.
func (r *Resource) FieldNames() []string {
	names := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		names[i] = f.Name
	}
	return names
}

// OrderNames lists the fields order_by accepts.
func (r *Resource) OrderNames() []string {
	var names []string
	for _, f := range r.Fields {
		if f.OrderColumn != "" {
			names = append(names, f.Name)
		}
	}
	return names
}

// Describe returns a one-paragraph description of the fields, for the
// OpenAPI description of the filter parameter.
func (r *Resource) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "An AIP-160 filter expression of at most %d bytes, %d terms and %d levels of nesting (a level is a NOT, or a parenthesised AND inside an OR or the other way round); see docs/filtering.md. Fields: ",
		MaxFilterLen, MaxFilterTerms, MaxFilterDepth)
	for i, f := range r.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s", f.Name, f.Kind)
		if len(f.Values) > 0 {
			b.WriteString(": " + strings.Join(f.Values, ", "))
		}
		b.WriteString(")")
	}
	b.WriteString(".")
	if r.Network {
		b.WriteString(" Functions: source_contains(\"ip or cidr\"), destination_contains(...), source_overlaps(\"cidr\"), " +
			"destination_overlaps(...), source_port_contains(port), destination_port_contains(port); a port is written 443 or \"443\".")
	}
	return b.String()
}

// DescribeOrder returns the OpenAPI description of the order_by parameter.
func (r *Resource) DescribeOrder() string {
	def := make([]string, len(r.DefaultOrder))
	for i, t := range r.DefaultOrder {
		def[i] = t.String()
	}
	return "An AIP-132 order: comma-separated fields, each optionally followed by asc or desc; " + cmp.Or(r.Tie, "id") + " breaks ties. Fields: " +
		strings.Join(r.OrderNames(), ", ") + ". Default: " + strings.Join(def, ", ") + "."
}

func newResource(r Resource) *Resource {
	r.byName = make(map[string]*Field, len(r.Fields))
	opts := []filtering.DeclarationOption{
		filtering.DeclareStandardFunctions(),
		filtering.DeclareIdent("true", filtering.TypeBool),
		filtering.DeclareIdent("false", filtering.TypeBool),
		// Terms side by side are ANDed; the standard declarations lack it.
		filtering.DeclareFunction(filtering.FunctionFuzzyAnd, filtering.NewFunctionOverload(
			filtering.FunctionFuzzyAnd+"_bool", filtering.TypeBool, filtering.TypeBool, filtering.TypeBool)),
		// destination_ports:443 as well as destination_ports:"443".
		filtering.DeclareFunction(filtering.FunctionHas, filtering.NewFunctionOverload(
			filtering.FunctionHas+"_list_string_int", filtering.TypeBool, filtering.TypeList(filtering.TypeString), filtering.TypeInt)),
	}
	enumWords := map[string]bool{}
	for i := range r.Fields {
		f := &r.Fields[i]
		r.byName[f.Name] = f
		opts = append(opts, filtering.DeclareIdent(f.Name, aipType(f.Kind)))
		for _, v := range f.Values {
			if !enumWords[v] {
				enumWords[v] = true
				opts = append(opts, filtering.DeclareIdent(v, filtering.TypeString))
			}
		}
	}
	if r.Network {
		for _, fn := range networkFunctions {
			overloads := []*expr.Decl_FunctionDecl_Overload{
				filtering.NewFunctionOverload(fn.name+"_string", filtering.TypeBool, filtering.TypeString)}
			if fn.port {
				// A port is written 443 or "443", as request bodies write it.
				overloads = append(overloads, filtering.NewFunctionOverload(fn.name+"_int", filtering.TypeBool, filtering.TypeInt))
			}
			opts = append(opts, filtering.DeclareFunction(fn.name, overloads...))
		}
	}
	decls, err := filtering.NewDeclarations(opts...)
	if err != nil {
		// The declarations are constants of this package; a clash is a bug
		// that every test run finds at once.
		panic(fmt.Sprintf("filter: declare %s: %v", r.Name, err))
	}
	r.decls = decls
	return &r
}

func aipType(k Kind) *expr.Type {
	switch k {
	case KindInt:
		return filtering.TypeInt
	case KindBool:
		return filtering.TypeBool
	case KindTime:
		return filtering.TypeTimestamp
	case KindLabels:
		return filtering.TypeMap(filtering.TypeString, filtering.TypeString)
	case KindPrefixes, KindPorts, KindStrings, KindGroups:
		return filtering.TypeList(filtering.TypeString)
	}
	return filtering.TypeString
}

func words[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func meta(table string) []Field {
	return []Field{
		{Name: "id", Column: table + ".id", Kind: KindString, OrderColumn: table + ".id", Doc: "the resource's UUIDv7"},
		{Name: "created_at", Column: table + ".created_at", Kind: KindTime, OrderColumn: table + ".created_at", Doc: "when it was created"},
		{Name: "updated_at", Column: table + ".updated_at", Kind: KindTime, OrderColumn: table + ".updated_at", Doc: "when it last changed"},
	}
}

// Firewalls is the firewall collection.
var Firewalls = newResource(Resource{
	Name: "firewalls", Table: "firewalls",
	Fields: append(meta("firewalls"),
		Field{Name: "name", Column: "firewalls.name", Kind: KindString, OrderColumn: "firewalls.name_key",
			Doc: "the name; ordering ignores case"},
		Field{Name: "description", Column: "firewalls.description", Kind: KindString, Doc: "the description"},
		Field{Name: "labels", Column: "firewalls.labels", Kind: KindLabels, Doc: "labels.<key> is a label's value; labels:\"key\" tests for a key"},
		Field{Name: "default_action", Column: "firewalls.default_action", Kind: KindEnum,
			Values: words(firewall.Allow, firewall.Deny), OrderColumn: "firewalls.default_action", Doc: "the action when no policy decides"},
		Field{Name: "revision", Column: "firewalls.revision", Kind: KindInt, OrderColumn: "firewalls.revision", Doc: "rises on every change in the tree"},
	),
	DefaultOrder: []OrderTerm{{Field: "name"}},
	Example:      `name = "edge-*" AND labels.env = "prod"`,
})

// Policies is the filtering policy collection of a firewall.
var Policies = newResource(Resource{
	Name: "filtering-policies", Table: "policies",
	Fields: append(meta("policies"),
		Field{Name: "name", Column: "policies.name", Kind: KindString, OrderColumn: "policies.name_key",
			Doc: "the name; ordering ignores case"},
		Field{Name: "description", Column: "policies.description", Kind: KindString, Doc: "the description"},
		Field{Name: "priority", Column: "policies.priority", Kind: KindInt, OrderColumn: "policies.priority", Doc: "0 to 65535, lower first"},
		Field{Name: "default_action", Column: "policies.default_action", Kind: KindEnum,
			Values: words(firewall.Allow, firewall.Deny, firewall.Next), OrderColumn: "policies.default_action", Doc: "the action when no rule matches"},
		Field{Name: "enabled", Column: "policies.enabled", Kind: KindBool, OrderColumn: "policies.enabled", Doc: "whether the policy is evaluated"},
	),
	DefaultOrder: []OrderTerm{{Field: "priority"}},
	Example:      `enabled AND default_action != "next"`,
})

// Rules is the rule collection of a filtering policy.
var Rules = newResource(Resource{
	Name: "rules", Table: "rules",
	Fields: append(meta("rules"),
		// Unnamed rules have no name key; they sort as "".
		Field{Name: "name", Column: "rules.name", Kind: KindString, OrderColumn: "COALESCE(rules.name_key, '')",
			Doc: "the name, \"\" when unnamed; ordering ignores case"},
		Field{Name: "description", Column: "rules.description", Kind: KindString, Doc: "the description"},
		// Positions are derived from a sparse order key, so that an insert
		// or a move writes one row; ordering by the key is ordering by position.
		Field{Name: "position", Column: "rules.order_key", Kind: KindInt, OrderColumn: "rules.order_key",
			Rank: &Rank{Table: "rules", Scope: "policy_id", Key: "order_key"}, Doc: "1-based place in the policy"},
		Field{Name: "action", Column: "rules.action", Kind: KindEnum,
			Values: words(firewall.Allow, firewall.Deny, firewall.Reject), OrderColumn: "rules.action", Doc: "what a match does"},
		Field{Name: "protocol", Column: "rules.protocol", Kind: KindEnum,
			Values: words(firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6), OrderColumn: "rules.protocol",
			Doc: "the protocol matched"},
		Field{Name: "sources", Kind: KindPrefixes, Side: Source, Doc: "source CIDRs; sources:\"10.0.0.0/8\" holds that exact entry"},
		Field{Name: "destinations", Kind: KindPrefixes, Side: Destination, Doc: "destination CIDRs"},
		Field{Name: "source_ports", Kind: KindPorts, Side: Source, Doc: "source ports; source_ports:\"1024-65535\" holds that exact entry"},
		Field{Name: "destination_ports", Kind: KindPorts, Side: Destination, Doc: "destination ports; destination_ports:443 holds that exact entry"},
		Field{Name: "source_groups", Kind: KindGroups, Side: Source,
			Doc: "source address groups; source_groups:\"web\" holds the group named (or with the id) web, or a group that nests it"},
		Field{Name: "destination_groups", Kind: KindGroups, Side: Destination, Doc: "destination address groups, as for source_groups"},
		Field{Name: "service_groups", Kind: KindGroups, Side: ServiceSide, Doc: "service groups, as for source_groups"},
		Field{Name: "enabled", Column: "rules.enabled", Kind: KindBool, OrderColumn: "rules.enabled", Doc: "whether the rule is evaluated"},
		Field{Name: "expires_at", Column: "rules.expires_at", Kind: KindTime, Nullable: true,
			Doc: "when the rule stops matching; expires_at:* tests that it has one"},
	),
	DefaultOrder: []OrderTerm{{Field: "position"}},
	Network:      true,
	Example:      `source_contains("10.1.2.3") AND destination_port_contains(443)`,
})

// AuditEvents is the audit log.
var AuditEvents = newResource(Resource{
	Name: "audit-events", Table: "audit_events",
	Fields: []Field{
		{Name: "id", Column: "audit_events.id", Kind: KindString, OrderColumn: "audit_events.id", Doc: "the event's UUIDv7"},
		{Name: "occurred_at", Column: "audit_events.occurred_at", Kind: KindTime, OrderColumn: "audit_events.occurred_at", Doc: "when the change committed"},
		{Name: "actor_subject", Column: "audit_events.actor_subject", Kind: KindString, OrderColumn: "audit_events.actor_subject", Doc: "who made the change"},
		{Name: "actor_roles", Column: "audit_events.actor_roles", Kind: KindStrings, Doc: "their roles; actor_roles:\"admin\""},
		{Name: "action", Column: "audit_events.action", Kind: KindEnum,
			Values: words(firewall.AuditCreate, firewall.AuditUpdate, firewall.AuditMove, firewall.AuditDelete), OrderColumn: "audit_events.action",
			Doc: "what the change did"},
		{Name: "resource_type", Column: "audit_events.resource_type", Kind: KindEnum,
			Values: []string{firewall.KindFirewall, firewall.KindPolicy, firewall.KindRule, firewall.KindChangeRequest, firewall.KindAddressGroup, firewall.KindServiceGroup}, OrderColumn: "audit_events.resource_type",
			Doc: "the kind of resource changed"},
		{Name: "resource_id", Column: "audit_events.resource_id", Kind: KindString, OrderColumn: "audit_events.resource_id", Doc: "the resource changed"},
		{Name: "firewall_id", Column: "audit_events.firewall_id", Kind: KindString, OrderColumn: "audit_events.firewall_id", Doc: "the firewall whose tree changed"},
		{Name: "request_id", Column: "audit_events.request_id", Kind: KindString, Doc: "the request that made the change"},
		{Name: "change_request_id", Column: "audit_events.change_request_id", Kind: KindString,
			Doc: "the change request whose applying made the change, \"\" for none"},
	},
	DefaultOrder: []OrderTerm{{Field: "occurred_at", Desc: true}},
	Example:      `resource_type = "rule" AND occurred_at > "2026-01-01T00:00:00Z"`,
})

// ChangeRequests is the change request collection of a firewall.
var ChangeRequests = newResource(Resource{
	Name: "change-requests", Table: "change_requests",
	Fields: append(meta("change_requests"),
		Field{Name: "title", Column: "change_requests.title", Kind: KindString, OrderColumn: "change_requests.title", Doc: "the title"},
		Field{Name: "description", Column: "change_requests.description", Kind: KindString, Doc: "the description"},
		Field{Name: "state", Column: "change_requests.state", Kind: KindEnum, Values: words(firewall.ChangeStates()...),
			OrderColumn: "change_requests.state", Doc: "where the request is in its review"},
		Field{Name: "base_revision", Column: "change_requests.base_revision", Kind: KindInt, OrderColumn: "change_requests.base_revision",
			Doc: "the firewall revision the change was written against"},
		Field{Name: "applied_revision", Column: "change_requests.applied_revision", Kind: KindInt, OrderColumn: "change_requests.applied_revision",
			Doc: "the revision applying made, 0 until applied"},
		Field{Name: "no_op", Column: "change_requests.no_op", Kind: KindBool, OrderColumn: "change_requests.no_op",
			Doc: "true when the change decides no flow differently"},
		Field{Name: "author", Column: "change_requests.author", Kind: KindString, OrderColumn: "change_requests.author", Doc: "who asked for the change"},
		Field{Name: "reviewer", Column: "change_requests.reviewer", Kind: KindString, OrderColumn: "change_requests.reviewer",
			Doc: "who approved or rejected it, \"\" until then"},
	),
	DefaultOrder: []OrderTerm{{Field: "created_at", Desc: true}},
	Example:      `state = "open" AND NOT no_op`,
})

// Revisions is the revision history of a firewall, one row a revision.
var Revisions = newResource(Resource{
	Name: "revisions", Table: "firewall_revisions",
	Fields: []Field{
		{Name: "revision", Column: "firewall_revisions.revision", Kind: KindInt, OrderColumn: "firewall_revisions.revision",
			Doc: "the revision number"},
		{Name: "created_at", Column: "firewall_revisions.created_at", Kind: KindTime, OrderColumn: "firewall_revisions.created_at",
			Doc: "when the change committed"},
		{Name: "actor", Column: "firewall_revisions.actor", Kind: KindString, OrderColumn: "firewall_revisions.actor",
			Doc: "who made the change"},
		{Name: "request_id", Column: "firewall_revisions.request_id", Kind: KindString, OrderColumn: "firewall_revisions.request_id",
			Doc: "the request that made the change"},
		{Name: "summary", Column: "firewall_revisions.summary", Kind: KindString, Doc: "the one-line summary; summary = \"rolled back*\""},
	},
	DefaultOrder: []OrderTerm{{Field: "revision", Desc: true}},
	Tie:          "revision",
	Example:      `actor = "alice" AND created_at > "2026-01-01T00:00:00Z"`,
})

// groupFields are the filterable fields of a group collection in table.
func groupFields(table string) []Field {
	return append(meta(table),
		Field{Name: "name", Column: table + ".name", Kind: KindString, OrderColumn: table + ".name_key",
			Doc: "the name; ordering ignores case"},
		Field{Name: "description", Column: table + ".description", Kind: KindString, Doc: "the description"},
		Field{Name: "labels", Column: table + ".labels", Kind: KindLabels, Doc: "labels.<key> is a label's value; labels:\"key\" tests for a key"},
	)
}

// AddressGroups is the global address group collection.
var AddressGroups = newResource(Resource{
	Name: "address-groups", Table: "address_groups", Fields: groupFields("address_groups"),
	DefaultOrder: []OrderTerm{{Field: "name"}},
	Example:      `name = "web-*" AND labels.env = "prod"`,
})

// ServiceGroups is the global service group collection.
var ServiceGroups = newResource(Resource{
	Name: "service-groups", Table: "service_groups", Fields: groupFields("service_groups"),
	DefaultOrder: []OrderTerm{{Field: "name"}},
	Example:      `name = "https*"`,
})

// Resources lists every filterable collection.
var Resources = []*Resource{Firewalls, Policies, Rules, AuditEvents, ChangeRequests, Revisions, AddressGroups, ServiceGroups}
