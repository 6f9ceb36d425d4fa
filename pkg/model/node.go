package model

import (
	"math"
	"slices"

	"gossipkv/pkg/router"
)

// Message is what servers send each other. Every message goes to a direct
// neighbour only; writes reach servers further away by being forwarded hop by
// hop along the origin's shortest-path tree (see Node).
type Message interface{ isMessage() }

// Writes carries new writes along the forwarding tree: the fast path. Src
// is the sender's replica id, as in every message: a receiver credits the
// sender with holding what it sends only while it knows the sender by that
// id (a message of an earlier life, overtaken by the new life's first Ack,
// must not credit the new life with what the old one held).
type Writes struct {
	Entries []Entry
	Src     uint64
}

// Ack tells a neighbour which writes the sender holds durably. It is
// cumulative (a whole Seen set, not a list of dots), so a lost or reordered
// ack is repaired by the next one. Src is the sender's replica id: a new one
// means it has restarted (from a disk that may have lost or never had what
// it held before), and what was known of it is void.
//
// Topology is the sender's view of every server's links: link-state
// flooding over the servers' own links, so that every server routes by the
// same graph within milliseconds of a change (memberlist's gossip of node
// metadata can take a push/pull interval when packets are lost).
//
// Holdings and Stable spread what tombstone collection needs (see Stable):
// the holdings of every server the sender has heard of that this
// neighbour has not been sent yet, and the newest stable point the sender
// knows.
type Ack struct {
	Seen     Seen
	Src      uint64
	Topology []LinkState
	Holdings []Holding
	Stable   Stable
}

// Holding is what server ID held when it last said so, flooded hop by hop
// like links: its set of writes (durable by the time anyone reads it: it
// leaves with acks, after the commit) and its clock, which every write it
// issues from then on is above. A higher Version replaces a lower one.
type Holding struct {
	ID      uint32  `msgpack:"i"`
	Version int64   `msgpack:"v"`
	Seen    Seen    `msgpack:"s"`
	Clock   Version `msgpack:"c"`
}

// LinkState is one server's announced direct links; a higher Version
// replaces a lower one.
type LinkState struct {
	ID      uint32   `msgpack:"i"`
	Version int64    `msgpack:"v"`
	Links   []uint32 `msgpack:"l"`
}

// Delta repairs a neighbour that stayed behind: the entries it lacks and,
// when Complete, the sender's Seen set, which the receiver may merge after
// applying them (writes superseded in the sender's store are not sent, so
// the receiver could never learn their dots otherwise).
//
// For is the receiver's replica id the Delta was computed for. Its Seen
// may be merged only by that replica: one restarted since (a new replica
// id, perhaps from a disk that lost writes) may lack entries the sender
// left out because the earlier life held them, and merging the set would
// claim them.
//
// Stable is the newest stable point the sender knows. A receiver whose
// disk went back in time learns from it, before it merges the sender's
// set, that it must be rebased (see Replica.Outdated).
type Delta struct {
	Entries  []Entry
	Seen     Seen
	Complete bool
	For      uint64
	Src      uint64
	Stable   Stable
}

func (Writes) isMessage() {}
func (Ack) isMessage()    {}
func (Delta) isMessage()  {}

// Outgoing is a message for the direct neighbour To.
type Outgoing struct {
	To  uint32
	Msg Message
}

// NodeConfig holds the protocol's timing, in nanoseconds of the caller's
// clock, and size knobs.
type NodeConfig struct {
	ID uint32
	// Resend is how long a neighbour may stay behind without progress
	// before it is sent a Delta. Neighbours of the laggard wait 1, 2, 3...
	// times this by rank, so usually one of them repairs it, not all.
	Resend int64
	// Heartbeat is how often every neighbour is sent an Ack even when
	// nothing changed: it repairs lost acks and introduces new neighbours.
	Heartbeat int64
	// MaxDeltaBytes bounds one Delta; a larger gap goes in several.
	MaxDeltaBytes int
	// Start is the time the node is made. Its links are versioned by its
	// clock from there: a restarted server must announce them above its
	// previous life's versions, which its peers still hold.
	Start int64
	// Members are the servers of the cluster as configured: a stable
	// point waits for the holding of every one of them (and of any other
	// server heard of), so that a server nobody alive has heard of since
	// it last ran, its disk holding writes no one else has, holds
	// collection up rather than being taken for absent (see stepEpoch).
	Members []uint32
}

