package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
)

// This file tests the binaries' conventions as a user meets them: their
// installed names, the environment variables, the exit status of an
// interrupted run, and the format of the processes' logs.

// cliEnv is this process's environment without any GOSSIPKV_ variable
// (a developer's own must not change the test), plus extra.
func cliEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOSSIPKV_") })
	return append(env, extra...)
}

// installAs copies the built binaries named into dir under their installed
// names (config.BinaryPrefix + name), as `make install` lays them out.
func installAs(t *testing.T, bin, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, config.BinaryPrefix+name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// Binaries under their installed names (gossipkv-master, gossipkv-server,
// ...) find each other: side by side, or the master elsewhere and the rest
// on PATH. The config comes from GOSSIPKV_CONFIG, and with GOSSIPKV_QUIET
// a run that goes well prints nothing on stderr.
func TestInstalledNames_FindEachOther(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	helpers := t.TempDir()
	installAs(t, bin, helpers, "master", "watchdog", "server", "client")
	elsewhere := t.TempDir()
	installAs(t, bin, elsewhere, "master")
	for _, tc := range []struct {
		name, master string
		env          []string
	}{
		{"side by side", filepath.Join(helpers, "gossipkv-master"), nil},
		{"the rest on PATH", filepath.Join(elsewhere, "gossipkv-master"), []string{"PATH=" + helpers + string(os.PathListSeparator) + os.Getenv("PATH")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, cfgPath := logConfig(t, 2, 1, "info") // the watchdog says which server binary it runs
			cmd := exec.Command(tc.master)
			cmd.Env = cliEnv(append(tc.env, "GOSSIPKV_CONFIG="+cfgPath, "GOSSIPKV_QUIET=1")...)
			cmd.Stdin = strings.NewReader("joinServer 0\njoinServer 1\njoinClient 2 0\nput 2 k v\nstabilize\nget 2 k\nprintStore 1\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\nstderr:\n%s", filepath.Base(tc.master), err, stderr.String())
			}
			if stdout.String() != "k:v\nk:v\n" || stderr.Len() != 0 {
				t.Errorf("stdout %q, want %q; stderr (want none with GOSSIPKV_QUIET):\n%s", stdout.String(), "k:v\nk:v\n", stderr.String())
			}
			// The watchdogs ran the prefixed server, from the helpers'
			// directory (there is no other server binary there).
			log, err := os.ReadFile(filepath.Join(cfg.LogDir(), "watchdog-0.log"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "server_bin=" + filepath.Join(helpers, "gossipkv-server"); !strings.Contains(string(log), want) {
				t.Errorf("watchdog-0.log lacks %q:\n%s", want, log)
			}
		})
	}
}

// A bad GOSSIPKV_ value stops a binary with exit 2 and an error naming
// the variable; a flag given wins over its variable.
func TestEnvironment_BadValueAndFlagWins(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	for _, tc := range []struct {
		binary string
		args   []string
		env    string
	}{
		{"master", nil, "GOSSIPKV_CHECK=perhaps"},
		{"master", []string{"up"}, "GOSSIPKV_LOG_FORMAT=xml"},
		{"server", []string{"-id", "0"}, "GOSSIPKV_LOG_FORMAT=xml"},
		{"watchdog", []string{"-id", "0"}, "GOSSIPKV_LOG_FORMAT=yaml"},
		{"client", []string{"-id", "5"}, "GOSSIPKV_LOG_FORMAT=logfmt"},
	} {
		cmd := exec.Command(filepath.Join(bin, tc.binary), tc.args...)
		cmd.Env = cliEnv(tc.env)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		name, _, _ := strings.Cut(tc.env, "=")
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), name+"=") {
			t.Errorf("%s %v with %s: %v, output %q; want exit 2 naming %s", tc.binary, tc.args, tc.env, err, out, name)
		}
	}

	cfgPath := checkCluster(t, 1, 1)
	cmd := exec.Command(filepath.Join(bin, "master"), "-config", cfgPath)
	cmd.Env = cliEnv("GOSSIPKV_CONFIG=" + filepath.Join(t.TempDir(), "missing.yaml"))
	cmd.Stdin = strings.NewReader("joinServer 0\njoinClient 1 0\nput 1 k v\nget 1 k\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "k:v\n" {
		t.Errorf("-config given, GOSSIPKV_CONFIG naming a missing file: %v, stdout %q", err, out)
	}
}

