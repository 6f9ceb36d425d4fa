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
	"gossipkv/pkg/storage"
	"gossipkv/pkg/wire"
)

// RoleReplica is the role of Serve that holds a copy of every put of the
// chain's server: the least a replica of the cluster does for a put. The
// server sends its puts to each replica over a TCP connection of its own,
// in one batch per flush interval (the cluster's default, as the servers'
// outboxes send), encoded as the servers encode theirs (pkg/wire). A
// replica logs what arrives in one append per commit delay (the cluster's
// default, as a server commits what it receives), checkpoints into bbolt
// every checkpointPuts puts, and answers each append with an
// acknowledgement, as a server acknowledges the writes it made durable.
// What the floor leaves out is the protocol: ordering and conflicts,
// routing, repair, membership.
const RoleReplica = "replica"

var (
	flushInterval = config.Default().Timing.FlushInterval
	commitDelay   = config.Default().Timing.CommitDelay
)

// maxFrame bounds a frame's announced length, so that a torn length
// cannot make a replica allocate gigabytes.
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

// forwarder is the server's end of one replica's connection: it gathers
// the puts logged since its last send and sends them at most once per
// flush interval.
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
		return nil, fmt.Errorf("floor: replica %s: %w", addr, err)
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

// add queues e for the replica; it fails once a send has failed.
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
	buf, err := wire.Encode(0, []model.Message{model.Writes{Entries: batch, Src: 1}})
	if err == nil {
		err = writeFrame(f.w, buf)
	}
	if err != nil {
		f.mu.Lock()
		f.err = fmt.Errorf("floor: send to replica %s: %w", f.conn.RemoteAddr(), err)
		f.mu.Unlock()
		return false
	}
	return true
}

// close sends what waits, then closes the connection, which ends the
// replica's reading.
func (f *forwarder) close() error {
	close(f.stop)
	<-f.sent
	err := f.conn.Close()
	<-f.read
	return err
}

// serveReplica accepts the server's connection on ln and holds what
// arrives on it in db until the connection or ln closes.
func serveReplica(ln net.Listener, db *storage.Bolt) error {
	conn, err := ln.Accept()
	if err != nil {
		return nil // closed before the server connected: nothing to hold
	}
	defer conn.Close()
	frames := make(chan []model.Entry, 64)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(frames)
		r := bufio.NewReader(conn)
		for {
			b, err := readFrame(r)
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
				readErr <- err
				return
			}
			_, msgs, err := wire.Decode(b)
			if err != nil {
				readErr <- err
				return
			}
			var entries []model.Entry
			for _, m := range msgs {
				if w, ok := m.(model.Writes); ok {
					entries = append(entries, w.Entries...)
				}
			}
			select {
			case frames <- entries:
			case <-quit:
				return
			}
		}
	}()
	w := bufio.NewWriter(conn)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sinceCheckpoint := 0
	for first := range frames {
		// Gather for the commit delay, then one append for all of it.
		batch := first
		timer.Reset(commitDelay)
	gather:
		for {
			select {
			case more, ok := <-frames:
				if !ok {
					break gather
				}
				batch = append(batch, more...)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		if err := db.Log(batch, model.Meta{}); err != nil {
			return err
		}
		if sinceCheckpoint += len(batch); sinceCheckpoint >= checkpointPuts {
			if err := db.Checkpoint(); err != nil {
				return err
			}
			sinceCheckpoint = 0
		}
		var ack [8]byte
		binary.BigEndian.PutUint64(ack[:], uint64(len(batch)))
		if err := writeFrame(w, ack[:]); err != nil {
			return nil // the server went away: the measurement is over
		}
	}
	return <-readErr
}
