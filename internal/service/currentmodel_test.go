package service_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/service"
)

// A dry run answers the same whether the analysis of the current revision
// is cached or not: the first dry run on a revision compiles and analyses
// the current tree, a second one, or one after an analysis, reuses it, and
// one after the clock moved past a new rule's expiry compiles afresh.
func TestDryRunSameWithCachedAnalysis(t *testing.T) {
	// Rules the dry run creates get fresh ids each run, so findings name
	// rules by name and position for the comparison.
	var names map[string]string
	sorted := func(fs []service.FindingChange) []service.FindingChange {
		out := slices.Clone(fs)
		for i := range out {
			for id, name := range names {
				out[i].RuleID = strings.ReplaceAll(out[i].RuleID, id, name)
				out[i].Message = strings.ReplaceAll(out[i].Message, id, name)
			}
		}
		slices.SortFunc(out, func(a, b service.FindingChange) int {
			return strings.Compare(a.Kind+a.PolicyID+a.RuleID+a.Message, b.Kind+b.PolicyID+b.RuleID+b.Message)
		})
		return out
	}
	named := func(s string) string {
		for id, name := range names {
			s = strings.ReplaceAll(s, id, name)
		}
		return s
	}
	for seed := range uint64(12) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 23))
			a, b := randomTree(r), randomTree(r)
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, a, false); err != nil {
				t.Fatal(err)
			}
			base, err := f.svc.GetTree(f.ctx, f.fw.ID)
			if err != nil {
				t.Fatal(err)
			}
			next := mutate(r, base, b)
			var runs []service.TreeResult
			for i := range 3 {
				if i == 2 {
					if _, err := f.svc.Analyze(f.ctx, f.fw.ID, service.AnalysisOptions{}); err != nil {
						t.Fatal(err)
					}
					f.clock.Advance(time.Minute)
				}
				res, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, next, true)
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, res)
			}
			names = map[string]string{}
			for _, res := range runs {
				for _, pt := range res.Tree.Policies {
					for _, rule := range pt.Rules {
						names[rule.ID] = fmt.Sprintf("%s/%d", pt.Policy.Name, rule.Position)
					}
				}
			}
			for i, res := range runs[1:] {
				if d := cmp.Diff(sorted(runs[0].FindingsAdded), sorted(res.FindingsAdded)); d != "" {
					t.Fatalf("run %d: findings added differ (-cold +cached):\n%s", i+1, d)
				}
				if d := cmp.Diff(sorted(runs[0].FindingsRemoved), sorted(res.FindingsRemoved)); d != "" {
					t.Fatalf("run %d: findings removed differ (-cold +cached):\n%s", i+1, d)
				}
				cold, _ := json.Marshal(runs[0].Semantic)
				cached, _ := json.Marshal(res.Semantic)
				if named(string(cold)) != named(string(cached)) {
					t.Fatalf("run %d: semantic diff differs:\ncold   %s\ncached %s", i+1, cold, cached)
				}
			}
		})
	}
}
