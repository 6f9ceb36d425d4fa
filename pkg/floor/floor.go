package floor

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/storage"
)

// DefaultValueSize is the value size of Measure: the assignment benchmark's.
const DefaultValueSize = 1024

// warmup puts run before the clock starts: they dial the two connections
// and grow the bbolt file past its first pages.
const warmup = 20

// rpcTimeout only catches a hung chain; a put takes well under a second.
const rpcTimeout = 10 * time.Second

// Measure runs n puts of 1 KB values with 3-character keys through the
// chain, one after another, with the database in dir, and returns puts per
// second.
func Measure(n int, dir string) (putsPerSec float64, err error) {
	return MeasureValue(n, DefaultValueSize, dir)
}

// MeasureValue is Measure with values of valueSize bytes.
func MeasureValue(n, valueSize int, dir string) (putsPerSec float64, err error) {
	return MeasureDurability(n, valueSize, dir, Commit)
}

// Durability is how the floor's server makes a put durable.
type Durability int

const (
	// Commit is one bbolt transaction (two fdatasyncs) per put: the floor
	// the issue defines.
	Commit Durability = iota
	// Log is one append to the write-ahead log (one fdatasync) per put,
	// folded into bbolt by checkpoints as a server makes them (see
	// checkpoints): what a server does for its own puts, for comparison.
	Log
)

