package model

import (
	"fmt"
	"testing"
)

// Tests of two nodes driven message by message: the corners of the
// protocol (a partial Delta and the acks around it, a node's earlier and
// later lives) that a random net reaches only by chance.

// pump delivers every message between the given nodes, each step committing
// (TakeDirty) before Ready as a server does, until nothing is in flight.
func pump(t *testing.T, now *int64, nodes map[uint32]*Node) {
	t.Helper()
	for round := 0; round < 10_000; round++ {
		*now += ms
		busy := false
		for _, n := range nodes {
			n.Tick(*now)
			n.R.TakeDirty()
			for _, o := range n.Ready() {
				if to := nodes[o.To]; to != nil {
					to.Step(n.cfg.ID, o.Msg, *now)
					if _, ack := o.Msg.(Ack); !ack {
						busy = true
					}
				}
			}
		}
		if !busy && round > 1000 {
			return
		}
	}
}

// A partial Delta is followed by another as soon as any Ack arrives from the
// peer, even one the peer sent before the first part reached it (a
// heartbeat, or an ack of a write from another neighbour): the second part
// is then computed against the same peer set and repeats the first. Under
// load a lagging peer acks every few milliseconds, so each ack costs a
// MaxDeltaBytes message and a scan of the whole store.
func TestNode_PartialDelta_AckInFlight_NoRepeatedEntries(t *testing.T) {
	a := NewNode(NodeConfig{ID: 0, Resend: 10 * ms, Heartbeat: 1 << 62, MaxDeltaBytes: 200}, NewReplica(0, 0, nil, Meta{}))
	now := int64(1e9)
	for i := 0; i < 40; i++ {
		a.Put([]byte(fmt.Sprintf("k%02d", i)), []byte("value-of-twenty-byte"), Version{}, now)
	}
	a.R.TakeDirty()
	a.Ready()
	a.SetNeighbors([]uint32{1})
	a.SetLinks(1, 1, []uint32{0})
	a.R.TakeDirty()
	a.Ready()

	a.Step(1, Ack{}, now) // the late joiner's first ack: it holds nothing
	a.Tick(now)           // starts watching it
	now += 10 * ms
	a.Tick(now) // first part
	first := deltas(a.Ready())
	if len(first) != 1 || first[0].Complete {
		t.Fatalf("want one partial delta, got %+v", first)
	}
	now += ms
	a.Step(1, Ack{}, now) // its heartbeat, sent before the first part arrived
	second := deltas(a.Ready())
	for _, d := range second {
		for _, e := range d.Entries {
			for _, f := range first[0].Entries {
				if e.Dot() == f.Dot() {
					t.Errorf("entry %v sent again while the part holding it is still in flight", e.Dot())
				}
			}
		}
	}
}

