package watchdog

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
)

// fakeEnv marks a re-exec of the test binary as a fake server.
const fakeEnv = "GOSSIPKV_FAKE_SERVER"

// The fake server's modes, its first argument after "--".
const (
	modeServe  = "serve"  // answer Server.Ping and leave a marker in the data dir
	modeFail   = "fail"   // complain on stderr and exit at once
	modeSilent = "silent" // run but never answer
)

const fakeComplaint = "fake server: cannot open store: disk on fire"

// TestFakeServer is not a test: run as a child process with fakeEnv set, it
// plays the server that the watchdog execs. Its arguments, after "--", are
// the mode, the config path, the server id and its run ("" for none).
func TestFakeServer(t *testing.T) {
	if os.Getenv(fakeEnv) != "1" {
		t.Skip("runs only as a fake server process")
	}
	args := flag.Args()
	if len(args) != 4 {
		fmt.Fprintf(os.Stderr, "fake server: want MODE CONFIG ID RUN, got %q\n", args)
		os.Exit(2)
	}
	if err := fakeServer(args[0], args[1], args[2], args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		os.Exit(1)
	}
	select {} // until killed
}

// fakeWatchdogEnv marks a re-exec of the test binary as a watchdog process.
const fakeWatchdogEnv = "GOSSIPKV_FAKE_WATCHDOG"

// TestFakeWatchdog is not a test: run as a child process with
// fakeWatchdogEnv set, it is a watchdog process whose server is the fake in
// mode serve. Its argument, after "--", is the config path.
func TestFakeWatchdog(t *testing.T) {
	if os.Getenv(fakeWatchdogEnv) != "1" {
		t.Skip("runs only as a watchdog process")
	}
	path := flag.Arg(0)
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake watchdog:", err)
		os.Exit(1)
	}
	if _, err := Listen(cfg, serverID, Options{ServerBin: os.Args[0], ServerArgs: fakeArgs(modeServe, path)}); err != nil {
		fmt.Fprintln(os.Stderr, "fake watchdog:", err)
		os.Exit(1)
	}
	select {} // until killed
}

// fakeArgs runs the test binary as the fake server in mode.
func fakeArgs(mode, configPath string) func(uint32, string) []string {
	return func(id uint32, run string) []string {
		return []string{"-test.run=^TestFakeServer$", "--", mode, configPath, strconv.Itoa(int(id)), run}
	}
}

type fakePing struct{ id uint32 }

func (f fakePing) Ping(_ api.Empty, reply *api.PingReply) error {
	*reply = api.PingReply{Role: "server", ID: f.id, Pid: os.Getpid()}
	return nil
}

