package server

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

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
type streams struct {
	demux   *transport.Demux
	addrs   map[uint32]memberlist.Address
	timeout time.Duration
	deliver func([]byte)
	isCut   func(uint32) bool
	// aead seals every frame when the cluster has a secret key: a peer
	// without it can neither read our writes nor inject its own.
	aead cipher.AEAD
	log  *slog.Logger

	// mu guards out, in and closed.
	mu     sync.Mutex
	out    map[uint32]net.Conn
	in     map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newStreams(peers map[uint32]string, timeout time.Duration, log *slog.Logger) *streams {
	st := &streams{addrs: map[uint32]memberlist.Address{}, timeout: timeout, log: log,
		out: map[uint32]net.Conn{}, in: map[net.Conn]struct{}{}}
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
		if conn, err = st.demux.DialStream(st.addrs[to], st.timeout); err != nil {
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
		nonce := make([]byte, st.aead.NonceSize(), st.aead.NonceSize()+len(buf)+st.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		buf = st.aead.Seal(nonce, nonce, buf, nil)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(buf)))
	conn.SetWriteDeadline(time.Now().Add(st.timeout))
	bufs := net.Buffers{hdr[:], buf}
	if _, err := bufs.WriteTo(conn); err != nil {
		st.drop(to, conn)
		return err
	}
	return nil
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
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			st.log.Warn("dropped data stream: frame too large", "bytes", n, "from", conn.RemoteAddr())
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			st.log.Debug("data stream broke mid-frame", "err", fmt.Sprint(err))
			return
		}
		if st.aead != nil {
			ns := st.aead.NonceSize()
			var err error
			if len(buf) < ns {
				err = errors.New("frame shorter than a nonce")
			} else {
				buf, err = st.aead.Open(buf[ns:ns], buf[:ns], buf[ns:], nil)
			}
			if err != nil {
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
