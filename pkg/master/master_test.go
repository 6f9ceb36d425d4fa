package master

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
)

// result is what one Run gave.
type result struct {
	stdout, stderr string
	code           int
}

// runScript runs script with echo on against cfg; opt may adjust Options.
func runScript(t *testing.T, cfg *config.Config, script string, opt func(*Options)) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	opts := Options{
		Config:     cfg,
		ConfigPath: filepath.Join(t.TempDir(), "config.yaml"),
		BinDir:     t.TempDir(), // empty: nothing may be started
		Echo:       true,
		Stdout:     &stdout,
		Stderr:     &stderr,
	}
	if opt != nil {
		opt(&opts)
	}
	code := Run(context.Background(), opts, strings.NewReader(script))
	t.Logf("stderr:\n%s", stderr.String())
	return result{stdout.String(), stderr.String(), code}
}

// lines joins its arguments as the lines of a script or transcript.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func checkStdout(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
}

func checkStderr(t *testing.T, stderr string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
}

func TestRun_Transcript(t *testing.T) {
	cfg := testConfig(t, 2, 1)
	c := startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"# two servers, one client",
		"joinServer 0",
		"",
		"  joinServer   1  ",
		"joinClient 2 0",
		"put 2 a 1",
		`put 2 b "x y"`,
		"stabilize",
		"printStore 1",
		"get 2 a",
		"get 2 zz",
	), nil)
	if r.code != ExitOK {
		t.Errorf("exit %d, want %d", r.code, ExitOK)
	}
	checkStdout(t, r.stdout, lines(
		"> joinServer 0",
		"> joinServer   1", // trimmed, as written inside
		"> joinClient 2 0",
		"> put 2 a 1",
		`> put 2 b "x y"`,
		"> stabilize",
		"> printStore 1",
		"a:1",
		"b:x y",
		"> get 2 a",
		"a:1",
		"> get 2 zz",
		"zz:ERR_KEY",
	))
	checkStderr(t, r.stderr, "master: 9 commands, 0 errors, ", " commands/s", "1 stabilize")
	// The servers started in this run are killed at exit, but the
	// watchdogs and clients the master found running are left alone.
	got := c.killCalls()
	slices.Sort(got)
	if !reflect.DeepEqual(got, []uint32{0, 1}) {
		t.Errorf("kills at exit %v, want [0 1]", got)
	}
	if c.running(0) || c.running(1) {
		t.Error("a server is still running after Run")
	}
	cl, _ := cfg.Client(2)
	conn := rpcconn.New(rpcconn.Identity{Cluster: cfg.Cluster, Role: "test"}, cl.RPCAddr(), time.Second)
	defer conn.Close()
	var reply api.PingReply
	if err := conn.Call(api.ClientPing, api.Empty{}, &reply); err != nil {
		t.Errorf("client the master did not start was stopped: %v", err)
	}
}

func TestRun_NoEcho(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines("joinServer 0", "joinClient 1 0", "put 1 k v", "get 1 k", "bogus"),
		func(o *Options) { o.Echo = false })
	checkStdout(t, r.stdout, "k:v\n")
	if r.code != ExitFailed {
		t.Errorf("exit %d, want %d", r.code, ExitFailed)
	}
}

