package apiclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/fireflow/fireflow/internal/apiclient"
	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

var secret = []byte("apiclient-tour-secret-of-32-bytes!!")

// tourClient serves the API from a fresh SQLite file on 127.0.0.1 and
// returns a generated client holding an editor token.
func tourClient(t *testing.T) *apiclient.ClientWithResponses {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(service.New(db), httpapi.Options{Version: "test", Auth: verifier}))
	t.Cleanup(func() { srv.Close(); db.Close() })
	token, err := auth.Mint(secret, "alice", []string{string(auth.Editor)}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.NewClientWithResponses(srv.URL, apiclient.WithRequestEditorFn(
		func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answer holds a call's outcome until the test checks it.
type answer[R interface{ StatusCode() int }] struct {
	res R
	err error
}

// must takes a call's outcome: must(c.Call(...)).is(t, "what", status).
func must[R interface{ StatusCode() int }](res R, err error) answer[R] { return answer[R]{res, err} }

// is fails the test unless the call answered want, and returns the answer.
func (a answer[R]) is(t *testing.T, what string, want int) R {
	t.Helper()
	if a.err != nil {
		t.Fatalf("%s: %v", what, a.err)
	}
	if a.res.StatusCode() != want {
		t.Fatalf("%s: status %d, want %d", what, a.res.StatusCode(), want)
	}
	return a.res
}

func ptr[T any](v T) *T { return &v }

// TestREADMETour drives the README's API tour through the generated client
// against a real server, step by step, including a merge patch that sets a
// field to null.
func TestREADMETour(t *testing.T) {
	c := tourClient(t)
	ctx := context.Background()

	fw := must(c.CreateFirewallWithResponse(ctx, nil, apiclient.FirewallInput{
		Name: "edge-par1", Labels: &map[string]string{"env": "prod", "site": "par1"}})).is(t, "create firewall", 201).JSON201
	pol := must(c.CreateFilteringPolicyWithResponse(ctx, fw.Id, nil, apiclient.PolicyInput{
		Name: "baseline", Priority: 100, DefaultAction: ptr(apiclient.PolicyInputDefaultActionNext)})).is(t, "create policy", 201).JSON201
	rule := func(in apiclient.RuleInput) apiclient.Rule {
		t.Helper()
		return *must(c.CreateRuleWithResponse(ctx, fw.Id, pol.Id, nil, in)).is(t, "create rule "+*in.Name, 201).JSON201
	}
	r1 := rule(apiclient.RuleInput{Name: ptr("allow-https"), Action: apiclient.RuleInputActionAllow,
		Protocol: ptr(apiclient.RuleInputProtocolTcp), Destinations: nullable.NewNullableWithValue([]string{"192.0.2.10"}),
		DestinationPorts: nullable.NewNullableWithValue([]string{"443"})})
	r2 := rule(apiclient.RuleInput{Name: ptr("allow-dns"), Action: apiclient.RuleInputActionAllow,
		Protocol: ptr(apiclient.RuleInputProtocolUdp), Destinations: nullable.NewNullableWithValue([]string{"192.0.2.53/32"}),
		DestinationPorts: nullable.NewNullableWithValue([]string{"53"})})
	r3 := rule(apiclient.RuleInput{Name: ptr("drop-rest"), Action: apiclient.RuleInputActionDeny})
	rule(apiclient.RuleInput{Name: ptr("block-bad-net"), Action: apiclient.RuleInputActionDeny,
		Sources: nullable.NewNullableWithValue([]string{"203.0.113.0/24"}), Position: ptr(int64(1))})

	must(c.MoveRuleWithResponse(ctx, fw.Id, pol.Id, r3.Id, nil, apiclient.MoveInput{Position: ptr(int64(2))})).is(t, "move to 2", 200)
	must(c.MoveRuleWithResponse(ctx, fw.Id, pol.Id, r3.Id, nil, apiclient.MoveInput{After: &r2.Id})).is(t, "move after", 200)
	list := must(c.ListRulesWithResponse(ctx, fw.Id, pol.Id, &apiclient.ListRulesParams{PageSize: ptr(int64(50))})).is(t, "list rules", 200).JSON200
	var order []string
	for _, r := range list.Items.MustGet() {
		order = append(order, r.Name)
	}
	if want := []string{"block-bad-net", "allow-https", "allow-dns", "drop-rest"}; !equal(order, want) {
		t.Fatalf("rules in order %v, want %v", order, want)
	}
	found := must(c.ListRulesWithResponse(ctx, fw.Id, pol.Id, &apiclient.ListRulesParams{
		Filter:  ptr(`source_contains("10.1.2.3") AND destination_port_contains(443)`),
		OrderBy: ptr("action, name desc")})).is(t, "filter rules", 200).JSON200
	order = order[:0]
	for _, r := range found.Items.MustGet() {
		order = append(order, r.Name)
	}
	// drop-rest matches any flow, so it touches 10.1.2.3:443 too.
	if want := []string{"allow-https", "drop-rest"}; !equal(order, want) {
		t.Fatalf("filter found %v, want %v", order, want)
	}
	must(c.ListFirewallsWithResponse(ctx, &apiclient.ListFirewallsParams{
		Filter: ptr(`name = "edge-*" AND labels.env = "prod"`)})).is(t, "filter firewalls", 200)

	// A conditional merge patch, then one that sets expires_at to null.
	got := must(c.GetRuleWithResponse(ctx, fw.Id, pol.Id, r2.Id)).is(t, "get rule", 200).JSON200
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	patched := must(c.UpdateRuleWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, fw.Id, pol.Id, r2.Id,
		&apiclient.UpdateRuleParams{IfMatch: ptr(`"` + got.Etag + `"`)},
		apiclient.RulePatch{Description: nullable.NewNullableWithValue("resolvers"), ExpiresAt: nullable.NewNullableWithValue(expires)})).is(t, "patch rule", 200).JSON200
	if patched.Description != "resolvers" || patched.ExpiresAt == nil || !patched.ExpiresAt.Equal(expires) {
		t.Fatalf("patched rule: description %q, expires_at %v", patched.Description, patched.ExpiresAt)
	}
	must(c.UpdateRuleWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, fw.Id, pol.Id, r2.Id,
		&apiclient.UpdateRuleParams{IfMatch: ptr(`"` + got.Etag + `"`)}, apiclient.RulePatch{Description: nullable.NewNullableWithValue("x")})).is(t, "patch with a stale etag", 412)
	cleared := must(c.UpdateRuleWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, fw.Id, pol.Id, r2.Id,
		nil, apiclient.RulePatch{ExpiresAt: nullable.NewNullNullable[time.Time]()})).is(t, "patch expires_at to null", 200).JSON200
	if cleared.ExpiresAt != nil || cleared.Description != "resolvers" {
		t.Fatalf("after expires_at: null: expires_at %v, description %q (must stay)", cleared.ExpiresAt, cleared.Description)
	}

	// The same Idempotency-Key replays the first create.
	key := &apiclient.CreateFirewallParams{IdempotencyKey: ptr("5f1c6e2a")}
	first := must(c.CreateFirewallWithResponse(ctx, key, apiclient.FirewallInput{Name: "edge-par2"})).is(t, "idempotent create", 201)
	again := must(c.CreateFirewallWithResponse(ctx, key, apiclient.FirewallInput{Name: "edge-par2"})).is(t, "idempotent retry", 201)
	if first.JSON201.Id != again.JSON201.Id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry made %s, first %s", again.JSON201.Id, first.JSON201.Id)
	}

	// What happens to this traffic?
	ev := must(c.EvaluateFlowsWithResponse(ctx, fw.Id, apiclient.EvaluateInput{Explain: ptr(true),
		Flow: &apiclient.Flow{Protocol: apiclient.FlowProtocolTcp, SourceIp: "198.51.100.7", DestinationIp: "192.0.2.10",
			SourcePort: ptr(int64(51514)), DestinationPort: ptr(int64(443))}})).is(t, "evaluate", 200).JSON200
	if d := ev.Decision; d == nil || d.Action != apiclient.DecisionActionAllow || d.RuleId == nil || *d.RuleId != r1.Id {
		t.Fatalf("evaluate: %+v, want allow by %s", ev.Decision, r1.Id)
	}

	// What is wrong with this firewall?
	must(c.AnalyzeFirewallWithResponse(ctx, fw.Id, &apiclient.AnalyzeFirewallParams{Kinds: ptr("unreachable,redundant")})).is(t, "analysis", 200)
	search := must(c.SearchFlowsWithResponse(ctx, fw.Id, apiclient.SearchInput{
		Space: &apiclient.HeaderSpace{Protocols: nullable.NewNullableWithValue([]apiclient.HeaderSpaceProtocols{apiclient.HeaderSpaceProtocolsTcp}),
			Destinations: nullable.NewNullableWithValue([]string{"192.0.2.0/24"}), DestinationPorts: nullable.NewNullableWithValue([]string{"22"})},
		Target: &apiclient.SearchTarget{Action: ptr(apiclient.SearchTargetActionAllow)}})).is(t, "search", 200).JSON200
	if search.Exists {
		t.Fatal("search found an allowed flow to port 22; the tour allows only 443 and 53")
	}

	must(c.DeleteRuleWithResponse(ctx, fw.Id, pol.Id, r1.Id, nil)).is(t, "delete rule", 204)
	must(c.DeleteFirewallWithResponse(ctx, fw.Id, &apiclient.DeleteFirewallParams{Cascade: ptr(true)})).is(t, "delete firewall", 204)
	must(c.GetFirewallWithResponse(ctx, fw.Id)).is(t, "get deleted firewall", 404)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
