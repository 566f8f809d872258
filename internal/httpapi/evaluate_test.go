package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func (tr tree) evaluate() string { return tr.firewall() + "/evaluate" }

func flowBody(proto, src, dst string, sport, dport int) map[string]any {
	f := map[string]any{"protocol": proto, "source_ip": src, "destination_ip": dst}
	if sport > 0 {
		f["source_port"] = sport
	}
	if dport > 0 {
		f["destination_port"] = dport
	}
	return f
}

func TestEvaluateDecides(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	web := s.newRule(tr, map[string]any{"action": "allow", "protocol": "tcp", "destinations": []string{"10.0.0.0/8"}, "destination_ports": []string{"443"}})
	s.newRule(tr, map[string]any{"action": "reject", "protocol": "udp"})

	res := s.must(http.StatusOK, "POST", tr.evaluate(), map[string]any{
		"flows": []any{
			flowBody("tcp", "192.0.2.1", "10.1.2.3", 5000, 443),
			flowBody("udp", "192.0.2.1", "10.1.2.3", 5000, 53),
			flowBody("icmp", "192.0.2.1", "10.1.2.3", 0, 0),
			flowBody("tcp", "2001:db8::1", "2001:db8::2", 5000, 443),
		},
	})
	ds := res["decisions"].([]any)
	want := []struct{ action, by, rule string }{
		{"allow", "rule", web}, {"reject", "rule", ""}, {"deny", "firewall_default", ""}, {"deny", "firewall_default", ""},
	}
	for i, w := range want {
		d := ds[i].(map[string]any)
		if d["action"] != w.action || d["decided_by"] != w.by || (w.rule != "" && d["rule_id"] != w.rule) {
			t.Errorf("flow %d: %v, want %s by %s %s", i, d, w.action, w.by, w.rule)
		}
	}
	fw := s.must(http.StatusOK, "GET", tr.firewall(), nil)
	if res["revision"] != fw["revision"] {
		t.Fatalf("decisions on revision %v, firewall at %v", res["revision"], fw["revision"])
	}

	one := s.must(http.StatusOK, "POST", tr.evaluate(), map[string]any{"flow": flowBody("tcp", "1.1.1.1", "10.0.0.1", 1, 443), "explain": true})
	d := one["decision"].(map[string]any)
	path := d["path"].([]any)
	if d["rule_id"] != web || len(path) != 1 || path[0].(map[string]any)["outcome"] != "rule_matched" {
		t.Fatalf("explained single flow: %v", one)
	}
}

// TestEvaluateIsNeverStale changes the tree between evaluations, without
// pause: each evaluation sees the change just made.
func TestEvaluateIsNeverStale(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	flow := map[string]any{"flow": flowBody("tcp", "192.0.2.1", "10.1.2.3", 5000, 443)}
	action := func() string {
		t.Helper()
		return s.must(http.StatusOK, "POST", tr.evaluate(), flow)["decision"].(map[string]any)["action"].(string)
	}
	if got := action(); got != "deny" {
		t.Fatalf("empty firewall: %s, want deny", got)
	}
	rule := s.newRule(tr, map[string]any{"action": "allow", "protocol": "tcp"})
	if got := action(); got != "allow" {
		t.Fatalf("after adding an allow rule: %s", got)
	}
	s.must(http.StatusOK, "PATCH", tr.rules()+"/"+rule, map[string]any{"action": "reject"})
	if got := action(); got != "reject" {
		t.Fatalf("after changing the rule to reject: %s", got)
	}
	s.must(http.StatusOK, "PATCH", tr.policy(), map[string]any{"enabled": false})
	if got := action(); got != "deny" {
		t.Fatalf("after disabling the policy: %s", got)
	}
	s.must(http.StatusOK, "PATCH", tr.firewall(), map[string]any{"default_action": "allow"})
	if got := action(); got != "allow" {
		t.Fatalf("after changing the firewall default: %s", got)
	}
}

