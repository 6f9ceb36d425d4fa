package server

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/api"
	"gossipkv/pkg/metrics"
	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport"
	"gossipkv/pkg/wire"
)

// ErrStopped is returned by calls on a server that has shut down.
var ErrStopped = errors.New("server: stopped")

// GCPercent is the server process's GOGC unless the environment sets one. A
// server's live heap is small (its store, a log's worth of writes and
// buffers: about 10 MB in the spec benchmark) and every put allocates its
// value a few times over (decoded, logged, sent), so at Go's default of
// 100 the collector runs dozens of times a second; at 400 a fifth as often,
// for a heap that peaks a few times higher. Measured with bin/bench
// single: CPU per put 7% lower.
const GCPercent = 400

// UseGCPercent sets this process's GOGC to GCPercent, unless the
// environment sets one: for the server, and for what stands in for it in a
// benchmark.
func UseGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}

// Timing holds the server's intervals.
type Timing struct {
	Gossip, Probe, ProbeTimeout, PushPull time.Duration
	SuspicionMult                         int
	// Flush is the least time between two sends to one peer.
	Flush time.Duration
	// CommitDelay is how long a commit of other servers' writes only may
	// wait to gather more (0: Flush).
	CommitDelay time.Duration
	// Checkpoint is how often the log is folded into the store (0: every
	// second).
	Checkpoint time.Duration
	// Resend: see model.NodeConfig.Resend.
	Resend time.Duration
	// Heartbeat: see model.NodeConfig.Heartbeat.
	Heartbeat time.Duration
	// Rejoin is how often servers missing from the membership are joined
	// again (memberlist never re-merges groups that declared each other
	// dead).
	Rejoin time.Duration
}

// Options build a Server.
type Options struct {
	ID uint32
	// Cluster is the cluster's name, and Run the master run the server
	// belongs to ("" when started by hand). The control plane refuses
	// callers of another cluster or run, and servers gossip and replicate
	// only with servers of the same cluster and run.
	Cluster, Run string
	// Peers is the gossip address of every server, this one included.
	Peers  map[uint32]string
	Timing Timing
	// MaxKeyBytes and MaxValueBytes bound a put.
	MaxKeyBytes, MaxValueBytes int
	// MaxDeltaBytes bounds one repair message (default 4 MiB).
	MaxDeltaBytes int
	// CheckpointBytes: the log is also folded into the store whenever it
	// holds this many bytes of entries (0: 1 MiB).
	CheckpointBytes int
	Backend         storage.Backend
	// SecretKey, when set (16, 24 or 32 bytes), encrypts and
	// authenticates all server-to-server traffic: memberlist's gossip and
	// the data streams. Servers without it cannot join.
	SecretKey []byte
	// Reopen opens the backend again after a failed commit (a full disk):
	// the server then goes back to its last committed state and keeps
	// serving, failing only the puts of that commit. Nil: a failed commit
	// stops the server.
	Reopen func() (storage.Backend, error)
	// Syncs, when set, is the counter of the store's fsyncs (given to
	// storage.BoltOptions.Syncs of every store Backend and Reopen open),
	// which Stats reports.
	Syncs *atomic.Uint64
	// Transport carries gossip; nil means a memberlist NetTransport bound
	// to Peers[ID]. Tests pass a memberlist.MockNetwork transport.
	Transport memberlist.NodeAwareTransport
	Logger    *slog.Logger
	// Now returns the physical time in nanoseconds (default time.Now).
	// The hybrid logical clock reads it, shifted by the skew SkewClock
	// sets; the protocol's timers read it as it is (see Clock).
	Now func() int64
	// MaxClockOffset is how far ahead of this server's physical clock a
	// write from another server may be: further, and it is refused until
	// the clock catches up (see model.Ahead). 0: refuse nothing.
	MaxClockOffset time.Duration
	// Fault is a deliberate bug for checker tests (fault.go); NoFault
	// always, outside them.
	Fault Fault
	// Raft, when set, makes the server linearizable: puts, deletes, cas
	// and gets go through a Raft group of the servers (package raftkv)
	// whose state lives in Raft.Dir, and the gossip store stays empty.
	// The server sets ID, Addr, Dial, Label and Logger. Nil: eventual
	// mode, with no Raft node at all.
	Raft *raftkv.Config
	// RaftBootstrap: with Raft, and no Raft state in Raft.Dir, the server
	// starts the cluster's group of itself alone before it answers (see
	// api.StartArgs.RaftBootstrap). Without it a server never starts a
	// group: it waits for a leader to add it.
	RaftBootstrap bool
	// RaftGroup names the cluster's Raft group (see api.StartArgs):
	// state in Raft.Dir of another group is dropped before the node
	// starts. Empty: the state is taken as it is.
	RaftGroup string
}

// Server is one replica: it owns the protocol state in one goroutine (run),
// makes its puts durable with log appends before it answers them, and has
// the rest of what changed logged by the committer (see the package doc).
type Server struct {
	opts  Options
	log   *slog.Logger
	node  *model.Node
	cut   *transport.Cuttable
	data  *streams
	ml    *memberlist.Memberlist
	out   *outbox
	del   *delegate
	reqs  chan request
	fails *queue[uint32]
	// retry asks the owner to give suspected peers another chance.
	retry chan struct{}
	// joinNow asks the joiner goroutine for an immediate round.
	joinNow chan struct{}
	// announce asks the announcer to re-publish our links (UpdateNode may
	// not run concurrently with itself, and only the newest links matter).
	announce chan struct{}
	// raft is the Raft node in linearizable mode (nil in eventual mode);
	// raftPoke wakes its membership loop, and joinedOnce is closed once
	// the joiner has tried every missing server once (see raftMembers).
	raft       *raftkv.Node
	raftPoke   chan struct{}
	joinedOnce chan struct{}
	stop       chan struct{}
	done       sync.WaitGroup
	once       sync.Once

	// Owned by run:
	fault faultState // FAULT (tests only): see fault.go
	// broken is set by a failed commit: the replica then holds writes the
	// disk does not, so nothing may be answered or sent any more.
	broken error
	alive  map[uint32]bool
	// heard is when each peer last sent us anything directly: proof of a
	// live link, whatever memberlist's failure detector says.
	heard   map[uint32]time.Time
	suspect map[uint32]bool
	cuts    map[uint32]bool
	// own lists this loop's new local writes, for the write-ahead log;
	// ownLogged the dots logged so since the last commit, which that
	// commit need not log again.
	own       []model.Entry
	ownLogged map[model.Dot]bool
	// loggedStable and loggedMembers are the stable point's version and
	// the number of members that the last log append carried: a commit
	// carries them again only when they changed.
	loggedStable  model.Version
	loggedMembers int
	// checkpointing says a checkpoint is running, lastCheckpoint when the
	// last one started, and logged how many bytes of entries were logged
	// since; toCheckpoint and checkpointed carry them to the checkpointer
	// goroutine and back.
	checkpointing  bool
	lastCheckpoint time.Time
	logged         int
	toCheckpoint   chan storage.Backend
	checkpointed   chan checkpointDone
	// inflight is the commit the committer goroutine is writing, if any:
	// one at a time, while the owner goes on logging and answering puts.
	inflight *commitJob
	// toCommit and committed carry commits to the committer and back.
	toCommit, committed chan *commitJob

	puts, deletes, gets, commits, checkpoints atomic.Uint64
	// skew shifts the physical clock the hybrid logical clock reads, in
	// nanoseconds (SkewClock: the harness's clock-skew fault).
	skew atomic.Int64
	// refusedLog is when a refusal of each peer's writes was last logged
	// (owned by run); refused counts the writes refused.
	refusedLog map[uint32]time.Time
	refused    atomic.Uint64
	// latency times Put, Delete and Get from the call to the answer: the
	// one place every way in (net/rpc and each front) goes through.
	latency struct{ put, delete, get metrics.Histogram }

	// mu guards missing, the peers the joiner should try (written by run).
	mu      sync.Mutex
	missing []uint32

	// metaMu guards what the node metadata says: our links (written by
	// run).
	metaMu  sync.Mutex
	metaOwn model.LinkState
	// announced is the version of our links last put in the metadata
	// (owned by run).
	announced int64
}

