package raftkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"gossipkv/pkg/model"
)

var (
	// ErrUnavailable means the node could not reach a leader backed by a
	// quorum within the operation's timeout. A put, delete or cas that
	// fails with it may still take effect: it may have entered the log
	// before the quorum was lost.
	ErrUnavailable = errors.New("raftkv: unavailable: no quorum within the timeout")
	// ErrCASFailed means a cas found the key not holding the expected value
	// (or not holding any value), or a PutIfAbsent found it holding one,
	// and wrote nothing.
	ErrCASFailed = errors.New("raftkv: cas: key does not hold the expected value")
	// ErrStopped is returned by a node that has been shut down.
	ErrStopped = errors.New("raftkv: node stopped")
	// ErrBootstrapped is returned by Bootstrap on a node that already has
	// Raft state (a log, a snapshot or a term).
	ErrBootstrapped = errors.New("raftkv: node already has raft state")
)

// errNotLeader marks a failure that left the operation undone (not in the
// log): the node was not the leader, or could not reach the one it knew.
// The operation is tried again, on whichever node leads then, until its
// timeout.
var errNotLeader = errors.New("raftkv: not the leader")

// errUnreachable: the node a request was for could not be dialed, so
// nothing was sent; it is an errNotLeader, to be tried elsewhere.
var errUnreachable = fmt.Errorf("%w: unreachable", errNotLeader)

// Peer names a member of the Raft group: its server id and the address its
// node listens at (what the peers' DialFunc takes).
type Peer struct {
	ID   uint32
	Addr string
}

// Config configures a Node.
type Config struct {
	// ID is the server's id; Raft knows the node as its decimal string,
	// and it is the Origin of the versions of writes that arrive here.
	ID uint32
	// Addr is where peers reach this node: what their DialFunc takes.
	Addr string
	// Dir holds the Raft log and stable store (raft.db, bbolt) and the
	// snapshots (snapshots/). It is created if missing.
	Dir string
	// Dial opens streams to peers.
	Dial DialFunc
	// Label, if set, must match on both ends of every stream: nodes of two
	// clusters (or harness runs) never talk to each other.
	Label string
	// Logger receives the node's and raft's lines (raft's with
	// component=raft). Nil discards them.
	Logger *slog.Logger

	// Timeout bounds every operation: past it, a node that has not found
	// a leader with a quorum answers ErrUnavailable.
	Timeout time.Duration
	// IOTimeout is the deadline of one Raft RPC (a snapshot's grows with
	// its size) and of a forwarded operation's dial.
	IOTimeout time.Duration

	// HeartbeatTimeout is how long a follower goes without hearing from
	// its leader before it calls an election; ElectionTimeout is how long
	// a candidate waits for votes. LeaderLeaseTimeout is how long a leader
	// goes without hearing from a quorum before it steps down; it must not
	// exceed HeartbeatTimeout. CommitTimeout is how soon followers learn
	// that an entry is committed when no other traffic carries it.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// SnapshotThreshold is how many log entries beyond the last snapshot
	// make the next check (every SnapshotInterval, jittered) take one, and
	// TrailingLogs how many entries a snapshot leaves in the log, so that
	// a follower a little behind needs no snapshot to catch up.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotsRetained is how many snapshots Dir keeps.
	SnapshotsRetained int

	// Faults are deliberate bugs for the checker's tests (fault.go); the
	// zero value is none.
	Faults Faults
}

