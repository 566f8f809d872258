// Command bare is the baseline for the FireFlow GET-by-id benchmark: a plain
// net/http server that answers GET /api/v1/firewalls/{id} with the same JSON
// FireFlow returned for that firewall, held in memory. It does no I/O, no
// validation and no logging, so it is an upper bound for what the HTTP stack
// can do on this machine.
//
// It reads the bodies from -data (one JSON object with an "id" field per
// line), listens on -addr (loopback only; port 0 picks a free port) and
// writes the address it listens on to -addr-file.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type entry struct {
	body []byte
	etag string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	data := flag.String("data", "firewalls.jsonl", "file of firewall JSON bodies, one per line")
	addrFile := flag.String("addr-file", "", "write the listen address to this file")
	flag.Parse()

	store, err := load(*data)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing non-loopback address %q", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}

	srv := &http.Server{
		Handler:           newHandler(store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "bare: serving %d firewalls on http://%s\n", len(store), ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newHandler(store map[string]entry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/firewalls/{id}", func(w http.ResponseWriter, r *http.Request) {
		e, ok := store[r.PathValue("id")]
		if !ok {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"title":"Not Found","status":404}`))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(e.body)))
		h.Set("ETag", e.etag)
		_, _ = w.Write(e.body)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func load(path string) (map[string]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	store := make(map[string]entry)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for line := 1; sc.Scan(); line++ {
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		var head struct {
			ID   string `json:"id"`
			ETag string `json:"etag"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if head.ID == "" {
			return nil, fmt.Errorf("%s:%d: no id", path, line)
		}
		body := append(append([]byte(nil), raw...), '\n') // json.Encoder adds a newline too
		etag := head.ETag
		if etag == "" {
			sum := sha256.Sum256(body)
			etag = hex.EncodeToString(sum[:8])
		}
		store[head.ID] = entry{body: body, etag: strconv.Quote(etag)}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(store) == 0 {
		return nil, fmt.Errorf("%s: no firewalls", path)
	}
	return store, nil
}
