package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/fireflow/fireflow/internal/auth"
)

// Document returns the OpenAPI document exactly as a server of this version
// serves it: path is "/openapi.json" (OpenAPI 3.1), "/openapi-3.0.json",
// or either's ".yaml". It needs no store and no listener, so that lint,
// client generation and their staleness tests work from the binary alone.
func Document(version, path string) ([]byte, error) {
	h, _, _ := build(nil, Options{Version: version, Auth: noTokens{}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("openapi document %s: status %d", path, rec.Code)
	}
	return rec.Body.Bytes(), nil
}

// noTokens refuses every token: Document serves only the document.
type noTokens struct{}

func (noTokens) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, errors.New("no tokens are accepted here")
}
