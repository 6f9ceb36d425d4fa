package model

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// simNet drives Nodes step by step, after etcd-io/raft's newNetwork: links
// can be cut and healed, nodes killed and restarted, and messages are
// delivered in random order, some lost. A node's topology view is updated
// only now and then, as gossip would, so views are often stale.
type simNet struct {
	t      *testing.T
	rng    *rand.Rand
	nodes  []*Node
	alive  []bool
	cut    map[[2]uint32]bool
	queue  []simMsg
	now    int64
	writes []Entry
	loss   float64
	ver    int64 // version of the topology each gossip round announces
	// disk is what each node would recover from: its last commit and the
	// own writes it logged since, as a server with a write-ahead log;
	// history keeps every state its disk was in, for restarts from an
	// older one (a restored backup, a lost log tail).
	disk    []simDisk
	history [][]simDisk
	// srcs numbers the replicas built, each restart making a new one;
	// issued is every dot issued so far, which must never be issued twice.
	srcs   uint64
	issued map[Dot]bool
	// rebases counts the replicas rebased (see rebaseIfOutdated).
	rebases int
	// members are the nodes of the cluster, as a config lists them.
	members []uint32
}

type simDisk struct {
	entries []Entry
	meta    Meta
	logged  []Entry
}

type simMsg struct {
	from, to uint32
	m        Message
}

const ms = int64(1e6)

func newSimNet(t *testing.T, seed int64, n int) *simNet {
	s := &simNet{t: t, rng: rand.New(rand.NewSource(seed)), cut: map[[2]uint32]bool{}, now: 1e9, issued: map[Dot]bool{}}
	for i := 0; i < n; i++ {
		s.members = append(s.members, uint32(i))
	}
	for i := 0; i < n; i++ {
		s.nodes = append(s.nodes, s.newNode(uint32(i), s.replica(uint32(i), nil, Meta{})))
		s.alive = append(s.alive, true)
		s.disk = append(s.disk, simDisk{})
		s.history = append(s.history, []simDisk{{}})
	}
	s.gossip(1)
	return s
}

// replica builds a replica with a replica id of its own, as a server does
// each time it starts.
func (s *simNet) replica(id uint32, entries []Entry, meta Meta) *Replica {
	s.srcs++
	return NewReplica(id, s.srcs, entries, meta)
}

func (s *simNet) newNode(id uint32, r *Replica) *Node {
	return NewNode(NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 200, Members: s.members}, r)
}

func key(a, b uint32) [2]uint32 {
	if a > b {
		a, b = b, a
	}
	return [2]uint32{a, b}
}

func (s *simNet) linked(a, b uint32) bool {
	return a != b && s.alive[a] && s.alive[b] && !s.cut[key(a, b)]
}

// gossip tells each node, with probability p, its true neighbours and the
// true links of the others.
func (s *simNet) gossip(p float64) {
	s.ver++
	links := map[uint32][]uint32{}
	for a := range s.nodes {
		for b := range s.nodes {
			if s.linked(uint32(a), uint32(b)) {
				links[uint32(a)] = append(links[uint32(a)], uint32(b))
			}
		}
	}
	for a, n := range s.nodes {
		if !s.alive[a] || s.rng.Float64() >= p {
			continue
		}
		n.SetNeighbors(links[uint32(a)])
		for b := range s.nodes {
			if b == a {
				continue
			}
			// A dead node's last links stay, as in the server: its
			// neighbours stop claiming it, so its edges go anyway.
			if s.alive[b] {
				n.SetLinks(uint32(b), s.ver, links[uint32(b)])
			}
		}
	}
}

// step delivers up to a few queued messages in random order, ticks every
// node and collects what they send. A node commits in one step of three,
// as a server defers the commits of others' writes; in the other steps
// only its own writes, logged as they were issued, leave (ReadyOwn).
func (s *simNet) step() {
	s.now += ms
	for k := 0; k < 4 && len(s.queue) > 0; k++ {
		i := s.rng.Intn(len(s.queue))
		m := s.queue[i]
		s.queue = slices.Delete(s.queue, i, i+1)
		if !s.linked(m.from, m.to) || s.rng.Float64() < s.loss {
			continue
		}
		s.nodes[m.to].Step(m.from, m.m, s.now)
	}
	for id, n := range s.nodes {
		if !s.alive[id] {
			continue
		}
		n.Tick(s.now)
		s.rebaseIfOutdated(id)
		var out []Outgoing
		if s.rng.Intn(3) == 0 {
			n.R.TakeDirty()
			s.disk[id] = simDisk{entries: n.R.Snapshot(), meta: n.R.Meta()}
			s.remember(uint32(id))
			out = n.Ready()
		} else {
			out = n.ReadyOwn()
		}
		for _, o := range out {
			if !slices.Contains(n.Neighbors(), o.To) {
				s.t.Fatalf("node %d sent to %d, not a neighbour %v", id, o.To, n.Neighbors())
			}
			s.queue = append(s.queue, simMsg{from: uint32(id), to: o.To, m: o.Msg})
		}
	}
}

// rebaseIfOutdated does what a server does for a node whose replica must
// be rebased: it makes the rebased state its disk and recovers from it.
func (s *simNet) rebaseIfOutdated(id int) {
	n := s.nodes[id]
	p, ok := n.Outdated()
	if !ok {
		return
	}
	kept, meta := n.R.Rebase(p)
	s.disk[id] = simDisk{entries: kept, meta: meta}
	s.remember(uint32(id))
	r := s.replica(uint32(id), kept, meta)
	r.SetRebased(p.Version)
	n.Recover(r)
	s.rebases++
}

