package main

import (
	"context"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*file == "") == (*srv.firewallID == "") || fs.NArg() > 0 {
		return errors.New("usage: fireflow export (--url URL --firewall ID | --file tree.json) [--format nftables|iptables|ip6tables] [--hook forward|input|output] [--stateful] [--merge]")
	}
	opt, err := export.ParseOptions(*format, *hook, strconv.FormatBool(*stateful), strconv.FormatBool(*merge))
	if err != nil {
		return err
	}
	if *file != "" {
		return exportFile(*file, opt, stdout)
	}
	q := url.Values{"format": {*format}, "hook": {*hook}, "stateful": {strconv.FormatBool(*stateful)}, "merge": {strconv.FormatBool(*merge)}}
	body, err := srv.call(ctx, http.MethodGet, "export", q, "", nil)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = stdout.Write(body)
	return err
}

func exportFile(path string, opt export.Options, stdout io.Writer) error {
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
	_, err = stdout.Write(res.Text)
	return err
}
