package server

import (
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/model"
	"gossipkv/pkg/wire"
)

// inbound is a decoded batch from a peer.
type inbound struct {
	from uint32
	msgs []model.Message
}

// memberEvent is a membership change: a node became alive (or changed its
// metadata), or left/died.
type memberEvent struct {
	id      uint32
	alive   bool
	version int64
	links   []uint32
}

// delegate adapts memberlist's callbacks to the server's queues. It never
// blocks and never touches the replica or the disk (memberlist runs these
// callbacks on its own goroutines, EventDelegate ones under its lock).
type delegate struct {
	self   uint32
	known  map[uint32]string // every configured server, to refuse strangers
	meta   atomic.Pointer[[]byte]
	inbox  *queue[inbound]
	events *queue[memberEvent]
	log    *slog.Logger
	// poke, if set, is called (it must not block) on every membership
	// change.
	poke func()

	// mu guards members: each member memberlist holds alive (kept here
	// because memberlist's Members() hands out its own nodes, which it
	// goes on writing).
	mu      sync.Mutex
	members map[uint32]bool
}

// liveMembers lists the members memberlist holds alive.
func (d *delegate) liveMembers() []uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Collect(maps.Keys(d.members))
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte {
	p := d.meta.Load()
	if p == nil {
		return nil
	}
	if len(*p) > limit {
		d.log.Error("node metadata exceeds memberlist's limit; topology not announced", "bytes", len(*p), "limit", limit)
		return nil
	}
	return *p
}

func (d *delegate) NotifyMsg(buf []byte) {
	from, msgs, err := wire.Decode(buf) // Decode copies; buf is memberlist's
	if err != nil {
		d.log.Warn("dropped malformed message", "err", err, "bytes", len(buf))
		return
	}
	if _, ok := d.known[from]; !ok || from == d.self {
		d.log.Warn("dropped message from a server not in the config", "from", from)
		return
	}
	d.inbox.push(inbound{from: from, msgs: msgs})
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.member(n, true) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.member(n, true) }
func (d *delegate) NotifyLeave(n *memberlist.Node)  { d.member(n, false) }

func (d *delegate) member(n *memberlist.Node, alive bool) {
	id, err := strconv.ParseUint(n.Name, 10, 32)
	if err != nil || id == uint64(d.self) {
		return
	}
	if _, ok := d.known[uint32(id)]; !ok {
		d.log.Warn("ignored member not in the config", "name", n.Name, "addr", n.Address())
		return
	}
	ev := memberEvent{id: uint32(id), alive: alive}
	if alive {
		m, err := wire.DecodeMeta(n.Meta) // copies
		if err != nil {
			d.log.Warn("bad node metadata", "from", id, "err", err)
		}
		ev.version, ev.links = m.Version, m.Links
		d.mu.Lock()
		d.members[ev.id] = true
		d.mu.Unlock()
	} else {
		d.mu.Lock()
		delete(d.members, ev.id)
		d.mu.Unlock()
	}
	d.events.push(ev)
	if d.poke != nil {
		d.poke()
	}
}
