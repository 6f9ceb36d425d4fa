package floor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/wire"
)

// RolePeer is the role of Serve for a server of a floor with several
// (MeasurePeers): the least the cluster's replication costs, without its
// protocol. A peer is a server of the chain with a log append per put
// that also holds a copy of every other peer's puts, as every server of
// the cluster holds every write. It sends its puts to each other peer
// over a TCP connection of its own, in one batch per flush interval (the
// cluster's default, as the servers' outboxes send), encoded as the
// servers encode theirs (pkg/wire). What arrives from all of them it logs
// in one append per commit delay (the cluster's default, as a server
// commits what it receives), and answers each sender's part with an
// acknowledgement, as a server acknowledges the writes it made durable.
// It checkpoints into bbolt every checkpointPuts puts it logged, its own
// and the others'. What the floor leaves out is the protocol: ordering
// and conflicts, routing, repair, membership, sessions.
const RolePeer = "peer"

var (
	flushInterval = config.Default().Timing.FlushInterval
	commitDelay   = config.Default().Timing.CommitDelay
)

// maxFrame bounds a frame's announced length, so that a torn length
// cannot make a peer allocate gigabytes.
const maxFrame = 64 << 20

func writeFrame(w *bufio.Writer, payload []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(payload)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("floor: frame of %d bytes is larger than %d", size, maxFrame)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

// peer is a server of a floor with several: its chain's server, and the
// receiving end of every other peer's puts.
type peer struct {
	db   *storage.Bolt
	svc  *serverService
	rpc  *rpcconn.Server
	repl net.Listener

	frames   chan received
	readers  sync.WaitGroup // one per connection accepted
	accepted chan struct{}  // closes when repl does
	stored   chan error     // the committer's end

	mu    sync.Mutex
	conns []net.Conn
}

// received is one batch of puts from another peer, and where its
// acknowledgement goes.
type received struct {
	entries []model.Entry
	ack     *bufio.Writer
}

// startPeer opens the peer's database in dir and listens for its client
// and for the other peers; id is the peer's identity in the run.
func startPeer(dir string, id rpcconn.Identity) (_ *peer, err error) {
	db, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	p := &peer{db: db, svc: newServerService(db, Log, id.ID), frames: make(chan received, 64),
		accepted: make(chan struct{}), stored: make(chan error, 1)}
	if p.repl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, errors.Join(fmt.Errorf("floor: %w", err), db.Close())
	}
	if p.rpc, err = rpcconn.Listen(id, "127.0.0.1:0", "FloorServer", p.svc); err != nil {
		return nil, errors.Join(fmt.Errorf("floor: %w", err), p.repl.Close(), db.Close())
	}
	go p.accept()
	go func() { p.stored <- p.store() }()
	return p, nil
}

func (p *peer) accept() {
	defer close(p.accepted)
	for {
		conn, err := p.repl.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		p.conns = append(p.conns, conn)
		p.mu.Unlock()
		p.readers.Add(1)
		go p.read(conn)
	}
}

// read hands every batch that arrives on conn to the committer, until the
// sending peer closes it.
func (p *peer) read(conn net.Conn) {
	defer p.readers.Done()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	for {
		b, err := readFrame(r)
		if err != nil {
			return
		}
		_, msgs, err := wire.Decode(b)
		if err != nil {
			return
		}
		for _, m := range msgs {
			if wr, ok := m.(model.Writes); ok {
				p.frames <- received{entries: wr.Entries, ack: w}
			}
		}
	}
}

