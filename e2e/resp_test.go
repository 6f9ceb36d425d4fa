package e2e

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// The real redis-cli writes, reads, deletes and scans through the Redis
// ports of a cluster the master runs, and what it writes through one
// server reads back through another after a stabilize; script clients and
// Redis clients see the same store.
func TestRedisCLI_WriteHereReadThere(t *testing.T) {
	cli := tool(t, "redis-tools", "redis-cli")
	s, cfg := startFronts(t, "Redis", config.Server.RESPAddr)
	redis := func(id uint32, args ...string) string {
		t.Helper()
		srv, _ := cfg.Server(id)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append([]string{"-h", srv.Host, "-p", strconv.Itoa(srv.RESPPort)}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli -p %d %q: %v\n%s", srv.RESPPort, args, err, out)
		}
		return strings.TrimSuffix(string(out), "\n")
	}
	check := func(id uint32, got, want string, args ...string) {
		t.Helper()
		if got != want {
			t.Errorf("redis-cli at server %d %q = %q, want %q", id, args, got, want)
		}
	}
	run := func(id uint32, want string, args ...string) {
		t.Helper()
		check(id, redis(id, args...), want, args...)
	}

	run(0, "yes", "GET", "fromscript")
	run(0, "OK", "SET", "greeting", "hello world")
	run(0, "OK", "MSET", "user:1", "ann", "user:2", "bob", "order:1", "x")
	run(0, "hello world", "GET", "greeting")
	s.send("stabilize")
	s.sync("greeting", "hello world")

	run(1, "hello world", "GET", "greeting")
	run(2, "ann\nbob\n", "MGET", "user:1", "user:2", "nope")
	got := strings.Split(redis(2, "--scan", "--pattern", "user:*"), "\n")
	slices.Sort(got)
	check(2, strings.Join(got, " "), "user:1 user:2", "--scan", "--pattern", "user:*")
	run(1, "0\nuser:1\nuser:2", "SCAN", "0", "MATCH", "user:*", "COUNT", "100")
	run(1, "5", "DBSIZE")

	run(0, "1", "DEL", "greeting", "nope")
	run(0, "", "GET", "greeting")
	s.send("stabilize")
	s.sync("greeting", "ERR_KEY")
	run(2, "", "GET", "greeting")
	run(1, "0", "EXISTS", "greeting")
	run(2, "fromscript\norder:1\nuser:1\nuser:2", "KEYS", "*")

	// Refusals are errors redis-cli shows as such.
	args := []string{"SET", "k", "v", "EX", "10"}
	check(1, strings.TrimSpace(redis(1, args...)),
		"ERR SET option 'EX' is not supported by gossipkv: only SET key value (no expiry, no conditional writes, no GET)", args...)
	if info := redis(1, "INFO", "server"); !strings.Contains(info, "gossipkv_server_id:1") {
		t.Errorf("INFO server at server 1:\n%s", info)
	}
}
