package memnet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// packetBuffer is how many packets a transport holds before it drops new
	// ones, standing in for a socket's receive buffer. memberlist reads its
	// packet channel continuously, so it only fills when a host is stalled.
	packetBuffer = 1024

	// streamBacklog is how many dialled streams wait for the listener before
	// further dials block (up to their timeout), like a TCP listen backlog.
	streamBacklog = 64
)

// Network connects the transports it creates. The zero value is an empty
// network ready to use; it is safe for concurrent use.
type Network struct {
	// mu guards the fields below.
	mu sync.Mutex
	// byName and byAddr hold the latest transport for each node name and
	// address, including shut-down ones, so that a restarted node can take
	// its old address back.
	byName   map[string]*Transport
	byAddr   map[string]*Transport
	lastPort int
}

// New returns an empty network; it is the same as new(Network).
func New() *Network {
	return new(Network)
}

// NewTransport registers a transport for the node name. A name seen before
// gets its previous address back, so that peers find a restarted node where
// they knew it; any other name gets a fresh address "127.0.0.1:N", N counting
// from 1. Two live transports under one name would make delivery ambiguous,
// so NewTransport panics if the name's previous transport is not shut down.
func (n *Network) NewTransport(name string) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byName == nil {
		n.byName = make(map[string]*Transport)
		n.byAddr = make(map[string]*Transport)
	}

	var port int
	if old, ok := n.byName[name]; ok {
		if !old.isDead() {
			panic(fmt.Sprintf("memnet: node %q already has a live transport at %s", name, old.addr))
		}
		port = old.port
	} else {
		n.lastPort++
		port = n.lastPort
	}

	ip := net.IPv4(127, 0, 0, 1)
	t := &Transport{
		net:        n,
		name:       name,
		port:       port,
		addr:       net.JoinHostPort(ip.String(), fmt.Sprint(port)),
		udpAddr:    &net.UDPAddr{IP: ip, Port: port},
		tcpAddr:    &net.TCPAddr{IP: ip, Port: port},
		packetCh:   make(chan *memberlist.Packet, packetBuffer),
		streamCh:   make(chan net.Conn, streamBacklog),
		shutdownCh: make(chan struct{}),
		conns:      make(map[*conn]struct{}),
	}
	n.byName[name] = t
	n.byAddr[t.addr] = t
	return t
}

// lookup finds the transport that a memberlist.Address reaches: by node name
// when the name is known, else by address. It returns nil if neither is known.
func (n *Network) lookup(a memberlist.Address) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.Name != "" {
		if t, ok := n.byName[a.Name]; ok {
			return t
		}
	}
	return n.byAddr[a.Addr]
}

// Transport is one node's attachment to a Network. It is safe for concurrent
// use and owns no goroutines.
type Transport struct {
	net     *Network
	name    string
	port    int
	addr    string
	udpAddr *net.UDPAddr
	tcpAddr *net.TCPAddr

	packetCh   chan *memberlist.Packet
	streamCh   chan net.Conn
	shutdownCh chan struct{}

	// mu guards the fields below.
	mu   sync.Mutex
	dead bool
	// conns holds this transport's ends of open streams, to be closed on
	// Shutdown; nil once dead.
	conns map[*conn]struct{}
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the transport's address, "127.0.0.1:N".
func (t *Transport) Addr() string {
	return t.addr
}

func (t *Transport) isDead() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dead
}

// FinalAdvertiseAddr ignores the configured values: a node can only be
// reached at the address the network gave it.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	ip := make(net.IP, len(t.tcpAddr.IP))
	copy(ip, t.tcpAddr.IP)
	return ip, t.port, nil
}

