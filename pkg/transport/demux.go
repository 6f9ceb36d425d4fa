package transport

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// StreamMagic is the first byte of a gossipkv data stream. memberlist's own
// streams begin with one of its message types (0 to about 15) or its label
// marker (244), never with this.
const StreamMagic byte = 0xE7

// peekTimeout bounds how long an incoming stream may take to send its first
// byte before it is dropped (memberlist would time it out too).
const peekTimeout = 10 * time.Second

// Demux shares one memberlist transport between memberlist and gossipkv's
// data streams. memberlist's SendReliable dials a new TCP connection for
// every message; a persistent stream per peer costs a write instead. The
// data streams are dialed through the same (cuttable) transport, so a cut
// link refuses them as it refuses memberlist's own.
type Demux struct {
	memberlist.NodeAwareTransport
	handle  func(net.Conn)
	streams chan net.Conn
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*Demux)(nil)

// NewDemux wraps inner; handle gets every incoming data stream (after its
// magic byte) on a goroutine of its own and owns the connection.
func NewDemux(inner memberlist.NodeAwareTransport, handle func(net.Conn)) *Demux {
	d := &Demux{NodeAwareTransport: inner, handle: handle, streams: make(chan net.Conn), stop: make(chan struct{})}
	d.wg.Add(1)
	go d.route()
	return d
}

// StreamCh carries memberlist's own incoming streams.
func (d *Demux) StreamCh() <-chan net.Conn { return d.streams }

// DialStream opens a data stream to a peer.
func (d *Demux) DialStream(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	conn, err := d.DialAddressTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte{StreamMagic}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func (d *Demux) route() {
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
	if first[0] == StreamMagic {
		br.Discard(1)
		go d.handle(pc)
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