// Node is the replication protocol of one server, pure: driven by Put, Step
// (a message arrived), SetLinks/SetNeighbors (topology news) and Tick (time
// passed); its output is taken with Ready once the replica's dirty state has
// been committed. It is not safe for concurrent use.
//
// Reliability is hop by hop: each server makes sure that each of its direct
// neighbours ends up holding everything it holds. In a connected group that
// brings every write to every server, whichever server took it and whether or
// not that server is still alive.
type Node struct {
	cfg NodeConfig
	R   *Replica

	// links is the announced direct links of every server (ours from
	// SetNeighbors), graph the router built from it (nil: rebuild).
	links map[uint32]LinkState
	graph *router.Graph

	neighbors []uint32
	peers     map[uint32]*peer

	// batches holds forwarded writes per neighbour until Ready.
	batches map[uint32][]Entry
	// ackDue lists neighbours owed an Ack after the next commit.
	ackDue map[uint32]bool
	out    []Outgoing
	lastHB int64
	// topoGen counts changes to the topology view; a neighbour is sent
	// the view with an Ack only when it has not had this generation, and
	// on every topoRefresh-th heartbeat (beats counts them).
	topoGen uint64
	beats   uint64
	// now is the latest time the caller gave.
	now int64

	// Tombstone collection (see Stable). holdings is the latest holding
	// of every server heard of, ours among them (made in Ready when
	// holdDue); epoch, a stable point in the making; stable, the newest
	// point known, which the replica takes once it holds its cover;
	// outdated, that the replica must be rebased first (see Outdated).
	holdings map[uint32]Holding
	holdDue  bool
	epoch    *Stable
	epochAge int // heartbeats the epoch has waited
	stable   Stable
	outdated bool
}

// peer is what a node knows of one neighbour.
type peer struct {
	seen  Seen   // the union of its acks since its replica id last changed
	src   uint64 // its replica id, from its acks
	known bool   // an ack has arrived
	waits waits
	// partial: the last Delta sent to it was incomplete, ending with dot
	// partialEnd; the ack that shows it holds that dot triggers the next
	// part at once (an earlier ack, sent before the part arrived, must
	// not: the next part would repeat it).
	partial    bool
	partialEnd Dot
	// unheeded counts the Deltas sent to it while it held no more than
	// when the one before left (heldAt) and we held nothing new to send
	// (sentAt, what we held then): a neighbour that refuses what it is
	// sent (its clock far behind the writes) or whose link drops every
	// Delta is sent them less and less often, not every resend interval,
	// until it takes something or we have something new for it.
	unheeded       int
	heldAt, sentAt uint64
	// topoSent is the topology generation last sent to it; holdSent, the
	// version of each server's holding sent to it; stableSent, the
	// version of the stable point.
	topoSent   uint64
	holdSent   map[uint32]int64
	stableSent Version
}

// waits are a neighbour's waits for the writes it lacks, by who is to
// deliver them (see responsibleFor). fast: those of an origin in reach,
// which this node forwards to it in the origin's tree; it is the one to
// repair them, after a resend interval. unrooted: those of an origin out
// of reach (dead or cut off), which no tree delivers and any neighbour of
// it that holds them may: each waits in turn, by its rank among the
// neighbour's neighbours, so the first holder repairs it and the others
// see its ack. behind: those another node is to deliver in their tree,
// which this node holds too; it steps in two turns after the unrooted
// ones, for a parent that lacks them (an origin whose new life lost them
// from its disk, and the nodes between). slow, much longer, for
// everything this node holds, whoever should have delivered it: the
// safety net for topology views that disagree.
type waits struct {
	fast, unrooted, behind, slow watch
}

// topoRefresh: every this many heartbeats the whole view goes out even
// without news, in case an Ack carrying news was lost; and the stable
// point, for the same reason.
const topoRefresh = 5

// Holdings are made once every holdEvery heartbeats, and then only when
// the set or the clock changed, but for one every holdRefresh heartbeats
// (in case the Acks carrying the last were lost): each crosses every
// link of the cluster, so their rate is what collection costs.
// epochPatience is how many heartbeats a stable point in the making may
// wait for every holding to cover it before it is given up for a new one
// (a write it names may be gone for good: a disk that went back in time).
const (
	holdEvery     = 2
	holdRefresh   = 25
	epochPatience = 20
)