// DefaultConfig returns timings for servers on one LAN or one machine.
// Raft's own defaults (1 s heartbeats) suit a WAN; here a quorum answers in
// milliseconds, and a harness wants a lost leader replaced in well under a
// second. Callers set ID, Addr, Dir and Dial.
func DefaultConfig() Config {
	return Config{
		// Long enough for an election and a retry or two.
		Timeout:   2 * time.Second,
		IOTimeout: 5 * time.Second,
		// A leader is declared lost after 300-600 ms of silence.
		HeartbeatTimeout: 300 * time.Millisecond,
		ElectionTimeout:  300 * time.Millisecond,
		// Half the heartbeat timeout, so that a cut-off leader steps down
		// before the majority's new leader can take a write.
		LeaderLeaseTimeout: 150 * time.Millisecond,
		// Followers apply within about 10 ms of the leader.
		CommitTimeout: 10 * time.Millisecond,
		// The log stays below about 5000 entries; a snapshot of the whole
		// store is cheap next to replaying that many.
		SnapshotThreshold: 4096,
		SnapshotInterval:  10 * time.Second,
		TrailingLogs:      1024,
		SnapshotsRetained: 2,
	}
}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("raftkv: config: Addr is empty")
	case c.Dir == "":
		return errors.New("raftkv: config: Dir is empty")
	case c.Dial == nil:
		return errors.New("raftkv: config: Dial is nil")
	case c.Timeout <= 0:
		return errors.New("raftkv: config: Timeout must be positive")
	case c.IOTimeout <= 0:
		return errors.New("raftkv: config: IOTimeout must be positive")
	case c.SnapshotsRetained < 1:
		return errors.New("raftkv: config: SnapshotsRetained must be at least 1")
	}
	return raft.ValidateConfig(c.raftConfig(nil))
}

func (c Config) raftConfig(logger *hclogger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = serverID(c.ID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	// A removed server stays up (it stops voting and campaigning): the
	// caller decides when a process ends.
	rc.ShutdownOnRemove = false
	if logger != nil {
		rc.Logger = logger
	}
	return rc
}

func serverID(id uint32) raft.ServerID { return raft.ServerID(strconv.FormatUint(uint64(id), 10)) }

func parseServerID(s raft.ServerID) (uint32, bool) {
	id, err := strconv.ParseUint(string(s), 10, 32)
	return uint32(id), err == nil
}

// Node is one server's member of the Raft group: a raft.Raft over a bbolt
// log, a snapshot directory, the register FSM and the stream layer. Every
// operation goes through the leader; a follower forwards it.
type Node struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm
	layer *layer
	trans *raft.NetworkTransport
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	logs  raft.LogStore

	// readyTerm is the term in which this node, as leader, has committed
	// an entry of its own; until then its commit index may lag entries
	// that earlier leaders committed, and reads wait for one.
	readyTerm atomic.Uint64

	fault faultState // FAULT (tests only): see fault.go

	// ctx ends at Shutdown, ending every operation in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards stopped; wg counts operations and forwarded requests in
	// flight, which Shutdown waits for.
	mu       sync.Mutex
	stopped  bool
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// New opens (or creates) the node's state in cfg.Dir and starts Raft. A
// node with no state waits, as a follower that never campaigns, until
// Bootstrap or a leader's AddVoter makes it a member.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("raft_id", cfg.ID)
	hc := newHclog(log.With("component", "raft"))
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftkv: %w", err)
	}
	// bbolt waits forever for a file lock another handle holds; a second
	// node on the same directory fails instead.
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("raftkv: open %s: %w", filepath.Join(cfg.Dir, "raft.db"), err)
	}
	fail := func(err error) (*Node, error) {
		store.Close()
		return nil, err
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fail(fmt.Errorf("raftkv: %w", err))
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotsRetained, hc.Named("snapshots"))
	if err != nil {
		return fail(fmt.Errorf("raftkv: %w", err))
	}

	n := &Node{cfg: cfg, log: log, fsm: newFSM(), store: store, logs: logs}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.layer = newLayer(cfg.Addr, cfg.Label, cfg.Dial, log)
	n.layer.forward = n.serveForward
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  n.layer,
		MaxPool: 3,
		Timeout: cfg.IOTimeout,
		Logger:  hc.Named("transport"),
	})
	r, err := raft.NewRaft(cfg.raftConfig(hc), n.fsm, logs, store, snaps, n.trans)
	if err != nil {
		n.trans.Close()
		n.layer.shutdown()
		return fail(fmt.Errorf("raftkv: %w", err))
	}
	n.raft = r
	n.watchLeader() // FAULT hook: no-op unless StaleLeaderReads
	log.Info("raft node started", "addr", cfg.Addr, "dir", cfg.Dir, "last_index", r.LastIndex())
	return n, nil
}

