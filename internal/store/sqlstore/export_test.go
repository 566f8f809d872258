package sqlstore

import "context"

// Renumber renumbers the policy's rules, which the store does only when
// a policy's key space is spent: too many inserts for a test to make.
func (t *Tx) Renumber(ctx context.Context, policyID string) error { return t.renumber(ctx, policyID) }
