package raftkv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// A follower forwards an operation to the leader over a stream of its own
// (kind kindForward): it dials the leader, writes one request frame, reads
// one response frame and closes the stream. A frame is a 4-byte big-endian
// length and a msgpack body. A stream per operation costs a dial (cheap on
// the transports this runs on, next to a Raft commit) and never leaves a
// request's fate unknown because a pooled stream went stale: if the dial
// fails, nothing was sent and the operation can go elsewhere.
//
// The leader runs a forwarded request itself and never forwards it again:
// if it no longer leads it answers statusNotLeader, and the follower looks
// for the new leader until its timeout.
//
// A follower that cannot dial the leader (its link is cut) but reaches
// other members relays through one of them: it sends the request marked
// Relay to a voter, which forwards it to the leader once, never further.
// A server cut off from the leader but linked to a quorum is thus not
// unavailable, as the servers' own replication routes around a cut link.

// maxForwardFrame bounds one frame; a larger length is garbage.
const maxForwardFrame = 64 << 20

type status uint8

const (
	statusOK status = iota + 1
	// statusMismatch: a cas did not match; nothing was written.
	statusMismatch
	// statusNotLeader: the operation was not run; try the leader.
	statusNotLeader
	// statusUnavailable: no quorum in time; a write may or may not have
	// taken effect.
	statusUnavailable
	// statusError: anything else; Err says what.
	statusError
)

type request struct {
	Op  op     `msgpack:"o"`
	Key []byte `msgpack:"k,omitempty"`
	// Value is a put's or cas's new value; Old what a cas expects.
	Value []byte `msgpack:"v,omitempty"`
	Old   []byte `msgpack:"x,omitempty"`
	// Absent: a cas that expects no value instead of Old (command.Absent).
	Absent bool `msgpack:"a,omitempty"`
	// Limit is how many keys a listing returns at most; Key is where it
	// starts.
	Limit int `msgpack:"l,omitempty"`
	// Origin is the server the client's operation arrived at.
	Origin uint32 `msgpack:"n"`
	// PeerID and PeerAddr name the member AddVoter adds or RemoveServer
	// removes.
	PeerID   uint32 `msgpack:"pi,omitempty"`
	PeerAddr string `msgpack:"pa,omitempty"`
	// Timeout is the time the follower still waits, so that the leader
	// gives up when nobody waits any more. A duration, not a deadline:
	// the two clocks need not agree.
	Timeout time.Duration `msgpack:"t"`
	// Relay: the sender could not reach the leader; a receiver that does
	// not lead forwards it to the leader, once.
	Relay bool `msgpack:"r,omitempty"`
}

type response struct {
	Status  status        `msgpack:"s"`
	Version model.Version `msgpack:"ver"`
	Value   []byte        `msgpack:"v,omitempty"`
	Found   bool          `msgpack:"f,omitempty"`
	Err     string        `msgpack:"e,omitempty"`
	// Keys and More are a listing's page, and whether more follow it.
	Keys [][]byte `msgpack:"ks,omitempty"`
	More bool     `msgpack:"m,omitempty"`
}

// forward runs req at the leader at addr.
func (n *Node) forward(ctx context.Context, addr string, req request) (response, error) {
	req.Timeout = remaining(ctx)
	conn, err := n.layer.open(addr, kindForward, min(req.Timeout, n.cfg.IOTimeout))
	if err != nil {
		return response{}, fmt.Errorf("%w: %s: %v", errUnreachable, addr, err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	// Shutdown ends the wait too.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })()

	// Once the request may have left, a write's fate is unknown unless
	// the leader answers; a read can always be tried again.
	lost := func(err error) error {
		if req.Op.read() {
			return fmt.Errorf("%w: leader %s: %v", errNotLeader, addr, err)
		}
		return fmt.Errorf("%w: leader %s: %v", ErrUnavailable, addr, err)
	}
	if err := writeFrame(conn, &req); err != nil {
		return response{}, lost(err)
	}
	var resp response
	if err := readFrame(conn, &resp); err != nil {
		return response{}, lost(err)
	}
	switch resp.Status {
	case statusOK, statusMismatch:
		return resp, nil
	case statusNotLeader:
		return response{}, fmt.Errorf("%w: %s: %s", errNotLeader, addr, resp.Err)
	case statusUnavailable:
		return response{}, fmt.Errorf("%w: at leader %s: %s", ErrUnavailable, addr, resp.Err)
	}
	return response{}, fmt.Errorf("raftkv: leader %s: %s", addr, resp.Err)
}

// serveForward answers one forwarded request on conn.
func (n *Node) serveForward(conn net.Conn) {
	defer conn.Close()
	if !n.enter() {
		return
	}
	defer n.wg.Done()
	conn.SetReadDeadline(time.Now().Add(n.cfg.IOTimeout))
	var req request
	if err := readFrame(conn, &req); err != nil {
		n.log.Debug("forwarded request dropped", "remote", conn.RemoteAddr(), "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, min(req.Timeout, n.cfg.Timeout))
	defer cancel()
	var resp response
	var err error
	addr, _ := n.raft.LeaderWithID()
	switch {
	case req.Relay && n.raft.State() != raft.Leader && addr != "":
		req.Relay = false
		resp, err = n.forward(ctx, string(addr), req)
	case req.Relay && n.raft.State() != raft.Leader:
		err = fmt.Errorf("%w: no leader known to relay to", errNotLeader)
	default:
		resp, err = n.local(ctx, req)
	}
	switch {
	case err == nil:
	case errors.Is(err, errNotLeader):
		resp = response{Status: statusNotLeader, Err: err.Error()}
	case errors.Is(err, ErrUnavailable), ctx.Err() != nil:
		resp = response{Status: statusUnavailable, Err: err.Error()}
	default:
		resp = response{Status: statusError, Err: err.Error()}
	}
	conn.SetWriteDeadline(time.Now().Add(n.cfg.IOTimeout))
	if err := writeFrame(conn, &resp); err != nil {
		n.log.Debug("forwarded answer lost", "remote", conn.RemoteAddr(), "op", req.Op, "err", err)
	}
}

func writeFrame(w io.Writer, v any) error {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > maxForwardFrame {
		return fmt.Errorf("raftkv: frame of %d bytes", len(body))
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err = w.Write(append(buf, body...))
	return err
}

func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > maxForwardFrame {
		return fmt.Errorf("raftkv: frame of %d bytes", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if err := mpcheck.Check(body); err != nil {
		return err
	}
	return msgpack.Unmarshal(body, v)
}
