package master

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/runstats"
)

// TestMain lets the test binary stand in for the watchdog and client
// binaries: linked under those names into a bin directory, it serves the
// fake watchdog (with its fake server) or fake client of one id.
func TestMain(m *testing.M) {
	switch role := filepath.Base(os.Args[0]); role {
	case "watchdog", "client":
		os.Exit(fakeProcessMain(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeProcessMain serves one fake process until SIGTERM. It records its
// pid in <data dir>/pids/ so the test can check the master reaped it.
func fakeProcessMain(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file")
	id64 := fs.Uint("id", 0, "id")
	run := fs.String("run", "", "run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	id := uint32(*id64)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	c := newFakeCluster(cfg)
	c.run = *run
	if role == "watchdog" {
		s, _ := cfg.Server(id)
		err = c.serve(s.WatchdogAddr(), "Watchdog", &fakeWatchdog{c})
	} else {
		cl, _ := cfg.Client(id)
		err = c.serve(cl.RPCAddr(), "Client", &fakeClientRPC{c, id})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir := filepath.Join(cfg.DataDir, "pids")
	pid := strconv.Itoa(os.Getpid())
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d", role, id)), []byte(pid), 0o644)
	}
	// And the run it was given, beside it.
	if err == nil {
		err = os.MkdirAll(filepath.Join(cfg.DataDir, "runs"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(cfg.DataDir, "runs", fmt.Sprintf("%s-%d", role, id)), []byte(*run), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-term
	c.close()
	return 0
}

// fakeBinDir links the test binary as watchdog and client.
func fakeBinDir(t *testing.T) string {
	t.Helper()
	// A -race binary sleeps a second at exit unless told not to; the
	// started processes inherit the environment.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, name := range []string{"watchdog", "client"} {
		if err := os.Symlink(exe, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func TestRun_StartsAndStopsProcesses(t *testing.T) {
	bin := fakeBinDir(t)
	cfg := testConfig(t, 2, 1)
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	pidDir := filepath.Join(cfg.DataDir, "pids")
	// Whatever happens, no fake process outlives the test.
	t.Cleanup(func() {
		for _, pid := range readPids(t, pidDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	statsPath := filepath.Join(t.TempDir(), "stats.json")
	r := runScript(t, cfg, lines(
		"joinServer 0",
		"joinServer 1",
		"joinClient 2 1",
		// Fake servers in separate processes do not replicate: stabilize
		// before any write, and read back from the server written to.
		"stabilize",
		"put 2 a 1",
		"printStore 1",
		"get 2 a",
	), func(o *Options) {
		o.BinDir = bin
		o.ConfigPath = cfgPath
		o.Echo = false
		o.Run = "run1"
		o.StatsFile = statsPath
	})
	if r.code != ExitOK {
		t.Fatalf("exit %d, want %d", r.code, ExitOK)
	}
	// Each started process was told the master's run (-run).
	for _, name := range []string{"watchdog-0", "watchdog-1", "client-2"} {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "runs", name))
		if err != nil || string(b) != "run1" {
			t.Errorf("%s was started with run %q (%v), want run1", name, b, err)
		}
	}
	checkStdout(t, r.stdout, lines("a:1", "a:1"))
	checkStderr(t, r.stderr, "master: started 3 processes in ")

	pids := readPids(t, pidDir)
	if len(pids) != 3 {
		t.Fatalf("%d pid files, want 3 (2 watchdogs, 1 client)", len(pids))
	}
	// Run waits for what it started, so the processes are gone and
	// reaped by the time it returns.
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Run (kill -0: %v)", pid, err)
		}
	}
	for _, addr := range allAddrs(cfg) {
		conn := rpcconn.New(rpcconn.Identity{Cluster: cfg.Cluster, Role: "test"}, addr, time.Second)
		err := conn.Call(api.WatchdogPing, api.Empty{}, &api.PingReply{})
		conn.Close()
		if !errors.Is(err, rpcconn.ErrUnavailable) {
			t.Errorf("%s still answers after Run: %v", addr, err)
		}
	}
	for _, name := range []string{"watchdog-0", "watchdog-1", "client-2"} {
		if _, err := os.Stat(filepath.Join(cfg.LogDir(), name+".stderr")); err != nil {
			t.Errorf("no log for %s: %v", name, err)
		}
	}
	// The -stats record has the rusage of what the master reaped, by role.
	st, err := runstats.Read(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU == nil {
		t.Fatal("-stats has no cpu")
	}
	c := st.CPU
	if c.Servers.Procs != 2 || c.Clients.Procs != 1 || c.Master.Procs != 1 {
		t.Errorf("cpu counted %d watchdogs, %d clients, %d masters; want 2, 1, 1", c.Servers.Procs, c.Clients.Procs, c.Master.Procs)
	}
	for what, u := range map[string]runstats.Usage{"master": c.Master, "watchdogs": c.Servers, "clients": c.Clients} {
		if u.CPUS() <= 0 || u.Ctxsw() <= 0 {
			t.Errorf("%s: %.6f s of CPU, %d context switches; want both positive", what, u.CPUS(), u.Ctxsw())
		}
	}
}

// TestRun_Startup_ProcessExits covers a started binary that dies at once:
// the master must not wait out the start timeout, says what the process
// said last and where to look for the rest.
func TestRun_Startup_ProcessExits(t *testing.T) {
	bin := fakeBinDir(t)
	cfg := testConfig(t, 1, 0)
	// The config file is missing, so the fake watchdog exits with 2.
	cfgPath := filepath.Join(t.TempDir(), "missing.yaml")
	r := runScript(t, cfg, "joinServer 0\n", func(o *Options) {
		o.BinDir = bin
		o.ConfigPath = cfgPath
	})
	if r.code != ExitStart {
		t.Errorf("exit %d, want %d", r.code, ExitStart)
	}
	checkStderr(t, r.stderr, "watchdog of server 0: watchdog-0 exited: exit status 2: ",
		"missing.yaml: no such file or directory (see "+filepath.Join(cfg.LogDir(), "watchdog-0.stderr"))
}

func readPids(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid file %s: %v", e.Name(), err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func allAddrs(cfg *config.Config) []string {
	var addrs []string
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		addrs = append(addrs, s.WatchdogAddr(), s.RPCAddr())
	}
	for _, id := range cfg.ClientIDs() {
		c, _ := cfg.Client(id)
		addrs = append(addrs, c.RPCAddr())
	}
	return addrs
}