// Handle takes an incoming stream that the caller's transport routed to
// this node (the peer dialed it with its DialFunc). It returns once the
// stream is handed to raft, or, for a forwarded operation, once that is
// answered; the stream is the node's from then on.
func (n *Node) Handle(conn net.Conn) { n.layer.handle(conn) }

// Cut closes every stream to and from the node at addr and refuses new
// ones until Heal. The caller cuts its own transport too; this ends the
// streams raft keeps open in its pool, which a transport's cut does not.
func (n *Node) Cut(addr string) { n.layer.cutPeer(addr) }

// Heal lets streams to and from addr be opened again.
func (n *Node) Heal(addr string) { n.layer.healPeer(addr) }

// HasState reports whether the node has Raft state: a log entry, a
// snapshot or a term (the test BootstrapCluster makes). A node that a
// group's candidate asked for its vote has a term without being a member.
func (n *Node) HasState() bool {
	return n.raft.LastIndex() > 0 || n.raft.CurrentTerm() > 0
}

// Bootstrap makes this node's Raft group the given voters, if it has no
// state yet (else ErrBootstrapped). Bootstrapping every member with the
// same list is safe; bootstrapping two different lists makes two groups.
func (n *Node) Bootstrap(voters []Peer) error {
	var c raft.Configuration
	for _, p := range voters {
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: serverID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	err := n.raft.BootstrapCluster(c).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return ErrBootstrapped
	}
	if err != nil {
		return fmt.Errorf("raftkv: bootstrap: %w", err)
	}
	return nil
}

// AddVoter makes p a voting member, through the leader. Adding a member
// that is one already, at the same address, changes nothing.
func (n *Node) AddVoter(ctx context.Context, p Peer) error {
	_, err := n.do(ctx, request{Op: opAddVoter, PeerID: p.ID, PeerAddr: p.Addr})
	return err
}

// RemoveServer takes server id out of the group, through the leader.
func (n *Node) RemoveServer(ctx context.Context, id uint32) error {
	_, err := n.do(ctx, request{Op: opRemoveServer, PeerID: id})
	return err
}

// Put sets key to value and returns the write's version.
func (n *Node) Put(ctx context.Context, key, value []byte) (model.Version, error) {
	resp, err := n.do(ctx, request{Op: opPut, Key: key, Value: value})
	return resp.Version, err
}

// Delete deletes key (a tombstone, with a version of its own, whether or
// not the key held a value) and returns the delete's version.
func (n *Node) Delete(ctx context.Context, key []byte) (model.Version, error) {
	resp, err := n.do(ctx, request{Op: opDelete, Key: key})
	return resp.Version, err
}

// CAS sets key to value if it holds old, and returns the write's version.
// If it does not (a missing or deleted key never does, whatever old is),
// CAS returns ErrCASFailed and the version of what the key held: the cas
// read it.
func (n *Node) CAS(ctx context.Context, key, old, value []byte) (model.Version, error) {
	resp, err := n.do(ctx, request{Op: opCAS, Key: key, Old: old, Value: value})
	if err == nil && resp.Status == statusMismatch {
		err = ErrCASFailed
	}
	return resp.Version, err
}

// PutIfAbsent sets key to value if the key holds no value (it was never
// written, or its last write was a delete), and returns the write's
// version. The check and the write are one command in the log, so of any
// number of calls on one key, anywhere in the group, one writes until the
// key is deleted again. If the key holds a value, PutIfAbsent returns
// ErrCASFailed and that value's version.
func (n *Node) PutIfAbsent(ctx context.Context, key, value []byte) (model.Version, error) {
	resp, err := n.do(ctx, request{Op: opCAS, Key: key, Absent: true, Value: value})
	if err == nil && resp.Status == statusMismatch {
		err = ErrCASFailed
	}
	return resp.Version, err
}

