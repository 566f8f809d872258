package obs

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// RepeatHandler passes log records to the next handler, except that the
// records of a few messages, those repeated once per failed request during
// an outage ("store unavailable"), are aggregated: the first is written in
// full, the next ones within the interval are only counted, and at the end
// of the interval one line with the same message says how many were
// suppressed. A long outage thus writes one line per interval instead of
// one per request. The access log still has a line for every request,
// with its status.
type RepeatHandler struct {
	next  slog.Handler
	state *repeatState // shared with the handlers WithAttrs and WithGroup derive
}

type repeatState struct {
	base     slog.Handler // writes the summaries, without derived attributes
	interval time.Duration
	messages []string

	mu     sync.Mutex
	closed bool
	runs   map[string]*repeatRun
}

// repeatRun is one message's current interval.
type repeatRun struct {
	until      time.Time // the end of the interval; records before it are counted
	level      slog.Level
	suppressed int
	timer      *time.Timer // writes the summary; nil while nothing is counted
}

// NewRepeatHandler aggregates the records of next whose message is one of
// messages over interval.
func NewRepeatHandler(next slog.Handler, interval time.Duration, messages ...string) *RepeatHandler {
	return &RepeatHandler{next: next, state: &repeatState{
		base: next, interval: interval, messages: messages, runs: map[string]*repeatRun{},
	}}
}

// Enabled reports whether the next handler takes records at level.
func (h *RepeatHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle writes r, or counts it if it repeats a message within its interval.
func (h *RepeatHandler) Handle(ctx context.Context, r slog.Record) error {
	if !slices.Contains(h.state.messages, r.Message) || !h.state.admit(r) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs returns a handler that adds attrs, sharing the aggregation.
func (h *RepeatHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &RepeatHandler{next: h.next.WithAttrs(attrs), state: h.state}
}

// WithGroup returns a handler that opens group, sharing the aggregation.
func (h *RepeatHandler) WithGroup(name string) slog.Handler {
	return &RepeatHandler{next: h.next.WithGroup(name), state: h.state}
}

// Flush writes the summaries of the intervals still open, at once; call
// it before the process exits. Later repeats are written in full.
func (h *RepeatHandler) Flush() {
	s := h.state
	s.mu.Lock()
	s.closed = true
	msgs := make([]string, 0, len(s.runs))
	for msg, run := range s.runs {
		if run.timer != nil && run.timer.Stop() {
			msgs = append(msgs, msg)
		}
	}
	s.mu.Unlock()
	for _, msg := range msgs {
		s.summarise(msg)
	}
}

// admit counts r and reports true if it falls inside its message's
// interval; otherwise it opens a new interval and reports false, so that r
// is written.
func (s *repeatState) admit(r slog.Record) (counted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	at := r.Time
	if at.IsZero() {
		at = time.Now()
	}
	run := s.runs[r.Message]
	if run == nil || !at.Before(run.until) {
		s.runs[r.Message] = &repeatRun{until: at.Add(s.interval), level: r.Level}
		return false
	}
	run.suppressed++
	run.level = max(run.level, r.Level)
	if run.timer == nil {
		msg := r.Message
		run.timer = time.AfterFunc(time.Until(run.until), func() { s.summarise(msg) })
	}
	return true
}

// summarise writes how many records of msg its interval suppressed. While
// they keep coming, the next interval starts at once, so that an outage
// writes one line per interval; after a quiet interval, the next record
// is written in full again.
func (s *repeatState) summarise(msg string) {
	s.mu.Lock()
	run := s.runs[msg]
	if run == nil || run.suppressed == 0 {
		s.mu.Unlock()
		return
	}
	n, level := run.suppressed, run.level
	now := time.Now()
	s.runs[msg] = &repeatRun{until: now.Add(s.interval), level: level}
	s.mu.Unlock()
	ctx := context.Background()
	if !s.base.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(now, level, msg, 0)
	rec.AddAttrs(slog.Int("suppressed", n), slog.Duration("interval", s.interval),
		slog.String("note", "more records like this one came in the interval; only the first was written in full"))
	_ = s.base.Handle(ctx, rec) // a summary that cannot be written has nowhere else to go
}
