package transport

import (
	"errors"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrLinkCut is the error inside the *net.OpError that a dial to a cut peer
// returns, so that callers can tell a scripted partition from a real failure
// with errors.Is.
var ErrLinkCut = errors.New("gossipkv: link cut")

// Cuttable is a memberlist transport that can drop all traffic to and from
// chosen peers. Cut and Heal are safe to call concurrently with traffic.
type Cuttable struct {
	inner memberlist.NodeAwareTransport

	// peers maps gossip addresses and node names to server ids. It is
	// never written after New, so it needs no lock.
	peers map[string]uint32

	// mu guards cut.
	mu  sync.RWMutex
	cut map[uint32]struct{}

	droppedOut atomic.Uint64
	droppedIn  atomic.Uint64
	refused    atomic.Uint64

	// packetCh is what memberlist reads: the inner packets minus those
	// from cut peers. It is unbuffered, like NetTransport's, so the
	// wrapper adds no queue and no delay between receipt and handling.
	packetCh chan *memberlist.Packet

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

var _ memberlist.NodeAwareTransport = (*Cuttable)(nil)

// Dropped counts the traffic a Cuttable has suppressed since New.
type Dropped struct {
	// PacketsOut is the number of packets not sent to a cut peer.
	PacketsOut uint64
	// PacketsIn is the number of packets from a cut peer not delivered.
	PacketsIn uint64
	// Dials is the number of dials to a cut peer refused.
	Dials uint64
}

// New wraps inner. peers maps each peer's gossip address ("host:port" as
// memberlist sees it) and its memberlist node name to its server id; see
// Peers. The map is copied. New starts the goroutine that filters incoming
// packets; Shutdown stops it.
func New(inner memberlist.NodeAwareTransport, peers map[string]uint32) *Cuttable {
	t := &Cuttable{
		inner:    inner,
		peers:    maps.Clone(peers),
		cut:      make(map[uint32]struct{}),
		packetCh: make(chan *memberlist.Packet),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if t.peers == nil {
		t.peers = make(map[string]uint32)
	}
	go t.forwardPackets()
	return t
}

// Names returns the memberlist node name of server id. Servers are named by
// their id so that the cut map and the member list agree without a lookup
// table.
func Names(id uint32) string {
	return strconv.FormatUint(uint64(id), 10)
}

// Peers builds the map New takes from each server's gossip address: both the
// address and the node name Names(id) resolve to id.
func Peers(addrs map[uint32]string) map[string]uint32 {
	peers := make(map[string]uint32, 2*len(addrs))
	for id, addr := range addrs {
		peers[addr] = id
		peers[Names(id)] = id
	}
	return peers
}

// Cut starts dropping all traffic to and from server id. Cutting a peer that
// is already cut does nothing.
func (t *Cuttable) Cut(id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cut[id] = struct{}{}
}

// Heal restores the link to server id. Memberlist does not re-merge peers
// that it has declared dead, so the caller should Join the peer after a heal.
func (t *Cuttable) Heal(id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.cut, id)
}

// IsCut reports whether the link to server id is cut.
func (t *Cuttable) IsCut(id uint32) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.cut[id]
	return ok
}

// CutPeers returns the ids of the cut peers in increasing order.
func (t *Cuttable) CutPeers() []uint32 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Sorted(maps.Keys(t.cut))
}

// Dropped returns the counters of suppressed traffic, for tests and metrics.
func (t *Cuttable) Dropped() Dropped {
	return Dropped{
		PacketsOut: t.droppedOut.Load(),
		PacketsIn:  t.droppedIn.Load(),
		Dials:      t.refused.Load(),
	}
}

// isCut reports whether any of keys (addresses or node names) belongs to a
// cut peer. Unknown and empty keys never do.
func (t *Cuttable) isCut(keys ...string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.cut) == 0 {
		return false
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if id, ok := t.peers[k]; ok {
			if _, cut := t.cut[id]; cut {
				return true
			}
		}
	}
	return false
}

// FinalAdvertiseAddr delegates to the inner transport.
func (t *Cuttable) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo sends b to addr unless addr is a cut peer. A dropped packet reports
// success, as a lossy network would, so that memberlist waits for an ack and
// then probes indirectly instead of giving up on the send.
func (t *Cuttable) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.isCut(addr) {
		t.droppedOut.Add(1)
		return time.Now(), nil
	}
	return t.inner.WriteTo(b, addr)
}

// WriteToAddress is WriteTo for a node-aware address; the packet is dropped
// if either the node name or the address belongs to a cut peer.
func (t *Cuttable) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if t.isCut(addr.Name, addr.Addr) {
		t.droppedOut.Add(1)
		return time.Now(), nil
	}
	return t.inner.WriteToAddress(b, addr)
}

// PacketCh returns the incoming packets, minus those from cut peers.
func (t *Cuttable) PacketCh() <-chan *memberlist.Packet {
	return t.packetCh
}

// DialTimeout dials addr unless it is a cut peer; then it fails at once the
// way a refused TCP connection does.
func (t *Cuttable) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.isCut(addr) {
		return nil, t.refuse(addr)
	}
	return t.inner.DialTimeout(addr, timeout)
}

// DialAddressTimeout is DialTimeout for a node-aware address; the dial is
// refused if either the node name or the address belongs to a cut peer.
func (t *Cuttable) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.isCut(addr.Name, addr.Addr) {
		target := addr.Addr
		if target == "" {
			target = addr.Name
		}
		return nil, t.refuse(target)
	}
	return t.inner.DialAddressTimeout(addr, timeout)
}

// refuse counts a refused dial and builds its error. It is a *net.OpError
// with Op "dial" and Net "tcp" because memberlist and net-aware callers
// classify failures by that type, not by message.
func (t *Cuttable) refuse(addr string) error {
	t.refused.Add(1)
	return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(addr), Err: ErrLinkCut}
}

// tcpAddr names the far end of a refused dial in its error message without
// resolving anything.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// StreamCh passes incoming streams through: their source port is ephemeral,
// so they cannot be attributed to a peer, and the peer's own cut end stops
// them from being dialed.
func (t *Cuttable) StreamCh() <-chan net.Conn {
	return t.inner.StreamCh()
}

// Shutdown shuts the inner transport down, then stops the packet filter. The
// filter keeps running until the inner transport is down because
// NetTransport's listeners block on their packet channel and would otherwise
// never exit.
func (t *Cuttable) Shutdown() error {
	err := t.inner.Shutdown()
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
	return err
}

// forwardPackets copies packets from the inner transport to packetCh,
// dropping those from cut peers, until Shutdown.
func (t *Cuttable) forwardPackets() {
	defer close(t.done)
	in := t.inner.PacketCh()
	for {
		var p *memberlist.Packet
		var ok bool
		select {
		case p, ok = <-in:
		case <-t.stop:
			return
		}
		if !ok {
			// A closed inner channel delivers nothing more; wait for
			// Shutdown rather than spin on it.
			in = nil
			continue
		}
		if p == nil {
			continue
		}
		if p.From != nil && t.isCut(p.From.String()) {
			t.droppedIn.Add(1)
			continue
		}
		select {
		case t.packetCh <- p:
		case <-t.stop:
			return
		}
	}
}
