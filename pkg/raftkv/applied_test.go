package raftkv

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Once a node's Status says it has applied an index, its state machine
// shows every write up to it: what stabilize waits for (RaftApplied) is
// never ahead of what printStore reads (Applied). raft's own applied index
// is: raft moves it when it hands a batch to the state machine's goroutine.
func TestNode_StatusApplied_NeverAheadOfTheStateMachine(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	l := c.leader()
	f := c.node(c.follower(l))
	ctx := context.Background()
	for i := range 300 {
		v, err := c.node(l).Put(ctx, []byte("k"), []byte(fmt.Sprint(i)))
		if err != nil {
			// Availability is not what this test is about: a leader
			// change under load may leave a put's fate unknown.
			t.Logf("put %d: %v", i, err)
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for f.Status().RaftApplied < uint64(v.Wall) {
			if time.Now().After(deadline) {
				t.Fatalf("the follower never reported index %d applied", v.Wall)
			}
		}
		_, regs := f.Applied()
		if len(regs) != 1 || string(regs[0].Value) != fmt.Sprint(i) {
			t.Fatalf("the follower reports index %d applied, but its state machine holds %v, not k=%d", v.Wall, regs, i)
		}
	}
}
