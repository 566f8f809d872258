package obs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer that the summary timer and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestRepeatHandler(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		name    string
		records []struct {
			msg string
			at  time.Duration
		}
		want []string // each line's message and, for a summary, suppressed=N
	}{
		{
			name: "an outage writes the first line and one summary",
			records: []struct {
				msg string
				at  time.Duration
			}{{"store unavailable", 0}, {"store unavailable", time.Millisecond}, {"request", 2 * time.Millisecond},
				{"store unavailable", 3 * time.Millisecond}, {"store unavailable", 4 * time.Millisecond}},
			want: []string{`msg="store unavailable"`, "msg=request", `msg="store unavailable" suppressed=3`},
		},
		{
			name: "other messages all pass",
			records: []struct {
				msg string
				at  time.Duration
			}{{"internal error", 0}, {"internal error", 1}, {"internal error", 2}},
			want: []string{`msg="internal error"`, `msg="internal error"`, `msg="internal error"`},
		},
		{
			name: "a record after the interval is written in full",
			records: []struct {
				msg string
				at  time.Duration
			}{{"not ready", 0}, {"not ready", 2 * time.Hour}, {"not ready", 2*time.Hour + 1}},
			want: []string{`msg="not ready"`, `msg="not ready"`, `msg="not ready" suppressed=1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			h := NewRepeatHandler(slog.NewTextHandler(&out, nil), time.Hour, "store unavailable", "not ready")
			log := slog.New(h).With("component", "api") // derived handlers share the counts
			for _, r := range tt.records {
				rec := slog.NewRecord(t0.Add(r.at), slog.LevelWarn, r.msg, 0)
				rec.AddAttrs(slog.String("request_id", "r1"))
				if err := log.Handler().Handle(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
			}
			h.Flush()
			lines := out.lines()
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.want), strings.Join(lines, "\n"))
			}
			for i, want := range tt.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d: %s\nwant it to contain %s", i+1, lines[i], want)
				}
			}
		})
	}
}

// TestRepeatHandlerSummarisesByItself checks that the summary comes at the
// end of the interval without a Flush, and that the outage's next lines
// are counted into the next summary.
func TestRepeatHandlerSummarisesByItself(t *testing.T) {
	var out syncBuffer
	h := NewRepeatHandler(slog.NewTextHandler(&out, nil), 20*time.Millisecond, "store unavailable")
	log := slog.New(h)
	for range 100 {
		log.Warn("store unavailable", "error", "connection refused")
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(strings.Join(out.lines(), "\n"), "suppressed=") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary line:\n%s", strings.Join(out.lines(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.Flush()
	total := 0
	for _, l := range out.lines() {
		var n int
		if i := strings.Index(l, "suppressed="); i >= 0 {
			if _, err := fmt.Sscan(l[i+len("suppressed="):], &n); err != nil {
				t.Fatalf("summary %q: %v", l, err)
			}
		} else {
			n = 1
		}
		total += n
	}
	if total != 100 {
		t.Errorf("the lines account for %d records, want 100:\n%s", total, strings.Join(out.lines(), "\n"))
	}
}