// watch is a wait for a neighbour to catch up with a target set.
type watch struct {
	active bool
	target Seen
	cov    uint64 // how much of target it held when it last progressed
	since  int64  // when it last progressed
}

// due reports whether a neighbour holding have has made no progress
// toward target for wait. Progress is any growth of what it holds of the
// target we armed with (a long catch-up is progress before it is done);
// covering that target re-arms with the current one.
func (w *watch) due(have, target Seen, now, wait int64) bool {
	if have.Covers(target) {
		w.active = false
		return false
	}
	if !w.active || have.Covers(w.target) {
		*w = watch{active: true, target: target.Clone(), cov: have.Overlap(target), since: now}
		return false
	}
	if cov := have.Overlap(w.target); cov > w.cov {
		w.cov, w.since = cov, now
		return false
	}
	return now-w.since >= wait
}

// NewNode builds the protocol around a replica.
func NewNode(cfg NodeConfig, r *Replica) *Node {
	for _, id := range cfg.Members {
		r.AddMember(id)
	}
	return &Node{
		now:      cfg.Start,
		cfg:      cfg,
		R:        r,
		links:    map[uint32]LinkState{},
		peers:    map[uint32]*peer{},
		batches:  map[uint32][]Entry{},
		ackDue:   map[uint32]bool{},
		holdings: map[uint32]Holding{},
		stable:   r.Stable().Clone(),
		holdDue:  true,
	}
}

// Put issues a local write and forwards it to our children in its tree.
func (n *Node) Put(key, value []byte, dep Version, now int64) Entry {
	n.now = max(n.now, now)
	e := n.R.Put(key, value, dep, now)
	n.forward(e, n.cfg.ID)
	return e
}

// Delete issues a local delete (a tombstone) and forwards it like a put.
func (n *Node) Delete(key []byte, dep Version, now int64) Entry {
	n.now = max(n.now, now)
	e := n.R.Delete(key, dep, now)
	n.forward(e, n.cfg.ID)
	return e
}

// Step handles a message from direct neighbour from.
func (n *Node) Step(from uint32, m Message, now int64) {
	n.now = max(n.now, now)
	switch m := m.(type) {
	case Writes:
		n.applyAll(from, m.Src, m.Entries)
		n.ackDue[from] = true
	case Delta:
		n.offer(m.Stable)
		n.applyAll(from, m.Src, m.Entries)
		if m.Complete && m.For == n.R.Src() && !n.outdated {
			n.R.Merge(m.Seen)
			if p := n.peer(from); p.known && p.src == m.Src {
				p.seen.Union(m.Seen)
			}
		}
		n.ackDue[from] = true
	case Ack:
		p := n.peer(from)
		if p.src != m.Src {
			// A new life: it holds only what it says now, and knows
			// nothing of the topology, the holdings or the stable point.
			p.seen, p.waits, p.partial, p.unheeded, p.heldAt = Seen{}, waits{}, false, 0, 0
			p.topoSent, p.holdSent, p.stableSent = 0, nil, Version{}
		}
		p.seen.Union(m.Seen)
		p.known, p.src = true, m.Src
		for _, l := range m.Topology {
			n.SetLinks(l.ID, l.Version, l.Links)
		}
		for _, h := range m.Holdings {
			if p.holdSent == nil {
				p.holdSent = map[uint32]int64{}
			}
			// The sender has it: it need not come back.
			p.holdSent[h.ID] = max(p.holdSent[h.ID], h.Version)
			if cur, ok := n.holdings[h.ID]; h.ID != n.cfg.ID && (!ok || cur.Version < h.Version) {
				n.holdings[h.ID] = h
				n.R.AddMember(h.ID)
			}
		}
		n.offer(m.Stable)
		if p.partial && p.seen.Contains(p.partialEnd) && !p.seen.Covers(n.R.Seen()) {
			n.sendDelta(from, p, now)
		}
	}
}