// request is a call handed to the owner goroutine; reply is answered after
// the loop's commit.
type request struct {
	kind  reqKind
	key   []byte
	value []byte
	old   []byte // reqCAS
	dep   model.Version
	peer  uint32
	limit int // reqKeys: most keys to list
	// found (reqAddHeld): the key held a value, rather than the server
	// being behind dep.
	found bool
	reply chan response
}

type reqKind int

const (
	reqPut reqKind = iota
	reqDelete
	reqGet
	reqStatus
	reqKeys
	reqDump
	reqCut
	reqHeal
	reqLag
	// reqAdd is a put only if the key holds no value; handle turns it
	// into a reqPut, or into reqAddHeld when the key holds a value or the
	// server is behind dep (answered after the commit, like a get).
	reqAdd
	reqAddHeld
	// reqCAS is a cas: linearizable mode only, never handed to the owner.
	reqCAS
)

type response struct {
	put    api.PutReply
	get    api.GetReply
	status api.StatusReply
	dump   api.DumpReply
	keys   [][]byte
	more   bool
	lag    api.LagReply
	// held: a PutIfAbsent found a value (put.Status OK, put.Version its
	// version) or the server behind (put.Status ErrDep), and wrote
	// nothing.
	held bool
	err  error
}

// New recovers the replica from its backend, joins the cluster and starts
// serving. The caller owns Backend until New returns an error; after that
// Shutdown closes it.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	if opts.MaxDeltaBytes == 0 {
		opts.MaxDeltaBytes = 4 << 20
	}
	if _, ok := opts.Peers[opts.ID]; !ok {
		return nil, fmt.Errorf("server: id %d has no gossip address", opts.ID)
	}
	s := &Server{
		opts:       opts,
		log:        opts.Logger,
		reqs:       make(chan request, 1024),
		fails:      newQueue[uint32](),
		retry:      make(chan struct{}, 1),
		joinNow:    make(chan struct{}, 1),
		announce:   make(chan struct{}, 1),
		raftPoke:   make(chan struct{}, 1),
		joinedOnce: make(chan struct{}),
		stop:       make(chan struct{}),
		fault:      faultState{kind: opts.Fault},
		alive:      map[uint32]bool{},
		heard:      map[uint32]time.Time{},
		suspect:    map[uint32]bool{},
		cuts:       map[uint32]bool{},
		ownLogged:  map[model.Dot]bool{},
		refusedLog: map[uint32]time.Time{},
		// Buffered: the owner hands over a job only when none is in
		// flight, and the committer must not block on the way back.
		toCommit:     make(chan *commitJob, 1),
		committed:    make(chan *commitJob, 1),
		toCheckpoint: make(chan storage.Backend, 1),
		checkpointed: make(chan checkpointDone, 1),
	}
	r, err := s.recover(opts.Backend)
	if err != nil {
		return nil, fmt.Errorf("server %d: %w", opts.ID, err)
	}
	s.node = model.NewNode(model.NodeConfig{
		ID:            opts.ID,
		Resend:        int64(opts.Timing.Resend),
		Heartbeat:     int64(opts.Timing.Heartbeat),
		MaxDeltaBytes: opts.MaxDeltaBytes,
		Start:         opts.Now(),
		Members:       slices.Sorted(maps.Keys(opts.Peers)),
	}, r)

	if err := s.startMemberlist(); err != nil {
		return nil, err
	}
	if opts.Raft != nil {
		if err := s.startRaft(); err != nil {
			s.ml.Shutdown()
			s.data.close()
			return nil, err
		}
	}
	ids := slices.Sorted(maps.Keys(opts.Peers))
	s.out = newOutbox(opts.ID, ids, opts.Timing.Flush, s.sendTo, func(to uint32, err error) {
		s.log.Debug("send failed", "to", to, "err", err)
		s.fails.push(to)
	})
	s.publishMissing()
	s.done.Add(5)
	go s.run()
	go s.committer()
	go s.checkpointer()
	go s.joiner()
	go s.announcer()
	if s.raft != nil {
		s.done.Add(1)
		go s.raftMembers()
	}
	return s, nil
}