// store logs what arrives, gathering for the commit delay after the first
// batch, then acknowledges each sender's part; it returns when frames
// closes.
func (p *peer) store() error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var failed error
	for first := range p.frames {
		batch := []received{first}
		timer.Reset(commitDelay)
	gather:
		for {
			select {
			case more, ok := <-p.frames:
				if !ok {
					break gather
				}
				batch = append(batch, more)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		if failed != nil {
			continue // drain, so that no reader blocks
		}
		var entries []model.Entry
		counts := map[*bufio.Writer]uint64{}
		for _, r := range batch {
			entries = append(entries, r.entries...)
			counts[r.ack] += uint64(len(r.entries))
		}
		if failed = p.db.Log(entries, model.Meta{}); failed == nil {
			failed = p.svc.checkpoints.logged(len(entries))
		}
		if failed != nil {
			continue
		}
		for w, n := range counts {
			var ack [8]byte
			binary.BigEndian.PutUint64(ack[:], n)
			// Only the committer writes acknowledgements; a sender that
			// went away is past caring.
			_ = writeFrame(w, ack[:])
		}
	}
	return failed
}

// connect sends this peer's puts to every other peer, at the addresses
// where they listen for them.
func (p *peer) connect(others []string) error {
	var fs []*forwarder
	for _, a := range others {
		f, err := dialForwarder(a)
		if err != nil {
			for _, f := range fs {
				f.finish()
				f.close()
			}
			return err
		}
		fs = append(fs, f)
	}
	p.svc.mu.Lock()
	p.svc.replicas = fs
	p.svc.mu.Unlock()
	return nil
}

// close sends what waits to the other peers and closes the connections
// to them for writing; once they have done the same (each does when told
// to stop), it logs what they sent, and closes the connections and the
// database.
func (p *peer) close() error {
	err := p.rpc.Close()
	p.svc.mu.Lock()
	fs := p.svc.replicas
	p.svc.mu.Unlock()
	for _, f := range fs {
		err = errors.Join(err, f.finish())
	}
	p.repl.Close()
	<-p.accepted
	p.readers.Wait()
	close(p.frames)
	err = errors.Join(err, <-p.stored)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	for _, f := range fs {
		err = errors.Join(err, f.close())
	}
	return errors.Join(err, p.db.Close())
}

// forwarder is a peer's end of its connection to another: it gathers the
// puts logged since its last send and sends them at most once per flush
// interval.
type forwarder struct {
	conn   net.Conn
	w      *bufio.Writer
	signal chan struct{}
	stop   chan struct{}
	// sent and read close when the sender and the reader of
	// acknowledgements have returned.
	sent, read chan struct{}

	mu      sync.Mutex
	pending []model.Entry
	err     error // the first failure to send: every later put fails
}

func dialForwarder(addr string) (*forwarder, error) {
	conn, err := net.DialTimeout("tcp", addr, rpcTimeout)
	if err != nil {
		return nil, fmt.Errorf("floor: peer %s: %w", addr, err)
	}
	f := &forwarder{conn: conn, w: bufio.NewWriter(conn), signal: make(chan struct{}, 1), stop: make(chan struct{}),
		sent: make(chan struct{}), read: make(chan struct{})}
	go f.send()
	go func() {
		// The acknowledgements: read, as a server reads them, and
		// dropped, since the floor keeps no log to trim.
		defer close(f.read)
		_, _ = io.Copy(io.Discard, conn)
	}()
	return f, nil
}

// add queues e for the peer; it fails once a send has failed.
func (f *forwarder) add(e model.Entry) error {
	f.mu.Lock()
	err := f.err
	if err == nil {
		f.pending = append(f.pending, e)
	}
	f.mu.Unlock()
	select {
	case f.signal <- struct{}{}:
	default:
	}
	return err
}

func (f *forwarder) send() {
	defer close(f.sent)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-f.stop:
			f.flush()
			return
		case <-f.signal:
		}
		if !f.flush() {
			return
		}
		timer.Reset(flushInterval)
		select {
		case <-f.stop:
			f.flush()
			return
		case <-timer.C:
		}
	}
}

// flush sends what waits, if anything; it reports false once a send
// has failed.
func (f *forwarder) flush() bool {
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	buf, err := wire.Encode(0, []model.Message{model.Writes{Entries: batch, Src: batch[0].Src}})
	if err == nil {
		err = writeFrame(f.w, buf)
	}
	if err != nil {
		f.mu.Lock()
		f.err = fmt.Errorf("floor: send to peer %s: %w", f.conn.RemoteAddr(), err)
		f.mu.Unlock()
		return false
	}
	return true
}

// finish sends what waits, then closes its side of the connection for
// writing, which ends the other peer's reading.
func (f *forwarder) finish() error {
	close(f.stop)
	<-f.sent
	if tc, ok := f.conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

// close closes the connection, which ends the reading of
// acknowledgements. finish must have run.
func (f *forwarder) close() error {
	err := f.conn.Close()
	<-f.read
	return err
}
