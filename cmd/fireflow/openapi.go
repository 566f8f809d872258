package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/fireflow/fireflow/internal/httpapi"
)

// openapiCmd runs "fireflow openapi [--version 3.1|3.0] [--yaml]": it prints
// the OpenAPI document the server serves, for linters and client generators.
func openapiCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	oas := fs.String("version", "3.1", "OpenAPI version: 3.1 (as /openapi.json) or 3.0 (as /openapi-3.0.json)")
	asYAML := fs.Bool("yaml", false, "print YAML instead of JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("openapi: unexpected arguments %q", fs.Args())
	}
	path := map[string]string{"3.1": "/openapi", "3.0": "/openapi-3.0"}[*oas]
	if path == "" {
		return fmt.Errorf("openapi: --version %q: use 3.1 or 3.0", *oas)
	}
	ext := ".json"
	if *asYAML {
		ext = ".yaml"
	}
	doc, err := httpapi.Document(version, path+ext)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}