func TestRun_BadLines(t *testing.T) {
	cfg := testConfig(t, 3, 2) // servers 0-2, clients 3-4
	c := startFakeCluster(t, cfg)
	script := lines(
		"joinServer 0",          // 1
		"joinServer 12",         // 2
		"joinServer 3",          // 3
		"joinServer 0",          // 4
		"killServer 1",          // 5
		"joinClient 3 1",        // 6
		"joinClient 0 0",        // 7
		"put 4 k v",             // 8
		"get 4 k",               // 9
		"printStore 2",          // 10
		"breakConnection 3 4",   // 11
		"breakConnection 0 9",   // 12
		"createConnection 0 0",  // 13
		"stablize",              // 14
		"joinClient 3 0",        // 15
		"put 3 k v",             // 16
		"get 3 k",               // 17
		"breakConnection 4 0",   // 18
		"createConnection 1 3",  // 19
		`put 3 "unterminated v`, // 20
	)
	r := runScript(t, cfg, script, nil)
	if r.code != ExitFailed {
		t.Errorf("exit %d, want %d", r.code, ExitFailed)
	}
	// Every line is echoed, bad ones too, and the good lines after bad
	// ones still run.
	var want []string
	for _, l := range strings.Split(strings.TrimSuffix(script, "\n"), "\n") {
		want = append(want, "> "+l)
		if l == "get 3 k" {
			want = append(want, "k:v")
		}
	}
	checkStdout(t, r.stdout, lines(want...))
	checkStderr(t, r.stderr,
		"master: line 2: id 12 is not in config.yaml: joinServer 12\n",
		"master: line 3: 3 is a client, not a server: joinServer 3\n",
		"master: line 4: server 0 is already running: joinServer 0\n",
		"master: line 5: server 1 is not running: killServer 1\n",
		"master: line 6: server 1 is not running: joinClient 3 1\n",
		"master: line 7: 0 is a server, not a client: joinClient 0 0\n",
		"master: line 8: client 4 has not joined: put 4 k v\n",
		"master: line 9: client 4 has not joined: get 4 k\n",
		"master: line 10: server 2 is not running: printStore 2\n",
		"master: line 11: 3 and 4 are both clients",
		"master: line 12: id 9 is not in config.yaml: breakConnection 0 9\n",
		"master: line 13: a link needs two different servers: createConnection 0 0\n",
		"master: line 14: ", "stablize",
		"master: line 18: client 4 has not joined: breakConnection 4 0\n",
		"master: line 19: server 1 is not running: createConnection 1 3\n",
		"master: line 20: ",
		"master: 20 commands, 16 errors, ",
	)
	if strings.Contains(r.stderr, "line 1:") || strings.Contains(r.stderr, "line 15:") ||
		strings.Contains(r.stderr, "line 16:") || strings.Contains(r.stderr, "line 17:") {
		t.Error("a good line was reported as an error")
	}
	if got := c.startCalls(); len(got) != 1 {
		t.Errorf("watchdog starts %v, want only server 0's", got)
	}
}

func TestRun_JoinServer_FreshOnlyFirstStart(t *testing.T) {
	script := lines(
		"joinServer 0",
		"joinClient 1 0",
		"put 1 k v",
		"killServer 0",
		"joinServer 0",
		"printStore 0",
	)
	for _, keep := range []bool{false, true} {
		cfg := testConfig(t, 1, 1)
		c := startFakeCluster(t, cfg)
		r := runScript(t, cfg, script, func(o *Options) { o.KeepData = keep; o.Run = "run1" })
		if r.code != ExitOK {
			t.Errorf("keep=%v: exit %d", keep, r.code)
		}
		want := []api.StartArgs{{ServerID: 0, Fresh: !keep, Run: "run1"}, {ServerID: 0, Fresh: false, Run: "run1"}}
		if got := c.startCalls(); !reflect.DeepEqual(got, want) {
			t.Errorf("keep=%v: starts %v, want %v", keep, got, want)
		}
		// The restart keeps its durable state.
		if !strings.Contains(r.stdout, "> printStore 0\nk:v\n") {
			t.Errorf("keep=%v: restarted server lost its store:\n%s", keep, r.stdout)
		}
	}
}

func TestRun_Links_CutBothEndsAndJoinHeals(t *testing.T) {
	cfg := testConfig(t, 3, 0)
	c := startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinServer 2",
		"breakConnection 0 1",
		"killServer 1",
		"breakConnection 2 1", // bad line: 1 is not running
		"joinServer 1",        // restores 0-1: both ends heal
		"breakConnection 0 2",
		"createConnection 2 0",
	), nil)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "line 6: server 1 is not running: breakConnection 2 1") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := map[uint32][]string{
		0: {"Cut 1", "Heal 1", "Cut 2", "Heal 2"},
		1: {"Cut 0", "Heal 0"},
		2: {"Cut 0", "Heal 0"},
	}
	for id, w := range want {
		if got := c.linkOps(id); !reflect.DeepEqual(got, w) {
			t.Errorf("server %d link calls %v, want %v", id, got, w)
		}
	}
}

