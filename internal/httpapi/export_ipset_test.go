package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
)

// TestExportIPSets: with ipset=true an iptables export answers JSON with
// the ipset definitions beside the ruleset, from one revision; both are
// what export.Render writes for the firewall's tree (the files the
// kernel test of internal/export loads); and, loaded into a lab's kernel
// with ipset restore and iptables-restore, they decide every sampled flow
// as the API's evaluate endpoint does.
func TestExportIPSets(t *testing.T) {
	s := newTestServer(t)
	const ag = "/api/v1/address-groups"
	s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "web", "addresses": []string{"10.1.0.0/24", "2001:db8:1::/64"}})
	s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "dmz", "addresses": []string{"10.2.0.0/16", "0.0.0.0/0"}, "groups": []string{"web"}})
	s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "admins", "addresses": []string{"192.0.2.0/28", "2001:db8:a::/48"}})
	s.must(http.StatusCreated, "POST", "/api/v1/service-groups", map[string]any{"name": "https", "services": []map[string]any{{"protocol": "tcp", "ports": []string{"443", "8443"}}, {"protocol": "udp", "ports": []string{"443"}}}})
	tr := s.newTree("edge")
	s.newRule(tr, map[string]any{"action": "reject", "protocol": "tcp", "sources": []string{"10.1.0.128/25"}, "destination_groups": []string{"dmz"}})
	s.newRule(tr, map[string]any{"action": "allow", "source_groups": []string{"admins"}, "destination_groups": []string{"web"}})
	s.newRule(tr, map[string]any{"action": "allow", "destination_groups": []string{"web"}, "service_groups": []string{"https"}})
	s.newRule(tr, map[string]any{"action": "deny", "sources": []string{"2001:db8:a:1::/64"}, "source_groups": []string{"web"}})
	s.newRule(tr, map[string]any{"action": "allow", "protocol": "udp", "destination_ports": []string{"53"}})
	rev := s.must(http.StatusOK, "GET", tr.firewall(), nil)["revision"].(float64)

	exported := map[string]ExportWithIPSets{}
	for _, format := range []string{"iptables", "ip6tables"} {
		res := s.do("GET", tr.firewall()+"/export?format="+format+"&ipset=true", nil)
		if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s %s", format, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
		if et := res.Header.Get("ETag"); !strings.HasPrefix(et, fmt.Sprintf(`"r%d-`, int(rev))) {
			t.Errorf("%s: ETag %q does not name revision %v", format, et, rev)
		}
		var out ExportWithIPSets
		dec := json.NewDecoder(bytes.NewReader(res.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, res.Body)
		}
		if out.Format != format || out.Revision != int64(rev) || !strings.Contains(out.Ruleset, "--match-set ") || !strings.Contains(out.IPSets, "create g_web_") {
			t.Fatalf("%s: %+v", format, out)
		}
		exported[format] = out
	}
	if !strings.Contains(exported["iptables"].IPSets, "family inet ") || !strings.Contains(exported["ip6tables"].IPSets, "family inet6") {
		t.Fatalf("ipsets of the wrong family:\n%s\n%s", exported["iptables"].IPSets, exported["ip6tables"].IPSets)
	}

	// What the API answers is what export.Render writes for the tree.
	doc := s.do("GET", tr.firewall()+"/tree", nil)
	tree, err := DecodeTreeDocument(bytes.NewReader(doc.Body))
	if err != nil {
		t.Fatal(err)
	}
	for format, got := range exported {
		want, err := export.Render(&tree, export.Options{Format: export.Format(format), IPSet: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.IPSets != string(want.IPSets) {
			t.Errorf("%s ipsets differ from export.Render:\n got %s\nwant %s", format, got.IPSets, want.IPSets)
		}
		if a, b := withoutJudgedAt(got.Ruleset), withoutJudgedAt(string(want.Text)); a != b {
			t.Errorf("%s ruleset differs from export.Render:\n got %s\nwant %s", format, a, b)
		}
	}

	t.Run("refusals", func(t *testing.T) {
		assertProblem(t, s.do("GET", tr.firewall()+"/export?format=nftables&ipset=true", nil), http.StatusBadRequest, "query.ipset", "named sets")
		assertProblem(t, s.do("GET", tr.firewall()+"/export?format=iptables&ipset=maybe", nil), http.StatusBadRequest, "query.ipset", "true or false")
		if res := s.do("GET", tr.firewall()+"/export?format=iptables&ipset=false", nil); res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("ipset=false: %d %s", res.Status, res.Header.Get("Content-Type"))
		}
	})

	t.Run("kernel", func(t *testing.T) {
		kerneltest.Require(t, "iptables-restore", "ip6tables-restore", "ipset", "sysctl")
		lab := kerneltest.NewLab(t)
		for _, format := range []string{"iptables", "ip6tables"} {
			if err := lab.Exec(lab.Firewall, []byte(exported[format].IPSets), "ipset", "restore"); err != nil {
				t.Fatalf("ipset restore of the %s answer: %v", format, err)
			}
		}
		if err := lab.LoadIPTables([]byte(exported["iptables"].Ruleset), []byte(exported["ip6tables"].Ruleset)); err != nil {
			t.Fatalf("restore the answers: %v", err)
		}
		r := rand.New(rand.NewPCG(3, 5))
		flows := kernelFlows(r, &tree, 600)
		verdicts, err := lab.Probe(flows, 150*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		decisions := evaluateAll(t, s, tr.FirewallID, flows)
		counts := map[kerneltest.Verdict]int{}
		var bad []string
		for i, f := range flows {
			counts[verdicts[i]]++
			if want := kerneltest.Expect(f, decisions[i]); verdicts[i] != want {
				bad = append(bad, fmt.Sprintf("%s %s:%d -> %s:%d: the API says %s, the kernel %s", f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, decisions[i], verdicts[i]))
			}
		}
		if len(bad) > 0 {
			t.Fatalf("%d disagreement(s):\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
		}
		if counts[kerneltest.Verdict("arrived")] == 0 || len(counts) < 3 {
			t.Fatalf("verdicts %v: the flows do not exercise the ruleset", counts)
		}
		t.Logf("%d flows through ipset restore + iptables-restore of the API's answers, 0 disagreements; verdicts %v", len(flows), counts)
	})
}

// withoutJudgedAt drops the header line naming the instant expiry was
// judged at, which differs between two renderings.
func withoutJudgedAt(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "expiry judged at") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// evaluateAll decides flows through the evaluate endpoint.
func evaluateAll(t *testing.T, s *testServer, fwID string, flows []firewall.Flow) []firewall.Action {
	t.Helper()
	body := make([]any, len(flows))
	for j, f := range flows {
		fb := map[string]any{"protocol": string(f.Protocol), "source_ip": f.Source.String(), "destination_ip": f.Destination.String()}
		if f.Protocol.HasPorts() {
			fb["source_port"], fb["destination_port"] = f.SourcePort, f.DestinationPort
		}
		body[j] = fb
	}
	decisions := s.must(http.StatusOK, http.MethodPost, "/api/v1/firewalls/"+fwID+"/evaluate", map[string]any{"flows": body})["decisions"].([]any)
	out := make([]firewall.Action, len(decisions))
	for i, d := range decisions {
		out[i] = firewall.Action(d.(map[string]any)["action"].(string))
	}
	return out
}
