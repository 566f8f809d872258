package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
)

const usage = `usage: fireflow <command> [flags]

commands:
  serve                 serve the API (default database: sqlite:./data/fireflow.db)
  migrate up|down|status|version
                        manage the database schema
  token --sub NAME [--role admin|editor|viewer] [--ttl 24h]
                        print a bearer token signed with the HS256 secret
  evaluate --url URL --firewall ID [--explain] "tcp 10.0.0.1:1234 -> 10.0.0.2:443" ...
                        ask a server what the firewall does with flows
  analyze (--url URL --firewall ID | --file TREE.json) [--fail-on unreachable] [--json]
                        report unreachable, redundant and conflicting rules; exit 1 on findings
  import --url URL --firewall ID --format iptables|ip6tables|nftables [--chain NAME] [--apply] -f FILE
                        read iptables-save or nft -j output into an empty firewall (a dry run without --apply)
  export (--url URL --firewall ID | --file tree.json) [--format nftables|iptables|ip6tables] [--hook H] [--stateful] [--merge]
                        print a firewall as a ruleset nft -f or *tables-restore loads
  apply -f tree.json|tree.yaml --url URL --firewall ID [--dry-run]
                        make a firewall's whole tree equal the file (ids kept by id, else name)
  get tree --url URL --firewall ID [--output json|yaml]
                        print a firewall's whole tree as one document
  healthcheck [--addr :8080] [--timeout 3s]
                        exit non-zero unless the local server's /healthz answers 200
  openapi [--version 3.1|3.0] [--yaml]
                        print the OpenAPI document the server serves
  version               print the version

Run "fireflow <command> -h" for the flags of a command.
`

// run is the whole program: main only wires it to the process, so that
// tests can run a real server in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "evaluate":
		return evaluate(ctx, rest, getenv, stdout, stderr)
	case "analyze":
		return analyze(ctx, rest, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, rest, getenv, stdout, stderr)
	case "export":
		return exportCmd(ctx, rest, getenv, stdout, stderr)
	case "apply":
		return applyCmd(ctx, rest, getenv, stdout, stderr)
	case "get":
		return getCmd(ctx, rest, getenv, stdout, stderr)
	case "token":
		return token(rest, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stdout, stderr)
	case "openapi":
		return openapiCmd(rest, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "fireflow %s (commit %s, built %s, %s)\n", version, commit, date, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
