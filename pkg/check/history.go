package check

import (
	"fmt"
	"strconv"
	"time"

	"gossipkv/pkg/model"
)

// History is a run as the master saw it, in script order.
type History []Event

// Op is what an event records.
type Op int

const (
	// Start: server Server started (Fresh: with an empty data directory).
	Start Op = iota
	// Kill: server Server was killed.
	Kill
	// Cut: the link Server-Peer was cut.
	Cut
	// Heal: the link Server-Peer was restored.
	Heal
	// Put: client Client wrote Key=Value through server Server.
	Put
	// Get: client Client read Key through server Server.
	Get
	// Stabilize: the master waited for convergence (Converged says whether
	// it came) and then dumped every live server's store into Stores.
	Stabilize
	// Delete: client Client deleted Key through server Server: a write of
	// a tombstone at Version (Status OK), ordered like a put.
	Delete
	// Skew: server Server's clock was shifted by Skew from then on (0:
	// set right). Versions no longer follow script order while any clock
	// is skewed; the checker judges by versions and causality anyway.
	Skew
	// Pause: server Server was stopped (SIGSTOP): live, but it neither
	// receives nor serves, as if all its links were cut, until Resume.
	Pause
	// Resume: server Server was continued (SIGCONT).
	Resume
	// CAS (linearizable mode): client Client set Key to Value through
	// server Server if it held Old: Status OK if it did, Mismatch if not.
	CAS
)

func (o Op) String() string {
	switch o {
	case Start:
		return "start"
	case Kill:
		return "kill"
	case Cut:
		return "cut"
	case Heal:
		return "heal"
	case Put:
		return "put"
	case Get:
		return "get"
	case Stabilize:
		return "stabilize"
	case Delete:
		return "delete"
	case Skew:
		return "skew"
	case Pause:
		return "pause"
	case Resume:
		return "resume"
	case CAS:
		return "cas"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Status is the outcome of a put or get, as the client reported it.
type Status int

const (
	// OK: acknowledged put, or a read that returned a value.
	OK Status = iota
	// NoKey: ERR_KEY.
	NoKey
	// Behind: ERR_DEP.
	Behind
	// Unreachable: ERR_CONN, or the client itself did not answer.
	Unreachable
	// Failed: ERR_FAILED.
	Failed
	// Mismatch: ERR_CAS, a cas that found another value and wrote
	// nothing.
	Mismatch
	// Unavailable: ERR_UNAVAILABLE (linearizable mode): no quorum. A
	// write so answered may still take effect.
	Unavailable
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case NoKey:
		return "ERR_KEY"
	case Behind:
		return "ERR_DEP"
	case Unreachable:
		return "ERR_CONN"
	case Failed:
		return "ERR_FAILED"
	case Mismatch:
		return "ERR_CAS"
	case Unavailable:
		return "ERR_UNAVAILABLE"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Event is one thing that happened; which fields matter depends on Op.
type Event struct {
	Op Op
	// Line is the script line, for messages.
	Line int
	// Server is the server started, killed, or one end of a link; for a
	// put or get, the server the client was pointed at.
	Server uint32
	// Peer is the other end of a cut or healed link.
	Peer uint32
	// Fresh: the start wiped the server's data.
	Fresh bool
	// Skew is a Skew event's shift of the server's clock.
	Skew time.Duration

	Client     uint32
	Key, Value []byte
	// Old is what a cas expected the key to hold.
	Old    []byte
	Status Status
	// Version written or read (Status OK); for a get answered NoKey, the
	// version of the tombstone the server read, if it held one (zero when
	// it held nothing for the key).
	Version model.Version
	// Dep is the dependency the client sent with the call.
	Dep model.Version
	// Stable: for a get answered NoKey with no version, the server's
	// stable point: it holds every write of the key at or below it, and
	// the newest, if any, was a delete whose tombstone it collected.
	Stable model.Version

	// Call and Return bracket the event on the master's monotonic clock,
	// as durations since the run began: for a put, get or delete, the
	// client call itself; for the other events, their script command.
	// Check ignores them; real-time order matters only to a
	// linearizability check.
	Call, Return time.Duration

	// Converged: stabilize returned without error; Err says why not.
	Converged bool
	Err       string
	// Stores holds the dump of every live server that answered, sorted by
	// key; Stables, each one's stable point (tombstones at or below it
	// were collected and are not in its dump).
	Stores  map[uint32][]Item
	Stables map[uint32]model.Version
}

// OutcomeUnknown reports whether e is a put or delete that got no
// acknowledgement (ERR_CONN, ERR_FAILED, or no answer from the client): it
// may or may not have taken effect, now or later.
func (e Event) OutcomeUnknown() bool {
	return (e.Op == Put || e.Op == Delete || e.Op == CAS) && e.Status != OK && e.Status != Mismatch
}

// Item is one key of a dumped store. Deleted: the key's winning write is a
// delete (a tombstone, Value empty), which printStore does not show.
type Item struct {
	Key, Value []byte
	Version    model.Version
	Deleted    bool
}

func (e Event) String() string {
	switch e.Op {
	case Start:
		return fmt.Sprintf("line %d: start %d fresh=%v", e.Line, e.Server, e.Fresh)
	case Kill:
		return fmt.Sprintf("line %d: kill %d", e.Line, e.Server)
	case Cut, Heal:
		return fmt.Sprintf("line %d: %v %d-%d", e.Line, e.Op, e.Server, e.Peer)
	case Skew:
		return fmt.Sprintf("line %d: skew %d %v", e.Line, e.Server, e.Skew)
	case Pause, Resume:
		return fmt.Sprintf("line %d: %v %d", e.Line, e.Op, e.Server)
	case Put:
		return fmt.Sprintf("line %d: put client %d server %d %s=%s: %v %v dep %v",
			e.Line, e.Client, e.Server, showBytes(e.Key), showBytes(e.Value), e.Status, e.Version, e.Dep)
	case Delete:
		return fmt.Sprintf("line %d: delete client %d server %d %s: %v %v dep %v",
			e.Line, e.Client, e.Server, showBytes(e.Key), e.Status, e.Version, e.Dep)
	case CAS:
		return fmt.Sprintf("line %d: cas client %d server %d %s %s->%s: %v %v",
			e.Line, e.Client, e.Server, showBytes(e.Key), showBytes(e.Old), showBytes(e.Value), e.Status, e.Version)
	case Get:
		return fmt.Sprintf("line %d: get client %d server %d %s: %v %s %v dep %v",
			e.Line, e.Client, e.Server, showBytes(e.Key), e.Status, showBytes(e.Value), e.Version, e.Dep)
	case Stabilize:
		return fmt.Sprintf("line %d: stabilize converged=%v %d stores %s", e.Line, e.Converged, len(e.Stores), e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Op)
}

// showBytes quotes a key or value for a message, clipped so that a large
// value does not flood it.
func showBytes(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
