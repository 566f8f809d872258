package service

import (
	"context"
	"fmt"
	"sync"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// maxCachedMatchers bounds the matcher cache. A matcher of a large firewall
// holds tens of MB, so the cache must not grow with every firewall ever
// evaluated.
const maxCachedMatchers = 64

// matchers caches one compiled matcher per firewall. An entry is used only
// while its revision is the firewall's current one, which is read from the
// store on every evaluation: a decision is never made on a stale tree, even
// when another replica made the change.
type matchers struct {
	mu sync.Mutex
	m  map[string]*engine.Matcher
}

func (c *matchers) get(firewallID string, revision int64) *engine.Matcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.m[firewallID]; m != nil && m.Revision() == revision {
		return m
	}
	return nil
}

func (c *matchers) put(firewallID string, m *engine.Matcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*engine.Matcher{}
	}
	if old := c.m[firewallID]; old != nil && old.Revision() > m.Revision() {
		return // a concurrent request already cached a newer tree
	}
	if _, ok := c.m[firewallID]; !ok && len(c.m) >= maxCachedMatchers {
		for id := range c.m { // evict one at random; recompiling is cheap enough
			delete(c.m, id)
			break
		}
	}
	c.m[firewallID] = m
}

// matcher returns the compiled tree of the firewall's current revision.
func (s *Service) matcher(ctx context.Context, firewallID string) (*engine.Matcher, error) {
	rev, err := s.store.GetRevision(ctx, firewallID)
	if err != nil {
		return nil, err
	}
	if m := s.matchers.get(firewallID, rev); m != nil {
		return m, nil
	}
	tree, err := s.store.LoadTree(ctx, firewallID)
	if err != nil {
		return nil, err
	}
	m, err := engine.Compile(engineTree(tree))
	if err != nil {
		return nil, fmt.Errorf("compile firewall %s at revision %d: %w", firewallID, tree.Firewall.Revision, err)
	}
	s.matchers.put(firewallID, m)
	return m, nil
}

func engineTree(t store.Tree) firewall.Tree {
	out := firewall.Tree{Firewall: t.Firewall, Policies: make([]firewall.PolicyTree, len(t.Policies)), Groups: t.Groups}
	index := make(map[string]int, len(t.Policies))
	for i, p := range t.Policies {
		out.Policies[i].Policy = p
		index[p.ID] = i
	}
	for _, r := range t.Rules {
		if i, ok := index[r.PolicyID]; ok {
			out.Policies[i].Rules = append(out.Policies[i].Rules, r)
		}
	}
	return out
}

// Evaluate decides each flow on the firewall's current tree. The decisions
// carry the revision they were made on.
func (s *Service) Evaluate(ctx context.Context, firewallID string, flows []firewall.Flow, explain bool) ([]firewall.Decision, error) {
	m, err := s.matcher(ctx, firewallID)
	if err != nil {
		return nil, fmt.Errorf("evaluate on firewall %s: %w", firewallID, err)
	}
	out := make([]firewall.Decision, len(flows))
	m.EvaluateBatch(flows, s.now(), explain, out)
	return out, nil
}
