package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// A change request the firewall has moved past is shown stale when read,
// if applying it now would make it stale: the same test apply makes
// (rebase), computed at read and never written. Writing the state in the
// transaction that moves the firewall would put the cost of every open
// request's test on every write to the tree (a 10,000-rule check costs a
// few tenths of a second); computed at read, the cost falls on whoever
// looks, and a verdict is kept until the request, the firewall or the
// instant (a rule expiring) changes. The stored state stays open or
// approved until a transition (approve, apply) finds it stale and writes
// it, so filters on state see the stored state.

// maxStaleVerdicts bounds the verdict cache; it is cleared when full.
const maxStaleVerdicts = 4096

// staleVerdicts caches, per change request version and firewall revision,
// whether the request is stale and why.
type staleVerdicts struct {
	mu sync.Mutex
	m  map[staleKey]staleVerdict
}

type staleKey struct {
	id, etag string
	revision int64
}

type staleVerdict struct {
	reason string
	until  time.Time // zero: no rule of the trees judged expires
}

func (c *staleVerdicts) get(k staleKey, now time.Time) (staleVerdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if ok && !v.until.IsZero() && !now.Before(v.until) {
		return staleVerdict{}, false
	}
	return v, ok
}

func (c *staleVerdicts) put(k staleKey, v staleVerdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxStaleVerdicts {
		c.m = map[staleKey]staleVerdict{}
	}
	c.m[k] = v
}

// pending reports whether cr waits for a transition that would test it.
func pending(cr *firewall.ChangeRequest) bool {
	return cr.State == firewall.ChangeOpen || cr.State == firewall.ChangeApproved
}

// showStale marks, in crs (all of one firewall), the open and approved
// requests the firewall has moved past in a way that conflicts as stale,
// with their reason. Requests read without their base tree (as lists
// read them) are read again whole when their verdict is not cached.
func (s *Service) showStale(ctx context.Context, firewallID string, crs []firewall.ChangeRequest) error {
	var rev int64
	var cur *firewall.Tree
	now := s.now()
	for i := range crs {
		cr := &crs[i]
		if !pending(cr) {
			continue
		}
		if rev == 0 {
			var err error
			if rev, err = s.store.GetRevision(ctx, firewallID); err != nil {
				return err
			}
		}
		if cr.BaseRevision >= rev {
			continue
		}
		k := staleKey{cr.ID, cr.ETag, rev}
		v, ok := s.stale.get(k, now)
		if !ok {
			if cur == nil {
				t, err := s.GetTree(ctx, firewallID)
				if err != nil {
					return err
				}
				cur = &t
				if rev = t.Firewall.Revision; cr.BaseRevision >= rev {
					continue
				}
				k.revision = rev
			}
			full := *cr
			if full.Base == nil {
				var err error
				if full, err = s.store.GetChangeRequest(ctx, firewallID, cr.ID); err != nil {
					return err
				}
			}
			_, reason, until, err := s.rebaseUntil(full, *cur)
			if err != nil {
				return fmt.Errorf("test change request %s against revision %d: %w", cr.ID, rev, err)
			}
			v = staleVerdict{reason: reason, until: until}
			if full.ETag == cr.ETag {
				s.stale.put(k, v)
			}
		}
		if v.reason != "" {
			cr.State, cr.StaleReason = firewall.ChangeStale, v.reason
		}
	}
	return nil
}

// staleIn tests cr against the firewall's tree inside tx, for a
// transition that must not proceed on a stale request: it answers the
// reason, or "" when the firewall has not moved or the change still does
// what was reviewed.
func (s *Service) staleIn(ctx context.Context, tx store.Tx, cr firewall.ChangeRequest) (string, error) {
	rev, err := tx.GetRevision(ctx, cr.FirewallID)
	if err != nil || rev == cr.BaseRevision {
		return "", err
	}
	loaded, err := tx.LoadTree(ctx, cr.FirewallID)
	if err != nil {
		return "", err
	}
	cur := engineTree(loaded)
	if cur.Firewall.Revision == cr.BaseRevision {
		return "", nil
	}
	_, reason, _, err := s.rebaseUntil(cr, cur)
	return reason, err
}

// staleError is the conflict a transition answers when it finds cr stale.
func staleError(cr firewall.ChangeRequest) error {
	msg := fmt.Sprintf("change request %q is stale: %s", cr.ID, cr.StaleReason)
	return &firewall.Error{Code: firewall.CodeConflict, Message: msg,
		Problems: []firewall.Problem{{Location: "change_request.state", Message: msg, Value: firewall.ChangeStale}}}
}
