package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/analysis"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/httpapi"
)

// errFindings is returned (exit status 1) when findings reach --fail-on.
var errFindings = errors.New("findings at or above the --fail-on severity")

// analyze runs "fireflow analyze (--url URL --firewall ID | --file TREE.json)":
// the analysis of a firewall on a server, or offline of a tree document,
// printed as text or JSON. It fails when a finding is at or above --fail-on,
// so that a pipeline stops on a shadowed rule.
func analyze(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	srv := addServerFlags(fs, getenv, "viewer", "", 60*time.Second)
	file := fs.String("file", "", "a tree document (JSON: the firewall's fields, policies, their rules) to analyse offline; - for stdin")
	kinds := fs.String("kinds", "", "comma-separated kinds of findings to report (default: all)")
	within := fs.Int("expiring-within", 30, "days ahead in which an expiry makes a rule expiring")
	failOn := fs.String("fail-on", "unreachable", "exit 1 when a finding is at or above this severity (error, warning, info), or that of this kind; none never fails")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	threshold, err := failThreshold(*failOn)
	if err != nil {
		return err
	}
	if *within < 0 {
		return errors.New("--expiring-within must be 0 or more days")
	}
	var out httpapi.AnalysisOutput
	switch {
	case *file != "" && *srv.base == "" && *srv.firewallID == "":
		out, err = analyzeFile(*file, *kinds, *within)
	case *file == "" && *srv.base != "" && *srv.firewallID != "":
		out, err = analyzeRemote(ctx, srv, *kinds, *within)
	default:
		return errors.New("usage: fireflow analyze (--url URL --firewall ID | --file TREE.json) [--kinds K,...] [--expiring-within DAYS] [--fail-on SEVERITY|KIND|none] [--json]")
	}
	if err != nil {
		return err
	}
	if err := printReport(stdout, out, *asJSON); err != nil {
		return err
	}
	failing := 0
	for _, f := range out.Findings {
		if threshold > 0 && analysis.Severity(f.Severity).Rank() >= threshold {
			failing++
		}
	}
	if failing > 0 {
		return fmt.Errorf("%d %w (%s)", failing, errFindings, *failOn)
	}
	return nil
}

// failThreshold reads --fail-on: a severity, a kind (its severity) or none
// (0: never fail).
func failThreshold(s string) (int, error) {
	if s == "none" {
		return 0, nil
	}
	if r := analysis.Severity(s).Rank(); r > 0 {
		return r, nil
	}
	if k := analysis.Kind(s); k.Valid() {
		return k.Severity().Rank(), nil
	}
	return 0, fmt.Errorf("--fail-on %q: use error, warning, info, a kind such as unreachable, or none", s)
}

func parseKindList(s string) ([]analysis.Kind, error) {
	var out []analysis.Kind
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if !analysis.Kind(part).Valid() {
			return nil, fmt.Errorf("--kinds: %q is not a kind of finding", part)
		}
		out = append(out, analysis.Kind(part))
	}
	return out, nil
}

// analyzeFile analyses a tree document offline, with the same code the
// server runs.
func analyzeFile(path, kinds string, within int) (httpapi.AnalysisOutput, error) {
	ks, err := parseKindList(kinds)
	if err != nil {
		return httpapi.AnalysisOutput{}, err
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return httpapi.AnalysisOutput{}, fmt.Errorf("analyze: %w", err)
		}
		defer f.Close()
		r = f
	}
	tree, err := httpapi.DecodeTreeDocument(r)
	if err != nil {
		return httpapi.AnalysisOutput{}, fmt.Errorf("analyze %s: %w", path, describeProblems(err))
	}
	m, err := analysis.New(tree, time.Now())
	if err != nil {
		return httpapi.AnalysisOutput{}, fmt.Errorf("analyze %s: %w", path, err)
	}
	rep, err := m.Findings(analysis.Options{Kinds: ks, ExpiringWithin: time.Duration(within) * 24 * time.Hour})
	if err != nil {
		return httpapi.AnalysisOutput{}, fmt.Errorf("analyze %s: %w", path, err)
	}
	return httpapi.AnalysisOutputOf(tree.Firewall.ID, rep), nil
}

// describeProblems spells out each field problem of a validation error.
func describeProblems(err error) error {
	var b strings.Builder
	b.WriteString(err.Error())
	var fe *firewall.Error
	if errors.As(err, &fe) {
		for _, p := range fe.Problems {
			fmt.Fprintf(&b, "\n  %s: %s", p.Location, p.Message)
		}
	}
	return errors.New(b.String())
}

// analyzeRemote asks a server for the analysis of a firewall.
func analyzeRemote(ctx context.Context, srv serverFlags, kinds string, within int) (httpapi.AnalysisOutput, error) {
	if _, err := parseKindList(kinds); err != nil {
		return httpapi.AnalysisOutput{}, err
	}
	q := url.Values{"expiring_within": {fmt.Sprint(within)}}
	if kinds != "" {
		q.Set("kinds", kinds)
	}
	body, err := srv.call(ctx, http.MethodGet, "analysis", q, "", nil)
	if err != nil {
		return httpapi.AnalysisOutput{}, fmt.Errorf("analyze: %w", err)
	}
	var out httpapi.AnalysisOutput
	if err := json.Unmarshal(body, &out); err != nil {
		return httpapi.AnalysisOutput{}, fmt.Errorf("analyze: unexpected answer: %.200s", body)
	}
	return out, nil
}

func printReport(w io.Writer, out httpapi.AnalysisOutput, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "firewall %s, revision %d: %d findings\n", out.FirewallID, out.Revision, len(out.Findings))
	for _, f := range out.Findings {
		fmt.Fprintf(w, "%-7s %-18s %s\n", f.Severity, f.Kind, f.Message)
		if f.Example != nil {
			fl, d := f.Example.Flow, f.Example.Decision
			fmt.Fprintf(w, "        example: %s -> %s by %s %s\n", flowText(fl), d.Action, strings.ReplaceAll(d.DecidedBy, "_", " "), d.RuleID)
		}
	}
	if out.ConflictsTotal > 0 {
		fmt.Fprintf(w, "%d conflicts in all\n", out.ConflictsTotal)
	}
	return nil
}

// flowText writes a flow as the evaluate command reads it.
func flowText(f httpapi.Flow) string {
	if f.SourcePort == nil || f.DestinationPort == nil {
		return fmt.Sprintf("%s %s -> %s", f.Protocol, f.SourceIP, f.DestinationIP)
	}
	host := func(ip string) string {
		if strings.Contains(ip, ":") {
			return "[" + ip + "]"
		}
		return ip
	}
	return fmt.Sprintf("%s %s:%d -> %s:%d", f.Protocol, host(f.SourceIP), *f.SourcePort, host(f.DestinationIP), *f.DestinationPort)
}
