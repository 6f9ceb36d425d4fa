package floor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/frame"
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
// servers encode theirs (pkg/wire) in frames as theirs (pkg/frame). What
// arrives from all of them it logs in one append per commit delay (the
// cluster's default, as a server commits what it receives), then answers
// each sender with an acknowledgement of the writes it holds (a wire
// Ack), as a server acknowledges the writes it made durable. Its log is
// folded into bbolt as a server's is (checkpoints). What the floor leaves
// out is the protocol: ordering and conflicts, routing, repair,
// membership, sessions.
const RolePeer = "peer"

var (
	flushInterval = config.Default().Timing.FlushInterval
	commitDelay   = config.Default().Timing.CommitDelay
)

// maxFrame bounds a frame's announced length, as the servers' streams do.
const maxFrame = 64 << 20

// writeTimeout bounds each write to another peer: one that stops reading
// fails the measurement rather than hang it.
const writeTimeout = rpcTimeout

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

	mu     sync.Mutex
	conns  []net.Conn
	failed error // the first stream that broke other than at its end
}

// received is one batch of puts from another peer, and the connection its
// acknowledgement goes back on.
type received struct {
	entries []model.Entry
	from    net.Conn
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

// fail records the first failure of the peer's receiving.
func (p *peer) fail(err error) {
	p.mu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.mu.Unlock()
}

// read hands every batch that arrives on conn to the committer, until the
// sending peer closes it.
func (p *peer) read(conn net.Conn) {
	defer p.readers.Done()
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		b, err := frame.Read(r, maxFrame)
		if err == io.EOF {
			return
		}
		var msgs []model.Message
		if err == nil {
			_, msgs, err = wire.Decode(b)
		}
		if err != nil {
			p.fail(fmt.Errorf("floor: stream from %s: %w", conn.RemoteAddr(), err))
			conn.Close()
			return
		}
		for _, m := range msgs {
			if wr, ok := m.(model.Writes); ok {
				p.frames <- received{entries: wr.Entries, from: conn}
			}
		}
	}
}

// store logs what arrives, gathering for the commit delay after the first
// batch, then acknowledges to each sender the writes held; it returns when
// frames closes.
func (p *peer) store() error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var seen model.Seen
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
		senders := map[net.Conn]bool{}
		for _, r := range batch {
			entries = append(entries, r.entries...)
			senders[r.from] = true
			for _, e := range r.entries {
				seen.Add(model.Dot{Origin: e.Src, Seq: e.Seq})
			}
		}
		if failed = p.db.Log(entries, model.Meta{Seen: seen}); failed == nil {
			failed = p.svc.checkpoints.logged(entries)
		}
		if failed != nil {
			continue
		}
		ack, err := wire.Encode(p.svc.origin, []model.Message{model.Ack{Seen: seen, Src: uint64(p.svc.origin)}})
		if err != nil {
			failed = err
			continue
		}
		for conn := range senders {
			// Only the committer writes acknowledgements; a sender that
			// went away is past caring.
			conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			_ = frame.Write(conn, ack)
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

// close fails later puts, sends what waits to the other peers and closes
// the connections to them for writing; once they have done the same (each
// does when told to stop), it logs what they sent, and closes the
// connections and the database. It returns what failed on the way: a
// send, a stream, a log append, a checkpoint.
func (p *peer) close() error {
	err := p.rpc.Close()
	p.svc.refuse()
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
	err = errors.Join(err, <-p.stored, p.svc.checkpoints.wait())
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	err = errors.Join(err, p.failed)
	p.mu.Unlock()
	for _, f := range fs {
		err = errors.Join(err, f.close())
	}
	return errors.Join(err, p.db.Close())
}

// forwarder is a peer's end of its connection to another: it gathers the
// puts logged since its last send and sends them at most once per flush
// interval, and reads the acknowledgements that come back.
type forwarder struct {
	conn   net.Conn
	signal chan struct{}
	stop   chan struct{}
	// sent and read close when the sender and the reader of
	// acknowledgements have returned.
	sent, read chan struct{}

	mu      sync.Mutex
	pending []model.Entry
	err     error // the first failure: every later put fails
}

func dialForwarder(addr string) (*forwarder, error) {
	conn, err := net.DialTimeout("tcp", addr, rpcTimeout)
	if err != nil {
		return nil, fmt.Errorf("floor: peer %s: %w", addr, err)
	}
	f := &forwarder{conn: conn, signal: make(chan struct{}, 1), stop: make(chan struct{}),
		sent: make(chan struct{}), read: make(chan struct{})}
	go f.send()
	go f.readAcks()
	return f, nil
}

// readAcks reads and decodes the acknowledgements, as a server does; the
// floor keeps no log to trim by them. After a failure it goes on reading,
// so that the other peer's writes do not stall.
func (f *forwarder) readAcks() {
	defer close(f.read)
	r := bufio.NewReader(f.conn)
	for {
		b, err := frame.Read(r, maxFrame)
		if err == nil {
			_, _, err = wire.Decode(b)
		}
		if err == nil {
			continue
		}
		// The end of the stream, or this side's close after finish.
		if err != io.EOF && !errors.Is(err, net.ErrClosed) {
			f.failed(fmt.Errorf("floor: acknowledgement from peer %s: %w", f.conn.RemoteAddr(), err))
		}
		_, _ = io.Copy(io.Discard, r)
		return
	}
}

func (f *forwarder) failed(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
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
		f.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		err = frame.Write(f.conn, buf)
	}
	if err != nil {
		f.failed(fmt.Errorf("floor: send to peer %s: %w", f.conn.RemoteAddr(), err))
		return false
	}
	return true
}

// finish sends what waits, then closes its side of the connection for
// writing, which ends the other peer's reading. It returns the first
// failure to send or to read an acknowledgement.
func (f *forwarder) finish() error {
	close(f.stop)
	<-f.sent
	var err error
	if tc, ok := f.conn.(*net.TCPConn); ok {
		err = tc.CloseWrite()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	failed := f.err
	f.err = nil // close reports what fails from here on
	return errors.Join(failed, err)
}

// close closes the connection, which ends the reading of
// acknowledgements, and returns what failed since finish. finish must
// have run.
func (f *forwarder) close() error {
	err := f.conn.Close()
	<-f.read
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(err, f.err)
}