// Keys lists, linearizably as Get reads, up to limit keys that hold a
// value, in byte order from the key from on (from itself included; nil:
// from the first), and whether more follow. A page may hold fewer than
// limit keys when they are long (see maxListBytes), and says more follow.
func (n *Node) Keys(ctx context.Context, from []byte, limit int) (keys [][]byte, more bool, err error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("raftkv: keys: limit %d must be at least 1", limit)
	}
	resp, err := n.do(ctx, request{Op: opKeys, Key: from, Limit: limit})
	return resp.Keys, resp.More, err
}

// Read is what Get returns.
type Read struct {
	// Value is the key's value, when Found.
	Value []byte
	// Found is false for a key never written or deleted.
	Found bool
	// Version is the write read: the put, cas or delete that the key's
	// state comes from; zero for a key never written.
	Version model.Version
}

// Get reads key linearizably: at the leader, after it has confirmed with a
// quorum that it still leads and applied everything committed when the
// read began. It never reads a follower's local state.
func (n *Node) Get(ctx context.Context, key []byte) (Read, error) {
	resp, err := n.do(ctx, request{Op: opGet, Key: key})
	if err != nil {
		return Read{}, err
	}
	return Read{Value: resp.Value, Found: resp.Found, Version: resp.Version}, nil
}

// KeyRegister is one key of Applied.
type KeyRegister struct {
	Key []byte
	Register
}

// Applied returns what this node's FSM has applied, sorted by key,
// tombstones included, and the index it reflects. Unlike Get it reads the
// local state, without the leader: a follower's may lag the group's, and
// one cut off from a quorum stays as it was.
func (n *Node) Applied() (index uint64, regs []KeyRegister) {
	return n.fsm.applied()
}

// Status is a node's view of the group.
type Status struct {
	ID uint32
	// State is raft's: Follower, Candidate, Leader or Shutdown.
	State string
	// Leader is the leader this node knows of; zero Addr if none.
	Leader Peer
	Term   uint64
	// LastIndex is the last index in the log (or of the last snapshot),
	// CommitIndex the last known committed, AppliedIndex the last the FSM
	// applied, SnapshotIndex that of the last snapshot taken or received.
	LastIndex     uint64
	CommitIndex   uint64
	AppliedIndex  uint64
	SnapshotIndex uint64
	// RaftApplied is the last index up to which everything is applied on
	// this node: the FSM's applied index, carried over the entries after
	// it that never reach the FSM (raft's no-op, a new leader's first).
	// raft's own applied index is not it: raft moves it when it hands a
	// batch to the FSM's goroutine, before the FSM has applied it.
	RaftApplied uint64
	// Voters is the latest configuration's voting members.
	Voters []Peer
	// Keys counts the keys this node has applied a write of, tombstones
	// included, Live those that hold a value: this node's state, as
	// Status is, not a linearizable read.
	Keys, Live int
}

// Status reports the node's state.
func (n *Node) Status() Status {
	s := Status{
		ID:           n.cfg.ID,
		State:        n.raft.State().String(),
		Term:         n.raft.CurrentTerm(),
		LastIndex:    n.raft.LastIndex(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.fsm.appliedIndex(),
	}
	s.RaftApplied = n.appliedThrough(s.AppliedIndex, n.raft.AppliedIndex())
	s.Keys, s.Live = n.fsm.counts()
	if addr, id := n.raft.LeaderWithID(); addr != "" {
		s.Leader.Addr = string(addr)
		s.Leader.ID, _ = parseServerID(id)
	}
	s.SnapshotIndex, _ = strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			if srv.Suffrage != raft.Voter {
				continue
			}
			id, _ := parseServerID(srv.ID)
			s.Voters = append(s.Voters, Peer{ID: id, Addr: string(srv.Address)})
		}
	}
	return s
}

