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
)

// importAnswer is the part of the import endpoint's answer the CLI prints.
type importAnswer struct {
	Applied       bool   `json:"applied"`
	Revision      int64  `json:"revision"`
	StartChain    string `json:"start_chain"`
	DefaultAction string `json:"default_action"`
	PolicyCount   int    `json:"policy_count"`
	RuleCount     int    `json:"rule_count"`
	Policies      []struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		Priority      int    `json:"priority"`
		DefaultAction string `json:"default_action"`
		Rules         []struct {
			Position          int        `json:"position"`
			Action            string     `json:"action"`
			Protocol          string     `json:"protocol"`
			Sources           []string   `json:"sources"`
			Destinations      []string   `json:"destinations"`
			SourcePorts       []string   `json:"source_ports"`
			DestinationPorts  []string   `json:"destination_ports"`
			SourceGroups      []namedRef `json:"source_groups"`
			DestinationGroups []namedRef `json:"destination_groups"`
			Description       string     `json:"description"`
		} `json:"rules"`
	} `json:"policies"`
	Groups []struct {
		Set           string   `json:"set"`
		Action        string   `json:"action"`
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		Addresses     []string `json:"addresses"`
		MembersDiffer bool     `json:"members_differ"`
	} `json:"groups"`
	Skipped []importStatement `json:"skipped"`
	Ignored []importStatement `json:"ignored"`
}

type namedRef struct {
	Name string `json:"name"`
}

func refNames(refs []namedRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = "@" + r.Name
	}
	return out
}

type importStatement struct {
	Line   int    `json:"line"`
	Handle int64  `json:"handle"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

func (s importStatement) where() string {
	switch {
	case s.Line > 0:
		return fmt.Sprintf("line %d", s.Line)
	case s.Handle > 0:
		return fmt.Sprintf("%s %s handle %d", s.Table, s.Chain, s.Handle)
	}
	return s.Text
}

// importCmd runs "fireflow import --url URL --firewall ID --format F [--chain C] [--apply] -f FILE".
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	srv := addServerFlags(fs, getenv, "editor", "http://localhost:8080", 2*time.Minute)
	format := fs.String("format", "", "iptables, ip6tables or nftables (required)")
	chain := fs.String("chain", "", "the chain to start from (iptables: FORWARD by default; nftables: the forward base chain)")
	file := fs.String("f", "", "the ruleset: iptables-save output, or nft -j list ruleset JSON; - reads stdin (required)")
	apply := fs.Bool("apply", false, "create the policies and rules; without it the import is a dry run")
	partial := fs.Bool("partial", false, "with --apply, import even when some statements cannot be imported faithfully")
	groups := fs.String("groups", "", "nftables: when an address group has a named set's name but other members: fail (default), reuse, rename, or inline (make no groups)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *srv.firewallID == "" || *format == "" || *file == "" || fs.NArg() > 0 {
		return errors.New("usage: fireflow import --url URL --firewall ID --format iptables|ip6tables|nftables [--chain NAME] [--groups fail|reuse|rename|inline] [--apply [--partial]] -f FILE")
	}
	contentType := "text/plain"
	switch *format {
	case "iptables", "ip6tables":
	case "nftables":
		contentType = "application/json"
	default:
		return fmt.Errorf("--format %q: use iptables, ip6tables or nftables", *format)
	}
	body, err := readInput(*file)
	if err != nil {
		return err
	}
	q := url.Values{"format": {*format}, "apply": {fmt.Sprint(*apply)}, "partial": {fmt.Sprint(*partial)}}
	if *chain != "" {
		q.Set("chain", *chain)
	}
	if *groups != "" {
		q.Set("groups", *groups)
	}
	answer, err := srv.call(ctx, http.MethodPost, "import", q, contentType, body)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var out importAnswer
	if err := json.Unmarshal(answer, &out); err != nil {
		return fmt.Errorf("import: unexpected answer: %.200s", answer)
	}
	printImport(stdout, &out)
	return nil
}

func readInput(file string) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read ruleset: %w", err)
	}
	return b, nil
}

func printImport(w io.Writer, out *importAnswer) {
	verb := "would create"
	if out.Applied {
		verb = "created"
	}
	fmt.Fprintf(w, "from chain %s: %s %d policies and %d rules", out.StartChain, verb, out.PolicyCount, out.RuleCount)
	if out.Applied {
		fmt.Fprintf(w, " (revision %d)", out.Revision)
	}
	fmt.Fprintln(w)
	if out.DefaultAction != "" {
		fmt.Fprintf(w, "firewall default: %s\n", out.DefaultAction)
	}
	for _, g := range out.Groups {
		fmt.Fprintf(w, "address group %q for set @%s: %s", g.Name, g.Set, g.Action)
		if g.ID != "" {
			fmt.Fprintf(w, " (%s)", g.ID)
		}
		if g.MembersDiffer {
			fmt.Fprint(w, ", ITS MEMBERS DIFFER FROM THE SET'S")
		}
		fmt.Fprintf(w, ": %s\n", strings.Join(g.Addresses, ","))
	}
	for _, p := range out.Policies {
		fmt.Fprintf(w, "policy %q priority %d default %s", p.Name, p.Priority, p.DefaultAction)
		if p.ID != "" {
			fmt.Fprintf(w, " (%s)", p.ID)
		}
		fmt.Fprintln(w)
		for _, r := range p.Rules {
			fmt.Fprintf(w, "  %d %s %s", r.Position, r.Action, r.Protocol)
			for _, f := range []struct {
				name string
				vals []string
			}{{"from", append(r.Sources, refNames(r.SourceGroups)...)}, {"to", append(r.Destinations, refNames(r.DestinationGroups)...)},
				{"sport", r.SourcePorts}, {"dport", r.DestinationPorts}} {
				if len(f.vals) > 0 {
					fmt.Fprintf(w, " %s %s", f.name, strings.Join(f.vals, ","))
				}
			}
			fmt.Fprintf(w, "  # %s\n", r.Description)
		}
	}
	for _, s := range out.Skipped {
		fmt.Fprintf(w, "NOT IMPORTED %s: %s\n    %s\n", s.where(), s.Reason, s.Text)
	}
	for _, s := range out.Ignored {
		fmt.Fprintf(w, "ignored %s: %s\n", s.where(), s.Reason)
	}
	if !out.Applied {
		fmt.Fprintln(w, "dry run: nothing was written; pass --apply to create them")
	}
}