// put issues a write at node id: a put, or one time in six a delete.
func (s *simNet) put(id uint32) {
	key := []byte(fmt.Sprintf("k%d", s.rng.Intn(8)))
	var e Entry
	if s.rng.Intn(6) == 0 {
		e = s.nodes[id].Delete(key, Version{}, s.now)
	} else {
		e = s.nodes[id].Put(key, []byte(fmt.Sprintf("v%d", len(s.writes))), Version{}, s.now)
	}
	if s.issued[e.Dot()] {
		s.t.Fatalf("node %d issued dot %v a second time", id, e.Dot())
	}
	s.issued[e.Dot()] = true
	s.disk[id].logged = append(s.disk[id].logged, e)
	s.remember(id)
	s.writes = append(s.writes, e)
}

// remember adds the current state of node id's disk to its history.
func (s *simNet) remember(id uint32) {
	d := s.disk[id]
	d.logged = slices.Clone(d.logged) // later appends must not show in it
	s.history[id] = append(s.history[id], d)
}

// restart brings node id back from its disk: what it had not committed
// of others' writes is gone.
func (s *simNet) restart(id int) { s.restartFrom(id, s.disk[id]) }

// restartFrom brings node id back from the disk d, which may be older than
// the last one it had.
func (s *simNet) restartFrom(id int, d simDisk) {
	d.logged = slices.Clone(d.logged)
	s.disk[id] = d
	r := s.replica(uint32(id), d.entries, d.meta)
	for _, e := range d.logged {
		r.Apply(e)
	}
	r.TakeDirty()
	s.nodes[id] = s.newNode(uint32(id), r)
	s.alive[id] = true
}

// rollBack restarts node id from a state its disk was in earlier, chosen
// at random (the empty one included: a wiped directory), as a data
// directory restored from an older copy or a log that lost its tail. It
// returns the writes nobody else held, which are gone for good.
func (s *simNet) rollBack(id int) []Entry {
	h := s.history[id]
	d := h[s.rng.Intn(len(h))]
	var gone []Entry
	for _, w := range s.writes {
		if s.holds(id, w) && !heldIn(d, w) && !s.heldElsewhere(id, w) {
			gone = append(gone, w)
		}
	}
	s.restartFrom(id, d)
	return gone
}

// holds says whether node id's current disk holds w.
func (s *simNet) holds(id int, w Entry) bool { return heldIn(s.disk[id], w) }

func heldIn(d simDisk, w Entry) bool {
	if d.meta.Seen.Contains(w.Dot()) {
		return true
	}
	for _, e := range d.logged {
		if e.Dot() == w.Dot() {
			return true
		}
	}
	return false
}

// heldElsewhere says whether a node other than id holds w on the disk it
// would restart from. (A node holding it only in memory may die before
// its next commit.)
func (s *simNet) heldElsewhere(id int, w Entry) bool {
	for o := range s.nodes {
		if o != id && s.holds(o, w) {
			return true
		}
	}
	return false
}

// settle runs without faults until no message is in flight for a while, with
// gossip now reliable, and fails if that takes too long in virtual time.
func (s *simNet) settle() {
	s.loss = 0
	s.gossip(1)
	deadline := s.now + 60_000*ms
	quiet := 0
	for quiet < 1000 {
		s.step()
		if s.now%(50*ms) == 0 {
			s.gossip(1)
		}
		if s.converged() {
			quiet++
		} else {
			quiet = 0
		}
		if s.now > deadline {
			s.dump()
			s.t.Fatal("did not converge within 60 s of virtual time")
		}
	}
}

// components are the connected groups of live nodes.
func (s *simNet) components() [][]uint32 {
	var out [][]uint32
	done := map[uint32]bool{}
	for a := range s.nodes {
		if !s.alive[a] || done[uint32(a)] {
			continue
		}
		comp := []uint32{uint32(a)}
		done[uint32(a)] = true
		for i := 0; i < len(comp); i++ {
			for b := range s.nodes {
				if !done[uint32(b)] && s.linked(comp[i], uint32(b)) {
					done[uint32(b)] = true
					comp = append(comp, uint32(b))
				}
			}
		}
		out = append(out, comp)
	}
	return out
}

func (s *simNet) converged() bool {
	for _, comp := range s.components() {
		first := s.nodes[comp[0]].R
		for _, id := range comp[1:] {
			r := s.nodes[id].R
			if !r.Seen().Equal(first.Seen()) || r.Digest() != first.Digest() {
				return false
			}
		}
	}
	return true
}

// check asserts, per component, that the store is exactly what the
// conflict order gives for the writes its members hold, and that every
// write a member issued is still held (nothing lost).
func (s *simNet) check() {
	for _, comp := range s.components() {
		r := s.nodes[comp[0]].R
		var held []Entry
		for _, w := range s.writes {
			if r.Seen().Contains(w.Dot()) {
				held = append(held, w)
			} else if slices.Contains(comp, w.Version.Origin) {
				s.t.Fatalf("component %v lost write %v of its member %d", comp, w.Dot(), w.Version.Origin)
			}
		}
		sameStore(s.t, r, expected(held))
	}
}

func (s *simNet) dump() {
	for id, n := range s.nodes {
		s.t.Logf("node %d alive=%v neighbours=%v seen=%v", id, s.alive[id], n.Neighbors(), n.R.Seen())
	}
}

