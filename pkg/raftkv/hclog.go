package raftkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is the slog level of raft's trace lines: below debug, so a
// debug log leaves them out.
const levelTrace = slog.LevelDebug - 4

// hclogger routes raft's hclog lines into a slog.Logger at matching levels.
// The slog handler decides what is shown, so SetLevel does nothing.
type hclogger struct {
	log     *slog.Logger
	name    string
	implied []any
}

var _ hclog.Logger = (*hclogger)(nil)

func newHclog(l *slog.Logger) *hclogger {
	return &hclogger{log: l}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hclogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	h.log.Log(context.Background(), slogLevel(level), msg, plainArgs(args)...)
}

// plainArgs formats the values hclog formats itself (hclog.Fmt), which
// slog would print as a raw slice. args is copied only if one is found.
func plainArgs(args []any) []any {
	out, copied := args, false
	for i, a := range args {
		f, ok := a.(hclog.Format)
		if !ok {
			continue
		}
		if !copied {
			out, copied = slices.Clone(args), true
		}
		if len(f) > 0 {
			if format, ok := f[0].(string); ok {
				out[i] = fmt.Sprintf(format, f[1:]...)
				continue
			}
		}
		out[i] = fmt.Sprint(f...)
	}
	return out
}

func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogger) enabled(l slog.Level) bool { return h.log.Enabled(context.Background(), l) }

func (h *hclogger) IsTrace() bool { return h.enabled(levelTrace) }
func (h *hclogger) IsDebug() bool { return h.enabled(slog.LevelDebug) }
func (h *hclogger) IsInfo() bool  { return h.enabled(slog.LevelInfo) }
func (h *hclogger) IsWarn() bool  { return h.enabled(slog.LevelWarn) }
func (h *hclogger) IsError() bool { return h.enabled(slog.LevelError) }

func (h *hclogger) ImpliedArgs() []any { return h.implied }

func (h *hclogger) With(args ...any) hclog.Logger {
	args = plainArgs(args)
	return &hclogger{log: h.log.With(args...), name: h.name, implied: append(h.implied[:len(h.implied):len(h.implied)], args...)}
}

func (h *hclogger) Name() string { return h.name }

// Named adds name to the logger's name, which its lines carry as
// "module", as hclog's own output does.
func (h *hclogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hclogger) ResetNamed(name string) hclog.Logger {
	return &hclogger{log: h.log.With("module", name), name: name, implied: h.implied}
}

func (h *hclogger) SetLevel(hclog.Level) {}

func (h *hclogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(slogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter logs each line written to it at info.
func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return lineWriter{h}
}

type lineWriter struct{ h *hclogger }

func (w lineWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			w.h.Info(string(line))
		}
	}
	return len(p), nil
}
