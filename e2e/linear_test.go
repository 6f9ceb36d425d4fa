package e2e

import (
	"fmt"
	"strings"
	"testing"

	"gossipkv/pkg/config"
)

// Linearizable mode across runs: the Raft group a run starts, the state
// a server keeps from an older group, and joinServer's wait for a voter.

func linCluster(t *testing.T) *diskCluster {
	return newDiskCluster(t, func(c *config.Config) { c.Consistency = config.ConsistencyLinearizable })
}

// runMode runs a script in the given consistency mode, keeping data or not,
// and returns stdout and stderr (every line need not succeed).
func (c *diskCluster) runMode(script, mode string, keep bool) (string, string) {
	c.t.Helper()
	args := []string{"-config", c.cfgPath, "-consistency", mode}
	if keep {
		args = append(args, "-keep-data")
	}
	out, errs, _ := runMasterOut(c.t, c.bin, script, args...)
	return out, errs
}

// A fresh run wipes only the servers it starts; one it does not start
// keeps the Raft state of an older group. A later -keep-data run must not
// let that state in: were the stale server added with its log, whose
// terms may match at the indexes the leader probes, Raft would take it as
// matching, its state machine would keep the old group's writes, and once
// it led, reads would return them. It drops the state instead (its group
// is not the cluster's) and is added afresh.
func TestLinear_StateOfAnOlderGroupDropped(t *testing.T) {
	c := linCluster(t)
	var r1 strings.Builder
	r1.WriteString("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&r1, "put 3 k%d old%d\n", i, i)
	}
	r1.WriteString("killServer 1\nkillServer 0\njoinServer 0\njoinServer 1\nput 3 x old\nstabilize\n")
	c.runMode(r1.String(), "linearizable", false)
	// A fresh run of servers 1 and 2 only: server 0's directory keeps run 1's group.
	c.runMode("joinServer 1\njoinServer 2\njoinClient 3 1\nput 3 k1 new1\nput 3 y new\nstabilize\n", "linearizable", false)
	var r3 strings.Builder
	r3.WriteString("joinServer 1\njoinServer 2\njoinClient 3 1\nstabilize\njoinServer 0\nstabilize\n")
	for range 3 {
		r3.WriteString("killServer 1\nstabilize\njoinClient 3 0\nget 3 k1\nget 3 k2\njoinServer 1\nstabilize\n")
		r3.WriteString("killServer 2\nstabilize\nget 3 k1\nget 3 k2\njoinServer 2\nstabilize\n")
	}
	r3.WriteString("printStore 0\n")
	out, errs := c.runMode(r3.String(), "linearizable", true)
	for _, bad := range []string{"k1:old1", "k2:old2"} {
		if strings.Contains(out, bad) {
			t.Errorf("the -keep-data run read %q, a value run 2 overwrote (k1) or never had (k2):\n%s\nstderr:\n%s", bad, out, tail(errs, 20))
			break
		}
	}
}

// A fresh eventual run wipes every server's directory, Raft state
// included, and the group's name with it: a later -keep-data linearizable
// run starts a group again rather than wait for one no server holds.
func TestLinear_GroupStartedAgainAfterAWipe(t *testing.T) {
	c := linCluster(t)
	c.runMode("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\nput 3 a 1\nstabilize\n", "linearizable", false)
	c.runMode("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\nput 3 a 2\nstabilize\n", "eventual", false)
	out, errs := c.runMode("joinServer 0\njoinServer 1\njoinServer 2\njoinClient 3 0\nstabilize\nput 3 a 3\nget 3 a\n", "linearizable", true)
	if !strings.Contains(out, "a:3") {
		t.Errorf("get after the put: %q, want a:3; stderr:\n%s", out, tail(errs, 10))
	}
}

// joinServer returns once the new server is a voter: killing the server
// that started the group right after the joins leaves two voters of three,
// a quorum, not a group of that one dead server.
func TestLinear_JoinedServersAreVoters(t *testing.T) {
	c := linCluster(t)
	out, errs := c.runMode("joinServer 0\njoinServer 1\njoinServer 2\nkillServer 0\njoinClient 3 1\nput 3 a v\nstabilize\nget 3 a\n", "linearizable", false)
	if !strings.Contains(out, "a:v") {
		t.Errorf("2 of 3 joined servers live, get: %q, want a:v; stderr:\n%s", out, tail(errs, 10))
	}
}
