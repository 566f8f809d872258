package obs

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuilder is what the buffer writes out to, read while the flusher
// may write.
type lockedBuilder struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

func TestBufferedLogger(t *testing.T) {
	t.Run("info waits, warn goes out at once with what came before", func(t *testing.T) {
		var out lockedBuilder
		buf := NewLogBuffer(&out, 64<<10, time.Hour)
		log := buf.Logger(slog.LevelInfo, true).With("svc", "test")
		log.Info("request", "status", 200)
		if got := out.String(); got != "" {
			t.Fatalf("an info line was written before any flush: %q", got)
		}
		log.Warn("slow")
		got := out.String()
		if !strings.Contains(got, `"msg":"request"`) || !strings.Contains(got, `"msg":"slow","svc":"test"`) {
			t.Fatalf("after a warning the output is %q, want both lines", got)
		}
		log.Info("last")
		if err := buf.Close(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"msg":"last"`) {
			t.Fatalf("Close did not write out the last line: %q", out.String())
		}
	})
	t.Run("the interval flushes", func(t *testing.T) {
		var out lockedBuilder
		buf := NewLogBuffer(&out, 64<<10, 10*time.Millisecond)
		defer buf.Close()
		buf.Logger(slog.LevelInfo, false).Info("tick")
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "msg=tick") {
			if time.Now().After(deadline) {
				t.Fatal("the line was not written out within 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("a full buffer writes out", func(t *testing.T) {
		var out lockedBuilder
		buf := NewLogBuffer(&out, 4096, time.Hour)
		defer buf.Close()
		log := buf.Logger(slog.LevelInfo, true)
		for range 100 {
			log.Info("request", "pad", strings.Repeat("x", 100))
		}
		if n := strings.Count(out.String(), "\n"); n < 50 {
			t.Fatalf("%d of 100 lines written with a 4 KiB buffer, want most", n)
		}
	})
}