func (s *Server) startMemberlist() error {
	o := s.opts
	host, portStr, err := net.SplitHostPort(o.Peers[o.ID])
	if err != nil {
		return fmt.Errorf("server: gossip address %q: %w", o.Peers[o.ID], err)
	}
	port, _ := strconv.Atoi(portStr)
	mlLog := log.New(memberlistLog{s.log.With("component", "memberlist")}, "", 0)
	inner := o.Transport
	if inner == nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{host}, BindPort: port, Logger: mlLog,
		})
		if err != nil {
			return fmt.Errorf("server: gossip transport on %s: %w", o.Peers[o.ID], err)
		}
		inner = nt
	}
	s.cut = transport.New(inner, transport.Peers(o.Peers))
	s.del = &delegate{self: o.ID, known: o.Peers, inbox: newQueue[inbound](), events: newQueue[memberEvent](), log: s.log,
		members: map[uint32]bool{}}
	if o.Raft != nil {
		s.del.poke = s.pokeRaft
	}
	s.publishMeta(model.LinkState{})
	label := gossipLabel(o.Cluster, o.Run)
	if len(label) > maxLabel {
		return fmt.Errorf("server: cluster name and run id make a label of %d bytes (at most %d)", len(label), maxLabel)
	}
	s.data = newStreams(o.Peers, label, dataTimeout, s.log)
	if len(o.SecretKey) > 0 {
		block, err := aes.NewCipher(o.SecretKey)
		if err != nil {
			return fmt.Errorf("server: secret key: %w", err)
		}
		if s.data.aead, err = cipher.NewGCM(block); err != nil {
			return fmt.Errorf("server: secret key: %w", err)
		}
	}
	s.data.deliver, s.data.isCut = s.del.NotifyMsg, s.cut.IsCut
	s.data.demux = transport.NewDemux(s.cut, s.data.serve)

	mc := memberlist.DefaultLocalConfig()
	mc.Name = transport.Names(o.ID)
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = host, port
	mc.Transport = s.data.demux
	mc.Delegate = s.del
	mc.Events = s.del
	mc.Logger = mlLog
	mc.EnableCompression = false // compression costs a third of SendReliable's rate
	mc.SecretKey = o.SecretKey
	// memberlist prefixes every packet and stream with the label (and
	// authenticates it with the key, if any) and drops those of another:
	// servers of two clusters or runs never merge.
	mc.Label = label
	if t := o.Timing; t.Probe > 0 {
		mc.GossipInterval, mc.ProbeInterval, mc.ProbeTimeout = t.Gossip, t.Probe, t.ProbeTimeout
		mc.PushPullInterval, mc.SuspicionMult = t.PushPull, t.SuspicionMult
	}
	// A restarted server comes back under the same name and address; let
	// the others take it back at once instead of after the default 10 s.
	mc.DeadNodeReclaimTime = time.Millisecond
	ml, err := memberlist.Create(mc)
	if err != nil {
		s.data.demux.Shutdown()
		return fmt.Errorf("server: memberlist: %w", err)
	}
	s.ml = ml
	return nil
}

// gossipLabel is the label of a cluster's run on gossip and data streams:
// at most 9+64+1+64 bytes (config.ValidName), within memberlist's 255.
func gossipLabel(cluster, run string) string {
	return "gossipkv/" + cluster + "/" + run
}

// dataTimeout bounds a data stream's dial and each write: a peer that
// stops reading (SIGSTOP) fails its sends after this, and is routed around.
const dataTimeout = 2 * time.Second

// sendTo is the outbox's way out: one frame on the peer's data stream.
func (s *Server) sendTo(to uint32, buf []byte) error { return s.data.send(to, buf) }

func (s *Server) publishMeta(own model.LinkState) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	s.metaOwn = own
	s.storeMetaLocked()
}

func (s *Server) storeMetaLocked() {
	b, err := wire.EncodeMeta(wire.Meta{Version: s.metaOwn.Version, Links: s.metaOwn.Links})
	if err != nil {
		s.log.Error("encode meta", "err", err)
		return
	}
	s.del.meta.Store(&b)
}

// run is the owner goroutine: every change to the replica happens here.
func (s *Server) run() {
	defer s.done.Done()
	// The protocol's timers (see sleepFor) wake the loop on tick when
	// nothing else does.
	tick := time.NewTimer(s.tickEvery())
	defer tick.Stop()
	var pending []request
	// A commit that holds only writes from other servers (and acks) may
	// wait up to CommitDelay, gathering more into the same
	// transaction: nobody waits on it but the acks and forwards it holds
	// back. Local puts do not wait for commits at all (logOwn).
	commitTimer := time.NewTimer(time.Hour)
	commitTimer.Stop()
	var deferred, due bool
	var lastTick int64
	for {
		select {
		case <-s.stop:
			s.failAll(pending)
			if s.inflight != nil {
				s.failAll(s.inflight.waiting)
			}
			return
		case <-commitTimer.C:
			due = true
		case job := <-s.committed:
			s.finishCommit(job)
		case res := <-s.checkpointed:
			s.checkpointing = false
			if res.err == nil {
				s.checkpoints.Add(1)
			}
			// A failure on a backend reloaded since has been dealt with.
			if res.err != nil && res.backend == s.opts.Backend && s.broken == nil {
				s.storeFailed("checkpoint", res.err, nil)
			}
		case r := <-s.reqs:
			pending = s.handle(r, pending)
		case <-s.del.inbox.signal:
		case <-s.del.events.signal:
		case <-s.fails.signal:
		case <-s.retry:
			if len(s.suspect) > 0 {
				clear(s.suspect)
				s.neighborsChanged()
			}
		case <-tick.C:
		}
		// Take everything else that is waiting, so that one commit serves
		// all of it.
		for more := true; more && len(pending) < 4096; {
			select {
			case r := <-s.reqs:
				pending = s.handle(r, pending)
			default:
				more = false
			}
		}
		now := s.opts.Now()
		for _, ev := range s.del.events.drain() {
			s.member(ev)
		}
		for _, id := range s.fails.drain() {
			if !s.suspect[id] {
				s.log.Info("peer unreachable; routing around it", "peer", id)
				s.suspect[id] = true
				s.neighborsChanged()
			}
		}
		for _, in := range s.del.inbox.drain() {
			if s.cuts[in.from] {
				continue // sent before the cut took effect
			}
			s.heard[in.from] = time.Now()
			if s.suspect[in.from] || !s.alive[in.from] {
				delete(s.suspect, in.from)
				s.neighborsChanged()
			}
			for _, m := range in.msgs {
				m = s.refuseAhead(in.from, m)
				s.node.Step(in.from, s.fault.filter(s.node.R, m), now) // FAULT hook: no-op unless no-causality
			}
			if n := s.node.R.TakeRecovered(); n > 0 {
				s.log.Warn(fmt.Sprintf("took back %d writes of this server's own from server %d: its disk had lost them (a data directory rolled back, damaged or wiped); the writes it numbers now carry a new replica id, so none reuses a lost one's dot", n, in.from))
			}
			if s.node.OwnLinks().Version != s.announced {
				s.announceLinks()
			}
		}
		// The protocol's timers (heartbeats, repair watches) need checking
		// every tick, not after every message: at thousands of messages a
		// second that was a tenth of the owner's work.
		settled := false // unless a tick now looks: what woke the loop may have changed it
		if now-lastTick >= int64(s.tickEvery()) {
			lastTick = now
			s.expireHeard()
			s.node.Tick(now)
			settled = s.node.Settled()
		}
		tick.Reset(s.sleepFor(now, lastTick, settled))
		if p, outdated := s.node.Outdated(); outdated && s.broken == nil && s.inflight == nil {
			if err := s.rebase(p); err != nil {
				s.storeFailed("rebase", err, nil)
			}
		}
		pending = s.logOwn(pending)
		// While a commit is in flight, the rest waits for the next one:
		// messages too, since acks promise durability.
		if s.broken == nil && s.inflight == nil {
			if len(pending) == 0 && s.node.R.Dirty() && s.commitDelay() > 0 && !due {
				if !deferred {
					deferred = true
					commitTimer.Reset(s.commitDelay())
				}
			} else {
				if deferred {
					deferred, due = false, false
					commitTimer.Stop()
				}
				pending = s.commit(pending)
			}
		}
		if now := time.Now(); s.broken == nil && !s.checkpointing &&
			(now.Sub(s.lastCheckpoint) >= s.checkpointEvery() || s.logged >= s.checkpointBytes()) {
			s.checkpointing, s.lastCheckpoint, s.logged = true, now, 0
			s.toCheckpoint <- s.opts.Backend
		}
		if s.broken != nil {
			s.failAll(pending)
			go s.Shutdown()
			for {
				select {
				case <-s.stop:
					return
				case r := <-s.reqs:
					r.reply <- response{err: s.broken}
				}
			}
		}
	}
}

