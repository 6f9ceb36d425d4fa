package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// Config is the whole cluster as config.yaml describes it.
type Config struct {
	// Cluster names the cluster. Every control-plane connection and every
	// gossip packet carries it, and a process refuses those of another
	// cluster, so that two clusters on one machine or network never drive
	// or merge with each other by accident. It is not a secret.
	Cluster string `yaml:"cluster"`
	// DataDir holds one directory per server (server-ID) and the processes'
	// log files. A relative path is taken relative to the config file.
	DataDir  string `yaml:"data_dir"`
	LogLevel string `yaml:"log_level"`
	// Consistency is ConsistencyEventual (replication by gossip, the
	// conflict order and session guarantees) or ConsistencyLinearizable
	// (every put, delete, cas and get through a Raft group of the
	// servers).
	Consistency string     `yaml:"consistency"`
	Timing      Timing     `yaml:"timing"`
	Durability  Durability `yaml:"durability"`
	Limits      Limits     `yaml:"limits"`
	Security    Security   `yaml:"security"`
	Runtime     Runtime    `yaml:"runtime"`
	Servers     []Server   `yaml:"servers"`
	Clients     []Client   `yaml:"clients"`
}

// Server places one server id: its host and its ports.
type Server struct {
	ID           uint32 `yaml:"id"`
	Host         string `yaml:"host"`
	RPCPort      int    `yaml:"rpc_port"`
	GossipPort   int    `yaml:"gossip_port"`
	WatchdogPort int    `yaml:"watchdog_port"`
	// RESPPort is where the server speaks the Redis protocol (package
	// resp); 0 leaves it off. Optional because that front has no
	// authentication: a server on a shared network need not expose one,
	// and files written before it existed keep their meaning.
	RESPPort int `yaml:"resp_port"`
	// HTTPPort is where the server answers HTTP (package httpapi: the
	// key-value API, its status and its metrics); 0 leaves it off.
	// Optional for the same reasons as RESPPort.
	HTTPPort int `yaml:"http_port"`
	// MemcachePort is where the server speaks the memcache text protocol
	// (package memcache); 0 leaves it off, as RESPPort.
	MemcachePort int `yaml:"memcache_port"`
}

// Client places one client id.
type Client struct {
	ID      uint32 `yaml:"id"`
	Host    string `yaml:"host"`
	RPCPort int    `yaml:"rpc_port"`
}

