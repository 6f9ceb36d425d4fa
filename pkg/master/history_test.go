package master

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/check"
	"gossipkv/pkg/histfile"
	"gossipkv/pkg/model"
	"gossipkv/pkg/runstats"
)

// TestRun_Check_HistoryFiles runs a partition with a stale read on the
// fake cluster: put on one side, get on the other. The history file reads
// back with every client operation timed inside its script command and in
// script order, the visualization is written, and the linearizability
// verdict names the key.
func TestRun_Check_HistoryFiles(t *testing.T) {
	cfg := testConfig(t, 2, 2)
	startFakeCluster(t, cfg)
	dir := t.TempDir()
	hist, html, stats := filepath.Join(dir, "h.jsonl"), filepath.Join(dir, "h.html"), filepath.Join(dir, "stats.json")
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinClient 2 0", "joinClient 3 1",
		"breakConnection 0 1",
		"put 2 k v",
		"get 3 k",
		"delete 2 gone",
	), func(o *Options) {
		o.Check, o.HistoryFile, o.HistoryHTMLFile, o.StatsFile = true, hist, html, stats
	})
	// The fake acknowledges writes without versions (a phantom to the
	// checker): exit 3 comes from that, not from linearizability. It has
	// no delete, so the delete fails: a write of unknown outcome.
	if r.code != ExitCheck {
		t.Errorf("exit %d, want %d", r.code, ExitCheck)
	}
	checkStderr(t, r.stderr, `check: linearizability, reported only: NOT linearizable (1 of 2 keys): key "k": `,
		`line 6: client 2 at server 0: put("k", "v"); line 7: client 3 at server 1: get("k") -> absent cannot come next`)

	h, err := histfile.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	ops := []check.Op{check.Start, check.Start, check.Cut, check.Put, check.Get, check.Delete}
	if len(h) != len(ops) {
		t.Fatalf("history has %d events, want %d: %v", len(h), len(ops), h)
	}
	var last time.Duration
	for i, e := range h {
		if e.Op != ops[i] {
			t.Errorf("event %d: %v, want %v", i, e.Op, ops[i])
		}
		// Every event takes some time on the monotonic clock, and none
		// overlaps the one before: the script runs a command at a time.
		if e.Call < last || e.Return <= e.Call {
			t.Errorf("event %d (%v): call %v return %v, after %v", i, e, e.Call, e.Return, last)
		}
		last = e.Return
	}
	if d := h[5]; d.Status != check.Unreachable || !d.OutcomeUnknown() {
		t.Errorf("delete: %v", d)
	}
	if g := h[4]; g.Client != 3 || g.Server != 1 || string(g.Key) != "k" || g.Status != check.NoKey || g.Line != 7 {
		t.Errorf("get: %v", g)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<html")) || !bytes.Contains(b, []byte(`get(\"k\")`)) {
		t.Errorf("%s is not the visualization of the run (%d bytes)", html, len(b))
	}
	st, err := runstats.Read(stats)
	if err != nil {
		t.Fatal(err)
	}
	l := st.Linearizability
	if l == nil || l.Result != "not linearizable" || l.Required || l.Key != "k" || l.Line != 7 || l.FailedKeys != 1 || l.Keys != 2 {
		t.Errorf("stats linearizability %+v", l)
	}
}

// staleRead is a history that the eventual model accepts (the get runs on
// the other side of a cut) and that is not linearizable.
func staleRead() check.History {
	ms := time.Millisecond
	v := model.Version{Wall: 100, Origin: 0}
	return check.History{
		{Op: check.Start, Line: 1, Server: 0, Fresh: true, Call: 0, Return: ms},
		{Op: check.Start, Line: 2, Server: 1, Fresh: true, Call: ms, Return: 2 * ms},
		{Op: check.Cut, Line: 3, Server: 0, Peer: 1, Call: 2 * ms, Return: 3 * ms},
		{Op: check.Put, Line: 4, Client: 2, Server: 0, Key: []byte("k"), Value: []byte("v"), Status: check.OK, Version: v,
			Call: 4 * ms, Return: 5 * ms},
		{Op: check.Get, Line: 5, Client: 3, Server: 1, Key: []byte("k"), Status: check.NoKey, Call: 6 * ms, Return: 7 * ms},
	}
}

// TestFinish_RequireLinearizable: the same verdict is reported only, or
// fails the run when linearizability is required.
func TestFinish_RequireLinearizable(t *testing.T) {
	for _, required := range []bool{false, true} {
		var stderr bytes.Buffer
		cfg := testConfig(t, 2, 2)
		m := newMaster(Options{Config: cfg, Check: true, RequireLinearizable: required, Stdout: &bytes.Buffer{}, Stderr: &stderr})
		m.hist.events = staleRead()
		code := m.finish(context.Background(), ExitOK, time.Second)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last, linzLine := lines[len(lines)-1], lines[len(lines)-2]
		if !required {
			if code != ExitOK || !strings.HasPrefix(last, "check: ok: ") ||
				!strings.HasPrefix(linzLine, `check: linearizability, reported only: NOT linearizable (1 of 1 keys): key "k": `) {
				t.Errorf("not required: exit %d, stderr:\n%s", code, stderr.String())
			}
			continue
		}
		if code != ExitCheck || !strings.HasPrefix(last, "check: FAIL: not linearizable; 1 puts") ||
			!strings.HasPrefix(linzLine, `check: linearizability: NOT linearizable (1 of 1 keys): key "k": `) {
			t.Errorf("required: exit %d, stderr:\n%s", code, stderr.String())
		}
	}
}

func TestFailLinearizability(t *testing.T) {
	for in, want := range map[string]string{
		"check: ok: 3 puts (0 failed)":                        "check: FAIL: not linearizable; 3 puts (0 failed)",
		"check: FAIL: 2 violations (2 phantom); 3 puts (0 f)": "check: FAIL: not linearizable, 2 violations (2 phantom); 3 puts (0 f)",
	} {
		if got := failLinearizability(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestRun_Check_LinearizableRun: a run without a stale read is reported
// linearizable, and the stats say so.
func TestRun_Check_LinearizableRun(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	stats := filepath.Join(t.TempDir(), "stats.json")
	r := runScript(t, cfg, lines("joinServer 0", "joinClient 1 0", "get 1 k", "put 1 k v", "get 1 k"), func(o *Options) {
		o.Check, o.StatsFile = true, stats
	})
	checkStderr(t, r.stderr, "check: linearizability, reported only: linearizable: 3 operations on 1 keys")
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Linearizability map[string]any `json:"linearizability"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Linearizability["result"] != "linearizable" || st.Linearizability["ops"] != 3.0 {
		t.Errorf("stats linearizability %v", st.Linearizability)
	}
}