// heardFor is how long direct traffic from a peer counts as a live link:
// two heartbeats, each of which brings an ack from every neighbour.
func (s *Server) heardFor() time.Duration {
	if hb := s.opts.Timing.Heartbeat; hb > 0 {
		return 2 * hb
	}
	return time.Second
}

// sleepFor is how long the owner loop may sleep, with nothing else to
// wake it, before the protocol's timers need it. While a neighbour lacks
// some of our writes, or may (settled is false: something happened since
// the last tick looked), its repair watches are checked every tickEvery.
// Once every neighbour holds all we hold, nothing is due before the next
// heartbeat, the expiry of a link that only traffic kept, or the
// checkpoint of what the log holds: an idle server sleeps until then
// rather than waking every tickEvery. It never sleeps longer than a
// heartbeat interval, whatever the clock did (Options.Now is the wall
// clock, which can step back).
func (s *Server) sleepFor(now, lastTick int64, settled bool) time.Duration {
	longest := max(s.opts.Timing.Heartbeat, s.tickEvery())
	if !settled {
		return min(max(time.Duration(lastTick+int64(s.tickEvery())-now), 0), longest)
	}
	d := min(time.Duration(s.node.NextHeartbeat()-now), longest)
	wall := time.Now()
	for _, t := range s.heard {
		d = min(d, t.Add(s.heardFor()).Sub(wall))
	}
	if s.logged > 0 && !s.checkpointing {
		d = min(d, s.lastCheckpoint.Add(s.checkpointEvery()).Sub(wall))
	}
	return max(d, 0)
}

// expireHeard drops links that only recent traffic kept, once it is old.
func (s *Server) expireHeard() {
	now := time.Now()
	for id, t := range s.heard {
		if now.Sub(t) >= s.heardFor() {
			delete(s.heard, id)
			if !s.alive[id] && slices.Contains(s.node.Neighbors(), id) {
				s.neighborsChanged()
			}
		}
	}
}

// checkpointEvery is how often the checkpointer folds the log into the
// bbolt file. The log is the cheap way to make writes durable (an append
// of a few KB); the file is what recovery starts from. Folding a batch at a
// time writes each page of the store once for all the writes to it.
//
// A log that grows faster than that (large values) is folded each time it
// holds checkpointBytes: the same pages get written either way, and
// smaller checkpoints spread the disk work instead of stalling the puts'
// appends behind a burst of it.
func (s *Server) checkpointEvery() time.Duration {
	if d := s.opts.Timing.Checkpoint; d > 0 {
		return d
	}
	return time.Second
}

func (s *Server) checkpointBytes() int {
	if n := s.opts.CheckpointBytes; n > 0 {
		return n
	}
	return 1 << 20
}

// entryBytes is roughly what entries take in the log.
func entryBytes(es []model.Entry) int {
	n := 0
	for _, e := range es {
		n += e.Size()
	}
	return n
}

func (s *Server) commitDelay() time.Duration {
	if d := s.opts.Timing.CommitDelay; d > 0 {
		return d
	}
	return s.opts.Timing.Flush
}

// hurryFor is how long a stabilize's status query keeps the outbox
// sending at once: long enough for the writes it finds waiting and their
// acks to go, and for the next poll to extend it; bounded, so that a long
// flush interval does not turn batching off for long.
func (s *Server) hurryFor() time.Duration { return min(2*s.opts.Timing.Flush, maxHurry) }

// maxHurry bounds hurryFor: many times a stabilize's poll interval.
const maxHurry = 100 * time.Millisecond

func (s *Server) tickEvery() time.Duration {
	t := s.opts.Timing.Resend / 4
	if t <= 0 || t > 10*time.Millisecond {
		t = 10 * time.Millisecond
	}
	return t
}

// handle applies a request to the replica now; its reply waits for the
// commit.
func (s *Server) handle(r request, pending []request) []request {
	switch r.kind {
	case reqAdd:
		// The check and the write are one step of the owner: no other
		// write to this server comes between them.
		if e, st := s.node.R.Get(r.key, r.dep); st != model.NoKey {
			r.kind, r.found, r.dep = reqAddHeld, st == model.Found, e.Version
			break
		}
		r.kind = reqPut
		fallthrough
	case reqPut, reqDelete:
		if r.kind == reqDelete {
			s.deletes.Add(1)
		} else {
			s.puts.Add(1)
		}
		if s.fault.dropPut(s, &r) { // FAULT (tests only): acknowledged, never applied
			break
		}
		var e model.Entry
		if r.kind == reqDelete {
			e = s.node.Delete(r.key, s.fault.writeDep(r.dep), s.wall()) // FAULT hook: no-op unless ignore-write-deps
		} else {
			e = s.node.Put(r.key, r.value, s.fault.writeDep(r.dep), s.wall())
		}
		r.dep = e.Version       // the reply carries the issued version
		if s.fault.ackEarly() { // FAULT (tests only): answered before its commit, not logged
			r.reply <- s.answer(r)
			return pending
		}
		s.own = append(s.own, e)
	case reqCut:
		s.cut.Cut(r.peer)
		if s.raft != nil {
			s.raft.Cut(s.opts.Peers[r.peer])
		}
		s.cuts[r.peer] = true
		s.out.discard(r.peer)
		s.data.drop(r.peer, nil)
		s.neighborsChanged()
	case reqHeal:
		s.cut.Heal(r.peer)
		if s.raft != nil {
			s.raft.Heal(s.opts.Peers[r.peer])
		}
		s.pokeRaft()
		delete(s.cuts, r.peer)
		delete(s.suspect, r.peer)
		s.neighborsChanged()
		s.publishMissing()
		select {
		case s.joinNow <- struct{}{}:
		default:
		}
	}
	return append(pending, r)
}

