package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fireflow/fireflow/internal/analysis"
	"github.com/fireflow/fireflow/internal/firewall"
)

// The analysis types the service answers with. They are the analysis
// package's own, named here so that the HTTP layer depends on the service
// only.
type (
	// AnalysisOptions select the findings of an analysis.
	AnalysisOptions = analysis.Options
	// AnalysisReport is the outcome of an analysis.
	AnalysisReport = analysis.Report
	// Finding is one finding of an analysis.
	Finding = analysis.Finding
	// FindingKind is the kind of a finding.
	FindingKind = analysis.Kind
	// Taker is a rule or default that takes the flows of a finding's rule.
	Taker = analysis.Taker
	// Example is a flow with its decision.
	Example = analysis.Example
	// HeaderSpace is the space a search looks in.
	HeaderSpace = analysis.Space
	// SearchTarget is the decision a search looks for.
	SearchTarget = analysis.Target
	// SearchResult is a search's answer.
	SearchResult = analysis.SearchResult
	// Comparison is the answer of a compare.
	Comparison = analysis.Comparison
	// Region is one changed region of a compare.
	Region = analysis.Region
)

// FindingKinds lists the kinds of findings.
func FindingKinds() []FindingKind { return analysis.Kinds() }

// maxCachedAnalyses bounds the analysis cache: a model of a large firewall
// holds tens of MB.
const maxCachedAnalyses = 16

// heavyKinds are the findings that need the walk of the header space; the
// others are read off the rules on every request.
func heavyKinds() []analysis.Kind {
	return []analysis.Kind{analysis.Unreachable, analysis.Redundant, analysis.UnreachablePolicy, analysis.Conflict}
}

// analyses caches one analysis model per firewall, with its findings once
// asked for. An entry serves while its revision is the firewall's current
// one and no rule has expired since it was built (expiry changes what
// rules match).
type analyses struct {
	mu sync.Mutex
	m  map[string]*analysisEntry
}

type analysisEntry struct {
	model *analysis.Model
	until time.Time // zero: no rule expires

	once   sync.Once
	report analysis.Report
	err    error
}

func (e *analysisEntry) fresh(rev int64, now time.Time) bool {
	return e.model.Revision() == rev && (e.until.IsZero() || now.Before(e.until))
}

func (c *analyses) get(firewallID string, rev int64, now time.Time) *analysisEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[firewallID]; e != nil && e.fresh(rev, now) {
		return e
	}
	return nil
}

func (c *analyses) put(firewallID string, e *analysisEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*analysisEntry{}
	}
	if old := c.m[firewallID]; old != nil && old.model.Revision() > e.model.Revision() {
		return
	}
	if _, ok := c.m[firewallID]; !ok && len(c.m) >= maxCachedAnalyses {
		for id := range c.m {
			delete(c.m, id)
			break
		}
	}
	c.m[firewallID] = e
}

// analysisModel returns the analysis model of the firewall's current
// revision, judged now.
func (s *Service) analysisModel(ctx context.Context, firewallID string) (*analysisEntry, error) {
	rev, err := s.store.GetRevision(ctx, firewallID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if e := s.analyses.get(firewallID, rev, now); e != nil {
		return e, nil
	}
	tree, err := s.store.LoadTree(ctx, firewallID)
	if err != nil {
		return nil, err
	}
	m, err := analysis.New(engineTree(tree), now)
	if err != nil {
		return nil, fmt.Errorf("compile firewall %s at revision %d for analysis: %w", firewallID, tree.Firewall.Revision, err)
	}
	e := &analysisEntry{model: m, until: m.ValidUntil()}
	s.analyses.put(firewallID, e)
	return e, nil
}

// Analyze reports what is wrong with the firewall's current tree. The
// findings that need the walk of the header space are computed once per
// revision and cached; the report names the revision used.
func (s *Service) Analyze(ctx context.Context, firewallID string, opts AnalysisOptions) (AnalysisReport, error) {
	e, err := s.analysisModel(ctx, firewallID)
	if err != nil {
		return AnalysisReport{}, fmt.Errorf("analyse firewall %s: %w", firewallID, err)
	}
	e.once.Do(func() {
		e.report, e.err = e.model.Findings(analysis.Options{Kinds: heavyKinds()})
	})
	if e.err != nil {
		return AnalysisReport{}, fmt.Errorf("analyse firewall %s: %w", firewallID, e.err)
	}
	want := func(k analysis.Kind) bool { return len(opts.Kinds) == 0 || slices.Contains(opts.Kinds, k) }
	rep := AnalysisReport{Revision: e.report.Revision}
	for _, f := range e.report.Findings {
		if want(f.Kind) {
			rep.Findings = append(rep.Findings, f)
		}
	}
	if want(analysis.Conflict) {
		rep.Conflicts = e.report.Conflicts
	}
	var light []analysis.Kind
	for _, k := range []analysis.Kind{analysis.Expired, analysis.Expiring, analysis.Disabled} {
		if want(k) {
			light = append(light, k)
		}
	}
	if len(light) > 0 {
		more, err := e.model.Findings(analysis.Options{Kinds: light, ExpiringWithin: opts.ExpiringWithin, Now: s.now()})
		if err != nil {
			return AnalysisReport{}, fmt.Errorf("analyse firewall %s: %w", firewallID, err)
		}
		rep.Findings = append(rep.Findings, more.Findings...)
	}
	return rep, nil
}

// Search finds one flow of the space (outside it, with invert) that the
// firewall's current tree decides as the target asks, or guarantees that
// none exists. The answer names the revision used.
func (s *Service) Search(ctx context.Context, firewallID string, sp HeaderSpace, t SearchTarget, invert bool) (SearchResult, int64, error) {
	e, err := s.analysisModel(ctx, firewallID)
	if err != nil {
		return SearchResult{}, 0, fmt.Errorf("search firewall %s: %w", firewallID, err)
	}
	res, err := e.model.Search(sp, t, invert)
	if err != nil {
		return SearchResult{}, 0, fmt.Errorf("search firewall %s: %w", firewallID, err)
	}
	return res, e.model.Revision(), nil
}

// CompareWith says which flows the firewall's current tree decides
// differently from another firewall's current tree (otherID) or from a
// candidate tree, which is compiled and compared but never saved.
func (s *Service) CompareWith(ctx context.Context, firewallID, otherID string, candidate *firewall.Tree, maxRegions int) (Comparison, error) {
	e, err := s.analysisModel(ctx, firewallID)
	if err != nil {
		return Comparison{}, fmt.Errorf("compare firewall %s: %w", firewallID, err)
	}
	var other *analysis.Model
	switch {
	case candidate != nil:
		other, err = analysis.New(*candidate, e.model.Now())
		if err != nil {
			return Comparison{}, &firewall.Error{Code: firewall.CodeInvalid, Message: "the candidate tree cannot be evaluated",
				Problems: []firewall.Problem{{Location: "body.candidate", Message: err.Error()}}}
		}
	default:
		oe, err := s.analysisModel(ctx, otherID)
		if err != nil {
			return Comparison{}, fmt.Errorf("compare firewall %s with %s: %w", firewallID, otherID, err)
		}
		other, err = oe.model.At(e.model.Now())
		if err != nil {
			return Comparison{}, fmt.Errorf("compare firewall %s with %s: %w", firewallID, otherID, err)
		}
	}
	cmp, err := analysis.Compare(e.model, other, maxRegions)
	if err != nil {
		return Comparison{}, fmt.Errorf("compare firewall %s: %w", firewallID, err)
	}
	return cmp, nil
}
