package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// This file proves the harness: `master -check` passes the real system on
// generated scripts, and fails it, naming the right class of violation,
// when the servers run with a deliberate fault (GOSSIPKV_FAULT, see
// pkg/server/fault.go). `master shrink` and the -stats file are tested here
// too, since they need the same real cluster.

// outcome is what one run of a binary gave.
type outcome struct {
	code           int
	stdout, stderr string
}

// checkCluster writes a config for a cluster on free ports and returns its
// path. Stabilize gives up after a few seconds: a faulty cluster that
// cannot converge fails fast instead of waiting out the default minute.
func checkCluster(t *testing.T, servers, clients int, tune ...func(*config.Config)) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(servers, clients, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timing.StabilizeTimeout = 3 * time.Second
	for _, f := range tune {
		f(cfg)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNothingLeft(t, cfg) })
	return path
}

// runBin runs bin/NAME with args, stdin and the fault (none if empty),
// bounded by scriptTimeout.
func runBin(t *testing.T, bin, name, fault, stdin string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOSSIPKV_FAULT=") })
	if fault != "" {
		cmd.Env = append(cmd.Env, "GOSSIPKV_FAULT="+fault)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v", name, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in %v; stderr:\n%s", name, scriptTimeout, tail(stderr.String(), 30))
	}
	return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// checkLines is what the checker printed.
func checkLines(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "check: ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func generated(t *testing.T, bin string, args ...string) string {
	t.Helper()
	r := runBin(t, bin, "master", "", "", append([]string{"gen"}, args...)...)
	if r.code != 0 {
		t.Fatalf("master gen %v: exit %d\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

// TestHarness builds the binaries once for all its parts.
func TestHarness(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	t.Run("GeneratedSeeds", func(t *testing.T) { testGeneratedSeeds(t, bin) })
	t.Run("GeneratedSeedsLinearizable", func(t *testing.T) { testGeneratedSeedsLinearizable(t, bin) })
	t.Run("GenPipedIntoCheck", func(t *testing.T) { testGenPipedIntoCheck(t, bin) })
	t.Run("CatchesFaults", func(t *testing.T) { testCatchesFaults(t, bin) })
	t.Run("Shrink", func(t *testing.T) { testShrink(t, bin) })
	t.Run("StatsFile", func(t *testing.T) { testStatsFile(t, bin) })
}

// testGeneratedSeeds runs generated scripts of modest size (5
// servers, 300 ops, every fault shape among them) through the real system:
// every line runs and the checker finds nothing wrong.
func testGeneratedSeeds(t *testing.T, bin string) {
	for seed := 1; seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			script := generated(t, bin, "-seed", fmt.Sprint(seed), "-servers", "5", "-clients", "5", "-ops", "300")
			r := runBin(t, bin, "master", "", script, "-check", "-config", checkCluster(t, 5, 5))
			if r.code != 0 || !strings.Contains(r.stderr, "check: ok: ") {
				t.Errorf("exit %d, want 0 and check: ok; stderr:\n%s", r.code, tail(r.stderr, 40))
			}
		})
	}
}

// testGeneratedSeedsLinearizable runs scripts generated for linearizable
// mode (cas among the writes): the history must be linearizable (exit 3
// otherwise). Lines may fail, with ERR_UNAVAILABLE where a server is cut
// off from a quorum, so the exit is 0 or 1. Seed 1 has partitions and
// kills only: it once exposed two Raft groups started by two servers that
// each saw no other. Seed 2 has every kind of fault but skews (pauses,
// dead origins, flapping links, clients reading back). An operation that
// cannot reach a quorum gives up after half a second here, not the
// default two, so that a run stays short.
func testGeneratedSeedsLinearizable(t *testing.T, bin string) {
	short := func(c *config.Config) { c.Timing.RaftTimeout = 500 * time.Millisecond }
	for seed := 1; seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			kinds := "all"
			if seed == 1 {
				kinds = "partition,kill"
			}
			script := generated(t, bin, "-seed", fmt.Sprint(seed), "-servers", "5", "-clients", "5", "-ops", "100", "-fault-kinds", kinds, "-consistency", "linearizable")
			if !strings.Contains(script, "\ncas ") {
				t.Fatalf("the script has no cas:\n%s", script)
			}
			r := runBin(t, bin, "master", "", script, "-check", "-consistency", "linearizable", "-config", checkCluster(t, 5, 5, short))
			if (r.code != 0 && r.code != 1) || !regexp.MustCompile(`(?m)^check: linearizability: linearizable: \d+ operations`).MatchString(r.stderr) {
				t.Errorf("exit %d, want 0 or 1 and a linearizable history; stderr:\n%s", r.code, tail(r.stderr, 40))
			}
		})
	}
}

// testGenPipedIntoCheck is the user's command line, shell pipe and
// all: `master gen -seed 7 | master -check`.
func testGenPipedIntoCheck(t *testing.T, bin string) {
	cfg := checkCluster(t, 5, 5)
	master := filepath.Join(bin, "master")
	r := runBin(t, "/bin", "sh", "", "", "-c", fmt.Sprintf("%q gen -seed 7 | %q -check -config %q", master, master, cfg))
	if r.code != 0 || !regexp.MustCompile(`(?m)^check: ok: \d+ puts`).MatchString(r.stderr) {
		t.Errorf("exit %d, want 0 and a check: ok line; stderr:\n%s", r.code, tail(r.stderr, 30))
	}
}

