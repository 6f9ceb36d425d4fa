package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
)

// rewrite regenerates the expected transcripts. Only keep a rewrite whose
// diff you understand.
var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.out from this run's output")

// scriptTimeout bounds one script's run, so a hung master fails its test
// instead of the whole package.
const scriptTimeout = 3 * time.Minute

// TestTranscripts runs every testdata/NAME.txt through the real master with
// -echo and compares:
//   - stdout with testdata/NAME.out, exactly (regenerate with -rewrite);
//   - stderr with testdata/NAME.err, if present: each of its non-blank
//     lines must appear somewhere in stderr (stderr carries timings, so it
//     cannot be compared whole);
//   - the exit code with the script's "# exit: N" comment (default 0);
//   - the history checker's verdict (master -check), which must pass.
//
// A "# config: servers=N clients=M" comment sizes the cluster (default 5
// and 5, ids as in config.yaml), and "# consistency: linearizable" runs it
// in that mode (default eventual). Each script gets its own ports and data
// directory, and after it nothing it started may still answer.
func TestTranscripts(t *testing.T) {
	root := moduleRoot(t)
	scripts, err := filepath.Glob(filepath.Join(root, "testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) == 0 {
		t.Fatalf("no scripts in %s", filepath.Join(root, "testdata"))
	}
	bin := buildBinaries(t, root)
	// Sequential on purpose: each script runs a cluster of processes, and
	// scripts running side by side would make each other's timing noisy.
	for _, path := range scripts {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) { runTranscript(t, bin, path) })
	}
}

// moduleRoot walks up from the working directory to the go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildBinaries builds every command into a temporary bin directory.
// buildBinaries builds the four binaries once for the whole package run
// (a build takes seconds on a small machine) into a directory TestMain
// removes at the end.
func buildBinaries(t *testing.T, root string) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "gossipkv-e2e-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.dir = dir
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/...: %v\n%s", err, out)
			return
		}
		for _, name := range []string{"master", "server", "watchdog", "client"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				build.err = fmt.Errorf("binary %s was not built: %v", name, err)
				return
			}
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.dir
}

var build struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// directives are what a script's comments ask of the test.
type directives struct {
	servers, clients int
	exit             int
	consistency      string
}

var (
	configRe = regexp.MustCompile(`^#\s*config:\s*servers=(\d+)\s+clients=(\d+)\s*$`)
	exitRe   = regexp.MustCompile(`^#\s*exit:\s*(\d+)\s*$`)
	modeRe   = regexp.MustCompile(`^#\s*consistency:\s*(\w+)\s*$`)
)

func parseDirectives(t *testing.T, script []byte) directives {
	t.Helper()
	d := directives{servers: 5, clients: 5}
	sc := bufio.NewScanner(bytes.NewReader(script))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := configRe.FindStringSubmatch(line); m != nil {
			d.servers, _ = strconv.Atoi(m[1])
			d.clients, _ = strconv.Atoi(m[2])
		} else if m := exitRe.FindStringSubmatch(line); m != nil {
			d.exit, _ = strconv.Atoi(m[1])
		} else if m := modeRe.FindStringSubmatch(line); m != nil {
			d.consistency = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the script's comments: %v", err)
	}
	return d
}