func (n *Node) applyAll(from uint32, src uint64, entries []Entry) {
	// What a neighbour sends, it holds (durably, before it sends): that
	// is as good as an ack and spares it a Delta of its own writes. But
	// only of the life we know it by: an earlier one's messages say
	// nothing of what the current one holds.
	p := n.peer(from)
	credit := p.known && p.src == src
	for _, e := range entries {
		if credit {
			p.seen.Add(e.Dot())
		}
		if n.R.Apply(e) {
			n.forward(e, from)
		}
	}
}

// forward queues e for each neighbour whose parent in the origin's
// shortest-path tree is this node. When the origin is out of reach (dead,
// or cut off), the tree rooted here spreads it instead.
func (n *Node) forward(e Entry, from uint32) {
	g := n.topology()
	root := e.Version.Origin
	if _, ok := g.NextHop(n.cfg.ID, root); !ok {
		root = n.cfg.ID
	}
	for _, nb := range n.neighbors {
		if nb == from || nb == e.Version.Origin {
			continue
		}
		if p := n.peers[nb]; p != nil && p.seen.Contains(e.Dot()) {
			continue // it has it (a repair that reached us late)
		}
		if p, ok := g.Parent(root, nb); ok && p == n.cfg.ID {
			n.batches[nb] = append(n.batches[nb], e)
		}
	}
}

// Recover replaces the replica with one rebuilt from durable state, after
// the caller failed to commit the old one's changes. Whatever the node had
// queued may carry those changes and is dropped; what it knows of its
// neighbours stays true (they only ever heard of committed state).
func (n *Node) Recover(r *Replica) {
	n.R = r
	clear(n.batches)
	n.out = nil
	n.outdated, n.holdDue = false, true
	// The rebuilt replica's disk may predate servers heard of since.
	for _, id := range n.cfg.Members {
		r.AddMember(id)
	}
	for id := range n.links {
		r.AddMember(id)
	}
	for id := range n.holdings {
		r.AddMember(id)
	}
	for id, p := range n.peers {
		p.waits, p.partial = waits{}, false
		n.ackDue[id] = true // tell them our set again
	}
}

// SetLinks records the direct links that server id announced at version
// (memberlist metadata or a neighbour's Ack); an older version than the one
// known changes nothing. News is passed on to every neighbour.
//
// Our own links come from SetNeighbors, but a version of ours above the
// one we announce is an earlier life's, which peers still hold: a server
// whose clock was set back across a restart would otherwise announce
// links they ignore until its clock passes that version. We announce ours
// again above it. (Our own version coming back is not news.)
func (n *Node) SetLinks(id uint32, version int64, links []uint32) {
	if id == n.cfg.ID {
		if own := n.links[id]; version > own.Version {
			n.links[id] = LinkState{ID: id, Version: version + 1, Links: own.Links}
			n.graph = nil
			n.topoGen++
			for _, nb := range n.neighbors {
				n.ackDue[nb] = true
			}
		}
		return
	}
	if cur, ok := n.links[id]; ok && cur.Version >= version {
		return
	}
	n.links[id] = LinkState{ID: id, Version: version, Links: slices.Clone(links)}
	n.R.AddMember(id)
	n.graph = nil
	n.topoGen++
	for _, nb := range n.neighbors {
		n.ackDue[nb] = true
	}
}

// OwnLinks is this node's announced links and their version.
func (n *Node) OwnLinks() LinkState { return n.links[n.cfg.ID] }

// SetNeighbors sets the servers this node has a live direct link to. New
// neighbours are sent an Ack at once so they learn what we hold.
func (n *Node) SetNeighbors(ids []uint32) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	if slices.Equal(ids, n.neighbors) {
		return
	}
	for _, id := range ids {
		if !slices.Contains(n.neighbors, id) {
			n.ackDue[id] = true
		}
	}
	for _, id := range n.neighbors {
		if !slices.Contains(ids, id) {
			if p := n.peers[id]; p != nil {
				// Back on its link, it is sent at the full rate again.
				p.waits, p.partial, p.unheeded = waits{}, false, 0
			}
			delete(n.batches, id)
		}
	}
	n.neighbors = ids
	for _, id := range ids {
		n.R.AddMember(id)
	}
	version := max(n.now, n.links[n.cfg.ID].Version+1)
	n.links[n.cfg.ID] = LinkState{ID: n.cfg.ID, Version: version, Links: ids}
	n.graph = nil
	n.topoGen++
	for _, nb := range ids {
		n.ackDue[nb] = true // tell everyone, hop by hop
	}
}