// logOwn makes the loop's new local writes durable with one append to the
// write-ahead log, answers their puts and sends the writes on. A put then
// waits for that append only, not for a commit of everything else the
// loop changed (others' writes, which may wait, see run). What remains
// pending is the requests that wait for a commit.
func (s *Server) logOwn(pending []request) []request {
	if len(s.own) == 0 || s.broken != nil {
		return pending
	}
	err := s.opts.Backend.Log(s.own, model.Meta{})
	s.logged += entryBytes(s.own)
	if err == nil {
		for _, e := range s.own {
			s.ownLogged[e.Dot()] = true
		}
	}
	clear(s.own)
	s.own = s.own[:0]
	if err != nil {
		if s.storeFailed("log", err, pending); s.broken != nil {
			return pending // run answers them all with the cause
		}
	}
	rest := pending[:0]
	for _, r := range pending {
		switch {
		case r.kind != reqPut && r.kind != reqDelete:
			rest = append(rest, r)
		case r.reply != nil: // nil: failed with the log
			r.reply <- s.answer(r)
		}
	}
	s.out.enqueue(s.node.ReadyOwn())
	return rest
}

// storeFailed handles a failed commit or log. The replica now holds writes
// the disk does not; carrying on with it could ack or forward them. Go back
// to what the disk holds and fail the pending puts, or stop if that cannot
// be read.
func (s *Server) storeFailed(what string, err error, pending []request) {
	failed := fmt.Errorf("server %d: %s failed: %w", s.opts.ID, what, err)
	if rerr := s.reload(); rerr != nil {
		s.log.Error(what+" failed and the store cannot be reloaded; stopping", "err", err, "reload", rerr)
		s.broken = failed
		return
	}
	s.log.Error(what+" failed; back to the last committed state", "err", err)
	for i, r := range pending {
		if r.kind == reqPut || r.kind == reqDelete {
			r.reply <- response{err: failed}
			pending[i].reply = nil
		}
	}
}

// commitJob is one commit: a snapshot of what changed (the entries not
// logged yet and the whole set of writes held), the messages it makes
// true, and the requests answered after it.
type commitJob struct {
	backend storage.Backend
	entries []model.Entry
	meta    model.Meta
	out     []model.Outgoing
	waiting []request
	// answers are the waiting requests' answers, taken at the snapshot:
	// the replica may apply more before the append returns, which a read
	// must not see until that is durable too.
	answers []response
	err     error
}

// checkpointDone is a checkpoint's outcome, on the backend it ran on.
type checkpointDone struct {
	backend storage.Backend
	err     error
}

// commit hands the loop's changes to the committer, with the messages
// that may leave and the answers that may be given once they are durable
// (acks promise durability; a read must not see a write that a crash of
// this server could take back). With nothing to write, it does both at
// once.
//
// A commit is one append to the log: the changed entries (but the own
// writes logOwn logged already) and the set of writes held, which is true
// of the disk once every entry it covers is on it, and each is: in this
// append, an earlier one, or the file.
func (s *Server) commit(pending []request) []request {
	if s.fault.holdCommit(len(pending)) { // FAULT (tests only): lazy commits behind early acks
		return pending
	}
	entries, changed := s.node.R.TakeDirty()
	if !changed {
		// Everything applied is durable already: no commit is in flight.
		s.answerAll(pending)
		s.out.enqueue(s.node.Ready())
		return pending[:0]
	}
	s.commits.Add(1)
	entries = slices.DeleteFunc(entries, func(e model.Entry) bool { return s.ownLogged[e.Dot()] })
	clear(s.ownLogged)
	s.logged += entryBytes(entries)
	job := &commitJob{
		backend: s.opts.Backend,
		entries: entries,
		meta:    s.logMeta(),
		out:     s.node.Ready(),
		waiting: slices.Clone(pending),
	}
	for _, r := range job.waiting {
		job.answers = append(job.answers, s.answer(r))
	}
	s.inflight = job
	s.toCommit <- s.inflight
	return pending[:0]
}

// logMeta is what a commit logs besides its entries: the set of writes
// held, and the stable point (with it, the tombstones the commit's entries
// carry out of the store) and the members where they changed.
func (s *Server) logMeta() model.Meta {
	r := s.node.R
	meta := model.Meta{Seen: r.Seen().Clone()}
	if st := r.Stable(); st.Version != s.loggedStable {
		meta.Stable, s.loggedStable = st.Clone(), st.Version
	}
	if m := r.Members(); len(m) != s.loggedMembers {
		meta.Members, s.loggedMembers = slices.Clone(m), len(m)
	}
	return meta
}

// committer writes commits off the owner goroutine, one at a time.
func (s *Server) committer() {
	defer s.done.Done()
	for {
		select {
		case <-s.stop:
			return
		case job := <-s.toCommit:
			job.err = job.backend.Log(job.entries, job.meta)
			s.committed <- job
		}
	}
}

// checkpointer folds the log into the store when the owner asks, apart
// from the committer: appends (and so acks, and the answers stabilize
// waits for) do not queue behind the larger transaction.
func (s *Server) checkpointer() {
	defer s.done.Done()
	for {
		select {
		case <-s.stop:
			return
		case b := <-s.toCheckpoint:
			s.checkpointed <- checkpointDone{backend: b, err: b.Checkpoint()}
		}
	}
}

// finishCommit sends what a finished commit made true and gives the
// requests that waited for it their answers. After a failure, or once the
// backend it ran on has been replaced (a reload after another failure,
// which read whatever it made durable), its messages and answers are void:
// the waiting requests are answered from the state now held.
func (s *Server) finishCommit(job *commitJob) {
	s.inflight = nil
	switch {
	case job.backend != s.opts.Backend:
		// Nothing more to recover: the reload already went back to disk.
	case job.err != nil:
		if s.storeFailed("commit", job.err, job.waiting); s.broken != nil {
			s.failAll(job.waiting)
			return
		}
	default:
		s.out.enqueue(job.out)
		for i, r := range job.waiting {
			if r.reply != nil {
				r.reply <- job.answers[i]
			}
		}
		return
	}
	s.answerAll(job.waiting)
}

func (s *Server) answerAll(reqs []request) {
	for _, r := range reqs {
		if r.reply != nil {
			r.reply <- s.answer(r)
		}
	}
}

