package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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
	return FirewallInput{Name: name, Labels: map[string]string{"env": "prod"}}.domain()
}

// BenchmarkEvaluate10k measures the server-side cost of one 10,000-flow
// evaluate request through the whole handler stack, JSON included.
func BenchmarkEvaluate10k(b *testing.B) {
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
	fw, _, err := svc.CreateFirewall(ctx, newFirewallInput("edge"), service.Idempotency{})
	if err != nil {
		b.Fatal(err)
	}
	pol := PolicyInput{Name: "web", Priority: 10}.domain()
	p, _, err := svc.CreatePolicy(ctx, fw.ID, pol, service.Idempotency{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		r, err := RuleInput{Action: "allow", Protocol: "tcp", Destinations: []string{fmt.Sprintf("192.0.%d.0/24", i)},
			DestinationPorts: []string{fmt.Sprint(i + 1)}}.domain()
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := svc.CreateRule(ctx, fw.ID, p.ID, r, service.Idempotency{}); err != nil {
			b.Fatal(err)
		}
	}
	var body strings.Builder
	body.WriteString(`{"flows":[`)
	for i := range maxFlows {
		if i > 0 {
			body.WriteString(",")
		}
		fmt.Fprintf(&body, `{"protocol":"tcp","source_ip":"10.%d.%d.%d","destination_ip":"192.0.%d.%d","source_port":%d,"destination_port":%d}`,
			i%256, i/256%256, i%7, i%64, i%256, 1024+i, 1+i%100)
	}
	body.WriteString("]}")
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	token := "Bearer " + mintToken(b, "bench", auth.Viewer)
	h := New(svc, Options{Version: "bench", Auth: verifier})
	payload := body.String()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/firewalls/"+fw.ID+"/evaluate", strings.NewReader(payload))
		req.Header.Set("Authorization", token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*maxFlows)/b.Elapsed().Seconds(), "decisions/s")
}