// appliedThrough carries the FSM's applied index over the entries up to
// raft's applied index that the FSM never sees (no-ops, barriers). It
// stops at the first command or configuration entry, which the FSM has not
// applied yet, and at an entry the log no longer holds.
func (n *Node) appliedThrough(fsmIndex, raftIndex uint64) uint64 {
	at := fsmIndex
	for i := fsmIndex + 1; i <= raftIndex; i++ {
		var l raft.Log
		if n.logs.GetLog(i, &l) != nil || l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			break
		}
		at = i
	}
	return at
}

// Shutdown stops the node: operations in flight end (with ErrStopped or,
// for a write whose fate is unknown, ErrUnavailable), raft stops, every
// stream closes and the log store is closed. It is idempotent.
func (n *Node) Shutdown() error {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.stopped = true
		n.mu.Unlock()
		n.cancel()
		err := n.raft.Shutdown().Error()
		if e := n.trans.Close(); err == nil {
			err = e
		}
		n.layer.shutdown()
		n.wg.Wait()
		if e := n.store.Close(); err == nil {
			err = e
		}
		n.stopErr = err
		n.log.Info("raft node stopped")
	})
	return n.stopErr
}

// enter counts an operation in, unless the node is stopped.
func (n *Node) enter() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return false
	}
	n.wg.Add(1)
	return true
}

// Retries wait between minBackoff and maxBackoff: long enough not to spin
// while an election runs, short next to an election.
const (
	minBackoff = 2 * time.Millisecond
	maxBackoff = 50 * time.Millisecond
)