// WriteTo sends a packet to addr; see WriteToAddress.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet without ever blocking. As with UDP, a packet
// to an unknown or dead host or to a full receive buffer is lost without an
// error; only a shut-down sender gets one, as from a closed socket.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.isDead() {
		return now, &net.OpError{Op: "write", Net: "udp", Source: t.udpAddr, Err: net.ErrClosed}
	}
	dest := t.net.lookup(a)
	if dest == nil || dest.isDead() {
		return now, nil
	}
	// The caller may reuse b once we return, as it could with a socket.
	buf := make([]byte, len(b))
	copy(buf, b)
	select {
	case dest.packetCh <- &memberlist.Packet{Buf: buf, From: t.udpAddr, Timestamp: now}:
	default:
	}
	return now, nil
}

// PacketCh delivers the packets sent to this transport.
func (t *Transport) PacketCh() <-chan *memberlist.Packet {
	return t.packetCh
}

// DialTimeout opens a stream to addr; see DialAddressTimeout.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream to a. An unknown or dead host refuses at
// once; a live one whose backlog is full makes the dial wait, but never
// longer than timeout (no limit if timeout <= 0) and never past the shutdown
// of either end.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Source: t.tcpAddr, Addr: tcpAddrOf(a.Addr), Err: err}
	}
	if t.isDead() {
		return nil, dialErr(net.ErrClosed)
	}
	dest := t.net.lookup(a)
	if dest == nil {
		return nil, dialErr(syscall.ECONNREFUSED)
	}

	p1, p2 := net.Pipe()
	local, ok := t.track(p1, dest.tcpAddr)
	if !ok {
		_ = p1.Close()
		_ = p2.Close()
		return nil, dialErr(net.ErrClosed)
	}
	remote, ok := dest.track(p2, t.tcpAddr)
	if !ok {
		_ = local.Close()
		_ = p2.Close()
		return nil, dialErr(syscall.ECONNREFUSED)
	}

	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	var err error
	select {
	case dest.streamCh <- remote:
		return local, nil
	case <-dest.shutdownCh:
		err = syscall.ECONNREFUSED
	case <-t.shutdownCh:
		err = net.ErrClosed
	case <-expired:
		err = os.ErrDeadlineExceeded
	}
	_ = local.Close()
	_ = remote.Close()
	return nil, dialErr(err)
}

// tcpAddrOf parses addr for error messages. It never resolves names, which
// would leave the process; anything but a literal "ip:port" is left out.
func tcpAddrOf(addr string) net.Addr {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// track wraps p as this transport's end of a stream to remote and registers
// it to be closed on Shutdown. It fails if the transport is already dead, so
// no stream can outlive a shutdown.
func (t *Transport) track(p net.Conn, remote net.Addr) (*conn, bool) {
	c := &conn{Conn: p, owner: t, remote: remote}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return nil, false
	}
	t.conns[c] = struct{}{}
	return c, true
}

func (t *Transport) untrack(c *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.conns, c)
}

// StreamCh delivers the streams dialled to this transport.
func (t *Transport) StreamCh() <-chan net.Conn {
	return t.streamCh
}

// Shutdown makes the transport behave like a crashed host: later packets to
// it are lost, dials to it are refused, and every stream it is an end of is
// closed so that the peers blocked on them return. It is idempotent.
func (t *Transport) Shutdown() error {
	t.mu.Lock()
	if t.dead {
		t.mu.Unlock()
		return nil
	}
	t.dead = true
	close(t.shutdownCh)
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()

	for c := range conns {
		_ = c.Conn.Close()
	}
	// The streams still queued are closed already; dropping them lets them
	// be collected even if nobody reads the channel again.
	for {
		select {
		case c := <-t.streamCh:
			_ = c.Close()
		default:
			return nil
		}
	}
}

// conn is one end of a stream. It reports network addresses instead of the
// pipe's, since memberlist logs them, and unregisters itself when closed.
type conn struct {
	net.Conn
	owner  *Transport
	remote net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.owner.tcpAddr }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) Close() error {
	c.owner.untrack(c)
	return c.Conn.Close()
}
