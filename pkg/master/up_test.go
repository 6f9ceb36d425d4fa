package master

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
)

// upMaster is Up running in the test's process against a fake cluster.
type upMaster struct {
	t              *testing.T
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
	once           sync.Once
	code           int
}

// startUp runs Up on cfg until the test ends (or stop); local is its
// prompt's input, nil for none.
func startUp(t *testing.T, cfg *config.Config, local io.Reader, opt ...func(*Options)) *upMaster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := &upMaster{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	opts := Options{
		Config: cfg, ConfigPath: filepath.Join(t.TempDir(), "config.yaml"),
		BinDir: t.TempDir(), // empty: nothing may be started
		Stdout: u.stdout, Stderr: u.stderr,
	}
	for _, f := range opt {
		f(&opts)
	}
	go func() { u.done <- Up(ctx, opts, local) }()
	t.Cleanup(func() {
		u.stop()
		if t.Failed() {
			t.Logf("up's stdout:\n%s\nup's stderr:\n%s", u.stdout, u.stderr)
		}
	})
	return u
}

// waitUp waits until Up has printed its endpoints.
func (u *upMaster) waitUp() {
	u.t.Helper()
	waitFor(u.t, func() bool { return strings.Contains(u.stdout.String(), "\nstop: ") })
}

// stop cancels Up (as SIGINT does) and returns its exit code.
func (u *upMaster) stop() int {
	u.cancel()
	return u.wait()
}

// wait waits until Up returns and gives its exit code.
func (u *upMaster) wait() int {
	u.once.Do(func() { u.code = <-u.done })
	return u.code
}

// attachScript runs script on the cluster that is up on cfg's data
// directory, as `master -attach` does.
func attachScript(t *testing.T, cfg *config.Config, script string, opt func(*Options)) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	opts := Options{Config: cfg, ConfigPath: "attacher.yaml", Echo: true, Stdout: &stdout, Stderr: &stderr}
	if opt != nil {
		opt(&opts)
	}
	code := Attach(context.Background(), opts, strings.NewReader(script))
	t.Logf("attached script's stderr:\n%s", stderr.String())
	return result{stdout.String(), stderr.String(), code}
}