// reload replaces the replica with what the backend holds, after a failed
// commit.
func (s *Server) reload() error {
	if s.opts.Reopen == nil {
		return errors.New("no way to reopen the store")
	}
	s.opts.Backend.Close()
	b, err := s.opts.Reopen()
	if err != nil {
		return err
	}
	s.opts.Backend = b
	r, err := s.recover(b)
	if err != nil {
		return err
	}
	s.node.Recover(r)
	clear(s.ownLogged)
	return nil
}

// rebase cuts the replica back to what lies above the stable point p and
// makes that durable, when its disk went back in time past a point where
// the cluster may have collected tombstones (see model.Replica.Outdated):
// it may hold a value whose delete is gone everywhere else. Its peers hold
// everything at or below p and send back what is live, to a new replica
// id, since what they knew this one to hold is void.
func (s *Server) rebase(p model.Stable) error {
	kept, meta := s.node.R.Rebase(p)
	dropped := s.node.R.Len() - len(kept)
	if err := s.opts.Backend.Reset(kept, meta); err != nil {
		return err
	}
	r := model.NewReplica(s.opts.ID, model.NewSrc(rand.Uint64()), kept, meta)
	r.SetRebased(p.Version)
	s.node.Recover(r)
	clear(s.ownLogged)
	s.loggedStable, s.loggedMembers = meta.Stable.Version, len(meta.Members)
	s.log.Warn(fmt.Sprintf("data older than the cluster's stable point (%v): its directory went back in time, or it was away while tombstones were collected; dropped the %d keys at or below that point, which its peers hold, and took a new replica id; the peers send back what is live", p.Version, dropped))
	return nil
}

// recover builds the replica from what the backend holds, under a new
// replica id (see model.NewSrc): whatever happened to the disk since this
// server last wrote, it never numbers a write with a dot it used before.
// Where Load found damage, it says so and writes back the state Load could
// vouch for, which claims none of the writes that were lost: the peers
// send those back (Replica.TakeRecovered counts them as they come).
func (s *Server) recover(b storage.Backend) (*model.Replica, error) {
	st, err := b.Load()
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if len(st.Damage) > 0 {
		s.log.Warn(fmt.Sprintf("data directory damaged: %s; kept the %d keys that verified and rewrote the store from them; its peers will send back what was lost",
			strings.Join(st.Damage, "; "), len(st.Entries)))
		if err := b.Reset(st.Entries, st.Meta); err != nil {
			return nil, fmt.Errorf("rewrite the damaged store: %w", err)
		}
	}
	src := model.NewSrc(rand.Uint64())
	s.log.Info("recovered", "keys", len(st.Entries), "seen", st.Meta.Seen.String(), "replica", fmt.Sprintf("%x", src))
	r := model.NewReplica(s.opts.ID, src, st.Entries, st.Meta)
	s.loggedStable, s.loggedMembers = st.Meta.Stable.Version, len(st.Meta.Members)
	return r, nil
}

func (s *Server) answer(r request) response {
	switch r.kind {
	case reqPut, reqDelete:
		return response{put: api.PutReply{Status: api.OK, Version: r.dep}}
	case reqGet:
		s.gets.Add(1)
		e, st := s.node.R.Get(r.key, s.fault.dep(r.dep)) // FAULT hook: r.dep unless ignore-deps
		switch st {
		case model.Found:
			return response{get: api.GetReply{Status: api.OK, Value: e.Value, Version: e.Version}}
		case model.NoKey:
			reply := api.GetReply{Status: api.ErrKey, Version: e.Version}
			if e.Version.IsZero() {
				reply.Stable = s.node.R.Stable().Version
			}
			return response{get: reply}
		}
		return response{get: api.GetReply{Status: api.ErrDep}}
	case reqStatus:
		return response{status: api.StatusReply{
			ID: s.opts.ID, Seen: s.node.R.Seen().Clone(), StoreDigest: s.node.R.Digest(),
			Keys: s.node.R.Len(), Live: s.node.R.LiveLen(), Links: slices.Clone(s.node.Neighbors()), Topology: s.node.Topology(),
		}}
	case reqKeys:
		keys, more := s.node.R.Keys(r.key, r.limit)
		return response{keys: keys, more: more}
	case reqLag:
		peers, behind := s.node.Lag()
		return response{lag: api.LagReply{Peers: peers, Behind: behind}}
	case reqAddHeld:
		if r.found {
			return response{put: api.PutReply{Status: api.OK, Version: r.dep}, held: true}
		}
		return response{put: api.PutReply{Status: api.ErrDep}, held: true}
	case reqDump:
		snap := s.node.R.Snapshot()
		kv := make([]api.KV, len(snap))
		for i, e := range snap {
			kv[i] = api.KV{Key: e.Key, Value: e.Value, Version: e.Version, Deleted: e.Deleted}
		}
		return response{dump: api.DumpReply{Entries: kv, Stable: s.node.R.Stable().Version}}
	}
	return response{}
}

// failAll answers requests with the server's fatal error, or ErrStopped.
func (s *Server) failAll(reqs []request) {
	err := s.broken
	if err == nil {
		err = ErrStopped
	}
	for _, r := range reqs {
		if r.reply != nil {
			r.reply <- response{err: err}
		}
	}
}

// member applies a membership event.
func (s *Server) member(ev memberEvent) {
	if ev.alive {
		s.alive[ev.id] = true
		delete(s.suspect, ev.id)
		s.node.SetLinks(ev.id, ev.version, ev.links)
	} else {
		// Its last announced links stay: an edge needs both ends, and
		// its live neighbours stop claiming it as soon as they lose it.
		// Forgetting them whenever memberlist (often wrongly, after a
		// cut that blocks indirect probes) declares it dead made routes
		// flap.
		delete(s.alive, ev.id)
	}
	s.neighborsChanged()
	s.publishMissing()
}

// neighborsChanged recomputes our direct links: members memberlist thinks
// alive or that we heard from directly of late, less the cut links and the
// peers we just failed to reach. (memberlist's view alone is not link
// state: with only the link 0-1 cut, indirect probes through a third server
// keep 1 alive for 0; with many links cut, indirect probes fail and it
// declares live peers dead, which their own traffic disproves.)
func (s *Server) neighborsChanged() {
	var ids []uint32
	now := time.Now()
	for id := range s.opts.Peers {
		if id == s.opts.ID || s.cuts[id] || s.suspect[id] {
			continue
		}
		if s.alive[id] || now.Sub(s.heard[id]) < s.heardFor() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if slices.Equal(ids, s.node.Neighbors()) {
		return
	}
	s.node.SetNeighbors(ids)
	s.announceLinks()
}

// announceLinks puts our links in memberlist's metadata and has the
// announcer gossip them: when they change, and when their version moves
// above an earlier life's that a peer's Ack carried (model.Node.SetLinks),
// so that memberlist carries the version that peers take.
func (s *Server) announceLinks() {
	own := s.node.OwnLinks()
	s.announced = own.Version
	s.publishMeta(own)
	select {
	case s.announce <- struct{}{}:
	default:
	}
}

// announcer gossips our links whenever they change.
func (s *Server) announcer() {
	defer s.done.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.announce:
			if err := s.ml.UpdateNode(time.Second); err != nil {
				s.log.Debug("announce links", "err", err)
			}
		}
	}
}