// testCatchesFaults runs scripts against servers with a deliberate
// bug and expects the checker to fail the run with the violation that bug
// causes. The same scripts pass on the real servers (TestTranscripts runs
// testdata/ with -check, testGeneratedSeeds the seeds).
func testCatchesFaults(t *testing.T, bin string) {
	root := moduleRoot(t)
	testdata := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	seed1 := generated(t, bin, "-seed", "1", "-ops", "300")
	// Seed 1 with the kinds that were the default before deadorigin, flap
	// and readback: the same script as then, whose kills follow puts
	// closely enough to lose the uncommitted ones.
	seed1Four := generated(t, bin, "-seed", "1", "-ops", "300", "-fault-kinds", "partition,kill,skew,pause")
	cases := []struct {
		fault, name, script string
		want                []string // classes the verdict must report
	}{
		// One put in ten is acknowledged and never applied.
		{"drop-writes", "complete_graph", testdata("complete_graph.txt"), []string{"lost-write"}},
		{"drop-writes", "seed1", seed1, []string{"lost-write"}},
		// Gets ignore the client's dependency.
		{"ignore-deps", "err_dep", testdata("err_dep.txt"), []string{"read-your-writes"}},
		{"ignore-deps", "monotonic_reads", testdata("monotonic_reads.txt"), []string{"monotonic-reads"}},
		{"ignore-deps", "seed1", seed1, []string{"read-your-writes"}},
		// Puts are answered before their commit, and a kill follows.
		{"ack-before-commit", "kill_restart", testdata("kill_restart.txt"), []string{"lost-write"}},
		{"ack-before-commit", "seed1-four-kinds", seed1Four, []string{"lost-write"}},
		// The first write of a key to arrive wins, whatever its version.
		{"no-causality", "complete_graph", testdata("complete_graph.txt"), []string{"diverged", "not-converged", "lost-write"}},
		// Writes are issued from the server's clock alone, and a clock
		// runs behind (skewClock): a client's write goes below what it read.
		{"ignore-write-deps", "skew_causal", testdata("skew_causal.txt"), []string{"causality"}},
	}
	for _, c := range cases {
		t.Run(c.fault+"/"+c.name, func(t *testing.T) {
			r := runBin(t, bin, "master", c.fault, c.script, "-check", "-config", checkCluster(t, 5, 5))
			lines := checkLines(r.stderr)
			if r.code != 3 || !strings.Contains(lines, "check: FAIL: ") {
				t.Fatalf("exit %d, want 3 and check: FAIL; the checker said:\n%s", r.code, lines)
			}
			for _, class := range c.want {
				if !regexp.MustCompile(`(?m)^check: line \d+: ` + class + `: `).MatchString(lines) {
					t.Errorf("no %s violation; the checker said:\n%s", class, lines)
				}
			}
		})
	}
}

// testShrink cuts a failing script down: the result is much smaller, still
// fails the same way, and passes on correct servers. The fault drops the
// first put at each server, so the failure does not hang on timing.
func testShrink(t *testing.T, bin string) {
	cfg := checkCluster(t, 5, 5)
	path := filepath.Join(moduleRoot(t), "testdata", "complete_graph.txt")
	// -runs 1: this failure is deterministic, so one run per trial will do.
	r := runBin(t, bin, "master", "drop-writes", "", "shrink", "-runs", "1", "-config", cfg, path)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "# shrunk from ") || !strings.Contains(r.stdout, "lost-write") {
		t.Fatalf("shrink: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 20))
	}
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(l, "#") {
			kept = append(kept, l)
		}
	}
	// The dropped put shows with a server, a client on it, the put, and a
	// stabilize or a read of the key; complete_graph.txt has 23 commands.
	hasPrefix := func(p string) bool {
		return slices.ContainsFunc(kept, func(l string) bool { return strings.HasPrefix(l, p) })
	}
	if len(kept) > 5 || !hasPrefix("put ") {
		t.Errorf("shrunk to %d lines:\n%s", len(kept), r.stdout)
	}
	again := runBin(t, bin, "master", "drop-writes", r.stdout, "-check", "-config", cfg)
	if again.code != 3 {
		t.Errorf("the shrunk script: exit %d, want 3:\n%s", again.code, checkLines(again.stderr))
	}
	clean := runBin(t, bin, "master", "", r.stdout, "-check", "-config", cfg)
	if clean.code != 0 {
		t.Errorf("the shrunk script on correct servers: exit %d:\n%s", clean.code, tail(clean.stderr, 20))
	}
}

