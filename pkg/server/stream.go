package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/frame"
	"gossipkv/pkg/transport"
)

// maxFrame bounds one batch on a data stream (senders keep batches near
// maxBatchBytes); a larger length prefix means garbage, and the stream is
// dropped rather than the reader allocating what it announces.
const maxFrame = 64 << 20

// streams keeps one persistent data stream to each peer (dialed through the
// cuttable transport, length-prefixed frames, each a wire batch) and serves
// the streams peers open to us. Each outgoing stream is used only by that
// peer's sender goroutine; cut closes it from the owner.
//
// A stream begins, after the demux's magic byte, with the dialer's label
// (one length byte, then the label: the same "gossipkv/CLUSTER/RUN" that
// memberlist carries on gossip), and the acceptor drops a stream whose
// label is not its own: servers of two clusters or runs never take each
// other's writes, even when one's config names the other's address.
type streams struct {
	demux   *transport.Demux
	addrs   map[uint32]memberlist.Address
	timeout time.Duration
	deliver func([]byte)
	isCut   func(uint32) bool
	label   []byte
	// aead seals every frame when the cluster has a secret key: a peer
	// without it can neither read our writes nor inject its own. The label
	// is its additional data, so a frame sealed for another cluster or
	// run fails authentication here even under the same key.
	aead cipher.AEAD
	log  *slog.Logger

	// mu guards out, in, closed and warned.
	mu     sync.Mutex
	out    map[uint32]net.Conn
	in     map[net.Conn]struct{}
	closed bool
	// warned is when a stream of each foreign label was last logged at
	// Warn: a stranger retries every few milliseconds.
	warned map[string]time.Time
	wg     sync.WaitGroup
}

// maxLabel is the longest label a stream may carry (one length byte).
const maxLabel = 255

func newStreams(peers map[uint32]string, label string, timeout time.Duration, log *slog.Logger) *streams {
	st := &streams{addrs: map[uint32]memberlist.Address{}, label: []byte(label), timeout: timeout, log: log,
		out: map[uint32]net.Conn{}, in: map[net.Conn]struct{}{}, warned: map[string]time.Time{}}
	for id, addr := range peers {
		st.addrs[id] = memberlist.Address{Addr: addr, Name: transport.Names(id)}
	}
	return st
}

// send writes one frame to peer to, dialing its stream if needed.
func (st *streams) send(to uint32, buf []byte) error {
	st.mu.Lock()
	conn, closed := st.out[to], st.closed
	st.mu.Unlock()
	if closed {
		return ErrStopped
	}
	if conn == nil {
		var err error
		if conn, err = st.dial(to); err != nil {
			return err
		}
		// A cut may have come while we dialed: checked under mu, which
		// drop (called after the cut) also takes, so no stream to a cut
		// peer survives.
		st.mu.Lock()
		if st.closed || st.isCut(to) {
			st.mu.Unlock()
			conn.Close()
			return fmt.Errorf("server: stream to %d: link cut or stopped", to)
		}
		st.out[to] = conn
		st.mu.Unlock()
	}
	if st.aead != nil {
		var err error
		if buf, err = st.seal(buf); err != nil {
			return err
		}
	}
	conn.SetWriteDeadline(time.Now().Add(st.timeout))
	if err := frame.Write(conn, buf); err != nil {
		st.drop(to, conn)
		return err
	}
	return nil
}

// dial opens a stream to peer and introduces it with our label.
func (st *streams) dial(to uint32) (net.Conn, error) {
	conn, err := st.demux.DialStream(st.addrs[to], st.timeout)
	if err != nil {
		return nil, err
	}
	hello := append([]byte{byte(len(st.label))}, st.label...)
	conn.SetWriteDeadline(time.Now().Add(st.timeout))
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// seal encrypts and authenticates one frame, bound to our label.
func (st *streams) seal(buf []byte) ([]byte, error) {
	nonce := make([]byte, st.aead.NonceSize(), st.aead.NonceSize()+len(buf)+st.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return st.aead.Seal(nonce, nonce, buf, st.label), nil
}

// open checks and decrypts one frame sealed by seal under our label.
func (st *streams) open(buf []byte) ([]byte, error) {
	ns := st.aead.NonceSize()
	if len(buf) < ns {
		return nil, errors.New("frame shorter than a nonce")
	}
	return st.aead.Open(buf[ns:ns], buf[:ns], buf[ns:], st.label)
}

// checkLabel reads a stream's label and reports whether it is ours; a
// foreign one is logged (at Warn once a minute per label).
func (st *streams) checkLabel(conn net.Conn, r *bufio.Reader) bool {
	conn.SetReadDeadline(time.Now().Add(st.timeout))
	defer conn.SetReadDeadline(time.Time{})
	n, err := r.ReadByte()
	if err != nil {
		return false
	}
	label := make([]byte, n)
	if _, err := io.ReadFull(r, label); err != nil {
		st.log.Debug("data stream broke in its label", "from", conn.RemoteAddr(), "err", fmt.Sprint(err))
		return false
	}
	if bytes.Equal(label, st.label) {
		return true
	}
	st.mu.Lock()
	now := time.Now()
	warn := now.Sub(st.warned[string(label)]) >= time.Minute
	if warn {
		st.warned[string(label)] = now
	}
	st.mu.Unlock()
	level := slog.LevelDebug
	if warn {
		level = slog.LevelWarn
	}
	st.log.Log(context.Background(), level, "dropped data stream from another cluster or run",
		"from", conn.RemoteAddr().String(), "label", string(label), "ours", string(st.label))
	return false
}

// drop closes the outgoing stream to peer if it is still conn (nil: any).
func (st *streams) drop(peer uint32, conn net.Conn) {
	st.mu.Lock()
	cur := st.out[peer]
	if cur != nil && (conn == nil || cur == conn) {
		delete(st.out, peer)
	}
	st.mu.Unlock()
	if conn == nil {
		conn = cur
	}
	if conn != nil {
		conn.Close()
	}
}

// serve reads frames from a stream a peer opened, until it breaks.
func (st *streams) serve(conn net.Conn) {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		conn.Close()
		return
	}
	st.in[conn] = struct{}{}
	st.wg.Add(1)
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.in, conn)
		st.mu.Unlock()
		conn.Close()
		st.wg.Done()
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	if !st.checkLabel(conn, r) {
		return
	}
	for {
		buf, err := frame.Read(r, maxFrame)
		switch {
		case errors.Is(err, frame.ErrTooLarge):
			st.log.Warn("dropped data stream: frame too large", "err", err.Error(), "from", conn.RemoteAddr())
			return
		case errors.Is(err, frame.ErrCutShort):
			st.log.Debug("data stream broke mid-frame", "err", fmt.Sprint(err))
			return
		case err != nil:
			return // between frames: the stream's end, or a close
		}
		if st.aead != nil {
			var err error
			if buf, err = st.open(buf); err != nil {
				st.log.Warn("dropped data stream: a frame failed authentication (a peer without our secret key?)",
					"from", conn.RemoteAddr(), "err", err)
				return
			}
		}
		st.deliver(buf)
	}
}

// close shuts every stream and waits for the readers.
func (st *streams) close() {
	st.mu.Lock()
	st.closed = true
	for _, c := range st.out {
		c.Close()
	}
	for c := range st.in {
		c.Close()
	}
	st.mu.Unlock()
	st.wg.Wait()
}