// Topology returns a copy of the announced links this node routes by.
func (n *Node) Topology() map[uint32][]uint32 {
	out := make(map[uint32][]uint32, len(n.links))
	for id, l := range n.links {
		out[id] = slices.Clone(l.Links)
	}
	return out
}

// linkStates is the whole view, for an Ack.
func (n *Node) linkStates() []LinkState {
	out := make([]LinkState, 0, len(n.links))
	for _, l := range n.links {
		out = append(out, LinkState{ID: l.ID, Version: l.Version, Links: slices.Clone(l.Links)})
	}
	slices.SortFunc(out, func(a, b LinkState) int { return int(a.ID) - int(b.ID) })
	return out
}

// PeerLag is how this node stands against one server it has heard from,
// as far as its acks tell: they say what the server held durably when it
// sent them, so both counts may be out of date by what has moved since.
type PeerLag struct {
	Peer uint32
	// Linked: the server is a direct neighbour now (else its last acks,
	// from before a cut or its death, are all this node knows).
	Linked bool
	// Missing counts the writes the server held that this node lacks;
	// Unacked the writes this node holds that the server has not yet
	// acknowledged.
	Missing, Unacked uint64
}

// Lag reports, per server this node has had an ack from (since its
// replica id last changed), how far apart the two are, sorted by id; and
// Behind, how many distinct writes any of them held that this node
// lacks. It costs a pass over the held-write sets, which are small (a
// prefix per replica id plus the few writes beyond a gap).
func (n *Node) Lag() (peers []PeerLag, behind uint64) {
	mine := n.R.Seen()
	union := mine.Clone()
	for id, p := range n.peers {
		if !p.known {
			continue
		}
		peers = append(peers, PeerLag{
			Peer:    id,
			Linked:  slices.Contains(n.neighbors, id),
			Missing: p.seen.Count() - mine.Overlap(p.seen),
			Unacked: mine.Count() - p.seen.Overlap(mine),
		})
		union.Union(p.seen)
	}
	slices.SortFunc(peers, func(a, b PeerLag) int { return int(a.Peer) - int(b.Peer) })
	return peers, union.Count() - mine.Count()
}

// Neighbors returns the current direct neighbours. Do not modify.
func (n *Node) Neighbors() []uint32 { return n.neighbors }

// Tick lets time pass: neighbours that stay behind get a Delta, and every
// Heartbeat all neighbours get an Ack.
//
// Who repairs whom: a node watches a neighbour closely only for the writes
// it is to deliver to it, those of origins whose shortest-path tree makes
// it the neighbour's parent (or, for an origin out of reach, those of
// which it is the neighbour's lowest-id neighbour). The neighbour acks what
// it receives to the sender, its parent, so no other node needs to hear
// of it: acks cost one message per batch received, not one per neighbour.
// Everything else is watched only on the slow safety net.
func (n *Node) Tick(now int64) {
	n.now = max(n.now, now)
	if now-n.lastHB >= n.cfg.Heartbeat {
		n.lastHB = now
		n.beats++
		if n.beats%holdEvery == 0 {
			n.holdDue = true
		}
		n.tryStable()
		n.stepEpoch()
		for _, nb := range n.neighbors {
			n.ackDue[nb] = true
			if n.beats%topoRefresh == 0 {
				p := n.peer(nb)
				p.topoSent, p.stableSent = 0, Version{} // send the view and the point again
			}
		}
	}
	mine := n.R.Seen()
	g := n.topology()
	for _, nb := range n.neighbors {
		p := n.peer(nb)
		if !lacks(p, mine) {
			p.waits, p.partial = waits{}, false
			continue
		}
		rank := int64(slices.Index(g.Neighbors(nb), n.cfg.ID)) + 1
		if rank < 1 {
			rank = 1
		}
		d := n.responsibleFor(g, nb, mine)
		resend := n.cfg.Resend << n.backoff(p)
		fast := p.waits.fast.due(p.seen, d.rooted, now, resend)
		turn := p.waits.unrooted.due(p.seen, d.unrooted, now, resend*rank)
		behind := p.waits.behind.due(p.seen, d.others, now, resend*(rank+2))
		slow := p.waits.slow.due(p.seen, mine, now, 2*n.cfg.Heartbeat+n.cfg.Resend*rank)
		if fast || turn || behind || slow {
			n.sendDelta(nb, p, now)
		}
	}
}

