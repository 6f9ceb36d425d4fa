package e2e

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
)

// twoConfigs writes two configs with the same ports (free ones, on
// loopback) and different data directories.
func twoConfigs(t *testing.T, nServers, nClients int) (a, b *config.Config, aPath, bPath string) {
	t.Helper()
	dir := t.TempDir()
	a, err := config.LocalFreePorts(nServers, nClients, filepath.Join(dir, "dataA"))
	if err != nil {
		t.Fatal(err)
	}
	bc := *a
	b = &bc
	b.DataDir = filepath.Join(dir, "dataB")
	aPath, bPath = filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	if err := a.Write(aPath); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(bPath); err != nil {
		t.Fatal(err)
	}
	return a, b, aPath, bPath
}

// A second master with the same ports (another data directory) finds the
// first one's processes answering: it stops with exit 2 naming each port,
// the process that holds it and its cluster and run, and nothing it asked
// for reaches the first cluster. With the same data directory too, it
// stops on the first one's lock, and so does cleanup.
func TestTwoMasters_SamePorts_SecondStops_WritesNothing(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfgA, _, aPath, bPath := twoConfigs(t, 2, 1) // servers 0-1, client 2
	a := startSessionWith(t, bin, cfgA, aPath)
	a.send("joinServer 0")
	a.send("joinServer 1")
	a.send("joinClient 2 0")
	a.send("put 2 ours a")
	a.send("get 2 ours")
	a.expect("ours:a")

	w0, _ := cfgA.Server(0)
	holder, ok := whoAnswers(cfgA, w0.WatchdogAddr(), api.WatchdogPing)
	if !ok || holder.Run == "" || holder.Role != "watchdog" {
		t.Fatalf("the first master's watchdog 0: %+v, answered %v", holder, ok)
	}

	stdout, stderr, code := runMasterOut(t, bin, "joinServer 0\njoinClient 2 0\nput 2 intruder x\nget 2 intruder\n", "-config", bPath)
	if code != 2 || stdout != "" {
		t.Fatalf("second master: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and nothing run", code, stdout, stderr)
	}
	for _, want := range []string{
		"watchdog of server 0: port " + w0.WatchdogAddr() + " is held by watchdog 0 (pid " + strconv.Itoa(holder.Pid) + ")",
		`of cluster "gossipkv", run ` + holder.Run,
		"driven by master pid " + strconv.Itoa(a.pid),
		"what to do: ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("second master's stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Every port is named: both watchdogs, the client and the servers.
	for _, addr := range allAddrs(cfgA) {
		if !strings.Contains(stderr, "port "+addr+" is held by") {
			t.Errorf("second master's stderr does not name %s", addr)
		}
	}
	// It started nothing.
	if pids, _ := filepath.Glob(filepath.Join(filepath.Dir(aPath), "dataB", "pids", "*.pid")); len(pids) != 0 {
		t.Errorf("the second master recorded started processes: %v", pids)
	}

	// Same data directory: the lock names the first master.
	_, stderr, code = runMasterOut(t, bin, "joinServer 0\n", "-config", aPath)
	if want := "data directory " + cfgA.DataDir + " is in use by master pid " + strconv.Itoa(a.pid) + " (run " + holder.Run; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("master on a held data directory: exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
	}
	code, stderr = runMaster(t, bin, "", "cleanup", "-config", aPath)
	if code != 2 || !strings.Contains(stderr, "in use by master pid "+strconv.Itoa(a.pid)) {
		t.Errorf("cleanup under a live master: exit %d, stderr:\n%s", code, stderr)
	}

	// The first cluster never saw the intruder, and still works.
	a.send("stabilize")
	a.send("printStore 1")
	a.send("get 2 intruder")
	lines := a.readUntil("intruder:ERR_KEY")
	if i := slices.Index(lines, "> printStore 1"); i < 0 || !slices.Equal(lines[i+1:], []string{"ours:a", "> get 2 intruder"}) {
		t.Errorf("first cluster's transcript: %q; want server 1 to hold only ours:a", lines)
	}
}

// allAddrs is every rpc address of cfg: watchdogs, servers, clients.
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

// Two masters started at the same moment with the same ports: at most one
// runs its script, the other stops with exit 2 naming a port (both may,
// when each wins some ports), and neither ever sees the other's write.
func TestTwoMasters_StartedAtOnce_NeverMix(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfgA, _, aPath, bPath := twoConfigs(t, 1, 1) // server 0, client 1
	t.Cleanup(func() { checkNothingLeft(t, cfgA) })
	type result struct {
		stdout, stderr string
		code           int
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, path := range []string{aPath, bPath} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := "from" + strconv.Itoa(i)
			script := "joinServer 0\njoinClient 1 0\nput 1 " + me + " x\nstabilize\nprintStore 0\n"
			r := &results[i]
			r.stdout, r.stderr, r.code = runMasterOut(t, bin, script, "-config", path)
		}()
	}
	wg.Wait()
	defer func() {
		if t.Failed() {
			for i, r := range results {
				t.Logf("master %d: exit %d\nstdout %q\nstderr:\n%s", i, r.code, r.stdout, r.stderr)
			}
		}
	}()
	ran := 0
	for i, r := range results {
		switch r.code {
		case 0:
			ran++
			if want := "from" + strconv.Itoa(i) + ":x\n"; r.stdout != want {
				t.Errorf("master %d printed %q, want only its own write %q", i, r.stdout, want)
			}
		case 2:
			if !strings.Contains(r.stderr, "port ") || r.stdout != "" {
				t.Errorf("master %d: exit 2 without naming a port, or after running:\nstdout %q\nstderr:\n%s", i, r.stdout, r.stderr)
			}
		default:
			t.Errorf("master %d: exit %d, stderr:\n%s", i, r.code, r.stderr)
		}
	}
	if ran > 1 {
		t.Errorf("both masters ran their script on one set of ports")
	}
}