func TestEvaluateRefusesBadFlows(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	many := make([]any, maxFlows+1)
	for i := range many {
		many[i] = flowBody("icmp", "10.0.0.1", "10.0.0.2", 0, 0)
	}
	tests := []struct {
		name      string
		body      any
		status    int
		loc, want string
	}{
		{"no flows", map[string]any{}, 400, "body.flows", "give one flow"},
		{"both flow and flows", map[string]any{"flow": flowBody("icmp", "10.0.0.1", "10.0.0.2", 0, 0), "flows": []any{flowBody("icmp", "10.0.0.1", "10.0.0.2", 0, 0)}}, 400, "body", "not both"},
		{"missing port", map[string]any{"flows": []any{flowBody("icmp", "10.0.0.1", "10.0.0.2", 0, 0), flowBody("tcp", "10.0.0.1", "10.0.0.2", 1, 0)}}, 400, "body.flows[1].destination_port", "required"},
		{"port with icmp", map[string]any{"flows": []any{flowBody("icmp", "10.0.0.1", "10.0.0.2", 5, 0)}}, 400, "body.flows[0].source_port", "only allowed"},
		{"bad address", map[string]any{"flow": flowBody("udp", "10.0.0.300", "10.0.0.2", 1, 2)}, 400, "body.flow.source_ip", "not an IPv4 or IPv6"},
		{"mixed families", map[string]any{"flow": flowBody("udp", "10.0.0.1", "::1", 1, 2)}, 400, "body.flow.destination_ip", "same address family"},
		{"unknown field", map[string]any{"flow": flowBody("udp", "10.0.0.1", "10.0.0.2", 1, 2), "x": 1}, 400, "body.x", "unknown field"},
		{"port out of range", map[string]any{"flows": []any{map[string]any{"protocol": "tcp", "source_ip": "10.0.0.1", "destination_ip": "10.0.0.2", "source_port": 70000, "destination_port": 1}}}, 400, "body.flows[0].source_port", ""},
		{"icmp with IPv6", map[string]any{"flows": []any{flowBody("icmp", "2001:db8::1", "2001:db8::2", 0, 0)}}, 400, "body.flows[0].protocol", "use icmpv6"},
		{"icmp with IPv4-mapped IPv6", map[string]any{"flow": flowBody("icmp", "::ffff:10.0.0.1", "::ffff:10.0.0.2", 0, 0)}, 400, "body.flow.protocol", "use icmpv6"},
		{"icmpv6 with IPv4", map[string]any{"flow": flowBody("icmpv6", "10.0.0.1", "10.0.0.2", 0, 0)}, 400, "body.flow.protocol", "use icmp"},
		{"protocol any", map[string]any{"flow": flowBody("any", "10.0.0.1", "10.0.0.2", 0, 0)}, 400, "body.flow.protocol", ""},
		{"over 10,000 flows", map[string]any{"flows": many}, 400, "body.flows", "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertProblem(t, s.do("POST", tr.evaluate(), tt.body), tt.status, tt.loc, tt.want)
		})
	}
	t.Run("missing firewall", func(t *testing.T) {
		assertProblem(t, s.do("POST", "/api/v1/firewalls/nope/evaluate", map[string]any{"flow": flowBody("icmp", "10.0.0.1", "10.0.0.2", 0, 0)}), 404, "", "")
	})
	t.Run("body over 4 MiB", func(t *testing.T) {
		body := `{"flows":[` + strings.Repeat(`{"protocol":"icmp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2"},`, 70000) + `]}`
		assertProblem(t, s.do("POST", tr.evaluate(), body), http.StatusRequestEntityTooLarge, "", "")
	})
}

func TestEvaluateFullBatch(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	s.newRule(tr, map[string]any{"action": "allow", "protocol": "tcp", "destination_ports": []string{"1-1000"}})
	flows := make([]any, maxFlows)
	for i := range flows {
		flows[i] = flowBody("tcp", fmt.Sprintf("10.0.%d.%d", i/256%256, i%256), "192.0.2.1", 40000, 1+i%2000)
	}
	res := s.must(http.StatusOK, "POST", tr.evaluate(), map[string]any{"flows": flows})
	ds := res["decisions"].([]any)
	if len(ds) != maxFlows {
		t.Fatalf("%d decisions for %d flows", len(ds), maxFlows)
	}
	for i, d := range ds {
		want := "deny"
		if 1+i%2000 <= 1000 {
			want = "allow"
		}
		if got := d.(map[string]any)["action"]; got != want {
			t.Fatalf("flow %d (port %d): %v, want %s", i, 1+i%2000, got, want)
		}
	}
}
