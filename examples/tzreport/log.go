package main

import (
	"context"
	"io"
	"log/slog"
)

// splitHandler sends records below Warn to one handler (stdout) and the rest to
// another (stderr), as a batch job's progress and problems are expected.
type splitHandler struct {
	progress slog.Handler
	problems slog.Handler
}

// newSplitHandler returns a handler writing plain key=value lines without a
// timestamp: Ferry stamps each captured line itself.
func newSplitHandler(stdout, stderr io.Writer) *splitHandler {
	opts := &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}
	return &splitHandler{
		progress: slog.NewTextHandler(stdout, opts),
		problems: slog.NewTextHandler(stderr, opts),
	}
}

func (h *splitHandler) pick(level slog.Level) slog.Handler {
	if level >= slog.LevelWarn {
		return h.problems
	}
	return h.progress
}

// Enabled implements slog.Handler.
func (h *splitHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.pick(level).Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *splitHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &splitHandler{progress: h.progress.WithAttrs(attrs), problems: h.problems.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *splitHandler) WithGroup(name string) slog.Handler {
	return &splitHandler{progress: h.progress.WithGroup(name), problems: h.problems.WithGroup(name)}
}