// Settled reports whether every neighbour that Tick watches holds every
// write this node holds: then Tick has nothing to do before the next
// heartbeat (NextHeartbeat), until a write or a message changes that.
func (n *Node) Settled() bool {
	mine := n.R.Seen()
	for _, nb := range n.neighbors {
		if lacks(n.peers[nb], mine) {
			return false
		}
	}
	return true
}

// lacks reports whether Tick watches neighbour p for writes of mine: it
// is known (it acked) and does not hold all of them.
func lacks(p *peer, mine Seen) bool { return p != nil && p.known && !p.seen.Covers(mine) }

// NextHeartbeat is when Tick next sends heartbeats.
func (n *Node) NextHeartbeat() int64 { return n.lastHB + n.cfg.Heartbeat }

// deliveries splits what of mine a neighbour may lack by who is to deliver
// it (see waits): rooted, this node in the origin's tree; unrooted, any
// holder, the origin being out of reach; others, another node in the
// origin's tree.
type deliveries struct {
	rooted, unrooted, others Seen
}

// responsibleFor splits what of mine nb may need from this node.
func (n *Node) responsibleFor(g *router.Graph, nb uint32, mine Seen) deliveries {
	const (
		none = iota
		tree
		anyHolder
		otherParent
	)
	memo := map[uint64]int{}
	kind := func(src uint64) int {
		if k, ok := memo[src]; ok {
			return k
		}
		server, known := n.R.ServerOf(src)
		_, reachable := g.NextHop(n.cfg.ID, server)
		k := none
		switch {
		case known && server == nb:
			// Its own writes: it holds those of its current life, but
			// those of an earlier one its disk may have lost.
			if src != n.peer(nb).src {
				k = anyHolder
			}
		case known && (reachable || server == n.cfg.ID):
			k = otherParent
			if parent, ok := g.Parent(server, nb); ok && parent == n.cfg.ID {
				k = tree
			}
		default:
			// An origin out of reach, or a replica known only from a
			// merged set (its writes all superseded here): no tree.
			k = anyHolder
		}
		memo[src] = k
		return k
	}
	var d deliveries
	pick := func(k int) *Seen {
		switch k {
		case tree:
			return &d.rooted
		case anyHolder:
			return &d.unrooted
		case otherParent:
			return &d.others
		}
		return nil
	}
	for _, e := range mine.Prefix {
		if out := pick(kind(e.ID)); out != nil {
			out.Prefix = append(out.Prefix, e)
		}
	}
	for _, dot := range mine.Extra {
		if out := pick(kind(dot.Origin)); out != nil {
			out.Extra = append(out.Extra, dot)
		}
	}
	return d
}

// maxBackoff bounds the doubling of the resend interval for a neighbour
// that does not take what it is sent: 16 times, 0.8 s at 50 ms.
const maxBackoff = 4

// backoff is how many times the resend interval doubles for p: once per
// Delta it left unheeded, beyond the first. A neighbour that took
// something, or a write new to us since the last Delta, starts the count
// again: a write it never refused is repaired at the full rate.
func (n *Node) backoff(p *peer) int {
	if p.seen.Count() > p.heldAt || n.R.Seen().Count() > p.sentAt {
		p.unheeded = 0
	}
	return min(max(p.unheeded-1, 0), maxBackoff)
}

func (n *Node) sendDelta(to uint32, p *peer, now int64) {
	n.backoff(p) // progress since the last Delta starts the count again
	p.unheeded++
	p.heldAt, p.sentAt = p.seen.Count(), n.R.Seen().Count()
	entries, complete := n.R.Delta(p.seen, n.cfg.MaxDeltaBytes)
	d := Delta{Entries: entries, Complete: complete, For: p.src, Src: n.R.Src(), Stable: n.stable}
	if complete {
		d.Seen = n.R.Seen().Clone()
	}
	n.out = append(n.out, Outgoing{To: to, Msg: d})
	p.partial = !complete
	if len(entries) > 0 {
		p.partialEnd = entries[len(entries)-1].Dot()
	}
	// Every wait starts again from now.
	p.waits = waits{}
}