func fakeServer(mode, path, idText, run string) error {
	if mode == modeFail {
		fmt.Fprintln(os.Stderr, fakeComplaint)
		os.Exit(3)
	}
	if mode == modeSilent {
		return nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	id, err := strconv.ParseUint(idText, 10, 32)
	if err != nil {
		return err
	}
	s, ok := cfg.Server(uint32(id))
	if !ok {
		return fmt.Errorf("no server %d", id)
	}
	dir := cfg.ServerDir(uint32(id))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(marker(dir, os.Getpid()), nil, 0o644); err != nil {
		return err
	}
	_, err = rpcconn.Listen(rpcconn.Identity{Cluster: cfg.Cluster, Run: run, Role: rpcconn.RoleServer, ID: uint32(id)},
		s.RPCAddr(), "Server", fakePing{id: uint32(id)})
	return err
}

// marker is the file a fake server run with pid leaves in its data dir.
func marker(dir string, pid int) string {
	return filepath.Join(dir, fmt.Sprintf("marker-%d", pid))
}

// masterOf is the tests' identity: the master of cfg's cluster.
func masterOf(cfg *config.Config) rpcconn.Identity {
	return rpcconn.Identity{Cluster: cfg.Cluster, Role: rpcconn.RoleMaster}
}

type harness struct {
	cfg  *config.Config
	w    *Watchdog
	conn *rpcconn.Conn // the master's view of the watchdog
}

const serverID = 0

// newHarness runs a watchdog for server 0 whose server is the fake in mode.
func newHarness(t *testing.T, mode string, tune func(*config.Config)) *harness {
	t.Helper()
	return newHarnessOfRun(t, mode, tune, "")
}

// newHarnessOfRun is newHarness with a watchdog that belongs to run (as
// the master that starts one passes -run).
func newHarnessOfRun(t *testing.T, mode string, tune func(*config.Config), run string) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(1, 0, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(cfg)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEnv, "1")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	w, err := Listen(cfg, serverID, Options{
		ServerBin:  os.Args[0],
		ServerArgs: fakeArgs(mode, path),
		Logger:     logger,
		Run:        run,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Close kills the server through its process handle (a pidfd), which
	// cannot hit a reused pid the way a bare kill(pid) could.
	t.Cleanup(func() { w.Close() })
	conn := rpcconn.New(masterOf(cfg), w.Addr(), cfg.Timing.StartTimeout+cfg.Timing.RPCTimeout)
	t.Cleanup(func() { conn.Close() })
	return &harness{cfg: cfg, w: w, conn: conn}
}

func (h *harness) start(fresh bool) (int, error) {
	var r api.StartReply
	err := h.conn.Call(api.WatchdogStart, api.StartArgs{ServerID: serverID, Fresh: fresh}, &r)
	return r.Pid, err
}

func (h *harness) mustStart(t *testing.T, fresh bool) int {
	t.Helper()
	pid, err := h.start(fresh)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if pid <= 0 {
		t.Fatalf("start replied pid %d", pid)
	}
	return pid
}

func (h *harness) kill() error {
	return h.conn.Call(api.WatchdogKill, api.KillArgs{ServerID: serverID}, &api.Empty{})
}

// pingServer makes one call, with no retry: Start promised the server
// answers.
func (h *harness) pingServer(t *testing.T) api.PingReply {
	t.Helper()
	s, _ := h.cfg.Server(serverID)
	c := rpcconn.New(masterOf(h.cfg), s.RPCAddr(), h.cfg.Timing.RPCTimeout)
	defer c.Close()
	var r api.PingReply
	if err := c.Call(api.ServerPing, api.Empty{}, &r); err != nil {
		t.Fatalf("server does not answer after Start returned: %v", err)
	}
	return r
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pid %d still exists (kill 0: %v)", pid, err)
	}
}

func assertErrContains(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want one containing %q", what, err, want)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestWatchdog_Ping_IdentifiesWatchdog(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	var r api.PingReply
	if err := h.conn.Call(api.WatchdogPing, api.Empty{}, &r); err != nil {
		t.Fatal(err)
	}
	want := api.PingReply{Role: "watchdog", ID: serverID, Pid: os.Getpid()}
	if r != want {
		t.Fatalf("ping: %+v, want %+v", r, want)
	}
}

func TestWatchdog_Start_ReturnsOnceServerAnswers(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	got := h.pingServer(t)
	if got.Pid != pid || got.Role != "server" || got.ID != serverID {
		t.Fatalf("server ping %+v, want server %d with pid %d", got, serverID, pid)
	}
	if !exists(marker(h.cfg.ServerDir(serverID), pid)) {
		t.Fatal("the server left no marker in its data dir")
	}
}

// A watchdog started by hand (no run) serves any run of its cluster, and
// the server it starts belongs to the run that asked: it refuses the others.
func TestWatchdog_Start_ServerBelongsToTheAskingRun(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	as := func(run string) rpcconn.Identity {
		return rpcconn.Identity{Cluster: h.cfg.Cluster, Run: run, Role: rpcconn.RoleMaster}
	}
	owner := rpcconn.New(as("r1"), h.w.Addr(), h.cfg.Timing.StartTimeout+h.cfg.Timing.RPCTimeout)
	defer owner.Close()
	var r api.StartReply
	if err := owner.Call(api.WatchdogStart, api.StartArgs{ServerID: serverID, Fresh: true, Run: "r1"}, &r); err != nil {
		t.Fatalf("start for run r1: %v", err)
	}
	s, _ := h.cfg.Server(serverID)
	for _, tc := range []struct {
		run      string
		accepted bool
	}{{"r1", true}, {"r2", false}, {"", false}} {
		c := rpcconn.New(as(tc.run), s.RPCAddr(), h.cfg.Timing.RPCTimeout)
		var p api.PingReply
		err := c.Call(api.ServerPing, api.Empty{}, &p)
		c.Close()
		var re *rpcconn.RefusedError
		switch {
		case tc.accepted && (err != nil || p.Pid != r.Pid):
			t.Errorf("run %q: ping %+v, %v; want the server (pid %d)", tc.run, p, err, r.Pid)
		case !tc.accepted && (!errors.As(err, &re) || re.Peer.Run != "r1" || re.Peer.Pid != r.Pid):
			t.Errorf("run %q: %v; want a refusal by the server of run r1 (pid %d)", tc.run, err, r.Pid)
		}
	}
}

// A watchdog the master started (-run) refuses every other run: another
// master cannot start, kill or even ping its server through it.
func TestWatchdog_OfARun_RefusesOtherRuns(t *testing.T) {
	h := newHarnessOfRun(t, modeServe, nil, "r1")
	other := rpcconn.New(rpcconn.Identity{Cluster: h.cfg.Cluster, Run: "r2", Role: rpcconn.RoleMaster}, h.w.Addr(), h.cfg.Timing.RPCTimeout)
	defer other.Close()
	var r api.StartReply
	err := other.Call(api.WatchdogStart, api.StartArgs{ServerID: serverID, Fresh: true, Run: "r2"}, &r)
	var re *rpcconn.RefusedError
	if !errors.As(err, &re) || re.Peer.Run != "r1" || re.Peer.Role != rpcconn.RoleWatchdog {
		t.Fatalf("start from run r2: %v; want a refusal by the watchdog of run r1", err)
	}
	owner := rpcconn.New(rpcconn.Identity{Cluster: h.cfg.Cluster, Run: "r1", Role: rpcconn.RoleMaster}, h.w.Addr(), h.cfg.Timing.RPCTimeout)
	defer owner.Close()
	assertErrContains(t, "kill by its own run", owner.Call(api.WatchdogKill, api.KillArgs{ServerID: serverID}, &api.Empty{}),
		"server 0 is not running")
	// Its own run starts a server of that run, even if it names no run.
	if err := owner.Call(api.WatchdogStart, api.StartArgs{ServerID: serverID, Fresh: true}, &r); err != nil {
		t.Fatalf("start from run r1: %v", err)
	}
	s, _ := h.cfg.Server(serverID)
	c := rpcconn.New(rpcconn.Identity{Cluster: h.cfg.Cluster, Run: "r2", Role: rpcconn.RoleMaster}, s.RPCAddr(), h.cfg.Timing.RPCTimeout)
	defer c.Close()
	if err := c.Call(api.ServerPing, api.Empty{}, &api.PingReply{}); !errors.As(err, &re) || re.Peer.Run != "r1" {
		t.Fatalf("server of run r1 pinged by run r2: %v", err)
	}
}

func TestWatchdog_Start_AlreadyRunning(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	_, err := h.start(false)
	assertErrContains(t, "second start", err, "server 0 is already running")
	if got := h.pingServer(t); got.Pid != pid {
		t.Fatalf("server pid %d after a refused start, want %d", got.Pid, pid)
	}
}

func TestWatchdog_Kill_BlocksUntilGone(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	if err := h.kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	assertGone(t, pid)
	assertErrContains(t, "second kill", h.kill(), "server 0 is not running")
}

func TestWatchdog_Kill_NeverStarted(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	assertErrContains(t, "kill", h.kill(), "server 0 is not running")
}

func TestWatchdog_Start_FreshWipesDataDir(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	dir := h.cfg.ServerDir(serverID)
	first := h.mustStart(t, true)
	if err := h.kill(); err != nil {
		t.Fatal(err)
	}

	second := h.mustStart(t, false)
	if !exists(marker(dir, first)) {
		t.Fatal("restart with Fresh=false lost the data of the first run")
	}
	if err := h.kill(); err != nil {
		t.Fatal(err)
	}

	third := h.mustStart(t, true)
	if exists(marker(dir, first)) || exists(marker(dir, second)) {
		t.Fatal("start with Fresh=true kept the data of earlier runs")
	}
	if !exists(marker(dir, third)) {
		t.Fatal("the fresh server left no marker")
	}
}

func TestWatchdog_Start_ServerExitsAtOnce(t *testing.T) {
	h := newHarness(t, modeFail, nil)
	_, err := h.start(true)
	assertErrContains(t, "start", err, fakeComplaint)
	assertErrContains(t, "start", err, "exit status 3")
	// The failed process is reaped: a new start is not refused as running.
	_, err = h.start(false)
	assertErrContains(t, "second start", err, fakeComplaint)
	assertErrContains(t, "kill", h.kill(), "server 0 is not running")
}

func TestWatchdog_Start_NoAnswerTimesOut(t *testing.T) {
	h := newHarness(t, modeSilent, func(c *config.Config) { c.Timing.StartTimeout = 200 * time.Millisecond })
	_, err := h.start(true)
	assertErrContains(t, "start", err, "no answer within")
	// The silent process was killed and reaped, not left behind.
	_, err = h.start(false)
	assertErrContains(t, "second start", err, "no answer within")
	assertErrContains(t, "kill", h.kill(), "server 0 is not running")
}

func TestWatchdog_Start_WrongServer(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	var r api.StartReply
	err := h.conn.Call(api.WatchdogStart, api.StartArgs{ServerID: 7}, &r)
	assertErrContains(t, "start of another id", err, "cannot handle server 7")
}

func TestWatchdog_Close_KillsServer(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	if err := h.w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	assertGone(t, pid)
	var r api.StartReply
	if err := h.w.Start(api.StartArgs{ServerID: serverID}, &r); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v, want ErrClosed", err)
	}
}