// Up joins every server and every client (client i to server i mod n),
// prints the endpoints, runs attached scripts with their transcript and
// exit code sent back, and stops everything it started when cancelled,
// with exit 0.
func TestUp_AttachedScripts_StopAtSignal(t *testing.T) {
	cfg := testConfig(t, 2, 3)      // servers 0-1, clients 2-4
	cfg.Servers[1].MemcachePort = 0 // off
	c := startFakeCluster(t, cfg)
	u := startUp(t, cfg, nil)
	u.waitUp()
	s0, _ := cfg.Server(0)
	s1, _ := cfg.Server(1)
	c3, _ := cfg.Client(3)
	out := u.stdout.String()
	for _, want := range []string{
		"cluster \"gossipkv\" is up: run ",
		"server  rpc              redis            http             memcache\n",
		"0       " + strings.Join([]string{s0.RPCAddr(), s0.RESPAddr(), s0.HTTPAddr(), s0.MemcacheAddr()}, "  ") + "\n",
		"1       " + strings.Join([]string{s1.RPCAddr(), s1.RESPAddr(), s1.HTTPAddr(), "-"}, "  ") + "\n",
		"client  rpc",
		"3       " + c3.RPCAddr() + "  1\n",
		"stop:          Ctrl-C here, or kill -INT ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up's stdout lacks %q", want)
		}
	}
	if !c.running(0) || !c.running(1) {
		t.Fatal("a server is not running once up")
	}

	// Something that is not a master knocks: it is dropped, and scripts
	// still run.
	if nc, err := net.Dial("unix", ControlPath(cfg.DataDir)); err == nil {
		nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		nc.Close()
	}

	r := attachScript(t, cfg, lines(
		"put 2 a 1",
		"put 2 b 2",
		"stabilize",
		"get 3 a",
		"printStore 1",
	), nil)
	if r.code != ExitOK {
		t.Errorf("attached script: exit %d, want %d", r.code, ExitOK)
	}
	checkStdout(t, r.stdout, lines(
		"> put 2 a 1",
		"> put 2 b 2",
		"> stabilize",
		"> get 3 a",
		"a:1",
		"> printStore 1",
		"a:1",
		"b:2",
	))
	checkStderr(t, r.stderr, "master: running the script on the cluster that is up: master pid ",
		"master: 5 commands, 0 errors, ")

	// A bad line fails the script, not the cluster; the state is the one
	// the first script left.
	r = attachScript(t, cfg, lines("get 4 b", "stablize", "joinServer 0"), func(o *Options) { o.Echo = false })
	if r.code != ExitFailed {
		t.Errorf("script with bad lines: exit %d, want %d", r.code, ExitFailed)
	}
	checkStdout(t, r.stdout, "b:2\n")
	checkStderr(t, r.stderr, `master: line 2: unknown command "stablize"`, "master: line 3: server 0 is already running: joinServer 0")

	// A plain run on the same data directory runs there too.
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), Options{Config: cfg, ConfigPath: "x.yaml", Stdout: &stdout, Stderr: &stderr}, strings.NewReader("get 2 a\n"))
	if code != ExitOK || stdout.String() != "a:1\n" {
		t.Errorf("run on the data directory of a cluster that is up: exit %d, stdout %q, stderr:\n%s", code, stdout.String(), stderr.String())
	}

	if code := u.stop(); code != ExitOK {
		t.Errorf("up: exit %d, want %d", code, ExitOK)
	}
	kills := c.killCalls()
	slices.Sort(kills)
	if !reflect.DeepEqual(kills, []uint32{0, 1}) {
		t.Errorf("kills %v, want [0 1]", kills)
	}
	checkStderr(t, u.stderr.String(), "master: ran the script of pid ", "exit 1", "stopping the cluster: ", "(attached scripts run: 3)")
	for _, name := range []string{controlName, ownerName} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after up stopped (%v)", name, err)
		}
	}
	r = attachScript(t, cfg, "get 2 a\n", nil)
	if r.code != ExitStart {
		t.Errorf("attach once up has stopped: exit %d, want %d", r.code, ExitStart)
	}
	checkStderr(t, r.stderr, "no master is up on data directory "+cfg.DataDir)
}

// Scripts from several masters run one at a time: a second waits, and says
// so, until the first has ended.
func TestUp_ScriptsRunOneAtATime(t *testing.T) {
	cfg := testConfig(t, 1, 2)
	startFakeCluster(t, cfg)
	u := startUp(t, cfg, nil)
	u.waitUp()

	pr, pw := io.Pipe()
	defer pw.Close()
	var out1 syncBuffer
	done1 := make(chan int, 1)
	go func() {
		done1 <- Attach(context.Background(), Options{Config: cfg, Stdout: &out1, Stderr: io.Discard}, pr)
	}()
	io.WriteString(pw, "put 1 k first\nget 1 k\n")
	waitFor(t, func() bool { return out1.String() == "k:first\n" })

	var out2, err2 syncBuffer
	done2 := make(chan int, 1)
	go func() {
		done2 <- Attach(context.Background(), Options{Config: cfg, Stdout: &out2, Stderr: &err2}, strings.NewReader("get 2 k\nput 2 k second\n"))
	}()
	waitFor(t, func() bool { return strings.Contains(err2.String(), "waiting for the script of pid ") })
	if out2.String() != "" {
		t.Errorf("the second script printed %q while the first was still running", out2.String())
	}
	// The first script goes on, alone.
	io.WriteString(pw, "put 1 k again\nget 1 k\n")
	waitFor(t, func() bool { return out1.String() == "k:first\nk:again\n" })
	pw.Close()
	if code := <-done1; code != ExitOK {
		t.Errorf("first script: exit %d", code)
	}
	if code := <-done2; code != ExitOK {
		t.Errorf("second script: exit %d", code)
	}
	if got := out2.String(); got != "k:again\n" {
		t.Errorf("second script's stdout %q, want %q", got, "k:again\n")
	}
}