// do runs req at the leader, wherever that is, until it succeeds, fails
// for good, or the timeout passes.
func (n *Node) do(ctx context.Context, req request) (response, error) {
	if !n.enter() {
		return response{}, ErrStopped
	}
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	defer context.AfterFunc(n.ctx, cancel)()
	req.Origin = n.cfg.ID

	backoff := minBackoff
	for {
		resp, err := n.attempt(ctx, req)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, errNotLeader) || ctx.Err() != nil {
			return response{}, n.final(ctx, err)
		}
		n.log.Debug("raft operation retried", "op", req.Op, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return response{}, n.final(ctx, err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// final turns the last failure of an operation into what its caller gets.
func (n *Node) final(ctx context.Context, err error) error {
	switch {
	case n.ctx.Err() != nil || errors.Is(err, raft.ErrRaftShutdown):
		return ErrStopped
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, errNotLeader) || ctx.Err() != nil:
		return fmt.Errorf("%w (last: %v)", ErrUnavailable, err)
	}
	return err
}

// attempt runs req once: here if this node leads, else at the leader it
// knows of.
func (n *Node) attempt(ctx context.Context, req request) (response, error) {
	if req.Op == opGet {
		if resp, ok := n.faultRead(req.Key); ok { // FAULT (tests only): local read, no read index
			return resp, nil
		}
	}
	if n.raft.State() == raft.Leader {
		return n.local(ctx, req)
	}
	addr, id := n.raft.LeaderWithID()
	if id == serverID(n.cfg.ID) {
		return response{}, fmt.Errorf("%w: stepping down or up", errNotLeader)
	}
	err := fmt.Errorf("%w: no leader known", errNotLeader)
	if addr != "" {
		var resp response
		if resp, err = n.forward(ctx, string(addr), req); !errors.Is(err, errUnreachable) {
			return resp, err
		}
	}
	// The leader cannot be dialed, or is not known here (a follower cut
	// off from it hears no heartbeat): nothing was sent. Relay through a
	// voter that may reach it.
	relay := req
	relay.Relay = true
	for _, p := range n.Status().Voters {
		if p.Addr == string(addr) || p.ID == n.cfg.ID {
			continue
		}
		resp, rerr := n.forward(ctx, p.Addr, relay)
		if !errors.Is(rerr, errNotLeader) {
			return resp, rerr // answered, or the write's fate is unknown
		}
	}
	return response{}, err
}

// local runs req on this node's raft, never forwarding it: it fails with
// errNotLeader if this node does not lead.
func (n *Node) local(ctx context.Context, req request) (response, error) {
	switch req.Op {
	case opGet, opKeys:
		return n.readLocal(ctx, req)
	case opAddVoter:
		f := n.raft.AddVoter(serverID(req.PeerID), raft.ServerAddress(req.PeerAddr), 0, remaining(ctx))
		return response{Status: statusOK}, writeError(n.await(ctx, f))
	case opRemoveServer:
		f := n.raft.RemoveServer(serverID(req.PeerID), 0, remaining(ctx))
		return response{Status: statusOK}, writeError(n.await(ctx, f))
	case opPut, opDelete, opCAS:
	default:
		return response{}, fmt.Errorf("raftkv: unknown operation %v", req.Op)
	}
	cmd, err := encodeCommand(command{Op: req.Op, Key: req.Key, Value: req.Value, Old: req.Old, Absent: req.Absent, Origin: req.Origin})
	if err != nil {
		return response{}, err
	}
	f := n.raft.Apply(cmd, remaining(ctx))
	if resp, ok := n.ackOnPropose(req); ok { // FAULT (tests only): answered before its commit
		return resp, nil
	}
	if err := writeError(n.await(ctx, f)); err != nil {
		return response{}, err
	}
	res, ok := f.Response().(applied)
	switch {
	case !ok:
		return response{}, fmt.Errorf("raftkv: unexpected apply result %T", f.Response())
	case res.Err != nil:
		return response{}, res.Err
	case res.Mismatch:
		return response{Status: statusMismatch, Version: res.Version}, nil
	}
	return response{Status: statusOK, Version: res.Version}, nil
}

// writeError classifies the failure of a log entry this node proposed.
// Only raft's refusals before the entry was appended leave it surely
// undone; anything later (leadership lost, the timeout) leaves its fate
// unknown, and it must not be proposed again.
func writeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", errNotLeader, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// readLocal is the leader's linearizable read, a get or a listing of
// keys: past the read index, it reads the FSM.
func (n *Node) readLocal(ctx context.Context, req request) (response, error) {
	if req.Op == opGet {
		if resp, ok := n.faultRead(req.Key); ok { // FAULT (tests only): no leadership check
			return resp, nil
		}
	}
	if err := n.readIndex(ctx); err != nil {
		return response{}, err
	}
	if req.Op == opKeys {
		keys, more := n.fsm.keys(req.Key, req.Limit)
		return response{Status: statusOK, Keys: keys, More: more}, nil
	}
	return n.appliedRead(req.Key), nil
}

// readIndex is Raft's read index, which makes a read at the leader
// linearizable: note the commit index, confirm with a quorum that this
// node still leads, and wait until the FSM has applied that index. The
// commit index covers every write acknowledged before the read began only
// once the leader has committed an entry of its own term, so the first
// read of a term commits a no-op first.
func (n *Node) readIndex(ctx context.Context) error {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		cmd, err := encodeCommand(command{Op: opNoop, Origin: n.cfg.ID})
		if err != nil {
			return err
		}
		if err := n.await(ctx, n.raft.Apply(cmd, remaining(ctx))); err != nil {
			return readError(ctx, err)
		}
		if n.raft.CurrentTerm() == term {
			n.readyTerm.Store(term)
		}
	}
	index := n.raft.CommitIndex()
	if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
		return readError(ctx, err)
	}
	return n.fsm.waitApplied(ctx, index)
}

// readError classifies a failed step of a read: a read changes nothing,
// so any failure but the end of its time can be tried again.
func readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %v", errNotLeader, err)
}

// await waits for a raft future, or for ctx to end. A future abandoned
// this way still resolves (raft answers every future by the time its
// leader steps down or stops), and its goroutine then ends.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// remaining is the time left to ctx's deadline (every operation has one).
func remaining(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(time.Until(d), time.Millisecond)
}
