package service

import (
	"context"
	"fmt"

	"github.com/fireflow/fireflow/internal/export"
)

// Export renders the firewall's current tree as a ruleset, with expiry
// judged at the service's clock. A tree that cannot be rendered faithfully
// returns an *export.Error listing every rule and why.
func (s *Service) Export(ctx context.Context, firewallID string, opt export.Options) (*export.Result, int64, error) {
	tree, err := s.store.LoadTree(ctx, firewallID)
	if err != nil {
		return nil, 0, fmt.Errorf("export firewall %s: %w", firewallID, err)
	}
	t := engineTree(tree)
	opt.Now = s.now()
	res, err := export.Render(&t, opt)
	if err != nil {
		return nil, 0, fmt.Errorf("export firewall %s at revision %d: %w", firewallID, t.Firewall.Revision, err)
	}
	return res, t.Firewall.Revision, nil
}
