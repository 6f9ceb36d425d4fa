package api

import (
	"time"

	"gossipkv/pkg/metrics"
	"gossipkv/pkg/model"
)

// Status is the outcome of a get or put, as the master prints it.
type Status int

const (
	// OK: the operation succeeded.
	OK Status = iota
	// ErrKey: the server has no value for the key and the client has no
	// dependency on it.
	ErrKey
	// ErrDep: the server has not seen a write the client depends on.
	ErrDep
	// ErrConn: the client has no reachable server.
	ErrConn
	// ErrFailed: the server could not carry the put out (disk error, limit
	// exceeded); Reason says why.
	ErrFailed
	// ErrUnavailable (linearizable mode): the server could not reach a
	// Raft leader backed by a quorum within its timeout. A write that
	// fails so may still take effect.
	ErrUnavailable
	// ErrCAS: a cas found the key not holding the expected value (or no
	// value), and wrote nothing.
	ErrCAS
)

// String gives the spelling the master prints after "KEY:".
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case ErrKey:
		return "ERR_KEY"
	case ErrDep:
		return "ERR_DEP"
	case ErrConn:
		return "ERR_CONN"
	case ErrFailed:
		return "ERR_FAILED"
	case ErrUnavailable:
		return "ERR_UNAVAILABLE"
	case ErrCAS:
		return "ERR_CAS"
	}
	return "ERR_UNKNOWN"
}

// Empty is the argument or reply of calls that carry nothing.
type Empty struct{}

// PingReply identifies the process that answered, so a caller can tell a
// stray process on a reused port from the one it expects.
type PingReply struct {
	Role string // "server", "client" or "watchdog"
	ID   uint32
	Pid  int
}

// ---- Server ("Server.*"), called by clients and the master.

const (
	ServerPing   = "Server.Ping"
	ServerPut    = "Server.Put"
	ServerDelete = "Server.Delete"
	ServerCAS    = "Server.CAS"
	ServerGet    = "Server.Get"
	ServerCut    = "Server.Cut"
	ServerHeal   = "Server.Heal"
	ServerStatus = "Server.Status"
	ServerDump   = "Server.Dump"
	ServerStats  = "Server.Stats"
	ServerSkew   = "Server.SkewClock"
)

// SkewArgs shifts the physical clock that the server's hybrid logical
// clock reads by Skew from now on (0: set it right). It is a fault the
// master injects (skewClock); the server keeps it until told otherwise or
// until it exits, and the master sends it again to a restarted server.
type SkewArgs struct {
	Skew time.Duration
}

// PutArgs writes Key=Value at the server. Dep is the newest version of Key
// the client has written or read (zero for none): the new write is ordered
// after it.
type PutArgs struct {
	Key, Value []byte
	Dep        model.Version
}

// PutReply answers a put once the write is durable (Status OK) or says why
// it failed.
type PutReply struct {
	Status  Status
	Version model.Version
	Reason  string
}

// DeleteArgs deletes Key at the server (writes a tombstone); Dep as in
// PutArgs. It is answered with a PutReply.
type DeleteArgs struct {
	Key []byte
	Dep model.Version
}

// CASArgs sets Key to Value if it holds Old (linearizable mode only). It
// is answered with a PutReply: OK with the write's version, ErrCAS with
// the version of what the key held, ErrUnavailable, or ErrFailed (a server
// in eventual mode refuses it so).
type CASArgs struct {
	Key, Old, Value []byte
}

// GetArgs reads Key; Dep as in PutArgs.
type GetArgs struct {
	Key []byte
	Dep model.Version
}

// GetReply carries the value (Status OK) with its version, which the client
// keeps as its new dependency for the key. A key whose winning write is a
// delete is ErrKey with the delete's version, which the client keeps too:
// reading a deletion is a read.
//
// ErrKey with no version and a Stable version: the server holds nothing of
// the key, and every write of it at or below Stable, the cluster's stable
// point (see model.Stable); so the newest of those, if any, was a delete
// whose tombstone was collected. A client that depends on a version at or
// below it is answered so, not ERR_DEP.
type GetReply struct {
	Status  Status
	Value   []byte
	Version model.Version
	Stable  model.Version
}

// LinkArgs names the peer server of a Cut or Heal.
type LinkArgs struct {
	Peer uint32
}

// StatusReply is what stabilize compares: servers of one connected group
// have converged when their Seen sets and store digests are equal.
type StatusReply struct {
	ID          uint32
	Seen        model.Seen
	StoreDigest uint64
	// Keys counts the keys of the store, deleted ones (tombstones)
	// included; Live only those with a value.
	Keys, Live int
	// Links are the peers this server has a live direct link to.
	Links []uint32
	// Topology is this server's view of every server's announced links
	// (its own included): what it routes by. For debugging a slow
	// convergence: servers whose views disagree route differently.
	Topology map[uint32][]uint32
	// Raft is the server's Raft node in linearizable mode; nil in
	// eventual mode.
	Raft *RaftStatus
}

// RaftStatus is a server's view of its Raft group (see raftkv.Status).
type RaftStatus struct {
	// State is Follower, Candidate, Leader or Shutdown.
	State string
	// Leader is the leader this server knows of, when HasLeader.
	Leader    uint32
	HasLeader bool
	Term      uint64
	// CommitIndex is the last index this server knows committed, Applied
	// the last it has applied (raft's no-op entries included).
	LastIndex, CommitIndex, Applied uint64
	// Voters are the group's voting members, by server id.
	Voters []uint32
}

