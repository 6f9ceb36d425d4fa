package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// In linearizable mode the real clients list keys and add through any
// server with no stabilize in between: redis-cli's SCAN and KEYS at one
// server list what was just written at another, and of two memcache adds
// of one key at two servers, the second is refused.
func TestFronts_Linearizable_ScanAndAdd(t *testing.T) {
	cli := tool(t, "redis-tools", "redis-cli")
	cp, cat := tool(t, "libmemcached-tools", "memccp", "memcp"), tool(t, "libmemcached-tools", "memccat", "memcat")
	s, cfg := startFronts(t, "Redis", config.Server.RESPAddr, func(c *config.Config) {
		c.Consistency = config.ConsistencyLinearizable
	})
	// run runs a client against server id and returns its stdout (less a
	// final newline) and exit status.
	run := func(id uint32, path string, args ...string) (string, int) {
		t.Helper()
		srv, _ := cfg.Server(id)
		if path == cli {
			args = append([]string{"-h", srv.Host, "-p", strconv.Itoa(srv.RESPPort)}, args...)
		} else {
			args = append([]string{"--servers=" + srv.MemcacheAddr()}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, args...).Output()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		case err != nil:
			t.Fatalf("%s %q: %v", filepath.Base(path), args, err)
		}
		return strings.TrimSuffix(string(out), "\n"), 0
	}
	expect := func(id uint32, want string, args ...string) {
		t.Helper()
		if got, code := run(id, cli, args...); got != want || code != 0 {
			t.Errorf("redis-cli at server %d %q = %q, exit %d; want %q", id, args, got, code, want)
		}
	}

	expect(0, "OK", "MSET", "user:1", "ann", "user:2", "bob", "order:1", "x")
	expect(1, "0\nuser:1\nuser:2", "SCAN", "0", "MATCH", "user:*", "COUNT", "100")
	expect(2, "1", "DEL", "user:1")
	expect(0, "fromscript\norder:1\nuser:2", "KEYS", "*")

	file := filepath.Join(t.TempDir(), "lock")
	add := func(id uint32, value string) int {
		t.Helper()
		if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
		_, code := run(id, cp, "--add", file)
		return code
	}
	if code := add(1, "first"); code != 0 {
		t.Fatalf("memccp --add lock at server 1: exit %d", code)
	}
	if code := add(2, "second"); code == 0 {
		t.Errorf("memccp --add lock at server 2, after server 1's: exit 0, want a refusal")
	}
	if out, code := run(0, cat, "lock"); out != "first" || code != 0 {
		t.Errorf("memccat lock at server 0 = %q, exit %d; want first", out, code)
	}
	s.sync("lock", "first")
}
