package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// flowSpec is a flow as the evaluate endpoint takes it.
type flowSpec struct {
	Protocol        string `json:"protocol"`
	SourceIP        string `json:"source_ip"`
	DestinationIP   string `json:"destination_ip"`
	SourcePort      *int   `json:"source_port,omitempty"`
	DestinationPort *int   `json:"destination_port,omitempty"`
}

// parseFlow reads "tcp 10.0.0.1:1234 -> 10.0.0.2:443", "icmp 10.0.0.1 ->
// 10.0.0.2" or "udp [2001:db8::1]:53 -> [2001:db8::2]:53".
func parseFlow(s string) (flowSpec, error) {
	proto, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	src, dst, arrow := strings.Cut(rest, "->")
	if !ok || !arrow {
		return flowSpec{}, fmt.Errorf("flow %q: write it as \"tcp 10.0.0.1:1234 -> 10.0.0.2:443\"", s)
	}
	f := flowSpec{Protocol: strings.ToLower(proto)}
	withPorts := f.Protocol == "tcp" || f.Protocol == "udp"
	switch f.Protocol {
	case "tcp", "udp", "icmp", "icmpv6":
	default:
		return flowSpec{}, fmt.Errorf("flow %q: protocol %q: use tcp, udp, icmp or icmpv6", s, proto)
	}
	var err error
	if f.SourceIP, f.SourcePort, err = parseEndpoint(strings.TrimSpace(src), withPorts); err != nil {
		return flowSpec{}, fmt.Errorf("flow %q: source: %w", s, err)
	}
	if f.DestinationIP, f.DestinationPort, err = parseEndpoint(strings.TrimSpace(dst), withPorts); err != nil {
		return flowSpec{}, fmt.Errorf("flow %q: destination: %w", s, err)
	}
	return f, nil
}

func parseEndpoint(s string, withPort bool) (string, *int, error) {
	if !withPort {
		addr, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return "", nil, fmt.Errorf("%q is not an IP address (icmp flows have no ports)", s)
		}
		return addr.String(), nil, nil
	}
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return "", nil, fmt.Errorf("%q: want ADDRESS:PORT, with IPv6 in brackets as [2001:db8::1]:443", s)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", nil, fmt.Errorf("%q is not an IP address", host)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", nil, fmt.Errorf("port %q: ports are 1 to 65535", portText)
	}
	return addr.String(), &port, nil
}

type evaluateAnswer struct {
	Revision  int64 `json:"revision"`
	Decisions []struct {
		Action    string `json:"action"`
		DecidedBy string `json:"decided_by"`
		PolicyID  string `json:"policy_id"`
		RuleID    string `json:"rule_id"`
		Path      []struct {
			PolicyID     string   `json:"policy_id"`
			PolicyName   string   `json:"policy_name"`
			Outcome      string   `json:"outcome"`
			RuleID       string   `json:"rule_id"`
			ExpiredRules []string `json:"expired_rules"`
		} `json:"path"`
	} `json:"decisions"`
}

// evaluate runs "fireflow evaluate --url URL --firewall ID [--explain] FLOW...".
func evaluate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	srv := addServerFlags(fs, getenv, "viewer", "http://localhost:8080", 30*time.Second)
	explain := fs.Bool("explain", false, "print the policies visited for each flow")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *srv.firewallID == "" || fs.NArg() == 0 {
		return errors.New(`usage: fireflow evaluate --url URL --firewall ID [--explain] FLOW, where FLOW is like "tcp 10.0.0.1:1234 -> 10.0.0.2:443"`)
	}
	flows := make([]flowSpec, fs.NArg())
	for i, s := range fs.Args() {
		f, err := parseFlow(s)
		if err != nil {
			return err
		}
		flows[i] = f
	}
	body, err := json.Marshal(map[string]any{"flows": flows, "explain": *explain})
	if err != nil {
		return fmt.Errorf("encode flows: %w", err)
	}
	answer, err := srv.call(ctx, http.MethodPost, "evaluate", nil, "application/json", body)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	var out evaluateAnswer
	if err := json.Unmarshal(answer, &out); err != nil || len(out.Decisions) != len(flows) {
		return fmt.Errorf("evaluate: unexpected answer: %.200s", answer)
	}
	for i, d := range out.Decisions {
		fmt.Fprintf(stdout, "%s: %s by %s", fs.Arg(i), d.Action, strings.ReplaceAll(d.DecidedBy, "_", " "))
		if d.RuleID != "" {
			fmt.Fprintf(stdout, " %s", d.RuleID)
		}
		if d.PolicyID != "" {
			fmt.Fprintf(stdout, " in policy %s", d.PolicyID)
		}
		fmt.Fprintf(stdout, " (revision %d)\n", out.Revision)
		for _, st := range d.Path {
			fmt.Fprintf(stdout, "  policy %q (%s): %s", st.PolicyName, st.PolicyID, strings.ReplaceAll(st.Outcome, "_", " "))
			if st.RuleID != "" {
				fmt.Fprintf(stdout, " by rule %s", st.RuleID)
			}
			if len(st.ExpiredRules) > 0 {
				fmt.Fprintf(stdout, "; expired rules that would have matched: %s", strings.Join(st.ExpiredRules, ", "))
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}