func TestNode_RandomFaults_ConvergeToModel(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSimNet(t, seed, 5)
			s.loss = 0.05
			s.chaos(400, false)
			// Partitioned: each group converges on its own.
			s.settle()
			s.check()
			// Healed, all alive: everyone converges on everything held.
			clear(s.cut)
			for id := range s.alive {
				if !s.alive[id] {
					s.restart(id)
				}
			}
			s.settle()
			s.check()
			if comps := s.components(); len(comps) != 1 {
				t.Fatalf("healed cluster has components %v", comps)
			}
			if got := s.nodes[0].R.Seen().Count(); got != uint64(len(s.writes)) {
				t.Fatalf("healed cluster holds %d of %d writes", got, len(s.writes))
			}
		})
	}
}

// A node restarted from an older state of its disk (a restored backup, a
// log that lost its tail, a wiped directory) never issues a dot it issued
// before (simNet.put fails the test if it does), and takes back from its
// peers the writes they still hold: once healed, every node holds every
// write but those that only the lost part of a disk had.
func TestNode_RolledBackDisks_NoDotReusedAndConverge(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSimNet(t, seed, 4)
			s.loss = 0.05
			gone := s.chaos(300, true)
			clear(s.cut)
			for id := range s.alive {
				if !s.alive[id] {
					s.restart(id)
				}
			}
			s.settle()
			var held []Entry
			for _, w := range s.writes {
				if !gone[w.Dot()] || s.nodes[0].R.Seen().Contains(w.Dot()) {
					held = append(held, w)
				}
			}
			for id, n := range s.nodes {
				for _, w := range held {
					if !n.R.Seen().Contains(w.Dot()) {
						s.dump()
						t.Fatalf("node %d lacks write %v (%s=%s), which a live node held", id, w.Dot(), w.Key, w.Value)
					}
				}
				sameStore(t, n.R, expected(held))
			}
			if len(gone) == 0 {
				t.Logf("seed %d: no rollback lost a write", seed)
			}
		})
	}
}

// chaos runs steps steps of random faults: puts, cuts, heals, kills,
// restarts and, with rollBacks, restarts from an older state of a disk
// (simNet.rollBack). It returns the writes that rollbacks lost for good.
func (s *simNet) chaos(steps int, rollBacks bool) map[Dot]bool {
	n := len(s.nodes)
	gone := map[Dot]bool{}
	for range steps {
		switch x := s.rng.Intn(100); {
		case x < 50:
			if id := uint32(s.rng.Intn(n)); s.alive[id] {
				s.put(id)
			}
		case x < 58:
			s.cut[key(uint32(s.rng.Intn(n)), uint32(s.rng.Intn(n)))] = true
		case x < 66:
			delete(s.cut, key(uint32(s.rng.Intn(n)), uint32(s.rng.Intn(n))))
		case x < 69:
			s.alive[s.rng.Intn(n)] = false
		case x < 74:
			if id := s.rng.Intn(n); !s.alive[id] {
				s.restart(id)
			}
		case x < 79 && rollBacks:
			for _, w := range s.rollBack(s.rng.Intn(n)) {
				gone[w.Dot()] = true
			}
		}
		if s.rng.Intn(5) == 0 {
			s.gossip(0.5)
		}
		s.step()
	}
	return gone
}

// Writes reach servers with no direct link to the origin, relayed hop by hop.
func TestNode_Chain_RelaysWithoutDeltas(t *testing.T) {
	s := newSimNet(t, 99, 5)
	for a := uint32(0); a < 5; a++ {
		for b := a + 2; b < 5; b++ {
			s.cut[key(a, b)] = true
		}
	}
	s.gossip(1)
	s.put(0)
	s.put(4)
	deltas := 0
	for i := 0; i < 200 && !s.converged(); i++ {
		for _, m := range s.queue {
			if _, ok := m.m.(Delta); ok {
				deltas++
			}
		}
		s.step()
	}
	if !s.converged() {
		s.dump()
		t.Fatal("chain did not converge")
	}
	s.check()
	if deltas != 0 {
		t.Errorf("%d deltas sent: the forwarding tree alone should have delivered", deltas)
	}
}

// A write whose origin died before sending it anywhere but one neighbour
// still reaches everyone through that neighbour.
func TestNode_DeadOrigin_WritesStillSpread(t *testing.T) {
	s := newSimNet(t, 7, 4)
	// 0 reaches only 1 before it dies.
	s.cut[key(0, 2)], s.cut[key(0, 3)] = true, true
	s.gossip(1)
	s.put(0)
	for i := 0; i < 50; i++ {
		s.step()
	}
	s.alive[0] = false
	s.settle()
	for id := 1; id < 4; id++ {
		if !s.nodes[id].R.Seen().Contains(s.writes[0].Dot()) {
			t.Fatalf("node %d lacks the dead origin's write", id)
		}
	}
	s.check()
}

// A restarted node announces its links above its previous life's version,
// even before any time has passed for it; otherwise its peers, which still
// hold the old version, would ignore them.
func TestNode_Restart_LinksOutrankPreviousLife(t *testing.T) {
	cfg := NodeConfig{ID: 2, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20}
	old := NewNode(cfg, NewReplica(2, 2, nil, Meta{}))
	old.Tick(5e18)
	old.SetNeighbors([]uint32{0, 1})
	peer := NewNode(NodeConfig{ID: 1, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20}, NewReplica(1, 1, nil, Meta{}))
	own := old.OwnLinks()
	peer.SetLinks(2, own.Version, own.Links)

	cfg.Start = 5e18 + 1e9 // restarted a second later
	restarted := NewNode(cfg, NewReplica(2, 2, nil, Meta{}))
	restarted.SetNeighbors([]uint32{1}) // before its first Tick
	own = restarted.OwnLinks()
	peer.SetLinks(2, own.Version, own.Links)
	if got := peer.Topology()[2]; !slices.Equal(got, []uint32{1}) {
		t.Fatalf("peer routes by %v for the restarted node, want [1]", got)
	}
}