// A paused server is told nothing until it resumes: then its end of the
// links cut or healed meanwhile (the latest of each) and its skew. A
// restarted server gets its skew again. stabilize leaves a paused server
// out and says so; printStore of it is refused.
func TestRun_Pause_DefersCallsAndSkewOutlivesRestart(t *testing.T) {
	cfg := testConfig(t, 3, 0)
	c := startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinServer 2",
		"skewClock 2 +1s",
		"pauseServer 2",
		"breakConnection 0 2",
		"breakConnection 1 2",
		"createConnection 1 2",
		"skewClock 2 -3s",
		"stabilize",
		"printStore 2",  // bad line: paused
		"pauseServer 2", // bad line: already paused
		"resumeServer 2",
		"resumeServer 2", // bad line: not paused
		"killServer 2",
		"joinServer 2",
	), nil)
	for _, want := range []string{
		"stabilize at line 10: left out paused servers [2]",
		"line 11: server 2 is paused (resumeServer 2 first): printStore 2",
		"line 12: server 2 is already paused: pauseServer 2",
		"line 14: server 2 is not paused: resumeServer 2",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	sorted := func(ops []string) []string { ops = slices.Clone(ops); slices.Sort(ops); return ops }
	if got, want := c.linkOps(2)[:2], []string{"Skew 1s", "Pause"}; !reflect.DeepEqual(got, want) {
		t.Errorf("server 2's first calls %v, want %v", got, want)
	}
	// While paused it was told nothing; on resume, what it missed (in
	// any order: they go out at once); after the restart, its heal of 0
	// and its skew again.
	if got, want := sorted(c.linkOps(2)[2:]), sorted([]string{"Resume", "Cut 0", "Heal 1", "Skew -3s", "Heal 0", "Skew -3s"}); !reflect.DeepEqual(got, want) {
		t.Errorf("server 2's later calls %v, want %v", c.linkOps(2)[2:], want)
	}
	if got, want := c.linkOps(0), []string{"Cut 2", "Heal 2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("server 0's calls %v, want %v", got, want)
	}
	if got, want := c.linkOps(1), []string{"Cut 2", "Heal 2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("server 1's calls %v, want %v", got, want)
	}
}

func TestRun_Stabilize_PerGroup(t *testing.T) {
	cfg := testConfig(t, 3, 3) // clients 3, 4, 5
	c := startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinServer 2",
		"joinClient 3 0", "joinClient 4 1", "joinClient 5 2",
		"breakConnection 0 1", "breakConnection 0 2",
		"put 3 a 0", "put 4 b 1", "put 4 c 1", "put 5 d 2",
		"stabilize",
		"printStore 0", "printStore 1", "printStore 2",
		// Heal only 0-1: 0 and 2 converge through 1.
		"createConnection 0 1",
		"stabilize",
		"printStore 2",
	), func(o *Options) { o.Echo = false })
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
	checkStdout(t, r.stdout, lines(
		"a:0",
		"b:1", "c:1", "d:2",
		"b:1", "c:1", "d:2",
		"a:0", "b:1", "c:1", "d:2",
	))
	// Stores differ after the puts, and each poll moves a write one hop,
	// so stabilize must have polled more than once.
	if n := c.statusCount(); n <= 2*3 {
		t.Errorf("%d Status calls for two stabilizes of 3 servers: it did not poll", n)
	}
	checkStderr(t, r.stderr, "2 stabilize")
}

func TestRun_Stabilize_Timeout(t *testing.T) {
	cfg := testConfig(t, 2, 1)
	cfg.Timing.StabilizeTimeout = 50 * time.Millisecond
	c := startFakeCluster(t, cfg)
	c.setFrozen(true)
	r := runScript(t, cfg, lines(
		"joinServer 0", "joinServer 1", "joinClient 2 0",
		"put 2 k v",
		"stabilize",
		"printStore 0",
	), nil)
	if r.code != ExitFailed {
		t.Errorf("exit %d, want %d", r.code, ExitFailed)
	}
	checkStderr(t, r.stderr, "master: line 5: not stable after 50ms: group [0 1] differs: server 0 seen", ", server 1 seen")
	// The master goes on after the failed line.
	if !strings.HasSuffix(r.stdout, "> printStore 0\nk:v\n") {
		t.Errorf("line after the failed stabilize did not run:\n%s", r.stdout)
	}
}

