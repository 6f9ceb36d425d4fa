package e2e

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// tool finds a command-line client the fronts' end-to-end tests drive,
// under any of names (Debian renames some). A missing one fails the test
// rather than skipping it: CI installs it, and a silent skip would hide a
// broken front.
func tool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	t.Fatalf("%s is not installed: install Debian's %s (apt-get install %s), as .ci/run does", names[0], pkg, pkg)
	return ""
}

// checkClosedAfter registers, before the master starts, a check that runs
// after it has stopped its cluster (cleanups run last in, first out):
// every server's port that addr names no longer accepts.
func checkClosedAfter(t *testing.T, cfg **config.Config, what string, addr func(config.Server) string) {
	t.Cleanup(func() {
		if *cfg == nil {
			return // the cluster never started
		}
		for _, id := range (*cfg).ServerIDs() {
			srv, _ := (*cfg).Server(id)
			if c, err := net.DialTimeout("tcp", addr(srv), time.Second); err == nil {
				c.Close()
				t.Errorf("server %d's %s port %s still accepts after the master exited", id, what, addr(srv))
			}
		}
	})
}

// startFronts starts a master with servers 0-2 and client 3, joins them
// all (client 3 to server 0) and has client 3 write fromscript=yes: the
// opening of each front's test. addr gives a server's port of the front
// under test (what names it): once the master has stopped its cluster,
// every such port must refuse connections. edits change the config first.
func startFronts(t *testing.T, what string, addr func(config.Server) string, edits ...func(*config.Config)) (*session, *config.Config) {
	t.Helper()
	var cfg *config.Config
	checkClosedAfter(t, &cfg, what, addr)
	s, cfg := startSession(t, 3, 1, edits...)
	for id := range 3 {
		s.send("joinServer %d", id)
	}
	s.send("joinClient 3 0")
	s.send("put 3 fromscript yes")
	s.sync("fromscript", "yes")
	return s, cfg
}

// sync waits until the master has run every line sent so far: it runs
// them in order, and this get by client 3 prints key:value.
func (s *session) sync(key, value string) {
	s.t.Helper()
	s.send("get 3 %s", key)
	s.expect(key + ":" + value)
}