// A run that gets SIGINT says so, stops everything it started, and exits
// 130.
func TestRun_SIGINT_Exits130(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfgPath := checkCluster(t, 2, 1)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "master"), "-config", cfgPath)
	cmd.Env = cliEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	// The script's stdin stays open: only the signal can end the run.
	io.WriteString(stdin, "joinServer 0\njoinServer 1\njoinClient 2 0\nput 2 k v\nget 2 k\n")
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		got <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-got:
		if line != "k:v\n" {
			t.Fatalf("stdout %q, want k:v", line)
		}
	case <-time.After(scriptTimeout):
		t.Fatal("the script's get did not answer")
	}
	// Everything the run started answers now.
	s0, _ := cfg.Server(0)
	s1, _ := cfg.Server(1)
	if _, ok := answers(cfg, s0.RPCAddr(), api.ServerPing); !ok {
		t.Fatal("server 0 does not answer while the run is on")
	}
	if _, ok := answers(cfg, s1.WatchdogAddr(), api.WatchdogPing); !ok {
		t.Fatal("the watchdog of server 1 does not answer while the run is on")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait(); close(exited) }()
	select {
	case <-werr:
	case <-time.After(scriptTimeout):
		t.Fatal("the master did not exit after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "master: interrupted") {
		t.Errorf("stderr does not say interrupted:\n%s", stderr.String())
	}
	checkNothingLeft(t, cfg)
}

// logConfig writes a config for a cluster on free ports whose processes
// log at level; nothing of it may answer once the test is over.
func logConfig(t *testing.T, servers, clients int, level string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(servers, clients, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LogLevel = level
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNothingLeft(t, cfg) })
	return cfg, path
}

// With -log-format json and log_level debug, every line of every process's
// log is one JSON object whose keys each appear once; memberlist's lines
// carry their own level and no bracketed prefix.
func TestLogs_JSON_EachFieldOnce(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfg, cfgPath := logConfig(t, 3, 1, "debug")
	script := "joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\nput 3 a 1\nbreakConnection 0 1\nput 3 b 2\n" +
		"createConnection 0 1\nstabilize\nget 3 b\nkillServer 2\njoinServer 2\nstabilize\n"
	r := runBin(t, bin, "master", "", script, "-log-format", "json", "-config", cfgPath)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	memberlistLines := 0
	for _, name := range []string{"server-0", "server-1", "server-2", "watchdog-0", "watchdog-2", "client-3"} {
		role, _, _ := strings.Cut(name, "-")
		b, err := os.ReadFile(filepath.Join(cfg.LogDir(), name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) < 2 {
			t.Errorf("%s.log: %d lines; a debug log of this script has more", name, len(lines))
		}
		for i, l := range lines {
			keys, rec, err := jsonKeys(l)
			if err != nil {
				t.Errorf("%s.log line %d is not one JSON object: %v: %s", name, i+1, err, l)
				continue
			}
			for _, k := range keys {
				if n := strings.Count(" "+strings.Join(keys, " ")+" ", " "+k+" "); n > 1 {
					t.Errorf("%s.log line %d has %q %d times: %s", name, i+1, k, n, l)
					break
				}
			}
			if !slices.Contains(keys, role) {
				t.Errorf("%s.log line %d lacks %q: %s", name, i+1, role, l)
			}
			if rec["component"] == "memberlist" {
				memberlistLines++
				msg, _ := rec["msg"].(string)
				if strings.HasPrefix(msg, "[") || strings.HasPrefix(msg, "memberlist:") {
					t.Errorf("%s.log line %d: memberlist's prefix left in the message: %s", name, i+1, l)
				}
			}
		}
	}
	if memberlistLines == 0 {
		t.Error("no memberlist line in the servers' debug logs")
	}
}

// jsonKeys decodes one JSON object and lists its top-level keys in order,
// repeats included (encoding/json alone would keep the last silently).
func jsonKeys(line string) ([]string, map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not an object")
	}
	var keys []string
	rec := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		rec[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if dec.More() {
		return nil, nil, errors.New("more than one value")
	}
	return keys, rec, nil
}