// Timing holds the intervals and timeouts of every process.
type Timing struct {
	GossipInterval    time.Duration `yaml:"gossip_interval"`
	ProbeInterval     time.Duration `yaml:"probe_interval"`
	ProbeTimeout      time.Duration `yaml:"probe_timeout"`
	SuspicionMult     int           `yaml:"suspicion_mult"`
	PushPullInterval  time.Duration `yaml:"push_pull_interval"`
	FlushInterval     time.Duration `yaml:"flush_interval"`
	CommitDelay       time.Duration `yaml:"commit_delay"`
	Checkpoint        time.Duration `yaml:"checkpoint_interval"`
	ResendInterval    time.Duration `yaml:"resend_interval"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	RejoinInterval    time.Duration `yaml:"rejoin_interval"`
	RPCTimeout        time.Duration `yaml:"rpc_timeout"`
	StartTimeout      time.Duration `yaml:"start_timeout"`
	StabilizeTimeout  time.Duration `yaml:"stabilize_timeout"`
	StabilizePoll     time.Duration `yaml:"stabilize_poll"`
	MaxClockOffset    time.Duration `yaml:"max_clock_offset"`
	// Raft's timings, read in linearizable mode only (see raftkv.Config).
	RaftHeartbeatTimeout   time.Duration `yaml:"raft_heartbeat_timeout"`
	RaftElectionTimeout    time.Duration `yaml:"raft_election_timeout"`
	RaftLeaderLeaseTimeout time.Duration `yaml:"raft_leader_lease_timeout"`
	RaftCommitTimeout      time.Duration `yaml:"raft_commit_timeout"`
	RaftTimeout            time.Duration `yaml:"raft_timeout"`
}

// The values of Config.Consistency.
const (
	ConsistencyEventual     = "eventual"
	ConsistencyLinearizable = "linearizable"
)

// Linearizable reports whether the servers run in linearizable mode.
func (c *Config) Linearizable() bool { return c.Consistency == ConsistencyLinearizable }

// Durability says whether commits are fsync'd, and how much of the
// write-ahead log a server keeps before it folds it into its bbolt file.
type Durability struct {
	Fsync           bool  `yaml:"fsync"`
	CheckpointBytes int64 `yaml:"checkpoint_bytes"`
}

// Limits bound what one put may carry.
// Security holds the key that encrypts and authenticates server-to-server
// traffic. The environment variable GOSSIPKV_SECRET_KEY, when set, takes
// the place of SecretKey (so that a key need not sit in a file).
type Security struct {
	SecretKey string `yaml:"secret_key"`
}

// Key decodes SecretKey: nil when there is none.
func (s Security) Key() ([]byte, error) {
	if s.SecretKey == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(s.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	if n := len(k); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("decodes to %d bytes; an AES key has 16, 24 or 32", n)
	}
	return k, nil
}

type Limits struct {
	MaxKeyBytes   int `yaml:"max_key_bytes"`
	MaxValueBytes int `yaml:"max_value_bytes"`
}

// Runtime tunes the Go runtime of every process that reads the config:
// servers, clients, watchdogs and the master.
type Runtime struct {
	// GoMaxProcs is each process's GOMAXPROCS; 0 leaves Go's default (one
	// per core). The environment variable GOMAXPROCS, when set, wins.
	GoMaxProcs int `yaml:"gomaxprocs"`
}

// Apply sets the runtime knobs for the calling process.
func (r Runtime) Apply() {
	if r.GoMaxProcs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(r.GoMaxProcs)
	}
}

// Default returns every knob at its default and no servers or clients: the
// base a file is decoded over, so that a file only says what differs.
func Default() *Config {
	return &Config{
		// One name for every cluster that does not choose its own: two
		// masters with the default config still keep apart, since each
		// run has a run id of its own (see pkg/rpcconn).
		Cluster: "gossipkv",
		// Relative to the config file, so the repository's config.yaml keeps
		// its data in ./data, which `make clean` removes.
		DataDir: "data",
		// The master's stderr is part of a run's transcript: at info,
		// progress lines would bury the errors a user needs to see.
		LogLevel: "warn",
		// The store this project is about; linearizable is the option.
		Consistency: ConsistencyEventual,
		Timing: Timing{
			// memberlist's LAN default is 200ms. Topology changes (a cut
			// link) ride on gossip, so 50ms lets routing react within a few
			// rounds; on loopback the extra packets cost next to nothing.
			GossipInterval: 50 * time.Millisecond,
			// A dead or cut peer is noticed within a few hundred ms instead
			// of seconds (LAN default 1s), so a script that kills a server
			// and then stabilizes does not wait on failure detection.
			ProbeInterval: 200 * time.Millisecond,
			// Loopback round trips take microseconds; 100ms leaves room for
			// a loaded 2-core machine (GC, fsync stalls) without false
			// suspicions, and stays below ProbeInterval as memberlist needs.
			ProbeTimeout: 100 * time.Millisecond,
			// Suspicion lasts about mult*log10(n+1)*ProbeInterval. The LAN
			// default 4 is tuned for large clusters; with a handful of
			// servers 2 declares a dead one dead quickly, and a false
			// positive heals through the rejoin loop.
			SuspicionMult: 2,
			// memberlist's full membership exchange; it heals the member
			// list (not the data: that is the resend and heartbeat loops').
			// Each second is cheap for tens of servers.
			PushPullInterval: time.Second,
			// Least time between two messages to one peer. An idle link
			// sends at once; a busy one gathers the puts and acks of 10ms
			// into one message. Each message costs a write, a read, a
			// decode and a wake-up on both ends, so this is what keeps
			// replication cheap. It bounds replication lag under load,
			// not stabilize: its status queries make every server send
			// at once for a while (server.StabilizeStatus). Measured on
			// the spec benchmark (5 servers): 5ms -> 10ms is 0.93 of the
			// cluster's CPU per put (msgs/put 2.9 -> 1.4); 20ms saves no
			// more (msgs/put 0.8); 2ms -> 5ms was +20-40% puts/s.
			FlushInterval: 10 * time.Millisecond,
			// A commit holding only other servers' writes (and acks) waits
			// this long to gather more: relays then commit (and fsync) a
			// few dozen times a second, not once per put. Nobody waits on
			// those commits but the acks they hold back, and a status
			// query (stabilize) commits at once.
			CommitDelay: 20 * time.Millisecond,
			// Writes become durable as appends to a server's log; this
			// often the log is folded into the bbolt file, which then
			// rewrites each changed page once for all the writes to it
			// (a transaction per commit rewrote a 4 KB leaf per 1 KB
			// entry, dozens of times a second on every server). Longer
			// means fewer page writes but a longer log to replay after a
			// crash and a larger burst of work when it comes. Measured on
			// make single's workload: 200ms put p99 ~5 ms and max ~11 ms,
			// 500ms ~2.5 and ~18, 1s ~2 and ~25; puts/s within the noise.
			Checkpoint: 500 * time.Millisecond,
			// A neighbour that makes no progress on the writes it lacks
			// for this long is sent them again, as a delta taken from the
			// store; its other neighbours wait 2x, 3x... so usually one
			// repairs it. Acks on loopback take milliseconds.
			ResendInterval: 50 * time.Millisecond,
			// Every server re-announces its set of held writes to its
			// neighbours this often even when nothing changed: it repairs
			// a lost ack, introduces new neighbours, and drives the slow
			// safety net (two heartbeats), which repairs whatever the
			// fast path missed while topology views disagreed after a
			// cut. An ack is a few dozen bytes.
			HeartbeatInterval: 200 * time.Millisecond,
			// memberlist never re-merges groups that declared each other
			// dead (a known limit of hashicorp/memberlist, its #222), so a loop re-joins known
			// servers missing from the member list; this bounds how long
			// a healed cluster can stay split if the join on
			// createConnection did not take.
			RejoinInterval: 500 * time.Millisecond,
			// net/rpc has no timeouts. Control calls (even a put with its
			// fsync) finish in milliseconds; 5s only catches a hung peer
			// and will not fail a slow but live one on a busy machine.
			RPCTimeout: 5 * time.Second,
			// joinServer waits this long for a server to answer: process
			// start, bbolt open and recovery of a large store on a slow
			// disk fit in 10s.
			StartTimeout: 10 * time.Second,
			// Convergence takes milliseconds to seconds; this is a safety
			// net so that a bug cannot hang a script forever, not a target.
			StabilizeTimeout: 60 * time.Second,
			// stabilize polls the servers' convergence state: 2ms adds at
			// most 2ms to a stabilize while the polling load on loopback
			// stays small.
			StabilizePoll: 2 * time.Millisecond,
			// A server refuses writes whose versions are further ahead of
			// its own clock than this (CockroachDB's default maximum
			// offset is 500ms; its clocks are NTP-synced hosts). One
			// machine's clocks agree exactly; 5s leaves room for hosts
			// without NTP discipline while keeping a wild clock from
			// dragging every version of the cluster into the future.
			MaxClockOffset: 5 * time.Second,
			// A follower that hears nothing from its leader this long
			// calls an election (raft's LAN default is 1s). Raft's own
			// timers are randomized between 1x and 2x. 500ms replaces a
			// lost leader within a second, and stays clear of the
			// stalls (GC, fsync, ten processes on two cores) that would
			// otherwise start needless elections.
			RaftHeartbeatTimeout: 500 * time.Millisecond,
			RaftElectionTimeout:  500 * time.Millisecond,
			// Half the heartbeat timeout: a leader cut off from its
			// quorum steps down before the majority can elect another.
			RaftLeaderLeaseTimeout: 250 * time.Millisecond,
			// Followers learn of a commit within this when nothing else
			// carries it (printStore and stabilize read their state).
			RaftCommitTimeout: 10 * time.Millisecond,
			// A server without a quorum answers ERR_UNAVAILABLE after
			// this: long enough for an election and a retry, short next
			// to rpc_timeout, which must outlast it.
			RaftTimeout: 2 * time.Second,
		},
		Durability: Durability{
			// SPEC guarantee 1: a put is acknowledged only after fsync.
			// Turning it off is for benchmarks that measure the protocol
			// without the disk; a killed process still loses nothing (the
			// page cache survives it), a crashed machine may.
			Fsync: true,
			// A checkpoint also starts when the log holds this much, so
			// that large values fold in bursts of about this size rather
			// than of what checkpoint_interval gathers. At 1 KB values
			// and 1500 puts/s it is what starts checkpoints (every
			// 0.6-0.7 s). 4 MiB with a 2 s interval cut put p99 by a
			// third and CPU per put by 4%, but made the slowest put
			// about 19 ms against 12 (BENCHMARKS.md).
			CheckpointBytes: 1 << 20,
		},
		Limits: Limits{
			// Keys are bbolt keys (at most 32768 bytes) and travel in
			// acks and digests; 4 KiB is generous for a key and keeps
			// those messages small.
			MaxKeyBytes: 4096,
			// A value travels whole in one memberlist stream message and
			// one net/rpc call; 1 MiB bounds batches and memory while
			// leaving room for the benchmarks' 10 KB values.
			MaxValueBytes: 1 << 20,
		},
		Runtime: Runtime{
			// The default layout runs ten processes on one machine, and
			// the Go runtime of each would otherwise keep threads for
			// every core: it wakes and spins them looking for work that
			// the other processes need the cores for. One each measured
			// +15-40% puts/s on the 2-core benchmark machine (see
			// BENCHMARKS.md). A server alone on a multi-core host may
			// want 0.
			GoMaxProcs: 1,
		},
	}
}

// Server returns the server with the given id.
func (c *Config) Server(id uint32) (Server, bool) {
	for _, s := range c.Servers {
		if s.ID == id {
			return s, true
		}
	}
	return Server{}, false
}

// Client returns the client with the given id.
func (c *Config) Client(id uint32) (Client, bool) {
	for _, cl := range c.Clients {
		if cl.ID == id {
			return cl, true
		}
	}
	return Client{}, false
}

// ServerIDs returns the server ids in increasing order.
func (c *Config) ServerIDs() []uint32 {
	ids := make([]uint32, len(c.Servers))
	for i, s := range c.Servers {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	return ids
}

// ClientIDs returns the client ids in increasing order.
func (c *Config) ClientIDs() []uint32 {
	ids := make([]uint32, len(c.Clients))
	for i, cl := range c.Clients {
		ids[i] = cl.ID
	}
	slices.Sort(ids)
	return ids
}

// ServerDir is where server id keeps its durable state.
func (c *Config) ServerDir(id uint32) string {
	return filepath.Join(c.DataDir, fmt.Sprintf("server-%d", id))
}

// LogDir is where the processes the master starts write their logs.
func (c *Config) LogDir() string {
	return filepath.Join(c.DataDir, "logs")
}

// SlogLevel is LogLevel as a slog.Level; Validate guarantees it is one of
// the four names, and anything else reads as warn.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "error":
		return slog.LevelError
	}
	return slog.LevelWarn
}

// RPCAddr is where the server serves clients and the master.
func (s Server) RPCAddr() string { return hostPort(s.Host, s.RPCPort) }

// GossipAddr is where the server's memberlist listens (TCP and UDP).
func (s Server) GossipAddr() string { return hostPort(s.Host, s.GossipPort) }

// WatchdogAddr is where the watchdog that starts and kills the server
// listens.
func (s Server) WatchdogAddr() string { return hostPort(s.Host, s.WatchdogPort) }

// RESPAddr is where the server speaks the Redis protocol; "" when
// RESPPort is 0 (off).
func (s Server) RESPAddr() string {
	if s.RESPPort == 0 {
		return ""
	}
	return hostPort(s.Host, s.RESPPort)
}

// HTTPAddr is where the server answers HTTP; "" when HTTPPort is 0 (off).
func (s Server) HTTPAddr() string {
	if s.HTTPPort == 0 {
		return ""
	}
	return hostPort(s.Host, s.HTTPPort)
}

// MemcacheAddr is where the server speaks the memcache text protocol; ""
// when MemcachePort is 0 (off).
func (s Server) MemcacheAddr() string {
	if s.MemcachePort == 0 {
		return ""
	}
	return hostPort(s.Host, s.MemcachePort)
}

// RPCAddr is where the client serves the master.
func (c Client) RPCAddr() string { return hostPort(c.Host, c.RPCPort) }

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
