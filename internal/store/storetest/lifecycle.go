package storetest

import (
	"context"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func storeCases() []testCase {
	return []testCase{
		{"Store/ReadyWhenMigrated", storeReady},
		{"Store/UnavailableAfterClose", storeUnavailableAfterClose},
	}
}

func storeReady(t *testing.T, f *fixture) {
	if err := f.s.Ready(f.ctx); err != nil {
		t.Fatalf("Ready on a migrated store: %v", err)
	}
}

// storeUnavailableAfterClose checks that a closed store answers with
// firewall.CodeUnavailable, which the API turns into a 503, rather than
// with an error that would look like the client's fault or a bug.
func storeUnavailableAfterClose(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	_, getErr := f.s.GetFirewall(f.ctx, fw.ID)
	_, listErr := f.s.ListFirewalls(f.ctx, firewall.Query{})
	updateErr := f.s.Update(f.ctx, func(context.Context, store.Tx) error { return nil })
	for name, err := range map[string]error{"Ready": f.s.Ready(f.ctx), "GetFirewall": getErr, "ListFirewalls": listErr, "Update": updateErr} {
		if code := firewall.CodeOf(err); code != firewall.CodeUnavailable {
			t.Errorf("%s after Close: %v (code %q), want code %q", name, err, code, firewall.CodeUnavailable)
		}
	}
}
