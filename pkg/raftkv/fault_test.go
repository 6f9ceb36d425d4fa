package raftkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// others are the ids of a three-node cluster other than id.
func others(id uint32) []uint32 { return []uint32{(id + 1) % 3, (id + 2) % 3} }

// cutOff cuts node id from the other two and returns the leader they
// elect (or keep).
func (c *cluster) cutOff(id uint32) uint32 {
	c.t.Helper()
	c.partition([]uint32{id}, others(id))
	return c.leader(others(id)...)
}

// putEverywhere puts key at node id and waits until all three nodes have
// applied it (under AckOnPropose the put alone does not wait).
func (c *cluster) putEverywhere(id uint32, key, value string) {
	c.t.Helper()
	retry(c.t, "put "+key, func() error {
		_, err := c.node(id).Put(context.Background(), []byte(key), []byte(value))
		return err
	})
	eventually(c.t, "every node applied "+key, func() (bool, string) {
		for n := range uint32(3) {
			if v, _ := c.localValue(n, key); v != value {
				return false, fmt.Sprintf("node %d has %q", n, v)
			}
		}
		return true, ""
	})
}

// A node cut off from its quorum reads k after the majority overwrote it:
// a correct node answers ErrUnavailable, and so does one under a fault
// that does not touch its role; LocalReads at a follower and
// StaleLeaderReads at the old leader answer the overwritten value.
func TestFaults_CutOffReads(t *testing.T) {
	cases := []struct {
		name      string
		faults    Faults
		cutLeader bool
		wantStale bool
	}{
		{"none/follower", Faults{}, false, false},
		{"none/leader", Faults{}, true, false},
		{"local-reads/follower", Faults{LocalReads: true}, false, true},
		{"stale-leader/leader", Faults{StaleLeaderReads: true}, true, true},
		{"stale-leader/follower", Faults{StaleLeaderReads: true}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Faults = tc.faults
			c := newCluster(t, 3, cfg)
			c.bootstrapAll()
			lead := c.leader()
			ctx := context.Background()
			c.putEverywhere(lead, "k", "old")
			cut := lead
			if !tc.cutLeader {
				cut = c.follower(lead)
			}
			maj := c.cutOff(cut)
			retry(t, "put new", func() error { _, err := c.node(maj).Put(ctx, []byte("k"), []byte("new")); return err })
			r, err := c.node(cut).Get(ctx, []byte("k"))
			switch {
			case tc.wantStale && (err != nil || string(r.Value) != "old"):
				t.Errorf("get at the cut-off node: %q, %v; want the stale %q", r.Value, err, "old")
			case !tc.wantStale && !errors.Is(err, ErrUnavailable):
				t.Errorf("get at the cut-off node: %q, %v; want ErrUnavailable", r.Value, err)
			}
		})
	}
}

// A leader cut off from its quorum takes a put at once: a correct one
// never acknowledges it; under AckOnPropose it does, and the majority,
// under its new leader, never sees it.
func TestFaults_AckOnPropose(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(map[bool]string{false: "none", true: "ack-on-propose"}[ack], func(t *testing.T) {
			cfg := testConfig()
			cfg.Faults = Faults{AckOnPropose: ack}
			c := newCluster(t, 3, cfg)
			c.bootstrapAll()
			lead := c.leader()
			ctx := context.Background()
			c.putEverywhere(lead, "k", "old")
			c.partition([]uint32{lead}, others(lead))
			_, err := c.node(lead).Put(ctx, []byte("k"), []byte("cut"))
			switch {
			case ack && err != nil:
				t.Fatalf("put at the cut-off leader: %v; want it acknowledged", err)
			case !ack && !errors.Is(err, ErrUnavailable):
				t.Fatalf("put at the cut-off leader: %v; want ErrUnavailable", err)
			}
			maj := c.leader(others(lead)...)
			if r := c.mustGet(maj, "k"); string(r.Value) != "old" {
				t.Errorf("the majority reads %q, want %q (the cut-off put never reached it)", r.Value, "old")
			}
		})
	}
}
