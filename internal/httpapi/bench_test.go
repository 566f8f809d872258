package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// BenchmarkGetFirewall measures the server-side cost of GET-by-id through
// the whole handler stack and SQLite, without the network.
func BenchmarkGetFirewall(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := service.New(db)
	var ids []string
	for i := range 100 {
		f := newFirewallInput(fmt.Sprintf("fw-%03d", i))
		created, _, err := svc.CreateFirewall(ctx, f, service.Idempotency{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, created.ID)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	token := "Bearer " + mintToken(b, "bench", auth.Viewer)
	h := New(svc, Options{Version: "bench", Auth: verifier})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/firewalls/"+ids[i%len(ids)], nil)
			req.Header.Set("Authorization", token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			i++
		}
	})
}

func newFirewallInput(name string) firewall.Firewall {
	f, _ := FirewallInput{Name: name, Labels: map[string]string{"env": "prod"}}.domain()
	return f
}
