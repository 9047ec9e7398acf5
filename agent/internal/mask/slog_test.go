package mask_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/agent/internal/mask"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type valuer struct{ v string }

func (v valuer) LogValue() slog.Value { return slog.StringValue(v.v) }

func TestHandler(t *testing.T) {
	t.Parallel()
	const pin = "918273645"
	m, _ := mask.New(map[string]string{"PW": pw, "TOKEN": token, "PIN": pin}, 0)
	formats := []struct {
		name string
		make func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	}
	logs := []struct {
		name string
		log  func(*slog.Logger)
		want string // in the output after masking
	}{
		{"message", func(l *slog.Logger) { l.Info("got " + pw) }, "got ***"},
		{"string attr", func(l *slog.Logger) { l.Info("m", slog.String("k", "a "+token)) }, "a ***"},
		{"nested groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("outer", slog.Group("inner", slog.String("k", pw))))
		}, "***"},
		{"error attr", func(l *slog.Logger) {
			l.Info("m", slog.Any("error", fmt.Errorf("dial with %s: %w", pw, context.Canceled)))
		}, "dial with ***: context canceled"},
		{"int attr", func(l *slog.Logger) { l.Info("m", slog.Int("pin", 918273645)) }, "***"},
		{"stringer", func(l *slog.Logger) { l.Info("m", slog.Any("s", stringer{"x" + pw})) }, "x***"},
		{"log valuer", func(l *slog.Logger) { l.Info("m", slog.Any("v", valuer{pw})) }, "***"},
		{"with attrs", func(l *slog.Logger) { l.With("k", pw).Info("m") }, "***"},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("m", "k", pw) }, "***"},
		{"key", func(l *slog.Logger) { l.Info("m", pw, 1) }, "***"},
	}
	for _, f := range formats {
		for _, tt := range logs {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				tt.log(slog.New(m.Handler(f.make(&buf))))
				out := buf.String()
				for _, v := range []string{pw, "hunter2", "918273645", "line2-x"} {
					if strings.Contains(out, v) {
						t.Errorf("output %q holds %q", out, v)
					}
				}
				if !strings.Contains(out, tt.want) {
					t.Errorf("output %q, want it to contain %q", out, tt.want)
				}
			})
		}
	}
}

func TestHandlerKeepsKindsWithoutSecrets(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"PW": pw}, 0)
	var buf bytes.Buffer
	log := slog.New(m.Handler(slog.NewJSONHandler(&buf, nil)))
	log.Info("run claimed", slog.Int("attempt", 3), slog.Bool("ok", true), slog.Any("error", errors.New("plain")))
	want := `"msg":"run claimed","attempt":3,"ok":true,"error":"plain"}`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("output %q, want it to contain %q", buf.String(), want)
	}
	if !log.Handler().Enabled(t.Context(), slog.LevelInfo) || log.Handler().Enabled(t.Context(), slog.LevelDebug) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}