// publishMissing tells the joiner which configured servers are not in our
// membership and not cut off.
func (s *Server) publishMissing() {
	var ids []uint32
	for id := range s.opts.Peers {
		if id != s.opts.ID && !s.alive[id] && !s.cuts[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Lock()
	s.missing = ids
	s.mu.Unlock()
}

// joiner re-joins missing servers: at start, after a heal, and every
// Rejoin. memberlist never re-merges two groups that declared each other
// dead, so this loop is what heals a partition's membership.
func (s *Server) joiner() {
	defer s.done.Done()
	every := s.opts.Timing.Rejoin
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	first := true
	for {
		s.mu.Lock()
		ids := slices.Clone(s.missing)
		s.mu.Unlock()
		var addrs []string
		for _, id := range ids {
			if !s.cut.IsCut(id) {
				addrs = append(addrs, transport.Names(id)+"/"+s.opts.Peers[id])
			}
		}
		if len(addrs) > 0 {
			if n, err := s.ml.Join(addrs); err != nil && n == 0 {
				s.log.Debug("rejoin", "peers", ids, "err", err)
			}
		}
		if first {
			first = false
			close(s.joinedOnce)
		}
		// Peers we gave up on after a failed send get another chance.
		select {
		case s.retry <- struct{}{}:
		default:
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.joinNow:
		}
	}
}

// call hands a request to the owner and waits for its answer.
func (s *Server) call(r request) response {
	r.reply = make(chan response, 1)
	select {
	case s.reqs <- r:
	case <-s.stop:
		return response{err: ErrStopped}
	}
	select {
	case resp := <-r.reply:
		return resp
	case <-s.stop:
		return response{err: ErrStopped}
	}
}

// Put writes key=value after dep; it returns once the write is durable.
func (s *Server) Put(key, value []byte, dep model.Version) api.PutReply {
	if s.opts.MaxValueBytes > 0 && len(value) > s.opts.MaxValueBytes {
		return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("value of %d bytes exceeds max_value_bytes %d", len(value), s.opts.MaxValueBytes)}
	}
	return s.write(request{kind: reqPut, key: key, value: value, dep: dep})
}

// Delete deletes key after dep (writes a tombstone, ordered like a put);
// it returns once the tombstone is durable.
func (s *Server) Delete(key []byte, dep model.Version) api.PutReply {
	return s.write(request{kind: reqDelete, key: key, dep: dep})
}

// CAS sets key to value if it holds old (linearizable mode only; a server
// in eventual mode answers ErrFailed).
func (s *Server) CAS(key, old, value []byte) api.PutReply {
	if s.opts.MaxValueBytes > 0 && len(value) > s.opts.MaxValueBytes {
		return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("value of %d bytes exceeds max_value_bytes %d", len(value), s.opts.MaxValueBytes)}
	}
	return s.write(request{kind: reqCAS, key: key, old: old, value: value})
}

// PutIfAbsent writes key=value after dep, as Put, unless this server
// holds a value for key (a deletion counts as none): the check and the
// write are one step at this server, so of two calls here one at most
// writes. Across servers it is not atomic: two servers that have not
// seen each other's write may both write, and the later one in the
// conflict order wins. stored says whether it wrote. When it did not,
// the reply is OK with the version of the value held (the caller has read
// it), or ErrDep: this server has not seen dep, so it cannot tell.
//
// In linearizable mode it is one Raft command, checked and applied
// together in the log: of any calls on a key, at any servers, one writes
// (until a delete), and dep plays no part. Without a quorum it answers
// ErrUnavailable within the timeout, like a put, and may still take
// effect.
func (s *Server) PutIfAbsent(key, value []byte, dep model.Version) (reply api.PutReply, stored bool) {
	if s.opts.MaxValueBytes > 0 && len(value) > s.opts.MaxValueBytes {
		return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("value of %d bytes exceeds max_value_bytes %d", len(value), s.opts.MaxValueBytes)}, false
	}
	r, held := s.writeHeld(request{kind: reqAdd, key: key, value: value, dep: dep})
	return r, r.Status == api.OK && !held
}

// write hands a put or delete to the owner and waits for it to be durable.
func (s *Server) write(r request) api.PutReply {
	reply, _ := s.writeHeld(r)
	return reply
}

func (s *Server) writeHeld(r request) (reply api.PutReply, held bool) {
	if len(r.key) == 0 {
		return api.PutReply{Status: api.ErrFailed, Reason: "empty key"}, false
	}
	if s.opts.MaxKeyBytes > 0 && len(r.key) > s.opts.MaxKeyBytes {
		return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("key of %d bytes exceeds max_key_bytes %d", len(r.key), s.opts.MaxKeyBytes)}, false
	}
	h := &s.latency.put
	if r.kind == reqDelete {
		h = &s.latency.delete
	}
	defer h.Since(time.Now())
	if s.raft != nil {
		return s.raftWrite(r)
	}
	if r.kind == reqCAS {
		return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("server %d: %v", s.opts.ID, errNotLinearizable)}, false
	}
	resp := s.call(r)
	if resp.err != nil {
		return api.PutReply{Status: api.ErrFailed, Reason: resp.err.Error()}, false
	}
	return resp.put, resp.held
}

// Get reads key for a client that depends on dep.
func (s *Server) Get(key []byte, dep model.Version) (api.GetReply, error) {
	if s.opts.MaxKeyBytes > 0 && len(key) > s.opts.MaxKeyBytes {
		return api.GetReply{}, fmt.Errorf("server %d: key of %d bytes exceeds max_key_bytes %d", s.opts.ID, len(key), s.opts.MaxKeyBytes)
	}
	defer s.latency.get.Since(time.Now())
	if s.raft != nil {
		return s.raftGet(key)
	}
	resp := s.call(request{kind: reqGet, key: key, dep: dep})
	return resp.get, resp.err
}

// Status reports what stabilize compares.
func (s *Server) Status() (api.StatusReply, error) {
	resp := s.call(request{kind: reqStatus})
	if resp.err == nil && s.raft != nil {
		s.raftStatus(&resp.status)
	}
	return resp.status, resp.err
}

