package transport

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// StreamMagic is the first byte of a gossipkv data stream, and RaftMagic
// that of a Raft stream (package raftkv, in linearizable mode).
// memberlist's own streams begin with one of its message types (0 to about
// 15) or its label marker (244), never with these.
const (
	StreamMagic byte = 0xE7
	RaftMagic   byte = 0xE8
)

// peekTimeout bounds how long an incoming stream may take to send its first
// byte before it is dropped (memberlist would time it out too).
const peekTimeout = 10 * time.Second

// Demux shares one memberlist transport between memberlist, gossipkv's
// data streams and, in linearizable mode, Raft's streams. memberlist's
// SendReliable dials a new TCP connection for every message; a persistent
// stream per peer costs a write instead. Every stream is dialed through
// the same (cuttable) transport, so a cut link refuses them as it refuses
// memberlist's own.
type Demux struct {
	memberlist.NodeAwareTransport
	streams chan net.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once

	// mu guards routes: the handler of each magic byte.
	mu     sync.RWMutex
	routes map[byte]func(net.Conn)
}

var _ memberlist.NodeAwareTransport = (*Demux)(nil)

// NewDemux wraps inner; handle gets every incoming data stream (after its
// magic byte) on a goroutine of its own and owns the connection.
func NewDemux(inner memberlist.NodeAwareTransport, handle func(net.Conn)) *Demux {
	d := &Demux{NodeAwareTransport: inner, streams: make(chan net.Conn), stop: make(chan struct{}),
		routes: map[byte]func(net.Conn){StreamMagic: handle}}
	d.wg.Add(1)
	go d.accept()
	return d
}

// StreamCh carries memberlist's own incoming streams.
func (d *Demux) StreamCh() <-chan net.Conn { return d.streams }

// Route sends the incoming streams that begin with magic (after that
// byte) to handle, on a goroutine of their own; handle owns the
// connection. It may be called once the transport is in use: a stream of a
// magic byte with no route yet goes to memberlist, which drops it.
func (d *Demux) Route(magic byte, handle func(net.Conn)) {
	d.mu.Lock()
	d.routes[magic] = handle
	d.mu.Unlock()
}

func (d *Demux) route(magic byte) func(net.Conn) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.routes[magic]
}

// DialStream opens a data stream to a peer.
func (d *Demux) DialStream(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return d.Dial(StreamMagic, addr, timeout)
}

// Dial opens a stream to a peer that its demux routes by magic.
func (d *Demux) Dial(magic byte, addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	conn, err := d.DialAddressTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{magic}); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

func (d *Demux) accept() {
	defer d.wg.Done()
	in := d.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-d.stop:
			return
		case conn := <-in:
			d.wg.Add(1)
			go d.sort(conn)
		}
	}
}

// sort reads a stream's first byte and sends it where it belongs.
func (d *Demux) sort(conn net.Conn) {
	defer d.wg.Done()
	conn.SetReadDeadline(time.Now().Add(peekTimeout))
	br := bufio.NewReader(conn)
	first, err := br.Peek(1)
	if err != nil {
		conn.Close()
		return
	}
	conn.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: conn, r: br}
	if handle := d.route(first[0]); handle != nil {
		br.Discard(1)
		go handle(pc)
		return
	}
	select {
	case d.streams <- pc:
	case <-d.stop:
		conn.Close()
	}
}

// Shutdown stops routing and shuts the inner transport down.
func (d *Demux) Shutdown() error {
	var err error
	d.once.Do(func() {
		err = d.NodeAwareTransport.Shutdown()
		close(d.stop)
		d.wg.Wait()
	})
	return err
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
