package sqlstore

import (
	"context"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

// ListRevisions reads one page of the firewall's revisions, by default
// newest first, filtered and ordered as every list is (filter.Revisions).
func (r Reader) ListRevisions(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.RevisionRecord], error) {
	l := listStatement{resource: filter.Revisions,
		columns: "firewall_revisions.firewall_id, firewall_revisions.revision, firewall_revisions.created_at, " +
			"firewall_revisions.actor, firewall_revisions.request_id, firewall_revisions.summary",
		from: "firewall_revisions",
		where: func(b *filter.Builder) []string {
			return []string{"firewall_revisions.firewall_id = " + b.Arg(firewallID)}
		}}
	p, err := listPage(ctx, r.q, l, q, func(row Row) (firewall.RevisionRecord, error) {
		var rec firewall.RevisionRecord
		return rec, row.Scan(&rec.FirewallID, &rec.Revision, timeScan{&rec.CreatedAt}, &rec.Actor, &rec.RequestID, &rec.Summary)
	})
	if err != nil {
		return p, r.classify(err, "list revisions of firewall %s", firewallID)
	}
	if len(p.Items) == 0 {
		return p, r.missing(ctx, firewallID, "")
	}
	return p, nil
}
