package service

import (
	"fmt"

	"github.com/fireflow/fireflow/internal/filter"
)

// Collection names one of the lists the service serves.
type Collection string

// The lists the service serves.
const (
	FirewallList      Collection = "firewalls"
	PolicyList        Collection = "filtering_policies"
	RuleList          Collection = "rules"
	AuditEventList    Collection = "audit_events"
	ChangeRequestList Collection = "change_requests"
	AddressGroupList  Collection = "address_groups"
	ServiceGroupList  Collection = "service_groups"
	RevisionList      Collection = "revisions"
)

// ListFields describes, in words for API documentation, the fields a
// list's filter and order_by accept.
type ListFields struct {
	// Filter lists the fields and operators a filter may use.
	Filter string
	// Example is a filter over those fields.
	Example string
	// OrderBy lists the fields a list may be ordered by, and the default.
	OrderBy string
}

// DescribeList describes the filter and order_by fields list c accepts:
// those the store's query translation declares, so that the
// documentation cannot drift from what the lists take.
func DescribeList(c Collection) ListFields {
	res := map[Collection]*filter.Resource{
		FirewallList: filter.Firewalls, PolicyList: filter.Policies,
		RuleList: filter.Rules, AuditEventList: filter.AuditEvents,
		ChangeRequestList: filter.ChangeRequests,
		AddressGroupList:  filter.AddressGroups, ServiceGroupList: filter.ServiceGroups,
		RevisionList: filter.Revisions,
	}[c]
	if res == nil {
		panic(fmt.Sprintf("service: no list named %q", c)) // a programming error: the collections are constants
	}
	return ListFields{Filter: res.Describe(), Example: res.Example, OrderBy: res.DescribeOrder()}
}
