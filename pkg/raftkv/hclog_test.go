package raftkv

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// recorder is a slog.Handler that keeps every record at or above level.
type recorder struct {
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
	recs  *[]slog.Record
}

func (r recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.recs = append(*r.recs, rec)
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(r.attrs[:len(r.attrs):len(r.attrs)], as...)
	return r
}
func (r recorder) WithGroup(string) slog.Handler { return r }

func attrsOf(rec slog.Record) map[string]string {
	m := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	return m
}

func TestHclog_LevelsAndAttributes(t *testing.T) {
	var recs []slog.Record
	h := newHclog(slog.New(recorder{level: slog.LevelDebug, mu: &sync.Mutex{}, recs: &recs}))
	if h.IsTrace() || !h.IsDebug() || h.GetLevel() != hclog.Debug {
		t.Errorf("IsTrace %v, IsDebug %v, GetLevel %v; want false, true, debug", h.IsTrace(), h.IsDebug(), h.GetLevel())
	}
	h.Trace("hidden")
	h.Debug("d")
	h.Info("i")
	h.Warn("w")
	h.Error("e")
	h.Named("transport").With("peer", 3).Info("named", "servers", hclog.Fmt("%d-%s", 7, "x"))

	want := []struct {
		msg   string
		level slog.Level
	}{{"d", slog.LevelDebug}, {"i", slog.LevelInfo}, {"w", slog.LevelWarn}, {"e", slog.LevelError}, {"named", slog.LevelInfo}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d (trace hidden)", len(recs), len(want))
	}
	for i, w := range want {
		if recs[i].Message != w.msg || recs[i].Level != w.level {
			t.Errorf("record %d: %q at %v, want %q at %v", i, recs[i].Message, recs[i].Level, w.msg, w.level)
		}
	}
	got := attrsOf(recs[4])
	if got["module"] != "transport" || got["peer"] != "3" || got["servers"] != "7-x" {
		t.Errorf("attributes %v, want module=transport peer=3 servers=7-x", got)
	}
}