// ReadyOwn lets a node's own (logged) writes leave before its commit, and
// holds back what needs the commit: forwarded writes and acks.
func TestNode_ReadyOwn_OnlyOwnWrites(t *testing.T) {
	s := newSimNet(t, 3, 3)
	s.cut[key(0, 2)] = true // a chain: 0 - 1 - 2
	s.gossip(1)
	for _, n := range s.nodes {
		n.Ready() // the first acks
	}
	n0, n1 := s.nodes[0], s.nodes[1]
	relayed := n0.Put([]byte("from0"), []byte("a"), Version{}, s.now)
	n1.Step(0, Writes{Entries: []Entry{relayed}}, s.now)
	own := n1.Put([]byte("from1"), []byte("b"), Version{}, s.now)

	out := n1.ReadyOwn()
	got := map[uint32][]Dot{}
	for _, o := range out {
		w, ok := o.Msg.(Writes)
		if !ok {
			t.Fatalf("ReadyOwn sent %T to %d; want only Writes", o.Msg, o.To)
		}
		for _, e := range w.Entries {
			got[o.To] = append(got[o.To], e.Dot())
		}
	}
	want := map[uint32][]Dot{0: {own.Dot()}, 2: {own.Dot()}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ReadyOwn sent %v, want %v", got, want)
	}
	// After the commit, Ready sends the forwarded write to 2 and acks,
	// and not the own write again.
	var fwd []Dot
	acks := 0
	for _, o := range n1.Ready() {
		switch m := o.Msg.(type) {
		case Writes:
			for _, e := range m.Entries {
				fwd = append(fwd, e.Dot())
				if o.To != 2 {
					t.Errorf("Ready sent write %v to %d", e.Dot(), o.To)
				}
			}
		case Ack:
			acks++
		}
	}
	if !slices.Equal(fwd, []Dot{relayed.Dot()}) {
		t.Errorf("Ready forwarded %v, want [%v]", fwd, relayed.Dot())
	}
	if acks == 0 {
		t.Error("Ready sent no ack for the write received from 0")
	}
}

// Lag counts, from a neighbour's acks, the writes it holds that this
// node lacks and the writes this node holds that it has not acknowledged.
func TestNode_Lag_FromAcks(t *testing.T) {
	now := int64(1e9)
	a := NewNode(NodeConfig{ID: 0, Resend: 20 * ms, Heartbeat: 200 * ms}, NewReplica(0, 10, nil, Meta{}))
	b := NewNode(NodeConfig{ID: 1, Resend: 20 * ms, Heartbeat: 200 * ms}, NewReplica(1, 11, nil, Meta{}))
	b.SetNeighbors([]uint32{0})
	if peers, behind := b.Lag(); len(peers) != 0 || behind != 0 {
		t.Fatalf("before any ack: Lag = %v, %d", peers, behind)
	}
	var writes []Entry
	for i := range 3 {
		writes = append(writes, a.Put([]byte{byte('a' + i)}, []byte("v"), Version{}, now))
	}
	own := b.Put([]byte("z"), []byte("v"), Version{}, now)
	b.Step(0, Ack{Seen: a.R.Seen().Clone(), Src: a.R.Src()}, now)
	peers, behind := b.Lag()
	if want := []PeerLag{{Peer: 0, Linked: true, Missing: 3, Unacked: 1}}; !slices.Equal(peers, want) || behind != 3 {
		t.Errorf("after a's ack: Lag = %+v, %d; want %+v, 3", peers, behind, want)
	}
	// Two of the writes arrive: one is still missing.
	b.Step(0, Writes{Entries: writes[:2], Src: a.R.Src()}, now)
	if peers, behind := b.Lag(); peers[0].Missing != 1 || behind != 1 {
		t.Errorf("after two writes: Lag = %+v, %d; want 1 missing", peers, behind)
	}
	// a takes b's write and says so; the link is then cut.
	a.R.Apply(own)
	b.Step(0, Ack{Seen: a.R.Seen().Clone(), Src: a.R.Src()}, now)
	b.SetNeighbors(nil)
	if want := []PeerLag{{Peer: 0, Linked: false, Missing: 1, Unacked: 0}}; !slices.Equal(mustLag(b), want) {
		t.Errorf("after the cut: Lag = %+v, want %+v", mustLag(b), want)
	}
}

func mustLag(n *Node) []PeerLag {
	p, _ := n.Lag()
	return p
}

