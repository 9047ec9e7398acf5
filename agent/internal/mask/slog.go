package mask

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler returns a [slog.Handler] that masks each record's message, its
// attributes' keys and values (within groups too), and passes it on to next.
// A string value is masked as it is; a value of another kind is masked in
// its printed form (fmt.Sprint for values of kind Any, errors by their
// message) and replaced by the masked text only when it held a secret, so
// numbers and times keep their kind otherwise.
//
// Known limitation: a value of kind Any is checked in its fmt.Sprint form,
// so a secret that the next handler would print only in another form (a
// []byte field that JSON writes as base64) passes through.
func (m *Masker) Handler(next slog.Handler) slog.Handler {
	return &handler{m: m, next: next}
}

type handler struct {
	m    *Masker
	next slog.Handler
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.MaskString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.m.maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.m.maskAttr(a)
	}
	return &handler{m: h.m, next: h.next.WithAttrs(masked)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{m: h.m, next: h.next.WithGroup(h.m.MaskString(name))}
}

func (m *Masker) maskAttr(a slog.Attr) slog.Attr {
	a.Key = m.MaskString(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(m.MaskString(v.String()))
	case slog.KindGroup:
		group := v.Group()
		masked := make([]slog.Attr, len(group))
		for i, g := range group {
			masked[i] = m.maskAttr(g)
		}
		a.Value = slog.GroupValue(masked...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			a.Value = slog.AnyValue(m.MaskError(err))
			break
		}
		a.Value = m.maskIfChanged(v, fmt.Sprint(v.Any()))
	default:
		a.Value = m.maskIfChanged(v, v.String())
	}
	return a
}

// maskIfChanged returns v, or the masked form of its text when that holds a
// secret.
func (m *Masker) maskIfChanged(v slog.Value, text string) slog.Value {
	if masked := m.MaskString(text); masked != text {
		return slog.StringValue(masked)
	}
	return v
}
