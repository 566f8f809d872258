package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func intp(n int64) *int64 { return &n }

func TestParseFlow(t *testing.T) {
	tests := []struct {
		in      string
		want    flowSpec
		wantErr string
	}{
		{in: "tcp 10.0.0.1:1234 -> 10.0.0.2:443", want: flowSpec{Protocol: "tcp", SourceIp: "10.0.0.1", DestinationIp: "10.0.0.2", SourcePort: intp(1234), DestinationPort: intp(443)}},
		{in: "  UDP 10.0.0.1:53->10.0.0.2:53 ", want: flowSpec{Protocol: "udp", SourceIp: "10.0.0.1", DestinationIp: "10.0.0.2", SourcePort: intp(53), DestinationPort: intp(53)}},
		{in: "udp [2001:db8::1]:53 -> [2001:DB8::2]:53", want: flowSpec{Protocol: "udp", SourceIp: "2001:db8::1", DestinationIp: "2001:db8::2", SourcePort: intp(53), DestinationPort: intp(53)}},
		{in: "icmp 10.0.0.1 -> 10.0.0.2", want: flowSpec{Protocol: "icmp", SourceIp: "10.0.0.1", DestinationIp: "10.0.0.2"}},
		{in: "icmpv6 2001:db8::1 -> [2001:db8::2]", want: flowSpec{Protocol: "icmpv6", SourceIp: "2001:db8::1", DestinationIp: "2001:db8::2"}},
		{in: "tcp 10.0.0.1 -> 10.0.0.2:443", wantErr: "want ADDRESS:PORT"},
		{in: "tcp 10.0.0.1:0 -> 10.0.0.2:443", wantErr: "ports are 1 to 65535"},
		{in: "tcp 10.0.0.1:1 -> 10.0.0.2:65536", wantErr: "ports are 1 to 65535"},
		{in: "icmp 10.0.0.1:5 -> 10.0.0.2", wantErr: "icmp flows have no ports"},
		{in: "sctp 10.0.0.1:1 -> 10.0.0.2:2", wantErr: "use tcp, udp, icmp or icmpv6"},
		{in: "tcp 10.0.0.1:1 10.0.0.2:2", wantErr: "write it as"},
		{in: "", wantErr: "write it as"},
		{in: "tcp host:1 -> 10.0.0.2:2", wantErr: "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFlow(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("parseFlow (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseFlow checks that any input either fails with an error or gives
// a flow whose addresses parse and whose ports fit the protocol.
func FuzzParseFlow(f *testing.F) {
	for _, s := range []string{"tcp 10.0.0.1:1234 -> 10.0.0.2:443", "icmp 10.0.0.1 -> 10.0.0.2", "udp [::1]:1 -> [::2]:2", "->", "tcp :-> :"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := parseFlow(s)
		if err != nil {
			return
		}
		withPorts := fl.Protocol == "tcp" || fl.Protocol == "udp"
		if withPorts != (fl.SourcePort != nil && fl.DestinationPort != nil) || fl.SourceIp == "" || fl.DestinationIp == "" {
			t.Fatalf("parseFlow(%q) = %+v", s, fl)
		}
	})
}

// TestEvaluateCommand runs the CLI against a real server: the decision and
// the explained path come back for each flow.
func TestEvaluateCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	fw := s.create(t, "/api/v1/firewalls", `{"name":"edge"}`)
	pol := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"web","priority":10,"default_action":"next"}`)
	rule := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies/"+pol+"/rules",
		`{"action":"allow","protocol":"tcp","destinations":["10.0.0.0/8"],"destination_ports":["443"]}`)

	var out strings.Builder
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	err := run(ctx, []string{"evaluate", "--url", s.url, "--firewall", fw, "--explain",
		"tcp 192.0.2.1:5000 -> 10.1.2.3:443", "udp 192.0.2.1:5000 -> 10.1.2.3:443"},
		func(k string) string { return env[k] }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"tcp 192.0.2.1:5000 -> 10.1.2.3:443: allow by rule " + rule + " in policy " + pol,
		"udp 192.0.2.1:5000 -> 10.1.2.3:443: deny by firewall default (revision 3)",
		`policy "web" (` + pol + `): rule matched by rule ` + rule,
		`policy "web" (` + pol + `): fell through`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	err = run(ctx, []string{"evaluate", "--url", s.url, "--firewall", fw, "tcp 1.1.1.1:1 -> 2.2.2.2:2"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a token: %v, want a 401", err)
	}
}