// TestWatchdog_Death_KillsServer kills a watchdog process with SIGKILL, so
// that no code of its runs, and checks that its server dies with it.
func TestWatchdog_Death_KillsServer(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(1, 0, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeEnv, "1")
	t.Setenv(fakeWatchdogEnv, "1")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeWatchdog$", "--", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var watchdogGone bool
	t.Cleanup(func() {
		if !watchdogGone {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	s, _ := cfg.Server(serverID)
	conn := rpcconn.New(masterOf(cfg), s.WatchdogAddr(), cfg.Timing.StartTimeout+cfg.Timing.RPCTimeout)
	t.Cleanup(func() { conn.Close() })
	waitFor(t, "the watchdog process answers", func() bool {
		var r api.PingReply
		return conn.Call(api.WatchdogPing, api.Empty{}, &r) == nil && r.Pid == cmd.Process.Pid
	})
	var r api.StartReply
	if err := conn.Call(api.WatchdogStart, api.StartArgs{ServerID: serverID, Fresh: true}, &r); err != nil {
		t.Fatalf("start: %v", err)
	}
	// Should the server outlive its watchdog, the test must not leave it
	// behind; it has no parent here to kill it by handle.
	t.Cleanup(func() {
		if alive(r.Pid) {
			syscall.Kill(r.Pid, syscall.SIGKILL)
		}
	})

	cmd.Process.Kill()
	cmd.Wait()
	watchdogGone = true
	// The orphan is reaped by whoever adopts it; until then it is a zombie,
	// which is dead all the same.
	waitFor(t, fmt.Sprintf("server pid %d dies with its watchdog", r.Pid), func() bool {
		return !alive(r.Pid)
	})
}

// alive reports whether pid is a process that has not exited.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListen_UnknownID(t *testing.T) {
	cfg, err := config.LocalFreePorts(1, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Listen(cfg, 1, Options{ServerBin: "/bin/true", ConfigPath: "c.yaml"})
	if !errors.Is(err, ErrUnknownID) {
		t.Fatalf("Listen as client id 1: %v, want ErrUnknownID", err)
	}
}

func (h *harness) pause(method string) error {
	return h.conn.Call(method, api.KillArgs{ServerID: serverID}, &api.Empty{})
}

// procState is the state letter of /proc/PID/stat: T for a stopped
// process.
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// The command name, in parentheses, may hold blanks: the state
	// follows the last ')'.
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func TestWatchdog_Pause_StopsServerUntilResume(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	if err := h.pause(api.WatchdogPause); err != nil {
		t.Fatalf("pause: %v", err)
	}
	// SIGSTOP takes effect when the kernel next schedules the process.
	for deadline := time.Now().Add(5 * time.Second); procState(t, pid) != "T"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("paused server's state %q, want T (stopped)", procState(t, pid))
		}
	}
	assertErrContains(t, "second pause", h.pause(api.WatchdogPause), "server 0 is already paused")
	s, _ := h.cfg.Server(serverID)
	c := rpcconn.New(masterOf(h.cfg), s.RPCAddr(), 200*time.Millisecond)
	defer c.Close()
	var r api.PingReply
	assertErrContains(t, "ping of a paused server", c.Call(api.ServerPing, api.Empty{}, &r), "no answer")
	if err := h.pause(api.WatchdogResume); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := h.pingServer(t); got.Pid != pid {
		t.Fatalf("resumed server answers with pid %d, want %d", got.Pid, pid)
	}
	assertErrContains(t, "second resume", h.pause(api.WatchdogResume), "server 0 is not paused")
}

func TestWatchdog_Kill_PausedServerIsReaped(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	if err := h.pause(api.WatchdogPause); err != nil {
		t.Fatal(err)
	}
	if err := h.kill(); err != nil {
		t.Fatalf("kill of a paused server: %v", err)
	}
	assertGone(t, pid) // not even a zombie: reaped
	// It starts again, not paused.
	pid = h.mustStart(t, false)
	if st := procState(t, pid); st == "T" {
		t.Fatal("the restarted server is stopped")
	}
	assertErrContains(t, "resume of a restarted server", h.pause(api.WatchdogResume), "server 0 is not paused")
}

func TestWatchdog_Close_KillsPausedServer(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	pid := h.mustStart(t, true)
	if err := h.pause(api.WatchdogPause); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	assertGone(t, pid)
}

func TestWatchdog_Pause_NotRunning(t *testing.T) {
	h := newHarness(t, modeServe, nil)
	assertErrContains(t, "pause", h.pause(api.WatchdogPause), "server 0 is not running")
}
