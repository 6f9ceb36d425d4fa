package rpcconn

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Roles of the processes of a cluster. Other roles (tools, benchmarks,
// tests) name themselves freely.
const (
	RoleMaster   = "master"
	RoleWatchdog = "watchdog"
	RoleServer   = "server"
	RoleClient   = "client"
)

// Identity is who a process is on the control plane: both ends of every
// connection state theirs in a handshake before net/rpc starts.
type Identity struct {
	// Cluster is the config's cluster name. A listener refuses every
	// other cluster.
	Cluster string `json:"cluster"`
	// Run is the run id of the master that owns the process. A listener
	// with a Run refuses every other run (an empty one included); a
	// listener without one (a process started by hand) accepts any run of
	// its cluster.
	Run string `json:"run,omitempty"`
	// Role and ID say which process this is ("watchdog" and 3); they are
	// for messages, not checked.
	Role string `json:"role"`
	ID   uint32 `json:"id,omitempty"`
}

// Name is the process as errors name it: "watchdog 3", "master".
func (i Identity) Name() string {
	switch i.Role {
	case RoleWatchdog, RoleServer, RoleClient:
		return i.Role + " " + strconv.FormatUint(uint64(i.ID), 10)
	}
	return i.Role
}

// accepts is the listener's rule.
func (i Identity) accepts(from Identity) bool {
	return from.Cluster == i.Cluster && (i.Run == "" || from.Run == i.Run)
}

// Peer is what the other end of a handshake says about itself.
type Peer struct {
	Identity
	Pid int `json:"pid"`
	// MasterPid is, in a listener's answer, the pid of the last master it
	// accepted a connection from: the master that drives it. 0 when no
	// master has called yet.
	MasterPid int `json:"master_pid,omitempty"`
}

// String describes the peer for an error message: `watchdog 3 (pid 4242)
// of cluster "gossipkv", run 9f1c2e0a4b7d3e61, driven by master pid 4240`.
func (p Peer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (pid %d) of cluster %q, ", p.Name(), p.Pid, p.Cluster)
	if p.Run == "" {
		b.WriteString("no run of its own")
	} else {
		b.WriteString("run " + p.Run)
	}
	if p.MasterPid > 0 {
		fmt.Fprintf(&b, ", driven by master pid %d", p.MasterPid)
	}
	return b.String()
}

// ErrRefused means the listener is a gossipkv process of another cluster or
// run: the connection was closed before any call. Errors that wrap it are
// *RefusedError.
var ErrRefused = errors.New("rpcconn: refused")

// ErrNoHandshake means something accepted the connection but did not answer
// the handshake: a process that is not gossipkv (or not of this version),
// one that is stopping, or one too busy to answer in time. Errors that
// wrap it also wrap ErrUnavailable or ErrTimeout.
var ErrNoHandshake = errors.New("rpcconn: no handshake")

// RefusedError is a refusal: who refused (Peer), where (Addr), and who was
// refused (Self). It wraps ErrRefused.
type RefusedError struct {
	Addr string
	Peer Peer
	Self Identity
}

func (e *RefusedError) Error() string {
	why := "another run"
	if e.Peer.Cluster != e.Self.Cluster {
		why = "another cluster"
	}
	self := "no run"
	if e.Self.Run != "" {
		self = "run " + e.Self.Run
	}
	return fmt.Sprintf("rpcconn: %s refused this connection: it is %s, and this is %s of cluster %q, %s: %s",
		e.Addr, e.Peer, e.Self.Name(), e.Self.Cluster, self, why)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// handshakeError is a handshake that got no valid answer.
type handshakeError struct {
	addr   string
	detail string
	kind   error // ErrUnavailable or ErrTimeout
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("rpcconn: %s did not answer the handshake: %s", e.addr, e.detail)
}

func (e *handshakeError) Unwrap() []error { return []error{ErrNoHandshake, e.kind} }

// The handshake, before net/rpc starts on a connection: the dialer sends a
// hello (its Peer), the listener answers with an answer (accept or not, and
// its own Peer) and, if it refused, closes the connection. Each message is
// a frame: magic, a big-endian uint16 length, and that many bytes of JSON.
// JSON because it is small, readable in a packet capture and in the
// standard library; the length bound keeps a garbage header from costing
// more than maxFrame bytes.
var magic = [4]byte{'G', 'K', 'V', 1}

// maxFrame bounds a handshake message: a few short names and numbers.
const maxFrame = 1024

// maxField bounds each name in a handshake (cluster names and run ids are
// at most 64 characters; see config.ValidName).
const maxField = 64

// answer is the listener's side of the handshake.
type answer struct {
	Accept bool `json:"accept"`
	Peer
}

// errNotHandshake marks bytes that are not a handshake frame.
var errNotHandshake = errors.New("not a handshake")

func writeFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > maxFrame {
		return fmt.Errorf("handshake message of %d bytes (at most %d)", len(body), maxFrame)
	}
	buf := make([]byte, 0, len(magic)+2+len(body))
	buf = append(buf, magic[:]...)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(body)))
	buf = append(buf, body...)
	_, err = w.Write(buf)
	return err
}

// readFrame reads exactly one frame, and nothing after it: net/rpc reads
// the connection next.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [len(magic) + 2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:len(magic)], magic[:]) {
		return nil, fmt.Errorf("%w: starts with %q", errNotHandshake, hdr[:len(magic)])
	}
	n := binary.BigEndian.Uint16(hdr[len(magic):])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: length %d", errNotHandshake, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeHello parses a dialer's hello and checks every field.
func decodeHello(body []byte) (Peer, error) {
	var p Peer
	if err := json.Unmarshal(body, &p); err != nil {
		return Peer{}, fmt.Errorf("%w: %v", errNotHandshake, err)
	}
	if err := p.check(); err != nil {
		return Peer{}, err
	}
	return p, nil
}

// decodeAnswer parses a listener's answer and checks every field.
func decodeAnswer(body []byte) (answer, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return answer{}, fmt.Errorf("%w: %v", errNotHandshake, err)
	}
	if err := a.Peer.check(); err != nil {
		return answer{}, err
	}
	return a, nil
}

// check refuses names that could not come from a config (they end up in
// error messages and logs) and impossible pids.
func (p Peer) check() error {
	for _, f := range []struct {
		name, v  string
		optional bool
	}{{"cluster", p.Cluster, false}, {"run", p.Run, true}, {"role", p.Role, false}} {
		if f.v == "" && !f.optional {
			return fmt.Errorf("%w: no %s", errNotHandshake, f.name)
		}
		if !validField(f.v) {
			return fmt.Errorf("%w: bad %s %q", errNotHandshake, f.name, f.v)
		}
	}
	if p.Pid < 0 || p.MasterPid < 0 {
		return fmt.Errorf("%w: bad pid", errNotHandshake)
	}
	return nil
}

func validField(s string) bool {
	if len(s) > maxField {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// self is this process as it introduces itself.
func self(id Identity) Peer { return Peer{Identity: id, Pid: os.Getpid()} }

// NewRun draws a run id: 16 hex characters (64 random bits), so that two
// masters, even started in the same nanosecond, never share one.
func NewRun() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand's documented contract)
	return hex.EncodeToString(b[:])
}
