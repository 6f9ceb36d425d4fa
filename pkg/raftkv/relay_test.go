package raftkv

import (
	"context"
	"fmt"
	"testing"
)

// A follower whose link to the leader is cut, but which reaches another
// voter that reaches the leader, is not unavailable: its operations go
// through that voter, one hop, and reads stay linearizable.
func TestNode_CutFromLeader_RelaysThroughAPeer(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	l := c.leader()
	f := c.follower(l)
	c.cut(l, f)
	ctx := context.Background()
	for i := range 20 {
		v := fmt.Sprint(i)
		if _, err := c.node(f).Put(ctx, []byte("k"), []byte(v)); err != nil {
			t.Fatalf("put %d through server %d, cut from leader %d: %v", i, f, l, err)
		}
		r, err := c.node(f).Get(ctx, []byte("k"))
		if err != nil || string(r.Value) != v {
			t.Fatalf("get through server %d after put %d: %q %v", f, i, r.Value, err)
		}
	}
}