// StabilizeStatus is Status for a caller that watches for convergence, as
// stabilize does by polling it: what waits for a peer goes at once, and
// the server goes on sending without pauses until a while after the
// answer, which covers the acks of the commit the query brings forward
// and the time to the next poll. Other callers (the fronts' status pages,
// a monitor) use Status, which leaves batching alone.
func (s *Server) StabilizeStatus() (api.StatusReply, error) {
	s.out.hurry(s.hurryFor())
	defer s.out.hurry(s.hurryFor())
	return s.Status()
}

// Keys lists, in key-byte order, up to limit keys of the store from the
// key from on (itself included; nil: from the first), deleted keys left
// out, and says whether more follow. Like a get, it sees only what is
// durable. A caller walks the whole store in pages by starting each page
// just after the last key of the one before (that key with a 0 byte
// appended); each page holds the owner for the time it takes to copy limit
// keys, so keep pages to a few thousand.
//
// In linearizable mode it lists the Raft group's keys, linearizably as a
// get reads them (at the leader, past its read index); a server without
// a quorum fails within the timeout, with an error naming
// ERR_UNAVAILABLE, and never lists its own state. Each page is a read of
// its own: a walk in pages sees each page as of its own moment.
func (s *Server) Keys(from []byte, limit int) (keys [][]byte, more bool, err error) {
	if limit < 1 {
		return nil, false, fmt.Errorf("server %d: keys: limit %d must be at least 1", s.opts.ID, limit)
	}
	if s.raft != nil {
		return s.raftKeys(from, limit)
	}
	resp := s.call(request{kind: reqKeys, key: from, limit: limit})
	return resp.keys, resp.more, resp.err
}

// Lag reports how far behind (and ahead of) its peers this server is, as
// far as their acks tell. It takes the owner goroutine for a pass over the
// held-write sets: cheap, but not for every request.
func (s *Server) Lag() (api.LagReply, error) {
	resp := s.call(request{kind: reqLag})
	return resp.lag, resp.err
}

// Latencies reads the latency histograms (no call to the owner).
func (s *Server) Latencies() api.Latencies {
	return api.Latencies{Put: s.latency.put.Snapshot(), Delete: s.latency.delete.Snapshot(), Get: s.latency.get.Snapshot()}
}

// Dump returns the store sorted by key: in linearizable mode, what this
// server's Raft node has applied.
func (s *Server) Dump() (api.DumpReply, error) {
	if s.raft != nil {
		return s.raftDump(), nil
	}
	resp := s.call(request{kind: reqDump})
	return resp.dump, resp.err
}

// Stats counts what the server has done since it started.
func (s *Server) Stats() api.StatsReply {
	o := &s.out.stats
	return api.StatsReply{
		ID: s.opts.ID, Puts: s.puts.Load(), Deletes: s.deletes.Load(), Gets: s.gets.Load(), Commits: s.commits.Load(), Checkpoints: s.checkpoints.Load(),
		Batches: o.batches.Load(), Bytes: o.bytes.Load(), Writes: o.writes.Load(), Relayed: o.relayed.Load(),
		Acks: o.acks.Load(), Deltas: o.deltas.Load(), DeltaEntries: o.deltaEntries.Load(), SendFailures: o.failures.Load(),
		RefusedAhead: s.refused.Load(), Fsyncs: s.syncs(),
	}
}

// syncs is the store's fsyncs so far (0 when not counted).
func (s *Server) syncs() uint64 {
	if s.opts.Syncs == nil {
		return 0
	}
	return s.opts.Syncs.Load()
}

// SkewClock shifts the physical clock this server's hybrid logical
// clock reads by d from now on (0 sets it right): the harness's
// clock-skew fault. Versions of new writes, and the check of other
// servers' writes against MaxClockOffset, read the skewed clock; the
// protocol's timers (heartbeats, resends, link versions) do not, since
// they measure intervals, which a constant skew leaves alone.
func (s *Server) SkewClock(d time.Duration) {
	if old := time.Duration(s.skew.Swap(int64(d))); old != d {
		s.log.Info("clock skewed", "skew", d, "was", old)
	}
}

// Clock is the physical time the hybrid logical clock reads, in
// nanoseconds: Options.Now shifted by the skew.
func (s *Server) Clock() int64 { return s.wall() }

func (s *Server) wall() int64 { return s.opts.Now() + s.skew.Load() }

// refuseAhead drops from m the writes too far ahead of this server's
// clock (model.Ahead), logging it at most once a minute per peer.
func (s *Server) refuseAhead(from uint32, m model.Message) model.Message {
	now := s.wall()
	m, refused := model.Ahead(m, now, int64(s.opts.MaxClockOffset))
	if len(refused) == 0 {
		return m
	}
	s.refused.Add(uint64(len(refused)))
	if t, ok := s.refusedLog[from]; !ok || time.Since(t) >= refuseLogEvery {
		s.refusedLog[from] = time.Now()
		far := refused[0].Version
		for _, e := range refused[1:] {
			far = model.Max(far, e.Version)
		}
		s.log.Warn(fmt.Sprintf("refused %d writes from server %d: up to %v ahead of this server's clock, more than max_clock_offset %v; they stay with their sender, which sends them again until this clock is within the offset (logged once a minute per peer)",
			len(refused), from, time.Duration(far.Wall-now), s.opts.MaxClockOffset),
			"peer", from, "version", far.String())
	}
	return m
}

// refuseLogEvery bounds the refusal log to a line a minute per peer: a
// peer with a wild clock is resent its writes every resend interval.
const refuseLogEvery = time.Minute

// Cut stops all traffic with peer; it returns once the cut is applied.
func (s *Server) Cut(peer uint32) error { return s.link(reqCut, peer) }

// Heal restores the link to peer and joins it at once.
func (s *Server) Heal(peer uint32) error { return s.link(reqHeal, peer) }

func (s *Server) link(kind reqKind, peer uint32) error {
	if _, ok := s.opts.Peers[peer]; !ok || peer == s.opts.ID {
		return fmt.Errorf("server %d: %d is not a peer server", s.opts.ID, peer)
	}
	return s.call(request{kind: kind, peer: peer}).err
}

// Done is closed once the server has stopped, by Shutdown or by itself
// (a failed commit): its process should then exit.
func (s *Server) Done() <-chan struct{} { return s.stop }

// Shutdown stops the server and closes its backend. Safe to call twice.
func (s *Server) Shutdown() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		s.done.Wait()
		if s.raft != nil {
			// Before the transport its streams run on.
			err = s.raft.Shutdown()
		}
		s.out.close()
		s.data.close()
		err = errors.Join(err, s.ml.Shutdown(), s.opts.Backend.Close())
	})
	return err
}