// Putting and deleting ever new keys keeps every store bounded: each
// tombstone is collected once every node holds it, so a node holds the
// live keys plus what the last second or so deleted, not everything ever
// deleted. Messages are lost now and then; a write lost on the way and
// then superseded leaves a gap in its receiver's set until a Delta fills
// it, which holds collection up meanwhile.
func TestNode_Churn_TombstonesCollected_StoreBounded(t *testing.T) {
	s := newSimNet(t, 3, 4)
	s.loss = 0.02
	most, deletes := 0, 0
	for i := 0; i < 1500; i++ {
		id := uint32(s.rng.Intn(4))
		k := []byte(fmt.Sprintf("key%d", i))
		s.writes = append(s.writes, s.nodes[id].Put(k, []byte("v"), Version{}, s.now))
		if i >= 10 {
			// Delete, from another node, the key put ten rounds ago.
			old := []byte(fmt.Sprintf("key%d", i-10))
			s.writes = append(s.writes, s.nodes[(id+1)%4].Delete(old, Version{}, s.now))
			deletes++
		}
		// 10 ms of virtual time a round: 100 puts and 100 deletes a
		// second, which the simulated network carries without a backlog.
		for j := 0; j < 10; j++ {
			s.step()
		}
		if i > 300 {
			for _, n := range s.nodes {
				most = max(most, n.R.Len())
			}
		}
	}
	s.settle()
	for i := 0; i < 2000; i++ { // a stable point takes a few heartbeats
		s.step()
	}
	s.check()
	for id, n := range s.nodes {
		if n.R.Len() != n.R.LiveLen() {
			t.Errorf("node %d holds %d keys, %d of them live: tombstones were left after everything settled", id, n.R.Len(), n.R.LiveLen())
		}
	}
	// A stable point takes two or three heartbeats of 200 ms: about 60
	// tombstones at a time, beside the 10 live keys.
	if most > 200 {
		t.Errorf("a node held up to %d keys while %d were deleted and 10 live at a time: tombstones pile up", most, deletes)
	}
	t.Logf("%d deletes; at most %d keys held by a node", deletes, most)
}

// A node restarted from a disk older than the cluster's stable point,
// holding a value whose delete every other node collected since, does not
// bring the value back: it is rebased and refilled from its peers.
func TestNode_RestoredDiskBehindStablePoint_DeletedValueStaysDeleted(t *testing.T) {
	s := newSimNet(t, 5, 3)
	k := []byte("k")
	s.writes = append(s.writes, s.nodes[0].Put(k, []byte("old"), Version{}, s.now))
	s.writes = append(s.writes, s.nodes[0].Put([]byte("other"), []byte("kept"), Version{}, s.now))
	s.settle()
	backup := s.disk[2]
	if _, st := s.nodes[2].R.Get(k, Version{}); st != Found {
		t.Fatal("node 2 does not hold the value before the backup")
	}
	s.writes = append(s.writes, s.nodes[0].Delete(k, Version{}, s.now))
	s.settle()
	for i := 0; i < 2000; i++ {
		s.step()
	}
	for id, n := range s.nodes {
		if n.R.Len() != 1 {
			t.Fatalf("node %d holds %d keys, want only the live one: the tombstone was not collected", id, n.R.Len())
		}
	}
	s.restartFrom(2, backup)
	s.settle()
	for i := 0; i < 2000; i++ {
		s.step()
	}
	for id, n := range s.nodes {
		if e, st := n.R.Get(k, Version{}); st == Found {
			t.Fatalf("node %d serves %s=%s: a collected delete was undone", id, k, e.Value)
		}
		if e, st := n.R.Get([]byte("other"), Version{}); st != Found || string(e.Value) != "kept" {
			t.Fatalf("node %d lost the live key (status %v)", id, st)
		}
	}
	if s.rebases != 1 {
		t.Errorf("%d rebases, want 1 (node 2's)", s.rebases)
	}
	s.check()
}

// A write whose origin died, held by one node that could not pass it on
// before, reaches its other neighbours on the fast path once the links
// come up: each of them is watched by the holder as its delivery (its
// lowest-id neighbour), within a resend interval or two, not after the
// slow safety net's heartbeats. Time here is the simulation's, so the
// bound says which path repaired it, not how fast the machine is.
func TestNode_DeadOrigin_RepairedOnTheFastPath(t *testing.T) {
	s := newSimNet(t, 11, 4)
	// 0 reaches only 1, and 1 reaches no one else yet.
	s.cut[key(0, 2)], s.cut[key(0, 3)] = true, true
	s.cut[key(1, 2)], s.cut[key(1, 3)] = true, true
	s.gossip(1)
	s.put(0)
	w := s.writes[0]
	for i := 0; i < 50 && !s.nodes[1].R.Seen().Contains(w.Dot()); i++ {
		s.step()
	}
	if !s.nodes[1].R.Seen().Contains(w.Dot()) {
		t.Fatal("node 1 never got the write")
	}
	s.alive[0] = false
	delete(s.cut, key(1, 2))
	delete(s.cut, key(1, 3))
	s.gossip(1)
	start := s.now
	for !(s.nodes[2].R.Seen().Contains(w.Dot()) && s.nodes[3].R.Seen().Contains(w.Dot())) {
		if s.now-start > 2000*ms {
			t.Fatal("the dead origin's write did not spread in 2 s of simulated time")
		}
		s.step()
	}
	// Resend is 20 ms and the heartbeat 200 ms: the fast path repairs
	// within a few resends, the slow one after two heartbeats at least.
	if took := s.now - start; took > 100*ms {
		t.Errorf("the dead origin's write took %d ms of simulated time to reach nodes 2 and 3: repaired by the slow safety net, not by the node responsible for it", took/ms)
	}
}

