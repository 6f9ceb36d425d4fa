package master

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/check"
	"gossipkv/pkg/runstats"
)

func TestPeakRSS_OwnProcess(t *testing.T) {
	kb, ok := peakRSS(os.Getpid())
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here")
	}
	if !ok || kb <= 0 {
		t.Errorf("peakRSS(self) = %d, %v", kb, ok)
	}
	if _, ok := peakRSS(-1); ok {
		t.Error("peakRSS of no process succeeded")
	}
}

func TestMetrics_CountersSurviveRestarts(t *testing.T) {
	mt := newMetrics()
	mt.started(0, 100)
	mt.server(0).cur = api.StatsReply{Puts: 5, Batches: 7, Fsyncs: 9}
	mt.started(0, 200) // killed and started again: its counters start over
	mt.server(0).cur = api.StatsReply{Puts: 2, Batches: 3, Fsyncs: 6}
	m := &master{met: mt, cfg: testConfig(t, 1, 1)}
	mt.puts.ok = 10
	st := m.stats(time.Second, 0)
	if st.MsgsPerPut.Total != 1.0 {
		t.Errorf("msgs per put %v, want (7+3)/10", st.MsgsPerPut.Total)
	}
	if st.FsyncsPerPut != 1.5 {
		t.Errorf("fsyncs per put %v, want (9+6)/10", st.FsyncsPerPut)
	}
	if s := st.Servers["0"]; s.Pid != 200 {
		t.Errorf("server 0 pid %d, want the newest", s.Pid)
	}
}

func TestRun_StatsFile_FromTheRun(t *testing.T) {
	cfg := testConfig(t, 2, 1)
	startFakeCluster(t, cfg)
	path := filepath.Join(t.TempDir(), "stats.json")
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinClient 2 0",
		"put 2 a 1", "put 2 b 2", "get 2 a", "get 2 nope",
		"stabilize",
	), func(o *Options) { o.StatsFile = path })
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st runstats.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Commands != 8 || st.Puts != 2 || st.Gets != 2 || len(st.Stabilize) != 1 || st.Stabilize[0].Line != 8 {
		t.Errorf("stats %+v", st)
	}
	// The fake replicates one write per Status call: stabilize polls more
	// than once.
	if st.Stabilize[0].Polls < 2 {
		t.Errorf("stabilize polls %d, want at least 2", st.Stabilize[0].Polls)
	}
	if _, ok := st.Servers["1"]; !ok {
		t.Errorf("servers %v lack 1", st.Servers)
	}
	checkStderr(t, r.stderr, "2 puts, ", "2 gets, ", "stale reads: counted with -check")
}

func TestRun_Check_FailingVerdictExits3(t *testing.T) {
	// The fake acknowledges and dumps puts without a version, which no
	// correct server does: the checker must say so, and exit 3 must win
	// over the bad line's exit 1.
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	var got *check.Verdict
	r := runScript(t, cfg, lines("joinServer 0", "joinClient 1 0", "put 1 a 1", "stablize", "stabilize"), func(o *Options) {
		o.Check = true
		o.OnVerdict = func(v check.Verdict) { got = &v }
	})
	if r.code != ExitCheck {
		t.Errorf("exit %d, want %d", r.code, ExitCheck)
	}
	if got == nil || got.OK() || got.ByClass[check.Phantom] != 2 || got.Counts.Stabilizes != 1 {
		t.Fatalf("verdict %+v", got)
	}
	checkStderr(t, r.stderr, "check: line 3: phantom: client 1's put of \"a\" was acknowledged without a version",
		"check: line 5: phantom: server 0 has \"a\"=\"1\" at v0", "check: FAIL: 2 violations (2 phantom)")
	// The verdict is the last line.
	if last := strings.TrimSpace(r.stderr[strings.LastIndex(strings.TrimSpace(r.stderr), "\n")+1:]); !strings.HasPrefix(last, "check: FAIL") {
		t.Errorf("last stderr line %q", last)
	}
}

func TestRun_Check_PassingRun(t *testing.T) {
	// No puts (the fake gives them no versions): starts, cuts, a kill and
	// stabilizes, judged group by group.
	cfg := testConfig(t, 3, 1)
	startFakeCluster(t, cfg)
	var got *check.Verdict
	r := runScript(t, cfg, lines("joinServer 0", "joinServer 1", "joinServer 2", "breakConnection 0 1", "breakConnection 0 2",
		"stabilize", "killServer 2", "stabilize", "get 3 a"), func(o *Options) {
		o.Check = true
		o.OnVerdict = func(v check.Verdict) { got = &v }
	})
	if r.code != ExitFailed { // get 3 a: client 3 has not joined
		t.Errorf("exit %d, want %d", r.code, ExitFailed)
	}
	if got == nil || !got.OK() || got.Counts.Stabilizes != 2 || got.Counts.Groups != 4 {
		t.Fatalf("verdict %+v", got)
	}
	checkStderr(t, r.stderr, "check: ok: ")
}

// The -stats record of a failed check counts every violation, by class,
// under the names stderr gives them; a skipped check is not ok.
func TestCheckStats(t *testing.T) {
	var v check.Verdict
	v.ByClass[check.Lost] = 3
	v.ByClass[check.ReadYourWrites] = 1
	v.Counts.Puts, v.Counts.ErrDepSpurious = 7, 2
	st := checkStats(&v)
	want := []runstats.ClassCount{{Class: "lost-write", Violations: 3}, {Class: "read-your-writes", Violations: 1}}
	if st.OK || st.Violations != 4 || !slices.Equal(st.Classes, want) || st.Counts.Puts != 7 || st.Counts.ErrDepSpurious != 2 || st.Skipped != "" {
		t.Errorf("failed check: %+v", st)
	}
	if st := checkStats(&check.Verdict{}); !st.OK || st.Violations != 0 || len(st.Classes) != 0 {
		t.Errorf("passed check: %+v", st)
	}
	if st := checkStats(nil); st.OK || st.Skipped == "" {
		t.Errorf("skipped check: %+v", st)
	}
}
