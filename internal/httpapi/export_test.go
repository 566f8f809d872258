package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
)

func TestExport(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	web := s.newRule(tr, map[string]any{"name": "web", "action": "allow", "protocol": "tcp", "destinations": []string{"10.0.0.0/8", "2001:db8::/32"}, "destination_ports": []string{"443", "80"}})
	s.newRule(tr, map[string]any{"action": "reject", "protocol": "any", "sources": []string{"192.0.2.0/24"}})
	fw := s.must(http.StatusOK, "GET", tr.firewall(), nil)
	rev := fw["revision"].(float64)

	tests := []struct {
		name, query string
		want        []string
	}{
		{"nftables", "format=nftables", []string{"table inet fireflow_edge {", "hook forward", "policy drop;", "rule " + web + " web", "tcp dport { 80, 443 } accept", "reject with tcp reset"}},
		{"nftables input stateful", "format=nftables&hook=input&stateful=true", []string{"hook input", "ct state established,related accept"}},
		{"iptables", "format=iptables&hook=output", []string{"*filter", ":OUTPUT DROP", "-d 10.0.0.0/8", "-m multiport --dports 80,443", "--reject-with tcp-reset", "COMMIT"}},
		{"ip6tables", "format=ip6tables", []string{":FORWARD DROP", "-d 2001:db8::/32", "matches no IPv6 flow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.do("GET", tr.firewall()+"/export?"+tt.query, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
			if et := res.Header.Get("ETag"); !strings.HasPrefix(et, `"r`+itoa(int(rev))+`-`) {
				t.Errorf("ETag %q does not name revision %v", et, rev)
			}
			body := string(res.Body)
			if !strings.Contains(body, "revision "+itoa(int(rev))) {
				t.Errorf("header comment does not name revision %v:\n%s", rev, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("export lacks %q:\n%s", w, body)
				}
			}
		})
	}

	t.Run("etag follows the revision", func(t *testing.T) {
		before := s.do("GET", tr.firewall()+"/export?format=nftables", nil).Header.Get("ETag")
		again := s.do("GET", tr.firewall()+"/export?format=nftables", nil).Header.Get("ETag")
		if before != again {
			t.Fatalf("ETag changed with no change: %s then %s", before, again)
		}
		s.newRule(tr, map[string]any{"action": "deny", "protocol": "udp"})
		if after := s.do("GET", tr.firewall()+"/export?format=nftables", nil).Header.Get("ETag"); after == before {
			t.Fatalf("ETag %s unchanged after a change", after)
		}
	})

	t.Run("viewer may export", func(t *testing.T) {
		res := s.do("GET", tr.firewall()+"/export?format=iptables", nil, "Authorization", "Bearer "+mintToken(t, "v", auth.Viewer))
		if res.Status != http.StatusOK {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
	})
}

func TestExportRefusesBadInput(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	tests := []struct {
		name, path, location, msg string
		status                    int
	}{
		{"no format", tr.firewall() + "/export", "query.format", "", http.StatusBadRequest},
		{"bad format", tr.firewall() + "/export?format=pf", "query.format", "nftables, iptables, ip6tables", http.StatusBadRequest},
		{"bad hook", tr.firewall() + "/export?format=nftables&hook=prerouting", "query.hook", "forward, input, output", http.StatusBadRequest},
		{"bad stateful", tr.firewall() + "/export?format=nftables&stateful=maybe", "query.stateful", "true or false", http.StatusBadRequest},
		{"unknown firewall", "/api/v1/firewalls/nope/export?format=nftables", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertProblem(t, s.do("GET", tt.path, nil), tt.status, tt.location, tt.msg)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
