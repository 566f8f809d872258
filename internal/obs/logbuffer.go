package obs

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// LogBuffer batches log lines in memory and writes them out when the
// buffer fills, every flush interval, and on Close, as nginx's
// "access_log buffer= flush=" does. Writing every access log line with its
// own write(2) was the largest single part of what observation cost a
// request.
// Lines of level warn and above are written at once (see Logger), so what
// a crash can lose is the last interval of info and debug lines.
type LogBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewLogBuffer buffers up to size bytes for w and flushes them at least
// every interval until Close.
func NewLogBuffer(w io.Writer, size int, interval time.Duration) *LogBuffer {
	b := &LogBuffer{
		w:    bufio.NewWriterSize(w, size),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go b.flushEvery(interval)
	return b
}

func (b *LogBuffer) flushEvery(interval time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			_ = b.Flush() // the next tick or Close tries again
		case <-b.stop:
			return
		}
	}
}

// Write adds p to the buffer; slog writes one whole line per call.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *LogBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close stops the periodic flush and writes out what is left. The buffer
// still takes writes afterwards, but only Flush writes them out.
func (b *LogBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

// Logger returns a NewLogger that writes through b, and writes records of
// level warn and above out at once rather than at the next flush.
func (b *LogBuffer) Logger(level slog.Level, production bool) *slog.Logger {
	return slog.New(urgentFlush{Handler: NewLogger(b, level, production).Handler(), buf: b})
}

type urgentFlush struct {
	slog.Handler
	buf *LogBuffer
}

func (u urgentFlush) Handle(ctx context.Context, r slog.Record) error {
	err := u.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := u.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (u urgentFlush) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgentFlush{Handler: u.Handler.WithAttrs(attrs), buf: u.buf}
}

func (u urgentFlush) WithGroup(name string) slog.Handler {
	return urgentFlush{Handler: u.Handler.WithGroup(name), buf: u.buf}
}
