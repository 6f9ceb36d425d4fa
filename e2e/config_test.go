package e2e

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gossipkv/pkg/config"
)

// runMaster runs the master binary on a script and returns its exit code
// and stderr.
func runMaster(t *testing.T, bin string, script string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "master"), args...)
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("run master: %v", err)
	return 0, ""
}

// A bad config stops the master before it starts anything: exit 2, and an
// error that names the field.
func TestMaster_BadConfig_Exit2_NamesField_StartsNothing(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	dir := t.TempDir()
	good, err := config.LocalFreePorts(2, 1, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s0, _ := good.Server(0)
	s1, _ := good.Server(1)
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown field", "gossip_interval:", "gosip_interval:", `timing.gosip_interval: unknown field (did you mean "gossip_interval"?)`},
		{"duplicate id", "id: 1,", "id: 0,", "servers[1].id: 0 is already used by servers[0].id"},
		{"port clash", fmtPort("rpc_port", s1.RPCPort), fmtPort("rpc_port", s0.RPCPort), "servers[1].rpc_port"},
		{"bad duration", "probe_interval: 200ms", "probe_interval: 200", "timing.probe_interval"},
		{"bad key", `secret_key: ""`, `secret_key: "c2hvcnQ="`, "security.secret_key: decodes to 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(text), tc.from, tc.to, 1)
			if bad == string(text) {
				t.Fatalf("test bug: %q not in the config", tc.from)
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := runMaster(t, bin, "joinServer 0\n", "-config", path)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tc.want)
			}
			checkNothingLeft(t, good)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "nope.yaml")
		code, stderr := runMaster(t, bin, "joinServer 0\n", "-config", path)
		if code != 2 || !strings.Contains(stderr, "nope.yaml") {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// When startup fails half way (a client cannot listen: its port is taken),
// the master stops what it had already started.
func TestMaster_StartupFailsHalfway_LeavesNothing(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(2, 2, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	c3, _ := cfg.Client(3)
	squatter, err := net.Listen("tcp", c3.RPCAddr()) // answers, but not as client 3
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	go func() {
		for {
			conn, err := squatter.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	code, stderr := runMaster(t, bin, "joinServer 0\n", "-config", path)
	if code != 2 || !strings.Contains(stderr, "client 3") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 naming client 3", code, stderr)
	}
	squatter.Close()
	checkNothingLeft(t, cfg)
}

func fmtPort(field string, port int) string { return field + ": " + strconv.Itoa(port) }

// runMasterOut is runMaster keeping stdout too.
func runMasterOut(t *testing.T, bin, script string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "master"), args...)
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run master: %v", err)
	}
	return out.String(), errb.String(), code
}

// A line of several megabytes is read whole and refused with one clear
// error (the value is over max_value_bytes), and the master goes on.
func TestMaster_HugeLine_ClearError_GoesOn(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	dir := t.TempDir()
	cfg, err := config.LocalFreePorts(1, 1, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := cfg.Write(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNothingLeft(t, cfg) })
	huge := strings.Repeat("x", 5<<20)
	script := "joinServer 0\njoinClient 1 0\nput 1 k before\nput 1 big " + huge + "\nget 1 k\nget 1 big\n"
	stdout, stderr, code := runMasterOut(t, bin, script, "-config", path)
	if code != 1 || !strings.Contains(stderr, "line 4: put failed") ||
		!strings.Contains(stderr, "value of 5242880 bytes exceeds max_value_bytes 1048576") {
		t.Fatalf("exit %d, stderr:\n%s", code, tail(stderr, 5))
	}
	if len(stderr) > 4096 {
		t.Errorf("the error repeats the huge line: %d bytes of stderr", len(stderr))
	}
	if stdout != "k:before\nbig:ERR_KEY\n" {
		t.Errorf("stdout %q", stdout)
	}
}
