package server

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"
)

// memberlist's lines reach the server's log at their own level, once each,
// without the bracketed level or memberlist's prefix in the message.
func TestMemberlistLog_Levels(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	ml := log.New(memberlistLog{slog.New(h).With("component", "memberlist")}, "", 0)
	ml.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:4000")
	ml.Printf("[INFO] memberlist: Marking 3 as failed")
	ml.Printf("[WARN] memberlist: Was able to connect to 2 over TCP but UDP probes failed")
	ml.Printf("[ERR] memberlist: Failed to send ping: write: broken pipe")
	ml.Printf("no level at all")
	want := []struct{ level, msg string }{
		{"DEBUG", "Stream connection from=127.0.0.1:4000"},
		{"INFO", "Marking 3 as failed"},
		{"WARN", "Was able to connect to 2 over TCP but UDP probes failed"},
		{"ERROR", "Failed to send ping: write: broken pipe"},
		{"INFO", "no level at all"},
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		var rec struct{ Level, Msg, Component string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if rec.Level != want[i].level || rec.Msg != want[i].msg || rec.Component != "memberlist" {
			t.Errorf("line %d: %+v, want level %s, msg %q, component memberlist", i, rec, want[i].level, want[i].msg)
		}
	}
}

// Lines below the logger's level are dropped.
func TestMemberlistLog_BelowLevel(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	ml := log.New(memberlistLog{slog.New(h)}, "", 0)
	ml.Printf("[DEBUG] memberlist: chatter")
	ml.Printf("[INFO] memberlist: more chatter")
	ml.Printf("[WARN] memberlist: something")
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "level=WARN") || strings.Contains(got, "chatter") {
		t.Errorf("at warn level, got:\n%s", got)
	}
}
