package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// The deliberate faults of linearizable mode (pkg/raftkv/fault.go) are
// each caught by -check's linearizability verdict, and the real servers
// pass the same scripts. Which server leads is not known in advance (the
// one that started the group, unless an election moved it), so the
// scripts cut each of the three servers off in turn: the cut that hits
// the leader, or a follower, shows the fault.

// cutEach writes a script on servers 0-2 (clients 3-5, client 3+i on
// server i) that writes k, then for each server i cuts it off from the
// other two, runs during(i, a, b) (a and b are the others), heals the cut
// and stabilizes.
func cutEach(during func(b *strings.Builder, i, a, c int)) string {
	var b strings.Builder
	b.WriteString("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\njoinClient 4 1\njoinClient 5 2\n")
	b.WriteString("put 3 k v0\nstabilize\n")
	for i := range 3 {
		a, c := (i+1)%3, (i+2)%3
		fmt.Fprintf(&b, "breakConnection %d %d\nbreakConnection %d %d\n", i, a, i, c)
		during(&b, i, a, c)
		fmt.Fprintf(&b, "createConnection %d %d\ncreateConnection %d %d\nstabilize\n", i, a, i, c)
		fmt.Fprintf(&b, "get %d k\n", 3+i)
	}
	return b.String()
}

// staleReadScript: the majority side writes k, then the cut-off server
// reads it. A correct server answers ERR_UNAVAILABLE; one that reads its
// own state (a follower under raft-local-read, the old leader under
// raft-stale-leader) answers the value before the write.
func staleReadScript() string {
	return cutEach(func(b *strings.Builder, i, a, c int) {
		fmt.Fprintf(b, "stabilize\nput %d k maj%d\nget %d k\n", 3+a, i, 3+i)
	})
}

// lostWriteScript: the cut-off server takes a put at once, before a
// leader among the cut notices it lost its quorum; then the majority side
// reads k. A correct leader never answers that put (ERR_UNAVAILABLE: it
// is never committed); under raft-ack-before-commit it answers OK and
// the majority's read does not see it.
func lostWriteScript() string {
	return cutEach(func(b *strings.Builder, i, a, c int) {
		fmt.Fprintf(b, "put %d k cut%d\nstabilize\nget %d k\n", 3+i, i, 3+a)
	})
}

func TestLinearizableFaults(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	// A cut-off server gives up after a second, not the default two. A
	// leader cut off keeps its leadership for a second (its lease; 250 ms
	// by default), so that the put sent to it right after the cut reaches
	// it while it still leads, however slow the machine: the case
	// raft-ack-before-commit breaks. Elections wait as long, and stabilize
	// with them.
	short := func(c *config.Config) {
		c.Timing.RaftTimeout = time.Second
		c.Timing.RaftHeartbeatTimeout, c.Timing.RaftElectionTimeout, c.Timing.RaftLeaderLeaseTimeout = time.Second, time.Second, time.Second
		c.Timing.StabilizeTimeout = 15 * time.Second
	}
	run := func(t *testing.T, fault, script string) outcome {
		return runBin(t, bin, "master", fault, script, "-check", "-consistency", "linearizable", "-config", checkCluster(t, 3, 3, short))
	}
	notLin := regexp.MustCompile(`(?m)^check: linearizability: NOT linearizable \(1 of 1 keys\): key "k": no order of its \d+ operations explains every answer`)
	okLin := regexp.MustCompile(`(?m)^check: linearizability: linearizable: \d+ operations on 1 keys`)
	scripts := map[string]string{"stale-read": staleReadScript(), "lost-write": lostWriteScript()}
	// What a correct cluster must answer on the cut-off side, three times
	// (once per cut): the script reached the case the fault breaks.
	unavailable := map[string]*regexp.Regexp{
		"stale-read": regexp.MustCompile(`(?m)^k:ERR_UNAVAILABLE$`),
		"lost-write": regexp.MustCompile(`(?m)^master: line \d+: put failed: ERR_UNAVAILABLE: .*: put \d k cut\d$`),
	}
	for _, c := range []struct{ fault, script string }{
		{"raft-local-read", "stale-read"},
		{"raft-stale-leader", "stale-read"},
		{"raft-ack-before-commit", "lost-write"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			r := run(t, c.fault, scripts[c.script])
			t.Logf("stdout:\n%s\nthe checker said:\n%s", r.stdout, checkLines(r.stderr))
			if lines := checkLines(r.stderr); r.code != 3 || !notLin.MatchString(lines) {
				t.Errorf("exit %d, want 3 and a linearizability failure naming key k; the checker said:\n%s\nstderr:\n%s", r.code, lines, tail(r.stderr, 30))
			}
		})
	}
	for name, script := range scripts {
		t.Run("real/"+name, func(t *testing.T) {
			r := run(t, "", script)
			t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, tail(r.stderr, 30))
			if lines := checkLines(r.stderr); (r.code != 0 && r.code != 1) || !okLin.MatchString(lines) {
				t.Errorf("exit %d, want 0 or 1 and a linearizable history; the checker said:\n%s\nstderr:\n%s", r.code, lines, tail(r.stderr, 30))
			}
			if n := len(unavailable[name].FindAllString(r.stdout+r.stderr, -1)); n != 3 {
				t.Errorf("%d answers ERR_UNAVAILABLE on the cut-off side, want 3 (one per cut)", n)
			}
		})
	}
}
