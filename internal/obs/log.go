package obs

import (
	"io"
	"log/slog"
)

// NewLogger returns the process logger: JSON lines for log collectors in
// production, the more readable text form in development.
func NewLogger(w io.Writer, level slog.Level, production bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if production {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