func TestRun_DeadServerGivesErrorLines(t *testing.T) {
	cfg := testConfig(t, 2, 0)
	c := startFakeCluster(t, cfg)
	pr, pw := io.Pipe()
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), Options{Config: cfg, ConfigPath: "config.yaml", BinDir: t.TempDir(),
			Stdout: &stdout, Stderr: &stderr}, pr)
	}()
	io.WriteString(pw, "joinServer 0\njoinServer 1\n")
	waitFor(t, func() bool { return c.running(1) })
	c.crash(1)
	// After the errors, killServer lets the master record what the
	// watchdog says (server 1 is gone), so it can be started again.
	io.WriteString(pw, "stabilize\nprintStore 1\nkillServer 1\njoinServer 1\nstabilize\n")
	pw.Close()
	code := <-done
	t.Logf("stderr:\n%s", stderr.String())
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	checkStderr(t, stderr.String(),
		"master: line 3: status of server 1: ",
		"master: line 4: dump server 1: ",
		"master: line 5: kill server 1: server 1 is not running",
		"master: 7 commands, 3 errors")
	if got := c.startCalls(); len(got) != 3 {
		t.Errorf("watchdog starts %v: server 1 was not started again", got)
	}
}

func TestRun_ClientLinks(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"joinServer 0",
		"joinClient 1 0",
		"put 1 a 1",
		"breakConnection 1 0",
		"put 1 b 2", // fails: the client has no server
		"get 1 a",   // an answer, not a failure
		"createConnection 0 1",
		"get 1 a",
		"killServer 0",
		"get 1 a",
		"put 1 c 3", // fails
	), func(o *Options) { o.Echo = false })
	if r.code != ExitFailed {
		t.Errorf("exit %d, want %d", r.code, ExitFailed)
	}
	checkStdout(t, r.stdout, lines("a:ERR_CONN", "a:1", "a:ERR_CONN"))
	checkStderr(t, r.stderr,
		"master: line 5: put failed: ERR_CONN",
		"master: line 11: put failed: ERR_CONN",
		"master: 11 commands, 2 errors")
}

func TestRun_PrintStore_BytesAsTheyAre(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines(
		"joinServer 0",
		"joinClient 1 0",
		`put 1 "b:1" "v\x00w"`,
		`put 1 "a b" ""`,
		"printStore 0",
	), func(o *Options) { o.Echo = false })
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
	checkStdout(t, r.stdout, "a b:\nb:1:v\x00w\n")
}

func TestRun_Startup_RemoteNotAnswering(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	r := runScript(t, cfg, "joinServer 0\n", func(o *Options) {
		o.isLocal = func(string) bool { return false }
	})
	if r.code != ExitStart {
		t.Errorf("exit %d, want %d", r.code, ExitStart)
	}
	s, _ := cfg.Server(0)
	cl, _ := cfg.Client(1)
	checkStderr(t, r.stderr,
		"watchdog of server 0 at "+s.WatchdogAddr()+" is not answering, and host 127.0.0.1 is not this machine",
		"client 1 at "+cl.RPCAddr()+" is not answering")
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing: no line may run", r.stdout)
	}
}

func TestRun_Startup_MissingBinary(t *testing.T) {
	cfg := testConfig(t, 1, 0)
	r := runScript(t, cfg, "joinServer 0\n", nil)
	if r.code != ExitStart {
		t.Errorf("exit %d, want %d", r.code, ExitStart)
	}
	checkStderr(t, r.stderr, "watchdog of server 0: start watchdog-0: ")
}

func TestRun_Interrupted(t *testing.T) {
	cfg := testConfig(t, 1, 0)
	c := startFakeCluster(t, cfg)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, Options{Config: cfg, ConfigPath: "config.yaml", BinDir: t.TempDir(),
			Stdout: io.Discard, Stderr: &stderr}, pr)
	}()
	io.WriteString(pw, "joinServer 0\n")
	waitFor(t, func() bool { return c.running(0) })
	// stdin stays open: only the cancel can end the run.
	cancel()
	code := <-done
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
	checkStderr(t, stderr.String(), "master: interrupted")
	if c.running(0) {
		t.Error("server 0 still running after an interrupted run")
	}
}

// syncBuffer is a bytes.Buffer safe to read while Run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// lineAtATime hands out one line per Read and records, at each Read, what
// the master had written on stdout by then.
type lineAtATime struct {
	lines []string
	out   *syncBuffer
	seen  []string
}