// An attacher that goes away interrupts its script, stabilize included;
// the cluster stays up for the next one.
func TestUp_AttacherGoesAway_ItsScriptStops(t *testing.T) {
	cfg := testConfig(t, 2, 1)
	c := startFakeCluster(t, cfg)
	u := startUp(t, cfg, nil)
	u.waitUp()

	c.setFrozen(true) // stabilize can only time out
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	defer pw.Close()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Attach(ctx, Options{Config: cfg, Stdout: io.Discard, Stderr: &stderr}, pr)
	}()
	io.WriteString(pw, "put 2 a 1\nstabilize\n")
	before := c.statusCount()
	waitFor(t, func() bool { return c.statusCount() > before+2 })
	cancel() // as Ctrl-C does
	if code := <-done; code != ExitInterrupted {
		t.Errorf("interrupted attacher: exit %d, want %d", code, ExitInterrupted)
	}
	checkStderr(t, stderr.String(), "master: interrupted")
	c.setFrozen(false)

	r := attachScript(t, cfg, "stabilize\nprintStore 1\n", func(o *Options) { o.Echo = false })
	if r.code != ExitOK || r.stdout != "a:1\n" {
		t.Errorf("next script: exit %d, stdout %q", r.code, r.stdout)
	}
	waitFor(t, func() bool { return strings.Contains(u.stderr.String(), "2 commands, 0 errors") })
}

// A second up on the same data directory stops with exit 2 naming the
// first; a run with options only a run of its own honours is refused, and
// so is a master of another cluster.
func TestUp_Refusals(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	u := startUp(t, cfg, nil)
	u.waitUp()

	var stderr bytes.Buffer
	code := Up(context.Background(), Options{Config: cfg, ConfigPath: "second.yaml", BinDir: t.TempDir(), Stdout: io.Discard, Stderr: &stderr}, nil)
	if code != ExitStart || !strings.Contains(stderr.String(), "is in use by `master up` pid ") {
		t.Errorf("second up: exit %d, stderr:\n%s", code, stderr.String())
	}

	for _, opt := range []func(*Options){
		func(o *Options) { o.Check = true },
		func(o *Options) { o.StatsFile = "x.json" },
		func(o *Options) { o.HistoryHTMLFile = "x.html" },
		func(o *Options) { o.KeepData = true },
	} {
		var stdout, stderr bytes.Buffer
		o := Options{Config: cfg, ConfigPath: "x.yaml", Stdout: &stdout, Stderr: &stderr}
		opt(&o)
		if code := Run(context.Background(), o, strings.NewReader("get 1 a\n")); code != ExitStart || stdout.Len() > 0 {
			t.Errorf("run with %+v: exit %d, stdout %q", o, code, stdout.String())
		}
		checkStderr(t, stderr.String(), "shape a run that this master starts itself")
	}

	other := *cfg
	other.Cluster = "another"
	r := attachScript(t, &other, "get 1 a\n", nil)
	if r.code != ExitStart || r.stdout != "" {
		t.Errorf("attach from another cluster: exit %d, stdout %q", r.code, r.stdout)
	}
	checkStderr(t, r.stderr, `refuses the script: it runs cluster "gossipkv", and this master's config names cluster "another"`)
}