// StatsReply counts what a server has done since it started: the cost of
// replication per put is (messages sent by every server) / (puts).
//
// The JSON names are those of the master's -stats record (package runstats),
// which carries a StatsReply per server.
type StatsReply struct {
	ID          uint32 `json:"id"`
	Puts        uint64 `json:"puts"`
	Gets        uint64 `json:"gets"`
	Deletes     uint64 `json:"deletes"`
	Commits     uint64 `json:"commits"`     // group commits (log appends by the committer)
	Checkpoints uint64 `json:"checkpoints"` // foldings of the log into the bbolt file
	// Fsyncs counts the fdatasyncs and fsyncs of the server's store
	// (storage.BoltOptions.Syncs); 0 for a store that does not count them.
	Fsyncs       uint64 `json:"fsyncs"`
	Batches      uint64 `json:"batches"` // memberlist messages sent (each a batch)
	Bytes        uint64 `json:"bytes"`   // bytes of those messages
	Writes       uint64 `json:"writes"`  // entries sent on the fast path
	Relayed      uint64 `json:"relayed"` // of those, entries of another origin
	Acks         uint64 `json:"acks"`
	Deltas       uint64 `json:"deltas"` // repair messages
	DeltaEntries uint64 `json:"delta_entries"`
	SendFailures uint64 `json:"send_failures"`
	// RefusedAhead counts other servers' writes refused for versions too
	// far ahead of this server's clock (max_clock_offset); each is sent
	// again until it goes through.
	RefusedAhead uint64 `json:"refused_ahead"`
}

// LagReply is how far a server stands from the servers it has had acks
// from (see model.Node.Lag), by id.
type LagReply struct {
	Peers []model.PeerLag
	// Behind counts the distinct writes any of them held that this
	// server lacks.
	Behind uint64
}

// Latencies are the distributions of the time a server's Put, Delete and
// Get took, from the call to the answer, since it started.
type Latencies struct {
	Put, Delete, Get metrics.HistogramSnapshot
}

// DumpReply is the whole store, sorted by key bytes.
type DumpReply struct {
	Entries []KV
	// Stable is the server's stable point: tombstones at or below it were
	// collected and are not among the entries.
	Stable model.Version
}

// KV is one key of a dump. Version lets a history checker tell which write
// the value is. Deleted: the key's winning write is a delete (printStore
// leaves it out).
type KV struct {
	Key, Value []byte
	Version    model.Version
	Deleted    bool
}

// ---- Client ("Client.*"), called by the master.

const (
	ClientPing       = "Client.Ping"
	ClientConnect    = "Client.Connect"
	ClientDisconnect = "Client.Disconnect"
	ClientPut        = "Client.Put"
	ClientDelete     = "Client.Delete"
	ClientCAS        = "Client.CAS"
	ClientGet        = "Client.Get"
)

// ConnectArgs points the client at server ServerID, listening at Addr
// (host:port of its rpc listener). Run is the run of the master that asks:
// a client started without a run of its own calls the server as a member
// of that run, whose servers refuse every other.
type ConnectArgs struct {
	ServerID uint32
	Addr     string
	Run      string
}

// ClientPutArgs asks the client to write through its server.
type ClientPutArgs struct {
	Key, Value []byte
}

// ClientDeleteArgs asks the client to delete through its server.
type ClientDeleteArgs struct {
	Key []byte
}

// ClientCASArgs asks the client to cas through its server: set Key to
// Value if it holds Old.
type ClientCASArgs struct {
	Key, Old, Value []byte
}

// ClientGetArgs asks the client to read through its server.
type ClientGetArgs struct {
	Key []byte
}

// ClientReply is the outcome of a client's put or get. Version, Dep and
// Server let a history checker judge it: the version written or read (Status
// OK), the client's dependency on the key that it sent, and the server that
// answered.
type ClientReply struct {
	Status  Status
	Value   []byte
	Reason  string
	Version model.Version
	Dep     model.Version
	Server  uint32
	// Stable: a get's GetReply.Stable.
	Stable model.Version
}

// ---- Watchdog ("Watchdog.*"), called by the master.

const (
	WatchdogPing  = "Watchdog.Ping"
	WatchdogStart = "Watchdog.Start"
	WatchdogKill  = "Watchdog.Kill"
	// WatchdogPause and WatchdogResume send SIGSTOP and SIGCONT to the
	// server process (KillArgs names it): the pause fault.
	WatchdogPause  = "Watchdog.Pause"
	WatchdogResume = "Watchdog.Resume"
)

// StartArgs starts server ServerID. Fresh wipes its data directory first
// (the first start of a run without -keep-data); otherwise the server
// reopens its durable state. Run is the run of the master that asks: the
// server belongs to it (-run), refuses every other and gossips only with
// that run's servers. LogFormat, when set, is the format of the server's
// log ("text" or "json"); empty leaves it to the watchdog.
//
// Consistency, when set, overrides the config's consistency for the server
// (the master's -consistency).
//
// RaftBootstrap (linearizable mode): the server starts the cluster's Raft
// group, of itself alone, if it holds no Raft state. The master asks it of
// exactly one server in a cluster's life (the first it starts while no
// server holds Raft state); every other server waits for the group's
// leader to add it. Two groups of one log would break Raft's log matching
// once one leader adds a member of the other.
//
// RaftGroup (linearizable mode) names the cluster's Raft group, drawn by
// the master when the group is started: a server whose Raft state belongs
// to another group (a run that left it out wiped and restarted the rest)
// drops that state before it starts, rather than join with a log of
// another history.
type StartArgs struct {
	ServerID      uint32
	Fresh         bool
	Run           string
	LogFormat     string
	Consistency   string
	RaftBootstrap bool
	RaftGroup     string
}

// StartReply gives the pid of the started server process.
type StartReply struct {
	Pid int
}

// KillArgs names the server to SIGKILL.
type KillArgs struct {
	ServerID uint32
}
