package instrumented

import (
	"context"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func (r reader) GetAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error) {
	ctx, span := r.t.start(ctx, "GetAddressGroup")
	v, err := r.next.GetAddressGroup(ctx, id)
	return v, end(span, err)
}

func (r reader) ListAddressGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AddressGroup], error) {
	ctx, span := r.t.start(ctx, "ListAddressGroups")
	v, err := r.next.ListAddressGroups(ctx, q)
	return v, end(span, err)
}

func (r reader) GetServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error) {
	ctx, span := r.t.start(ctx, "GetServiceGroup")
	v, err := r.next.GetServiceGroup(ctx, id)
	return v, end(span, err)
}

func (r reader) ListServiceGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.ServiceGroup], error) {
	ctx, span := r.t.start(ctx, "ListServiceGroups")
	v, err := r.next.ListServiceGroups(ctx, q)
	return v, end(span, err)
}

func (r reader) FindGroup(ctx context.Context, kind store.GroupKind, key string) (firewall.GroupRef, error) {
	ctx, span := r.t.start(ctx, "FindGroup")
	v, err := r.next.FindGroup(ctx, kind, key)
	return v, end(span, err)
}

func (r reader) GroupGraph(ctx context.Context, kind store.GroupKind) (map[string]store.GroupNode, error) {
	ctx, span := r.t.start(ctx, "GroupGraph")
	v, err := r.next.GroupGraph(ctx, kind)
	return v, end(span, err)
}

func (r reader) GroupUsage(ctx context.Context, kind store.GroupKind, id string) (store.GroupUsage, error) {
	ctx, span := r.t.start(ctx, "GroupUsage")
	v, err := r.next.GroupUsage(ctx, kind, id)
	return v, end(span, err)
}

func (r reader) GroupRuleUses(ctx context.Context, kind store.GroupKind, id string, after *store.RuleUseKey, limit int) ([]store.RuleUse, error) {
	ctx, span := r.t.start(ctx, "GroupRuleUses")
	v, err := r.next.GroupRuleUses(ctx, kind, id, after, limit)
	return v, end(span, err)
}

func (x *txWrapper) LockAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error) {
	ctx, span := x.t.start(ctx, "LockAddressGroup")
	v, err := x.next.LockAddressGroup(ctx, id)
	return v, end(span, err)
}

func (x *txWrapper) CreateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error {
	ctx, span := x.t.start(ctx, "CreateAddressGroup")
	return end(span, x.next.CreateAddressGroup(ctx, g))
}

func (x *txWrapper) UpdateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error {
	ctx, span := x.t.start(ctx, "UpdateAddressGroup")
	return end(span, x.next.UpdateAddressGroup(ctx, g))
}

func (x *txWrapper) DeleteAddressGroup(ctx context.Context, id string) error {
	ctx, span := x.t.start(ctx, "DeleteAddressGroup")
	return end(span, x.next.DeleteAddressGroup(ctx, id))
}

func (x *txWrapper) LockServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error) {
	ctx, span := x.t.start(ctx, "LockServiceGroup")
	v, err := x.next.LockServiceGroup(ctx, id)
	return v, end(span, err)
}

func (x *txWrapper) CreateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error {
	ctx, span := x.t.start(ctx, "CreateServiceGroup")
	return end(span, x.next.CreateServiceGroup(ctx, g))
}

func (x *txWrapper) UpdateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error {
	ctx, span := x.t.start(ctx, "UpdateServiceGroup")
	return end(span, x.next.UpdateServiceGroup(ctx, g))
}

func (x *txWrapper) DeleteServiceGroup(ctx context.Context, id string) error {
	ctx, span := x.t.start(ctx, "DeleteServiceGroup")
	return end(span, x.next.DeleteServiceGroup(ctx, id))
}