// A dead origin's write held by a node that is not the lowest-id
// neighbour of those that lack it still spreads on the fast path: the
// holder repairs in its turn, after the lower-ranked neighbours that do
// not hold it. The shape is gen's deadorigin: 1 reaches only 3, writes,
// dies, and 3 links up with 0, 2 and 4, which already share links.
func TestNode_DeadOrigin_HolderNotLowestNeighbour_RepairedOnTheFastPath(t *testing.T) {
	s := newSimNet(t, 12, 5)
	for _, l := range [][2]uint32{{0, 1}, {0, 3}, {1, 2}, {1, 4}, {2, 3}, {3, 4}} {
		s.cut[key(l[0], l[1])] = true
	}
	s.gossip(1)
	s.put(1)
	w := s.writes[0]
	for i := 0; i < 50 && !s.nodes[3].R.Seen().Contains(w.Dot()); i++ {
		s.step()
	}
	if !s.nodes[3].R.Seen().Contains(w.Dot()) {
		t.Fatal("node 3 never got the write")
	}
	s.alive[1] = false
	for _, l := range [][2]uint32{{0, 3}, {2, 3}, {3, 4}} {
		delete(s.cut, key(l[0], l[1]))
	}
	s.gossip(1)
	start := s.now
	spread := func() bool {
		for _, id := range []int{0, 2, 4} {
			if !s.nodes[id].R.Seen().Contains(w.Dot()) {
				return false
			}
		}
		return true
	}
	for !spread() {
		if s.now-start > 2000*ms {
			t.Fatal("the dead origin's write did not spread in 2 s of simulated time")
		}
		s.step()
	}
	// Resend is 20 ms and the heartbeat 200 ms: node 3 ranks second or
	// third among the neighbours of 0, 2 and 4, so its turn comes after
	// two or three resends (47 ms here). A holder that waits two turns
	// more, as for a write whose tree parent should deliver it, takes 85
	// ms; the slow safety net two heartbeats at least.
	if took := s.now - start; took > 70*ms {
		t.Errorf("the dead origin's write took %d ms of simulated time to reach nodes 0, 2 and 4: not repaired in node 3's turn", took/ms)
	}
}

func TestAhead_RefusesOnlyWritesBeyondTheOffset(t *testing.T) {
	near := Entry{Key: []byte("a"), Version: Version{Wall: 1500, Origin: 1}, Seq: 1, Src: 9}
	far := Entry{Key: []byte("b"), Version: Version{Wall: 1501, Origin: 1}, Seq: 2, Src: 9}
	const now, offset = 1000, 500

	m, refused := Ahead(Writes{Entries: []Entry{far, near}, Src: 9}, now, offset)
	if w := m.(Writes); len(w.Entries) != 1 || w.Entries[0].Version != near.Version || len(refused) != 1 || refused[0].Version != far.Version {
		t.Errorf("Writes: kept %v, refused %v; want near kept, far refused", w.Entries, refused)
	}
	d := Delta{Entries: []Entry{near, far}, Complete: true, Src: 9}
	m, refused = Ahead(d, now, offset)
	if got := m.(Delta); len(got.Entries) != 1 || got.Complete || len(refused) != 1 {
		t.Errorf("Delta: %+v refused %v; want one entry kept and Complete off (its set must not be merged)", got, refused)
	}
	m, refused = Ahead(Delta{Entries: []Entry{near}, Complete: true}, now, offset)
	if got := m.(Delta); !got.Complete || len(got.Entries) != 1 || refused != nil {
		t.Errorf("Delta within the offset changed: %+v, refused %v", got, refused)
	}
	if _, refused = Ahead(Writes{Entries: []Entry{far}}, now, 0); refused != nil {
		t.Errorf("offset 0 refused %v; want nothing refused", refused)
	}
	if m, refused = Ahead(Ack{Src: 9}, now, offset); refused != nil || m.(Ack).Src != 9 {
		t.Errorf("Ack: %+v refused %v", m, refused)
	}
}

// A server whose clock was set back across a restart announces its links
// at versions below its earlier life's, which its peers still hold; it
// learns that version from their topology and announces above it, so the
// peers take its new links.
func TestNode_ClockSetBackAcrossRestart_LinksStillTaken(t *testing.T) {
	const sec = int64(1e9)
	mk := func(id uint32, start int64) *Node {
		return NewNode(NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20, Start: start, Members: []uint32{0, 1, 2}},
			NewReplica(id, uint64(start)+uint64(id), nil, Meta{}))
	}
	nodes := map[uint32]*Node{0: mk(0, 1000*sec), 1: mk(1, 1000*sec), 2: mk(2, 1000*sec)}
	now := 1000 * sec
	exchange := func() {
		for range 20 {
			now += 10 * ms
			for id, n := range nodes {
				n.Tick(now)
				for _, o := range n.Ready() {
					if to, ok := nodes[o.To]; ok && slices.Contains(n.Neighbors(), o.To) {
						to.Step(id, o.Msg, now)
					}
				}
			}
		}
	}
	nodes[0].SetNeighbors([]uint32{1})
	nodes[1].SetNeighbors([]uint32{0, 2})
	nodes[2].SetNeighbors([]uint32{1})
	exchange()
	if got := nodes[2].Topology()[0]; !slices.Equal(got, []uint32{1}) {
		t.Fatalf("before the restart, node 2 sees node 0's links as %v, want [1]", got)
	}
	// Node 0 restarts with its clock 100 s behind, and now links to 2 too.
	nodes[0] = mk(0, 900*sec)
	nodes[0].SetNeighbors([]uint32{1, 2})
	nodes[2].SetNeighbors([]uint32{0, 1})
	exchange()
	for _, id := range []uint32{1, 2} {
		if got := nodes[id].Topology()[0]; !slices.Equal(got, []uint32{1, 2}) {
			t.Errorf("node %d sees node 0's links as %v, want [1 2]", id, got)
		}
	}
	// And it settles: its own version coming back is not news.
	v := nodes[0].OwnLinks().Version
	exchange()
	if again := nodes[0].OwnLinks().Version; again != v {
		t.Errorf("node 0's link version moved from %d to %d with nothing changed", v, again)
	}
}