// testStatsFile checks the -stats JSON against its contract (the field
// names the benchmark tool reads) and against what the script did.
func testStatsFile(t *testing.T, bin string) {
	cfg := checkCluster(t, 3, 2)
	var b strings.Builder
	b.WriteString("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\njoinClient 4 1\n")
	for i := range 20 {
		fmt.Fprintf(&b, "put %d k%d v%d\n", 3+i%2, i%5, i)
	}
	b.WriteString("stabilize\nget 4 k0\nkillServer 2\nput 3 after kill\njoinServer 2\nstabilize\nget 3 after\n")
	script := b.String()
	var stabLines []int
	for i, l := range strings.Split(script, "\n") {
		if l == "stabilize" {
			stabLines = append(stabLines, i+1)
		}
	}
	statsPath := filepath.Join(t.TempDir(), "stats.json")
	r := runBin(t, bin, "master", "", script, "-check", "-stats", statsPath, "-config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	raw, err := os.ReadFile(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"commands", "errors", "elapsed_s", "commands_per_s", "puts", "puts_per_s", "gets", "gets_per_s",
		"deletes", "put_latency_ms", "get_latency_ms", "delete_latency_ms", "stabilize", "servers", "msgs_per_put", "bytes_per_put",
		"fsyncs_per_put", "cpu", "err_dep", "err_conn", "stale_reads", "check", "linearizability"}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	type lat struct{ P50, P99, Max float64 }
	var st struct {
		Commands, Errors int
		Puts, Gets       int
		PutsPerS         float64 `json:"puts_per_s"`
		PutLatency       lat     `json:"put_latency_ms"`
		GetLatency       lat     `json:"get_latency_ms"`
		Stabilize        []struct {
			Line    int
			Seconds float64
			Polls   int
		}
		Servers map[string]struct {
			Pid       int
			PeakRSSKB int64 `json:"peak_rss_kb"`
			Stats     struct {
				ID   uint64 `json:"id"`
				Puts uint64 `json:"puts"`
			}
		}
		MsgsPerPut struct {
			Total, Writes, Acks float64
		} `json:"msgs_per_put"`
		BytesPerPut  float64 `json:"bytes_per_put"`
		FsyncsPerPut float64 `json:"fsyncs_per_put"`
		CPU          map[string]struct {
			Procs int     `json:"procs"`
			UserS float64 `json:"user_s"`
			SysS  float64 `json:"sys_s"`
		} `json:"cpu"`
		ErrDep  int `json:"err_dep"`
		ErrConn int `json:"err_conn"`
		Check   *struct {
			OK         bool `json:"ok"`
			Violations int  `json:"violations"`
			Counts     struct {
				Puts       int `json:"puts"`
				Gets       int `json:"gets"`
				Stabilizes int `json:"stabilizes"`
			} `json:"counts"`
		} `json:"check"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Commands != strings.Count(script, "\n") || st.Errors != 0 || st.Puts != 21 || st.Gets != 2 || st.PutsPerS <= 0 {
		t.Errorf("commands %d errors %d puts %d gets %d puts/s %v", st.Commands, st.Errors, st.Puts, st.Gets, st.PutsPerS)
	}
	if st.FsyncsPerPut < 1 {
		t.Errorf("fsyncs_per_put %v, want at least one log append per put", st.FsyncsPerPut)
	}
	// The master's own rusage, its 3 watchdogs' (with the servers they
	// reaped) and its 2 clients'.
	for role, procs := range map[string]int{"master": 1, "servers": 3, "clients": 2} {
		if u, ok := st.CPU[role]; !ok || u.Procs != procs || u.UserS+u.SysS <= 0 {
			t.Errorf("cpu %s: %+v (present %v), want %d processes and CPU time", role, u, ok, procs)
		}
	}
	for name, l := range map[string]lat{"put": st.PutLatency, "get": st.GetLatency} {
		if l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
			t.Errorf("%s latency %+v is not 0 < p50 <= p99 <= max", name, l)
		}
	}
	if len(st.Stabilize) != 2 {
		t.Fatalf("stabilize %+v, want 2 entries", st.Stabilize)
	}
	for i, s := range st.Stabilize {
		if s.Line != stabLines[i] || s.Polls < 1 || s.Seconds <= 0 {
			t.Errorf("stabilize %d: %+v, want line %d and at least one poll", i, s, stabLines[i])
		}
	}
	for _, id := range []string{"0", "1", "2"} {
		s, ok := st.Servers[id]
		if !ok || s.Pid <= 0 || s.PeakRSSKB <= 0 || fmt.Sprint(s.Stats.ID) != id {
			t.Errorf("server %s: %+v (present %v)", id, s, ok)
		}
	}
	if c := st.Check; c == nil || !c.OK || c.Violations != 0 || c.Counts.Puts != 21 || c.Counts.Gets != 2 || c.Counts.Stabilizes != 2 {
		t.Errorf("check: %+v, want ok, no violations, 21 puts, 2 gets and 2 stabilizes judged", c)
	}
	if st.MsgsPerPut.Total <= 0 || st.MsgsPerPut.Writes <= 0 || st.MsgsPerPut.Acks <= 0 || st.BytesPerPut <= 0 {
		t.Errorf("per put: %+v, %v bytes", st.MsgsPerPut, st.BytesPerPut)
	}
	for _, w := range []string{"21 puts, ", "puts/s, latency p50", "per put: ", "stale reads", "check: ok: "} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}
