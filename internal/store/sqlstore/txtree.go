package sqlstore

import (
	"context"

	"github.com/fireflow/fireflow/internal/store"
)

// LoadTree reads the firewall's tree inside the transaction.
func (t *Tx) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	return t.loadTree(ctx, firewallID)
}
