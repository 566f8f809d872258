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
	"strconv"
	"time"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/httpapi"
)

// exportCmd prints a firewall as a ruleset: from a server (--url,
// --firewall) or offline from a tree document (--file).
func exportCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	srv := addServerFlags(fs, getenv, "viewer", "http://localhost:8080", 60*time.Second)
	file := fs.String("file", "", "render a tree document (JSON) offline instead of asking a server")
	format := fs.String("format", "nftables", "nftables, iptables or ip6tables")
	hook := fs.String("hook", "forward", "the base chain's hook: forward, input or output")
	stateful := fs.Bool("stateful", false, "accept established and related traffic before any rule")
	merge := fs.Bool("merge", false, "nftables: join consecutive rules of the same shape into sets and concatenations")
	ipsetFile := fs.String("ipset-file", "", "iptables, ip6tables: render address groups as ipsets matched with -m set, write their definitions (ipset restore input) to this file, and the ruleset to stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*file == "") == (*srv.firewallID == "") || fs.NArg() > 0 {
		return errors.New("usage: fireflow export (--url URL --firewall ID | --file tree.json) [--format nftables|iptables|ip6tables] [--hook forward|input|output] [--stateful] [--merge] [--ipset-file FILE]")
	}
	opt, err := export.ParseOptions(*format, *hook, strconv.FormatBool(*stateful), strconv.FormatBool(*merge))
	if err == nil && *ipsetFile != "" {
		err = export.ParseIPSet(&opt, "true")
	}
	if err != nil {
		return err
	}
	if *file != "" {
		return exportFile(*file, opt, *ipsetFile, stdout)
	}
	q := url.Values{"format": {*format}, "hook": {*hook}, "stateful": {strconv.FormatBool(*stateful)}, "merge": {strconv.FormatBool(*merge)}}
	if opt.IPSet {
		q.Set("ipset", "true")
	}
	body, err := srv.call(ctx, http.MethodGet, "export", q, "", nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if opt.IPSet {
		var both httpapi.ExportWithIPSets
		if err := json.Unmarshal(body, &both); err != nil {
			return fmt.Errorf("export: unexpected answer: %.200s", body)
		}
		return writeExport(stdout, []byte(both.Ruleset), *ipsetFile, []byte(both.IPSets))
	}
	_, err = stdout.Write(body)
	return err
}

// writeExport writes the ipsets, when asked for, to their file before the
// ruleset to stdout, so that a failed write leaves no ruleset to load
// without its sets.
func writeExport(stdout io.Writer, ruleset []byte, ipsetFile string, ipsets []byte) error {
	if ipsetFile != "" {
		if err := os.WriteFile(ipsetFile, ipsets, 0o644); err != nil {
			return fmt.Errorf("export: write the ipsets: %w", err)
		}
	}
	_, err := stdout.Write(ruleset)
	return err
}

func exportFile(path string, opt export.Options, ipsetFile string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	tree, err := httpapi.DecodeTreeDocument(f)
	if err != nil {
		return fmt.Errorf("export: read %s: %w", path, err)
	}
	res, err := export.Render(&tree, opt)
	if err != nil {
		return err
	}
	return writeExport(stdout, res.Text, ipsetFile, res.IPSets)
}