// A script sent while the cluster is still coming up waits for it; if it
// never comes up, the script is told so and exits 2, and up exits 2 with
// everything it started stopped.
func TestUp_DidNotComeUp(t *testing.T) {
	cfg := testConfig(t, 2, 1)
	c := startFakeCluster(t, cfg)
	// Server 0 kept a write from an earlier run that it cannot pass on:
	// the first stabilize can only time out.
	c.setFrozen(true)
	c.mu.Lock()
	e := model.Entry{Key: []byte("k"), Value: []byte("v"), Seq: 1, Src: 7, Version: model.Version{Wall: 1}}
	c.servers[0].log = append(c.servers[0].log, e)
	c.servers[0].seen.Add(e.Dot())
	c.mu.Unlock()
	u := startUp(t, cfg, nil, func(o *Options) { o.KeepData = true })
	before := c.statusCount()
	waitFor(t, func() bool { return c.statusCount() > before }) // stabilizing

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Attach(context.Background(), Options{Config: cfg, Stdout: &stdout, Stderr: &stderr}, strings.NewReader("get 2 a\n"))
	}()
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "master: waiting for the cluster to come up") })
	if code := u.stop(); code != ExitStart {
		t.Errorf("up: exit %d, want %d", code, ExitStart)
	}
	if code := <-done; code != ExitStart || stdout.String() != "" {
		t.Errorf("script sent while it came up: exit %d, stdout %q", code, stdout.String())
	}
	checkStderr(t, stderr.String(), "stopped the cluster before this script ran")
	checkStderr(t, u.stderr.String(), "the cluster did not come up: stabilize: ")
	if c.running(0) || c.running(1) {
		t.Error("a server is still running")
	}
}

// A socket left by a master that died does not stop the next one.
func TestUp_StaleSocket(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", ControlPath(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	// A run on that data directory finds nobody there and runs alone.
	r := runScript(t, cfg, "joinServer 0\n", func(o *Options) { o.Config = cfg })
	if r.code != ExitOK {
		t.Fatalf("run beside a stale socket: exit %d", r.code)
	}
	u := startUp(t, cfg, nil)
	u.waitUp()
	if r := attachScript(t, cfg, "get 1 a\n", nil); r.code != ExitOK {
		t.Errorf("attach: exit %d", r.code)
	}
}

// Lines typed at up's own prompt run between attached scripts, with their
// output on up's stdout; the end of that input stops the cluster.
func TestUp_LocalLines(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	c := startFakeCluster(t, cfg)
	pr, pw := io.Pipe()
	defer pw.Close()
	u := startUp(t, cfg, pr)
	u.waitUp()
	io.WriteString(pw, "put 1 k typed\nget 1 k\n")
	waitFor(t, func() bool { return strings.HasSuffix(u.stdout.String(), "\nk:typed\n") })
	if r := attachScript(t, cfg, "get 1 k\n", func(o *Options) { o.Echo = false }); r.code != ExitOK || r.stdout != "k:typed\n" {
		t.Errorf("attached: exit %d, stdout %q", r.code, r.stdout)
	}
	io.WriteString(pw, "bogus\n")
	waitFor(t, func() bool { return strings.Contains(u.stderr.String(), `line 3: unknown command "bogus"`) })
	pw.Close() // Ctrl-D
	if code := u.wait(); code != ExitOK {
		t.Errorf("up: exit %d, want %d", code, ExitOK)
	}
	checkStderr(t, u.stderr.String(), "stopping the cluster: end of input")
	if c.running(0) {
		t.Error("server 0 still running")
	}
}

// A quiet attached script gets back only its errors on stderr: neither
// the note of where it ran nor the summary.
func TestUp_AttachedQuiet(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	startFakeCluster(t, cfg)
	u := startUp(t, cfg, nil)
	u.waitUp()
	for _, quiet := range []bool{false, true} {
		r := attachScript(t, cfg, "put 1 k v\nbogus\n", func(o *Options) { o.Quiet, o.Echo = quiet, false })
		if r.code != ExitFailed {
			t.Errorf("quiet=%v: exit %d, want %d", quiet, r.code, ExitFailed)
		}
		checkStderr(t, r.stderr, `line 2: unknown command "bogus"`)
		for _, note := range []string{"running the script on the cluster that is up", "2 commands, 1 errors"} {
			if got := strings.Contains(r.stderr, note); got == quiet {
				t.Errorf("quiet=%v: stderr has %q: %v", quiet, note, got)
			}
		}
	}
}