// ReadyOwn returns the Writes that carry this node's own new writes, for a
// caller that made them durable ahead of the rest (a write-ahead log): they
// may leave before the next commit, so that replication does not wait on
// it. Forwarded writes, deltas and acks stay for Ready: a neighbour takes
// whatever we send it as held by us, and acks promise durability.
func (n *Node) ReadyOwn() []Outgoing {
	src := n.R.Src()
	var out []Outgoing
	for _, nb := range n.neighbors {
		es := n.batches[nb]
		var own, rest []Entry
		for _, e := range es {
			if e.Src == src {
				own = append(own, e)
			} else {
				rest = append(rest, e)
			}
		}
		if len(own) == 0 {
			continue
		}
		out = append(out, Outgoing{To: nb, Msg: Writes{Entries: own, Src: src}})
		if len(rest) > 0 {
			n.batches[nb] = rest
		} else {
			delete(n.batches, nb)
		}
	}
	return out
}

// Ready returns the messages to send, once everything the replica has
// applied so far is durable: acks promise durability. The caller commits
// R.TakeDirty() first, then calls Ready.
func (n *Node) Ready() []Outgoing {
	for _, nb := range n.neighbors {
		if es := n.batches[nb]; len(es) > 0 {
			n.out = append(n.out, Outgoing{To: nb, Msg: Writes{Entries: es, Src: n.R.Src()}})
		}
	}
	clear(n.batches)
	mine := n.R.Seen()
	if n.holdDue {
		n.holdDue = false
		own, ok := n.holdings[n.cfg.ID]
		if !ok || n.beats%holdRefresh == 0 || own.Clock != n.R.Clock() || !own.Seen.Equal(mine) {
			n.holdings[n.cfg.ID] = Holding{ID: n.cfg.ID, Version: max(n.now, own.Version+1), Seen: mine.Clone(), Clock: n.R.Clock()}
		}
	}
	var topo []LinkState
	for nb := range n.ackDue {
		if !slices.Contains(n.neighbors, nb) {
			continue
		}
		a := Ack{Seen: mine.Clone(), Src: n.R.Src()}
		p := n.peer(nb)
		if p.topoSent != n.topoGen {
			if topo == nil {
				topo = n.linkStates()
			}
			a.Topology, p.topoSent = topo, n.topoGen
		}
		a.Holdings = n.holdingsFor(p)
		if p.stableSent.Less(n.stable.Version) {
			a.Stable, p.stableSent = n.stable, n.stable.Version
		}
		n.out = append(n.out, Outgoing{To: nb, Msg: a})
	}
	clear(n.ackDue)
	// A delta queued for a neighbour lost since (the caller deferred its
	// commit) has nowhere to go.
	out := slices.DeleteFunc(n.out, func(o Outgoing) bool { return !slices.Contains(n.neighbors, o.To) })
	n.out = nil
	return out
}

func (n *Node) peer(id uint32) *peer {
	p := n.peers[id]
	if p == nil {
		p = &peer{}
		n.peers[id] = p
	}
	return p
}

func (n *Node) topology() *router.Graph {
	if n.graph == nil {
		links := make(map[uint32][]uint32, len(n.links))
		for id, l := range n.links {
			links[id] = l.Links
		}
		n.graph = router.New(links)
	}
	return n.graph
}

// holdingsFor returns the holdings p has not been sent, and marks them
// sent. (A holding lost with its Ack is sent again only when its server
// makes a newer one, a heartbeat later: holdings only need to arrive
// eventually.)
func (n *Node) holdingsFor(p *peer) []Holding {
	if p.holdSent == nil {
		p.holdSent = map[uint32]int64{}
	}
	var out []Holding
	for id, h := range n.holdings {
		if p.holdSent[id] < h.Version {
			out = append(out, h)
			p.holdSent[id] = h.Version
		}
	}
	slices.SortFunc(out, func(a, b Holding) int { return int(a.ID) - int(b.ID) })
	return out
}