// A neighbour that takes nothing it is sent (its clock far behind the
// writes, so it refuses them) is sent Deltas less and less often, not one
// every resend interval; once it takes them it catches up within the
// longest backoff.
func TestNode_UnheededDeltas_BackOff(t *testing.T) {
	const sec = int64(1e9)
	mk := func(id uint32) *Node {
		return NewNode(NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20, Start: sec, Members: []uint32{0, 1}},
			NewReplica(id, uint64(id)+1, nil, Meta{}))
	}
	a, b := mk(0), mk(1)
	a.SetNeighbors([]uint32{1})
	b.SetNeighbors([]uint32{0})
	now := sec
	e := a.Put([]byte("k"), []byte("v"), Version{}, now)
	refusing := true
	deltas := 0
	run := func(d int64) {
		for end := now + d; now < end; {
			now += ms
			for _, x := range []struct {
				from, to *Node
				id       uint32
			}{{a, b, 0}, {b, a, 1}} {
				x.from.Tick(now)
				for _, o := range x.from.Ready() {
					switch o.Msg.(type) {
					case Writes, Delta:
						if x.from == a {
							deltas++
						}
						if refusing && x.from == a {
							continue
						}
					}
					x.to.Step(x.id, o.Msg, now)
				}
			}
		}
	}
	run(2 * sec)
	// Without backing off: one every 20 ms, about 100.
	if deltas > 25 {
		t.Errorf("%d Deltas to a neighbour that took none in 2 s, want at most 25", deltas)
	}
	refusing = false
	start := now
	for !b.R.Seen().Contains(e.Dot()) && now-start < 2*sec {
		run(ms)
	}
	if took := now - start; took > 20*ms<<maxBackoff+50*ms {
		t.Errorf("the neighbour took %d ms to catch up once it took Deltas", took/ms)
	}
}

// The backoff for a neighbour that takes none of its Deltas does not slow
// the repair of a write it would take: a neighbour that refuses one write
// for good (its origin's clock beyond the max offset ahead of the
// neighbour's) still has a later write it lost on the fast path repaired
// after one resend, not at the backed-off interval.
//
// Chain 2 - 0 - 1 (node 2 joins late). Node 0 writes e1 with its clock
// 4 s ahead; node 1's clock is 4 s behind, so e1 is 8 s ahead of it and
// it refuses e1 (max offset 5 s) for the 3 s this test needs. After 2 s of
// that, node 2 (normal clock) writes e2; node 0 is node 1's parent in 2's
// tree and forwards e2, and that Writes batch is lost. Node 1 does not
// refuse e2: it is repaired one resend (20 ms) after node 0 holds it.
func TestNode_Backoff_SparesAWriteTheNeighbourTakes(t *testing.T) {
	const sec = int64(1e9)
	const maxOffset = 5 * sec
	skew := map[uint32]int64{0: 0, 1: -4 * sec, 2: 0}
	mk := func(id uint32) *Node {
		return NewNode(NodeConfig{ID: id, Resend: 20 * ms, Heartbeat: 200 * ms, MaxDeltaBytes: 1 << 20, Start: 10 * sec, Members: []uint32{0, 1, 2}},
			NewReplica(id, uint64(id)+1, nil, Meta{}))
	}
	nodes := map[uint32]*Node{0: mk(0), 1: mk(1), 2: mk(2)}
	nodes[0].SetNeighbors([]uint32{1})
	nodes[1].SetNeighbors([]uint32{0})
	now := 10 * sec
	dropWrites01 := false
	run := func(d int64, until func() bool) {
		for end := now + d; now < end && (until == nil || !until()); {
			now += ms
			for _, id := range []uint32{0, 1, 2} {
				n := nodes[id]
				n.Tick(now + skew[id])
				for _, o := range n.Ready() {
					if id == 0 && o.To == 1 {
						if _, ok := o.Msg.(Writes); ok && dropWrites01 {
							continue
						}
					}
					to := nodes[o.To]
					if !slices.Contains(to.Neighbors(), id) {
						continue
					}
					m, _ := Ahead(o.Msg, now+skew[o.To], maxOffset)
					to.Step(id, m, now+skew[o.To])
				}
			}
		}
	}
	run(500*ms, nil) // topology settles
	e1 := nodes[0].Put([]byte("a"), []byte("ahead"), Version{}, now+4*sec)
	run(2*sec, nil)
	if nodes[1].R.Seen().Contains(e1.Dot()) {
		t.Fatal("node 1 took e1, which is beyond its max offset")
	}
	// Node 2 links up with node 0 and writes at once (its clock has not
	// taken e1's).
	nodes[0].SetNeighbors([]uint32{1, 2})
	nodes[2].SetNeighbors([]uint32{0})
	dropWrites01 = true
	e2 := nodes[2].Put([]byte("b"), []byte("normal"), Version{}, now)
	run(2*sec, func() bool { return nodes[0].R.Seen().Contains(e2.Dot()) })
	if !nodes[0].R.Seen().Contains(e2.Dot()) {
		t.Fatal("node 0 never got e2")
	}
	start := now
	run(2*sec, func() bool { return nodes[1].R.Seen().Contains(e2.Dot()) })
	if !nodes[1].R.Seen().Contains(e2.Dot()) {
		t.Fatal("node 1 never got e2")
	}
	if took := now - start; took > 60*ms {
		t.Errorf("node 1 got e2, a write it does not refuse, %d ms after its parent held it (resend is 20 ms): the backoff earned by e1's refusals delayed it", took/ms)
	}
}

