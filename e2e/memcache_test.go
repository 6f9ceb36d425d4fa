package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// libmemcached's tools (Debian's libmemcached-tools, which names them
// memccp, memccat, ...; upstream memcp, memcat, ...) store, read, test
// and delete through the memcache ports of a cluster the master runs;
// what they store through one server reads back through another after a
// stabilize, and script clients see it too.
func TestMemcacheTools_WriteHereReadThere(t *testing.T) {
	const pkg = "libmemcached-tools"
	cp, cat := tool(t, pkg, "memccp", "memcp"), tool(t, pkg, "memccat", "memcat")
	rm, exist := tool(t, pkg, "memcrm", "memrm"), tool(t, pkg, "memcexist", "memexist")
	s, cfg := startFronts(t, "memcache", config.Server.MemcacheAddr)
	dir := t.TempDir()
	// run runs a tool against server id; it returns the tool's stdout and
	// exit status, and its stderr.
	run := func(id uint32, path string, args ...string) (out string, code int, stderr string) {
		t.Helper()
		srv, _ := cfg.Server(id)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, append([]string{"--servers=" + srv.MemcacheAddr()}, args...)...)
		var errb strings.Builder
		cmd.Stderr = &errb
		b, err := cmd.Output()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("%s %q: %v", filepath.Base(path), args, err)
		}
		return string(b), code, errb.String()
	}
	file := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// memccat ends each value with a newline of its own.
	if out, code, errs := run(0, cat, "fromscript"); out != "yes\n" || code != 0 {
		t.Errorf("memccat fromscript at 0 = %q, exit %d, %s", out, code, errs)
	}
	// memccp stores a file under its base name.
	if _, code, errs := run(0, cp, file("greeting", "hello\r\nworld\x00")); code != 0 {
		t.Fatalf("memccp greeting to 0: exit %d, %s", code, errs)
	}
	if out, code, errs := run(0, cat, "greeting"); out != "hello\r\nworld\x00\n" || code != 0 {
		t.Errorf("memccat greeting at 0 = %q, exit %d, %s", out, code, errs)
	}
	s.send("stabilize")
	s.sync("fromscript", "yes") // the master prints values raw: this one reads as one line
	for _, id := range []uint32{1, 2} {
		if out, code, errs := run(id, cat, "greeting"); out != "hello\r\nworld\x00\n" || code != 0 {
			t.Errorf("memccat greeting at %d = %q, exit %d, %s", id, out, code, errs)
		}
	}
	if _, code, errs := run(2, exist, "greeting"); code != 0 {
		t.Errorf("memcexist greeting at 2: exit %d, %s", code, errs)
	}

	// Refused: flags (gossipkv keeps none); the key keeps its value.
	if _, code, errs := run(1, cp, "--flag=5", file("greeting", "other")); code == 0 || !strings.Contains(errs, "flags are not supported") {
		t.Errorf("memccp --flag=5 to 1: exit %d, %q", code, errs)
	}

	if _, code, errs := run(1, rm, "greeting"); code != 0 {
		t.Errorf("memcrm greeting at 1: exit %d, %s", code, errs)
	}
	s.send("stabilize")
	s.sync("greeting", "ERR_KEY")
	if out, code, _ := run(2, cat, "greeting"); code == 0 || out != "" {
		t.Errorf("memccat of the deleted key at 2 = %q, exit %d; want a failure", out, code)
	}
	if _, code, _ := run(2, exist, "greeting"); code == 0 {
		t.Errorf("memcexist of the deleted key at 2: exit 0")
	}
}
