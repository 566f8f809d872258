package httpapi

import (
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/auth"
)

// TestRoutesTableIsServed checks that each line of the routes table is
// served once, under its role.
func TestRoutesTableIsServed(t *testing.T) {
	s := newTestServer(t)
	a := &api{humaAPI: s.api}
	seen := map[string]bool{}
	for _, r := range a.routes() {
		key := r.method + " " + r.path
		if seen[key] {
			t.Errorf("route %s is in the table twice", key)
		}
		seen[key] = true
		op := documented(s.api.OpenAPI(), r.method, r.path)
		if got, _ := op.Metadata[roleKey].(auth.Role); got != r.role {
			t.Errorf("route %s needs role %q in the table, %q when served", key, r.role, got)
		}
	}
}

// TestHumaErrorsArePerAPI checks that building an API leaves huma's
// process-wide error constructor alone: two APIs in one process cannot
// change each other's errors.
func TestHumaErrorsArePerAPI(t *testing.T) {
	newTestServer(t)
	if _, ok := huma.NewError(http.StatusBadRequest, "x").(*huma.ErrorModel); !ok {
		t.Errorf("huma.NewError was replaced process-wide; it returns %T", huma.NewError(http.StatusBadRequest, "x"))
	}
}