func (r *lineAtATime) Read(p []byte) (int, error) {
	r.seen = append(r.seen, r.out.String())
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0]+"\n")
	r.lines = r.lines[1:]
	return n, nil
}

// The master reads a line only once the line before has run and its output
// is out: a prompt (a terminal's, an attached master's) then appears after
// the output, not before.
func TestRun_ReadsALineOnlyOnceTheLastHasRun(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	var out syncBuffer
	in := &lineAtATime{lines: []string{"joinServer 0", "joinClient 1 0", "put 1 a 1", "get 1 a", "get 1 b"}, out: &out}
	code := Run(context.Background(), Options{Config: cfg, ConfigPath: "c.yaml", BinDir: t.TempDir(), Stdout: &out, Stderr: io.Discard}, in)
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	want := []string{"", "", "", "", "a:1\n", "a:1\nb:ERR_KEY\n"}
	if !reflect.DeepEqual(in.seen, want) {
		t.Errorf("stdout at each read: %q, want %q", in.seen, want)
	}
}

// With stdout and stderr on one terminal, the error of a failed line comes
// after the line's echo, not before it.
func TestRun_ErrorFollowsItsEcho(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	var both bytes.Buffer
	script := lines("joinServer 0", "stablize", "killServer 7", "joinServer 0")
	code := Run(context.Background(), Options{Config: cfg, ConfigPath: filepath.Join(t.TempDir(), "config.yaml"),
		BinDir: t.TempDir(), Echo: true, Stdout: &both, Stderr: &both}, strings.NewReader(script))
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, ExitFailed, both.String())
	}
	out := both.String()
	for _, pair := range [][2]string{
		{"> stablize\n", "line 2"},
		{"> killServer 7\n", "line 3"},
	} {
		echo, err := strings.Index(out, pair[0]), strings.Index(out, pair[1])
		if echo < 0 || err < 0 || err < echo {
			t.Errorf("%q (at %d) should come after %q (at %d):\n%s", pair[1], err, pair[0], echo, out)
		}
		if next := strings.Index(out[echo+len(pair[0]):], "> "); next >= 0 && echo+len(pair[0])+next < err {
			t.Errorf("the error of %q comes after the next line's echo:\n%s", pair[0], out)
		}
	}
}

// Quiet leaves only the errors on stderr: a bad line's error, and a failed
// check's verdict, but no summary, figures or passing verdict.
func TestRun_Quiet(t *testing.T) {
	script := lines("joinServer 0", "joinClient 1 0", "put 1 k v", "get 1 k", "bogus")
	for _, quiet := range []bool{false, true} {
		cfg := testConfig(t, 1, 1)
		startFakeCluster(t, cfg)
		r := runScript(t, cfg, script, func(o *Options) { o.Quiet, o.Echo = quiet, false })
		checkStdout(t, r.stdout, "k:v\n")
		if r.code != ExitFailed {
			t.Errorf("quiet=%v: exit %d, want %d", quiet, r.code, ExitFailed)
		}
		checkStderr(t, r.stderr, `master: line 5: unknown command "bogus"`)
		for _, note := range []string{"5 commands, 1 errors", "1 puts, ", "1 gets, ", "ERR_DEP, "} {
			if got := strings.Contains(r.stderr, note); got == quiet {
				t.Errorf("quiet=%v: stderr has %q: %v", quiet, note, got)
			}
		}
		if quiet && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("quiet: stderr is not the one error line:\n%s", r.stderr)
		}
	}
}

// The log format asked of the master reaches every server it starts.
func TestRun_LogFormat_InEveryStart(t *testing.T) {
	cfg := testConfig(t, 2, 0)
	c := startFakeCluster(t, cfg)
	r := runScript(t, cfg, lines("joinServer 0", "joinServer 1"), func(o *Options) { o.LogFormat = "json"; o.Run = "run1" })
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
	want := []api.StartArgs{{ServerID: 0, Fresh: true, Run: "run1", LogFormat: "json"}, {ServerID: 1, Fresh: true, Run: "run1", LogFormat: "json"}}
	if got := c.startCalls(); !reflect.DeepEqual(got, want) {
		t.Errorf("starts %v, want %v", got, want)
	}
}