func runTranscript(t *testing.T, bin, path string) {
	script, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := parseDirectives(t, script)
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(d.servers, d.clients, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if d.consistency != "" {
		cfg.Consistency = d.consistency
		if err := cfg.Validate(); err != nil {
			t.Fatalf("# consistency: %v", err)
		}
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		t.Fatal(err)
	}
	// Registered before the run, so it also runs if the test fails midway.
	t.Cleanup(func() { checkNothingLeft(t, cfg) })

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// -check judges every run too: a transcript that matches but breaks
	// the model (exit 3) fails.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "master"), "-echo", "-check", "-config", cfgPath)
	cmd.Stdin = bytes.NewReader(script)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// On timeout, let the master stop its cluster before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running the master: %v", err)
	}
	code := cmd.ProcessState.ExitCode()
	defer func() {
		if t.Failed() {
			t.Logf("master stderr:\n%s", stderr.String())
			logProcessLogs(t, cfg.LogDir())
		}
	}()
	if ctx.Err() != nil {
		t.Errorf("script did not finish in %v", scriptTimeout)
	}
	if code == 3 {
		t.Errorf("the history checker failed the run:\n%s", checkLines(stderr.String()))
	}
	if code != d.exit {
		t.Errorf("exit code %d, want %d", code, d.exit)
	}

	outPath := strings.TrimSuffix(path, ".txt") + ".out"
	if *rewrite {
		if err := os.WriteFile(outPath, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		want, err := os.ReadFile(outPath)
		if err != nil {
			t.Fatalf("%v (run with -rewrite to create it)", err)
		}
		if !bytes.Equal(stdout.Bytes(), want) {
			t.Errorf("stdout differs from %s:\n%s", filepath.Base(outPath), diff(string(want), stdout.String()))
		}
	}

	errPath := strings.TrimSuffix(path, ".txt") + ".err"
	if want, err := os.ReadFile(errPath); err == nil {
		for _, line := range strings.Split(string(want), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.Contains(stderr.String(), line) {
				t.Errorf("stderr lacks %q (from %s)", line, filepath.Base(errPath))
			}
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func diff(want, got string) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(want),
		B:        difflib.SplitLines(got),
		FromFile: "want",
		ToFile:   "got",
		Context:  3,
	})
	if err != nil {
		return fmt.Sprintf("(diff failed: %v)\nwant:\n%s\ngot:\n%s", err, want, got)
	}
	return text
}

// checkNothingLeft fails the test if any process of the cluster still
// answers once the master is gone, and kills it by the pid it reports.
func checkNothingLeft(t *testing.T, cfg *config.Config) {
	type target struct{ what, addr, method string }
	var targets []target
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		targets = append(targets,
			target{fmt.Sprintf("watchdog %d", id), s.WatchdogAddr(), api.WatchdogPing},
			target{fmt.Sprintf("server %d", id), s.RPCAddr(), api.ServerPing})
	}
	for _, id := range cfg.ClientIDs() {
		c, _ := cfg.Client(id)
		targets = append(targets, target{fmt.Sprintf("client %d", id), c.RPCAddr(), api.ClientPing})
	}
	for _, tg := range targets {
		pid, ok := answers(cfg, tg.addr, tg.method)
		if !ok {
			continue
		}
		t.Errorf("%s at %s (pid %d) still answers after the master exited", tg.what, tg.addr, pid)
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// answers pings addr and reports whether a gossipkv process answers there,
// and its pid.
func answers(cfg *config.Config, addr, method string) (pid int, ok bool) {
	p, ok := whoAnswers(cfg, addr, method)
	return p.Pid, ok
}

// whoAnswers pings addr and reports whether a gossipkv process of cfg's
// cluster answers there, and who it is. The test has no run of its own, so
// the processes a master started refuse its calls; the refusal names them
// all the same (their run included).
func whoAnswers(cfg *config.Config, addr, method string) (rpcconn.Peer, bool) {
	conn := rpcconn.New(rpcconn.Identity{Cluster: cfg.Cluster, Role: "test"}, addr, time.Second)
	defer conn.Close()
	var reply api.PingReply
	err := conn.Call(method, api.Empty{}, &reply)
	var re *rpcconn.RefusedError
	switch {
	case err == nil:
		return rpcconn.Peer{Identity: rpcconn.Identity{Cluster: cfg.Cluster, Role: reply.Role, ID: reply.ID}, Pid: reply.Pid}, true
	case errors.As(err, &re):
		return re.Peer, true
	}
	return rpcconn.Peer{}, false
}

// logProcessLogs shows the end of every log the master's processes wrote,
// for a failed script.
func logProcessLogs(t *testing.T, dir string) {
	const tail = 4 << 10
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > tail {
			b = append([]byte("..."), b[len(b)-tail:]...)
		}
		t.Logf("%s:\n%s", e.Name(), b)
	}
}
