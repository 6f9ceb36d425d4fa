package raftkv

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// op is the type byte that starts every command in the Raft log and every
// forwarded request.
type op uint8

const (
	opPut op = iota + 1
	opDelete
	opCAS
	// opNoop changes nothing. A new leader commits one before it serves a
	// read, so that its commit index covers every entry of earlier terms;
	// unlike raft's own barrier it reaches the FSM, which counts it as
	// applied.
	opNoop
	// opGet, opAddVoter, opRemoveServer and opKeys never enter the log:
	// they are forwarded to the leader only.
	opGet
	opAddVoter
	opRemoveServer
	opKeys
)

// read reports whether o only reads: a read that fails anywhere can be
// tried again, since it changed nothing.
func (o op) read() bool { return o == opGet || o == opKeys }

func (o op) String() string {
	switch o {
	case opPut:
		return "put"
	case opDelete:
		return "delete"
	case opCAS:
		return "cas"
	case opNoop:
		return "noop"
	case opGet:
		return "get"
	case opAddVoter:
		return "add-voter"
	case opRemoveServer:
		return "remove-server"
	case opKeys:
		return "keys"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// errBadCommand is what the FSM answers for a log entry it cannot decode.
// Every replica decodes the same bytes the same way, so all of them skip
// the entry alike.
var errBadCommand = errors.New("raftkv: bad command")

// command is a write as the Raft log holds it: the op byte, then this body
// in msgpack.
type command struct {
	Op  op     `msgpack:"-"`
	Key []byte `msgpack:"k"`
	// Value is the new value of a put or a cas.
	Value []byte `msgpack:"v,omitempty"`
	// Old is what a cas expects the key to hold.
	Old []byte `msgpack:"x,omitempty"`
	// Absent makes a cas expect the key to hold no value (never written,
	// or deleted) instead of Old, which it ignores: put-if-absent. A flag
	// and not a nil Old, because an empty Old is the empty value, and
	// msgpack would not keep nil and empty apart.
	Absent bool `msgpack:"a,omitempty"`
	// Origin is the server the client's operation arrived at; it becomes
	// the Origin of the write's version.
	Origin uint32 `msgpack:"n"`
}

func encodeCommand(c command) ([]byte, error) {
	body, err := msgpack.Marshal(&c)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(c.Op)}, body...), nil
}

func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) < 1 {
		return c, fmt.Errorf("%w: empty", errBadCommand)
	}
	c.Op = op(b[0])
	switch c.Op {
	case opPut, opDelete, opCAS, opNoop:
	default:
		return c, fmt.Errorf("%w: type %d", errBadCommand, b[0])
	}
	if err := mpcheck.Check(b[1:]); err != nil {
		return c, fmt.Errorf("%w: %v", errBadCommand, err)
	}
	if err := msgpack.Unmarshal(b[1:], &c); err != nil {
		return c, fmt.Errorf("%w: %v", errBadCommand, err)
	}
	return c, nil
}

// applied is what the FSM returns for each command, and what the leader's
// ApplyFuture.Response carries back.
type applied struct {
	// Version is the write's version; for a cas that did not match, the
	// version of what the key held (zero if it was never written).
	Version model.Version
	// Mismatch reports a cas whose expectation did not hold: nothing was
	// written.
	Mismatch bool
	// Err is set for a command the FSM could not decode.
	Err error
}
