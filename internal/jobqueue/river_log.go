package jobqueue

import (
	"context"
	"log/slog"
)

// riverHandler is the log handler River gets: the queue's, with River's
// info records demoted to debug. River logs its routine work at info —
// the client starting and stopping, and every producer's job counts each
// five seconds while jobs run — and info is the level at which an
// operator reads what the server does (executions, not queue
// bookkeeping). Run `sluice serve --log-level debug` to see them; River's
// warnings and errors pass unchanged.
type riverHandler struct {
	slog.Handler
}

// riverLogger wraps log for River.
func riverLogger(log *slog.Logger) *slog.Logger {
	return slog.New(riverHandler{log.Handler()})
}

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

// Enabled implements slog.Handler.
func (h riverHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

// Handle implements slog.Handler.
func (h riverHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h riverHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return riverHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h riverHandler) WithGroup(name string) slog.Handler {
	return riverHandler{h.Handler.WithGroup(name)}
}