// String names d as ParseDurability reads it.
func (d Durability) String() string {
	switch d {
	case Commit:
		return "commit"
	case Log:
		return "log"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// ParseDurability reads "commit" or "log".
func ParseDurability(s string) (Durability, error) {
	for _, d := range []Durability{Commit, Log} {
		if s == d.String() {
			return d, nil
		}
	}
	return 0, fmt.Errorf("floor: durability %q: want commit or log", s)
}

// MeasureDurability is MeasureValue with the server's durability d.
func MeasureDurability(n, valueSize int, dir string, d Durability) (putsPerSec float64, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("floor: %d puts: need at least one", n)
	}
	c, err := start(dir, d)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	return c.measure(n, valueSize)
}

// measure runs the warm-up puts, then n timed ones, and returns puts/s.
func (c *chain) measure(n, valueSize int) (float64, error) {
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	for i := range warmup {
		if err := c.put(i, value); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := range n {
		if err := c.put(i, value); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// Key is the i-th of the 1000 three-letter keys "aaa".."jjj" the
// benchmark's scripts use, so that puts overwrite as they do there.
func Key(i int) []byte {
	i %= 1000
	return []byte{'a' + byte(i/100), 'a' + byte(i/10%10), 'a' + byte(i%10)}
}

// chain is the three hops in one process, the caller playing the master;
// or, with only toClients set, the master's end of chains whose clients
// and servers run in processes of their own (MeasureProcesses,
// MeasurePeers).
type chain struct {
	db             *storage.Bolt
	svc            *serverService
	server, client *rpcconn.Server
	toServer       *rpcconn.Conn
	// toClients take the puts in turn.
	toClients []*rpcconn.Conn
}

func start(dir string, d Durability) (_ *chain, err error) {
	db, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	c := &chain{db: db}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
		}
	}()
	// A cluster and run of its own, so that the floor's hops pay the
	// same handshake as the real processes', and nothing else can call
	// them by accident.
	id := rpcconn.Identity{Cluster: "floor", Run: rpcconn.NewRun()}
	as := func(role string, n uint32) rpcconn.Identity { id.Role, id.ID = role, n; return id }
	c.svc = newServerService(db, d, 1)
	c.server, err = rpcconn.Listen(as(rpcconn.RoleServer, 0), "127.0.0.1:0", "FloorServer", c.svc)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	c.toServer = rpcconn.New(as(rpcconn.RoleClient, 1), c.server.Addr().String(), rpcTimeout)
	c.client, err = rpcconn.Listen(as(rpcconn.RoleClient, 1), "127.0.0.1:0", "FloorClient", &clientService{server: c.toServer})
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	c.toClients = []*rpcconn.Conn{rpcconn.New(as(rpcconn.RoleMaster, 0), c.client.Addr().String(), rpcTimeout)}
	return c, nil
}

// put is the master's side of the i-th put, under Key(i), through client
// i mod the clients: the same argument and reply types as the real
// Client.Put.
func (c *chain) put(i int, value []byte) error {
	var reply api.ClientReply
	to := c.toClients[i%len(c.toClients)]
	if err := to.Call("FloorClient.Put", api.ClientPutArgs{Key: Key(i), Value: value}, &reply); err != nil {
		return fmt.Errorf("floor: put: %w", err)
	}
	if reply.Status != api.OK {
		return fmt.Errorf("floor: put: %v %s", reply.Status, reply.Reason)
	}
	return nil
}

func (c *chain) close() error {
	var errs []error
	for _, conn := range append([]*rpcconn.Conn{c.toServer}, c.toClients...) {
		if conn != nil {
			conn.Close()
		}
	}
	for _, s := range []*rpcconn.Server{c.client, c.server} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if c.svc != nil {
		errs = append(errs, c.svc.stop())
	}
	if c.db != nil {
		errs = append(errs, c.db.Close())
	}
	return errors.Join(errs...)
}

// clientService plays the client process: it forwards a put to its server
// and waits for the answer, as pkg/client does.
type clientService struct {
	server *rpcconn.Conn
}

func (s *clientService) Put(args api.ClientPutArgs, reply *api.ClientReply) error {
	var r api.PutReply
	if err := s.server.Call("FloorServer.Put", api.PutArgs{Key: args.Key, Value: args.Value}, &r); err != nil {
		reply.Status, reply.Reason = api.ErrConn, err.Error()
		return nil
	}
	reply.Status, reply.Reason, reply.Version = r.Status, r.Reason, r.Version
	return nil
}

// serverService plays the server: one commit of the entry and the meta per
// put (or one log append), answered after it returns.
type serverService struct {
	db         *storage.Bolt
	durability Durability
	origin     uint32 // of the versions it gives its puts
	// checkpoints fold the log (with Log), a peer's of the writes it
	// receives too.
	checkpoints *checkpoints

	// mu guards seq, meta, replicas and closed: net/rpc runs calls
	// concurrently.
	mu   sync.Mutex
	seq  uint64
	meta model.Meta
	// replicas get a copy of every put once it is logged (RolePeer).
	replicas []*forwarder
	closed   bool
}

func newServerService(db *storage.Bolt, d Durability, origin uint32) *serverService {
	return &serverService{db: db, durability: d, origin: origin, checkpoints: newCheckpoints(db)}
}

func (s *serverService) Put(args api.PutArgs, reply *api.PutReply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		reply.Status, reply.Reason = api.ErrFailed, "floor: the server is stopping"
		return nil
	}
	s.seq++
	v := model.Version{Wall: time.Now().UnixNano(), Origin: s.origin}
	s.meta.Seen.Prefix = s.meta.Seen.Prefix.With(uint64(s.origin), s.seq)
	s.meta.Clock = v
	e := model.Entry{Key: args.Key, Value: args.Value, Version: v, Seq: s.seq, Src: uint64(s.origin)}
	var err error
	if s.durability == Commit {
		err = s.db.Commit([]model.Entry{e}, s.meta)
	} else if err = s.db.Log([]model.Entry{e}, model.Meta{Seen: s.meta.Seen}); err == nil {
		err = s.checkpoints.logged([]model.Entry{e})
	}
	for _, r := range s.replicas {
		if err == nil {
			err = r.add(e)
		}
	}
	if err != nil {
		reply.Status, reply.Reason = api.ErrFailed, err.Error()
		return nil
	}
	reply.Status, reply.Version = api.OK, v
	return nil
}

// refuse fails every later put.
func (s *serverService) refuse() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// stop fails every later put and waits for a checkpoint that runs; it
// returns the first checkpoint's failure.
func (s *serverService) stop() error {
	s.refuse()
	return s.checkpoints.wait()
}

// checkpoints folds the log into bbolt as a server does (server.run): in
// the background, one at a time, once the checkpoint interval has passed
// since the last or the checkpoint bytes of entries were logged since (the
// cluster's defaults).
type checkpoints struct {
	db *storage.Bolt

	mu    sync.Mutex
	idle  *sync.Cond // signalled, under mu, when a checkpoint ends
	last  time.Time
	bytes int
	busy  bool
	err   error // the first failure: every later append fails with it
}

var (
	checkpointEvery = config.Default().Timing.Checkpoint
	checkpointBytes = int(config.Default().Durability.CheckpointBytes)
)

func newCheckpoints(db *storage.Bolt) *checkpoints {
	c := &checkpoints{db: db, last: time.Now()}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// logged counts entries appended to the log, and starts a checkpoint when
// one is due and none runs.
func (c *checkpoints) logged(entries []model.Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	for _, e := range entries {
		c.bytes += e.Size()
	}
	if c.busy || (time.Since(c.last) < checkpointEvery && c.bytes < checkpointBytes) {
		return nil
	}
	c.busy, c.last, c.bytes = true, time.Now(), 0
	go func() {
		err := c.db.Checkpoint()
		c.mu.Lock()
		c.busy = false
		if c.err == nil {
			c.err = err
		}
		c.idle.Broadcast()
		c.mu.Unlock()
	}()
	return nil
}

// wait waits until no checkpoint runs, and returns the first failure.
// Appends may go on meanwhile; a checkpoint they start is waited for too.
func (c *checkpoints) wait() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.busy {
		c.idle.Wait()
	}
	return c.err
}

// openDB opens the floor's database in dir.
func openDB(dir string) (*storage.Bolt, error) {
	db, err := storage.OpenBolt(filepath.Join(dir, "floor.db"), storage.BoltOptions{})
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	return db, nil
}