func deltas(out []Outgoing) []Delta {
	var ds []Delta
	for _, o := range out {
		if d, ok := o.Msg.(Delta); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

// A server restarted with an empty data dir under its old id (a wiped or
// replaced disk) numbers its writes from 1 again. Its neighbours already hold
// those dots (from its old writes), so they drop the new writes as
// duplicates, and their record of what it holds (a union of its old acks)
// says it lacks nothing, so it is never repaired either: the two never
// converge, and stabilize (which compares Seen and digest) times out.
func TestNode_FreshDiskSameID_Converges(t *testing.T) {
	now := int64(1e9)
	a := NewNode(pairConfig(0), NewReplica(0, 0, nil, Meta{}))
	b := NewNode(pairConfig(1), NewReplica(1, 1, nil, Meta{}))
	linkPair(a, b)
	a.Put([]byte("old"), []byte("1"), Version{}, now)
	pump(t, &now, map[uint32]*Node{0: a, 1: b})

	// Fresh disk, same id: the server gives every new data directory a new
	// replica id (pkg/server, NewSrc), which is what names its dots.
	a = NewNode(pairConfig(0), NewReplica(0, NewSrc(12345), nil, Meta{}))
	linkPair(a, b)
	a.Put([]byte("new"), []byte("2"), Version{}, now)
	pump(t, &now, map[uint32]*Node{0: a, 1: b})

	if a.R.Digest() != b.R.Digest() {
		t.Errorf("stores differ for good: a %v, b %v (seen a %v, b %v)", a.R.Snapshot(), b.R.Snapshot(), a.R.Seen(), b.R.Seen())
	}
}

// Writes sent by a server's earlier life, delivered after its new life's
// first ack, say nothing of what the new life holds: the new life, whose
// disk lost the write, still gets it back.
func TestNode_StaleWritesOfAnEarlierLife_NotCredited(t *testing.T) {
	now := int64(1e9)
	a := NewNode(pairConfig(0), NewReplica(0, NewSrc(1), nil, Meta{}))
	b := NewNode(pairConfig(1), NewReplica(1, NewSrc(2), nil, Meta{}))
	linkPair(a, b)
	pump(t, &now, map[uint32]*Node{0: a, 1: b})

	// b issues w, logs it, sends it (ReadyOwn): the message is in flight.
	w := b.Put([]byte("k"), []byte("w"), Version{}, now)
	stale := b.ReadyOwn()
	// b dies; its disk comes back without w (restored copy / lost tail).
	b = NewNode(pairConfig(1), NewReplica(1, NewSrc(3), nil, Meta{}))
	linkPair(a, b)
	b.R.TakeDirty()
	for _, o := range b.Ready() { // new life's first ack
		a.Step(1, o.Msg, now)
	}
	for _, o := range stale { // the old life's Writes arrive late
		a.Step(1, o.Msg, now)
	}
	pump(t, &now, map[uint32]*Node{0: a, 1: b})
	if !b.R.Seen().Contains(w.Dot()) {
		t.Errorf("b never got back w %v: a thinks it holds it (a's view of b: %v)", w.Dot(), a.peers[1].seen)
	}
}

// Nor may a Delta computed from such a credit make the new life claim the
// write (merging the Delta's set) without holding it.
func TestNode_StaleWritesOfAnEarlierLife_NoClaimThroughDelta(t *testing.T) {
	now := int64(1e9)
	a := NewNode(pairConfig(0), NewReplica(0, NewSrc(1), nil, Meta{}))
	b := NewNode(pairConfig(1), NewReplica(1, NewSrc(2), nil, Meta{}))
	linkPair(a, b)
	a.Put([]byte("x"), []byte("from-a"), Version{}, now)
	pump(t, &now, map[uint32]*Node{0: a, 1: b})

	w := b.Put([]byte("k"), []byte("w"), Version{}, now)
	stale := b.ReadyOwn()
	b = NewNode(pairConfig(1), NewReplica(1, NewSrc(3), nil, Meta{})) // wiped disk
	linkPair(a, b)
	b.R.TakeDirty()
	for _, o := range b.Ready() {
		a.Step(1, o.Msg, now)
	}
	for _, o := range stale {
		a.Step(1, o.Msg, now)
	}
	pump(t, &now, map[uint32]*Node{0: a, 1: b})
	_, st := b.R.Get([]byte("k"), Version{})
	if b.R.Seen().Contains(w.Dot()) && st != Found {
		t.Errorf("b claims w %v (seen %v) but does not hold it (status %v)", w.Dot(), b.R.Seen(), st)
	}
}

// pairConfig is the config of one node of a two-node test.
func pairConfig(id uint32) NodeConfig {
	return NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20, Members: []uint32{0, 1}}
}

// linkPair makes a and b each other's only neighbour, in both views.
func linkPair(a, b *Node) {
	a.SetNeighbors([]uint32{b.cfg.ID})
	a.SetLinks(b.cfg.ID, 1, []uint32{a.cfg.ID})
	b.SetNeighbors([]uint32{a.cfg.ID})
	b.SetLinks(a.cfg.ID, 1, []uint32{b.cfg.ID})
}