// stepEpoch moves tombstone collection on, once a heartbeat. A stable
// point is made in two steps, from the holdings of every server this node
// has heard of (the members of the cluster; one that never sent a holding
// holds it up, and so does a dead one until it comes back):
//
// The members are every server the replica has heard of, in this life or
// an earlier one (Meta.Members): a server restarted alone must not take
// itself for the whole cluster.
//
//  1. Take V, the least of their clocks, and X, the union of their sets.
//     A write at or below V was issued before its server's holding was
//     made (every later one is above that server's clock), so it is in X.
//  2. Wait until every holding covers X. Then every write at or below V is
//     held by every server: (V, X) is a stable point.
//
// A tombstone at or below V may then go: every older write of its key is
// held everywhere (none can arrive anywhere as news and bring a value
// back), and every write of the key issued from now on is newer than it,
// since every server holds the tombstone.
func (n *Node) stepEpoch() {
	var hs []Holding
	for _, id := range n.R.Members() {
		h, ok := n.holdings[id]
		if !ok {
			return
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return
	}
	if n.epoch == nil {
		p := Stable{Version: hs[0].Clock}
		for _, h := range hs {
			if h.Clock.Less(p.Version) {
				p.Version = h.Clock
			}
			p.Cover.Union(h.Seen)
		}
		// A clock has no origin; every later write is above it in wall
		// and logical time, whatever its origin.
		if !p.Version.IsZero() {
			p.Version.Origin = math.MaxUint32
		}
		if !p.Version.IsZero() && n.stable.Version.Less(p.Version) {
			n.epoch, n.epochAge = &p, 0
		}
		return
	}
	for _, h := range hs {
		if !h.Seen.Covers(n.epoch.Cover) {
			if n.epochAge++; n.epochAge > epochPatience {
				n.epoch = nil
			}
			return
		}
	}
	p := *n.epoch
	n.epoch = nil
	n.offer(p)
}

// offer learns of the stable point p (from a neighbour, or made here).
func (n *Node) offer(p Stable) {
	if n.stable.Version.Less(p.Version) {
		n.stable = p.Clone()
		n.tryStable()
	}
}

// tryStable has the replica take the newest stable point known, if it
// holds its cover, or finds that it must be rebased.
func (n *Node) tryStable() {
	if n.stable.IsZero() {
		return
	}
	if _, taken := n.R.Collect(n.stable); !taken && n.R.Outdated(n.stable) {
		n.outdated = true
	}
}

// Outdated reports whether the replica must be rebased before it can take
// the stable point p (see Replica.Outdated): the caller then makes
// R.Rebase(p) durable and hands a replica built of it to Recover.
func (n *Node) Outdated() (p Stable, ok bool) { return n.stable, n.outdated }

// Ahead removes from m the writes whose versions lie more than maxOffset
// ahead of now (the receiver's physical clock, in nanoseconds) and returns
// what is left and what it removed. A server refuses those writes, as
// CockroachDB refuses a timestamp beyond its maximum clock offset: its
// clock takes the greatest version it applies, so one server with a wild
// clock would otherwise drag every later version of the cluster into the
// future with its own.
//
// A Delta that loses entries is no longer Complete: the receiver would
// otherwise merge the sender's set and claim writes it refused. The
// sender keeps them and repairs the receiver again through the usual
// watches (see Tick); once the receiver's clock is within maxOffset of
// them (time passes, or its clock is set right) they go through. Acks
// carry no writes and are never refused. maxOffset <= 0 refuses nothing.
func Ahead(m Message, now, maxOffset int64) (Message, []Entry) {
	if maxOffset <= 0 {
		return m, nil
	}
	limit := now + maxOffset
	split := func(es []Entry) (keep, refused []Entry) {
		for i, e := range es {
			if e.Version.Wall <= limit {
				if refused != nil {
					keep = append(keep, e)
				}
				continue
			}
			if refused == nil {
				keep = append(make([]Entry, 0, len(es)-1), es[:i]...)
			}
			refused = append(refused, e)
		}
		if refused == nil {
			return es, nil
		}
		return keep, refused
	}
	switch m := m.(type) {
	case Writes:
		keep, refused := split(m.Entries)
		m.Entries = keep
		return m, refused
	case Delta:
		keep, refused := split(m.Entries)
		if refused != nil {
			m.Entries, m.Complete = keep, false
		}
		return m, refused
	}
	return m, nil
}
