package raftkv

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// DialFunc opens a stream to the node at addr, one that the far end's
// transport hands to that node's Handle. gossipkv's server passes a dial
// through its cuttable memberlist transport that starts the stream with
// the byte its demux routes to Handle.
type DialFunc func(addr string, timeout time.Duration) (net.Conn, error)

// Every stream begins, after whatever the caller's transport put in front,
// with a hello: one kind byte, then the dialer's label and its own address,
// each one length byte and its bytes. The kind says who gets the stream:
// raft's transport, or the handler of forwarded operations.
const (
	kindRaft    byte = 'r'
	kindForward byte = 'f'
)

// helloTimeout bounds how long an incoming stream may take to send its
// hello.
const helloTimeout = 10 * time.Second

// ErrLinkCut is returned by a dial to a peer that Cut has cut off.
var ErrLinkCut = errors.New("raftkv: link cut")

// errLayerClosed is what Accept returns once the layer is closed.
var errLayerClosed = errors.New("raftkv: stream layer closed")

// layer is the raft.StreamLayer, and the bookkeeping of every stream the
// node has: raft's and forwarded operations', dialed or accepted. Raft's
// transport keeps a pool of streams; a cut must end them as it ends
// gossip, so the layer knows each stream's peer (the address it dialed, or
// the one the dialer's hello names) and Cut closes them.
type layer struct {
	self  string
	label string
	dial  DialFunc
	log   *slog.Logger
	// forward takes the streams of forwarded operations.
	forward func(net.Conn)

	accept chan net.Conn
	closed chan struct{}
	once   sync.Once

	// mu guards conns, cut and shut.
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	cut   map[string]bool
	shut  bool
}

var _ raft.StreamLayer = (*layer)(nil)

func newLayer(self, label string, dial DialFunc, log *slog.Logger) *layer {
	return &layer{self: self, label: label, dial: dial, log: log,
		accept: make(chan net.Conn), closed: make(chan struct{}),
		conns: make(map[*trackedConn]struct{}), cut: make(map[string]bool)}
}

// Dial opens a raft stream; raft's transport calls it.
func (l *layer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.open(string(addr), kindRaft, timeout)
}

// Accept returns the next incoming raft stream.
func (l *layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.closed:
		return nil, errLayerClosed
	}
}

// Close stops Accept; raft's transport calls it when it shuts down.
func (l *layer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the node's own address, which raft's transport advertises.
func (l *layer) Addr() net.Addr { return layerAddr(l.self) }

type layerAddr string

func (a layerAddr) Network() string { return "raftkv" }
func (a layerAddr) String() string  { return string(a) }

// open dials addr and introduces the stream as kind.
func (l *layer) open(addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	if l.isCut(addr) {
		return nil, &net.OpError{Op: "dial", Net: "raftkv", Addr: layerAddr(addr), Err: ErrLinkCut}
	}
	conn, err := l.dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	hello, err := encodeHello(kind, l.label, l.self)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Time{})
	// A cut that came while we dialed is seen here, under the lock Cut
	// takes, so no stream to a cut peer outlives the cut.
	tc, ok := l.track(conn, addr)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "raftkv", Addr: layerAddr(addr), Err: ErrLinkCut}
	}
	return tc, nil
}

// handle reads an incoming stream's hello and passes the stream on.
func (l *layer) handle(conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(helloTimeout))
	kind, label, peer, err := readHello(conn)
	if err != nil {
		l.log.Debug("raft stream dropped: bad hello", "remote", conn.RemoteAddr(), "err", err)
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	if label != l.label {
		l.log.Warn("raft stream dropped: foreign label", "remote", conn.RemoteAddr(), "label", label, "want", l.label)
		conn.Close()
		return
	}
	tc, ok := l.track(conn, peer)
	if !ok {
		return
	}
	switch kind {
	case kindRaft:
		select {
		case l.accept <- tc:
		case <-l.closed:
			tc.Close()
		}
	case kindForward:
		l.forward(tc)
	default:
		l.log.Debug("raft stream dropped: unknown kind", "remote", conn.RemoteAddr(), "kind", kind)
		tc.Close()
	}
}

// track registers conn as a stream with peer; it closes conn and reports
// false if the peer is cut or the layer shut down.
func (l *layer) track(conn net.Conn, peer string) (*trackedConn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut || l.cut[peer] {
		conn.Close()
		return nil, false
	}
	tc := &trackedConn{Conn: conn, peer: peer, l: l}
	l.conns[tc] = struct{}{}
	return tc, true
}

func (l *layer) isCut(peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut[peer]
}

// cutPeer refuses every later stream to and from peer and closes those
// open.
func (l *layer) cutPeer(peer string) {
	l.mu.Lock()
	l.cut[peer] = true
	var doomed []*trackedConn
	for c := range l.conns {
		if c.peer == peer {
			doomed = append(doomed, c)
		}
	}
	l.mu.Unlock()
	for _, c := range doomed {
		c.Close()
	}
}

// healPeer lets streams to and from peer be opened again.
func (l *layer) healPeer(peer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.cut, peer)
}

// shutdown closes every stream and refuses new ones.
func (l *layer) shutdown() {
	l.Close()
	l.mu.Lock()
	l.shut = true
	doomed := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		doomed = append(doomed, c)
	}
	l.mu.Unlock()
	for _, c := range doomed {
		c.Close()
	}
}

// trackedConn is a stream the layer knows; closing it forgets it.
type trackedConn struct {
	net.Conn
	peer string
	l    *layer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// maxHelloField is the longest label or address a hello carries.
const maxHelloField = 255

func encodeHello(kind byte, label, self string) ([]byte, error) {
	if len(label) > maxHelloField || len(self) > maxHelloField {
		return nil, fmt.Errorf("raftkv: label or address longer than %d bytes", maxHelloField)
	}
	b := make([]byte, 0, 3+len(label)+len(self))
	b = append(b, kind, byte(len(label)))
	b = append(b, label...)
	b = append(b, byte(len(self)))
	return append(b, self...), nil
}

func readHello(r io.Reader) (kind byte, label, peer string, err error) {
	var one [1]byte
	if _, err = io.ReadFull(r, one[:]); err != nil {
		return
	}
	kind = one[0]
	field := func() (string, error) {
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return "", err
		}
		b := make([]byte, one[0])
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	if label, err = field(); err != nil {
		return
	}
	peer, err = field()
	return
}