// A write of an earlier life of an origin that is alive and in reach, but
// whose disk no longer holds it (a wiped or restored data directory), is
// for the laggard's parent in the origin's tree to deliver, and that
// parent (the origin itself here) lacks it: a holder that is not the
// parent steps in a few resends later (waits.behind), not after the slow
// safety net's two heartbeats.
//
// Chain 0 - 1 - 2. Node 2 writes w, which only node 0 takes (0-2 the only
// link); node 2 restarts from an empty disk; then the links become 0-1
// and 1-2. Node 1 lacks w; its parent in node 2's tree is node 2, which
// lacks it too; node 0 holds it.
func TestNode_LiveOriginLostItsWrite_RepairedByAnotherHolder(t *testing.T) {
	s := newSimNet(t, 7, 3)
	s.cut[key(0, 1)], s.cut[key(1, 2)] = true, true
	s.gossip(1)
	s.put(2)
	w := s.writes[0]
	for i := 0; i < 200 && !s.nodes[0].R.Seen().Contains(w.Dot()); i++ {
		s.step()
	}
	if !s.nodes[0].R.Seen().Contains(w.Dot()) {
		t.Fatal("node 0 never got the write")
	}
	s.restartFrom(2, simDisk{}) // wiped: the new life lacks w
	s.cut[key(0, 2)] = true
	delete(s.cut, key(0, 1))
	delete(s.cut, key(1, 2))
	s.gossip(1)
	start := s.now
	for !s.nodes[1].R.Seen().Contains(w.Dot()) {
		if s.now-start > 3000*ms {
			t.Fatal("node 1 never got w")
		}
		s.step()
	}
	// Resend 20 ms, heartbeat 200 ms.
	if took := s.now - start; took > 150*ms {
		t.Errorf("node 1 got w %d ms after the links came up: left to the slow safety net", took/ms)
	}
}

// A node is Settled once every neighbour it knows holds all it holds, and
// not while one lacks a write: a server sleeps through the first and polls
// its repair watches in the second.
func TestNode_Settled_UntilEveryNeighbourHoldsItsWrites(t *testing.T) {
	now := int64(1e9)
	a := NewNode(pairConfig(0), NewReplica(0, NewSrc(1), nil, Meta{}))
	b := NewNode(pairConfig(1), NewReplica(1, NewSrc(2), nil, Meta{}))
	linkPair(a, b)
	pump(t, &now, map[uint32]*Node{0: a, 1: b})
	if !a.Settled() || !b.Settled() {
		t.Fatalf("after the first exchange: settled %v %v, want both", a.Settled(), b.Settled())
	}
	a.Put([]byte("k"), []byte("v"), Version{}, now)
	if a.Settled() {
		t.Fatal("a write b has not acknowledged: a settled")
	}
	if !b.Settled() {
		t.Fatal("b, which holds nothing a lacks, not settled")
	}
	pump(t, &now, map[uint32]*Node{0: a, 1: b})
	if !a.Settled() || !b.Settled() {
		t.Fatalf("after the write spread: settled %v %v, want both", a.Settled(), b.Settled())
	}
	a.Tick(now + 200*ms)
	if got, want := a.NextHeartbeat(), now+400*ms; got != want {
		t.Errorf("next heartbeat %d, want %d (one interval after the last)", got, want)
	}
}

// What a server skips by not ticking a settled node is nothing: Tick on
// a Settled node, at any time before its next heartbeat, queues no Delta,
// in whatever state the random faults left the net.
func TestNode_Settled_TickBeforeTheHeartbeatSendsNothing(t *testing.T) {
	checked, unsettled := 0, 0
	for trial := range 40 {
		s := newSimNet(t, int64(trial), 5)
		for i := range 10 + 7*trial {
			if i%25 == 0 {
				a, b := uint32(s.rng.Intn(5)), uint32(s.rng.Intn(5))
				if a != b {
					s.cut[key(min(a, b), max(a, b))] = !s.cut[key(min(a, b), max(a, b))]
				}
			}
			if i%3 == 0 {
				s.put(uint32(s.rng.Intn(5)))
			}
			s.step()
			if i%10 == 0 {
				s.gossip(0.5)
			}
		}
		for range trial % 4 * 10 { // a quiet spell in most trials, to let acks spread
			s.step()
		}
		// The latest moment a sleeping server would not tick; the sim
		// is done with after this.
		for id, n := range s.nodes {
			if !s.alive[id] {
				continue
			}
			if !n.Settled() {
				unsettled++
				continue
			}
			at := n.NextHeartbeat() - 1
			if at <= s.now {
				continue
			}
			checked++
			queued := len(n.out)
			n.Tick(at)
			for _, o := range n.out[queued:] {
				if _, ok := o.Msg.(Delta); ok {
					t.Fatalf("trial %d: node %d settled, yet a Tick before its heartbeat queued a Delta for %d", trial, id, o.To)
				}
			}
		}
	}
	if checked < 20 || unsettled < 20 {
		t.Fatalf("%d settled and %d unsettled nodes seen: the trials should reach both often", checked, unsettled)
	}
}
