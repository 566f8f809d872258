package main

import (
	"context"
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

	"github.com/oapi-codegen/nullable"

	"github.com/fireflow/fireflow/internal/apiclient"
)

// flowSpec is a flow as the evaluate endpoint takes it.
type flowSpec = apiclient.Flow

// parseFlow reads "tcp 10.0.0.1:1234 -> 10.0.0.2:443", "icmp 10.0.0.1 ->
// 10.0.0.2" or "udp [2001:db8::1]:53 -> [2001:db8::2]:53".
func parseFlow(s string) (flowSpec, error) {
	proto, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	src, dst, arrow := strings.Cut(rest, "->")
	if !ok || !arrow {
		return flowSpec{}, fmt.Errorf("flow %q: write it as \"tcp 10.0.0.1:1234 -> 10.0.0.2:443\"", s)
	}
	f := flowSpec{Protocol: apiclient.FlowProtocol(strings.ToLower(proto))}
	withPorts := f.Protocol == apiclient.FlowProtocolTcp || f.Protocol == apiclient.FlowProtocolUdp
	switch f.Protocol {
	case "tcp", "udp", "icmp", "icmpv6":
	default:
		return flowSpec{}, fmt.Errorf("flow %q: protocol %q: use tcp, udp, icmp or icmpv6", s, proto)
	}
	var err error
	if f.SourceIp, f.SourcePort, err = parseEndpoint(strings.TrimSpace(src), withPorts); err != nil {
		return flowSpec{}, fmt.Errorf("flow %q: source: %w", s, err)
	}
	if f.DestinationIp, f.DestinationPort, err = parseEndpoint(strings.TrimSpace(dst), withPorts); err != nil {
		return flowSpec{}, fmt.Errorf("flow %q: destination: %w", s, err)
	}
	return f, nil
}

func parseEndpoint(s string, withPort bool) (string, *int64, error) {
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
	p := int64(port)
	return addr.String(), &p, nil
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
	out, err := srv.evaluate(ctx, flows, *explain)
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	decisions, _ := out.Decisions.Get()
	if len(decisions) != len(flows) {
		return fmt.Errorf("evaluate: %d decisions for %d flows", len(decisions), len(flows))
	}
	for i, d := range decisions {
		fmt.Fprintf(stdout, "%s: %s by %s", fs.Arg(i), d.Action, strings.ReplaceAll(string(d.DecidedBy), "_", " "))
		if d.RuleId != nil && *d.RuleId != "" {
			fmt.Fprintf(stdout, " %s", *d.RuleId)
		}
		if d.PolicyId != nil && *d.PolicyId != "" {
			fmt.Fprintf(stdout, " in policy %s", *d.PolicyId)
		}
		fmt.Fprintf(stdout, " (revision %d)\n", out.Revision)
		path, _ := d.Path.Get()
		for _, st := range path {
			fmt.Fprintf(stdout, "  policy %q (%s): %s", st.PolicyName, st.PolicyId, strings.ReplaceAll(string(st.Outcome), "_", " "))
			if st.RuleId != nil && *st.RuleId != "" {
				fmt.Fprintf(stdout, " by rule %s", *st.RuleId)
			}
			if expired, _ := st.ExpiredRules.Get(); len(expired) > 0 {
				fmt.Fprintf(stdout, "; expired rules that would have matched: %s", strings.Join(expired, ", "))
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}

// evaluate asks the server through the generated client, bounded by
// --timeout, and returns its answer; any status but 200 is an error
// quoting the problem the server sent.
func (c serverFlags) evaluate(ctx context.Context, flows []flowSpec, explain bool) (*apiclient.EvaluateOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, *c.timeout)
	defer cancel()
	token := *c.token
	client, err := apiclient.NewClientWithResponses(strings.TrimRight(*c.base, "/"),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	if err != nil {
		return nil, err
	}
	res, err := client.EvaluateFlowsWithResponse(ctx, *c.firewallID,
		apiclient.EvaluateInput{Flows: nullable.NewNullableWithValue(flows), Explain: &explain})
	if err != nil {
		return nil, err
	}
	if res.JSON200 == nil {
		return nil, fmt.Errorf("%s: %s", res.HTTPResponse.Status, strings.TrimSpace(string(res.Body)))
	}
	return res.JSON200, nil
}
