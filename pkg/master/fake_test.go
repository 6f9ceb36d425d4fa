package master

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/rpcconn"
)

// fakeCluster plays, in one process, the watchdogs, servers and clients of
// a config: enough behaviour for the master to be driven through every
// command. Servers replicate lazily: each Status call lets a server pull one
// missing write from each reachable peer, so stabilize has to poll several
// times before stores agree.
type fakeCluster struct {
	cfg *config.Config
	// run is the run its processes belong to: "" (as if started by hand)
	// unless a master started them.
	run string

	// mu guards everything below.
	mu      sync.Mutex
	servers map[uint32]*fakeServer
	clients map[uint32]*fakeClient
	starts  []api.StartArgs
	kills   []uint32
	// frozen stops replication, so stabilize can never succeed.
	frozen bool
	// statusCalls counts Status calls over all servers.
	statusCalls int
	listeners   []*rpcconn.Server
}

type fakeServer struct {
	id      uint32
	ln      *rpcconn.Server // nil while not running
	seq     uint64
	log     []model.Entry // every write held, in arrival order
	seen    model.Seen
	cuts    map[uint32]bool
	linkOps []string // "Cut 1", "Heal 2", in call order
}

type fakeClient struct {
	conn      *rpcconn.Conn // to its server; nil before Connect
	serverID  uint32
	connected bool
}

// startFakeCluster serves the watchdogs and clients of cfg (servers start
// through their watchdog) and stops everything at cleanup.
func startFakeCluster(t *testing.T, cfg *config.Config) *fakeCluster {
	t.Helper()
	return startFakeClusterOfRun(t, cfg, "")
}

// startFakeClusterOfRun is startFakeCluster with processes that belong to
// run, as those another master started.
func startFakeClusterOfRun(t *testing.T, cfg *config.Config, run string) *fakeCluster {
	t.Helper()
	c := newFakeCluster(cfg)
	c.run = run
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		if err := c.serve(s.WatchdogAddr(), "Watchdog", &fakeWatchdog{c}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range cfg.ClientIDs() {
		cl, _ := cfg.Client(id)
		if err := c.serve(cl.RPCAddr(), "Client", &fakeClientRPC{c, id}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.close)
	return c
}

func newFakeCluster(cfg *config.Config) *fakeCluster {
	c := &fakeCluster{cfg: cfg, servers: map[uint32]*fakeServer{}, clients: map[uint32]*fakeClient{}}
	for _, id := range cfg.ServerIDs() {
		c.servers[id] = &fakeServer{id: id, cuts: map[uint32]bool{}}
	}
	for _, id := range cfg.ClientIDs() {
		c.clients[id] = &fakeClient{}
	}
	return c
}

func (c *fakeCluster) serve(addr, name string, rcvr any) error {
	ln, err := rpcconn.Listen(rpcconn.Identity{Cluster: c.cfg.Cluster, Run: c.run, Role: "fake-" + strings.ToLower(name)}, addr, name, rcvr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.listeners = append(c.listeners, ln)
	c.mu.Unlock()
	return nil
}

func (c *fakeCluster) close() {
	c.mu.Lock()
	lns := c.listeners
	c.listeners = nil
	for _, s := range c.servers {
		if s.ln != nil {
			lns = append(lns, s.ln)
			s.ln = nil
		}
	}
	conns := []*rpcconn.Conn{}
	for _, cl := range c.clients {
		if cl.conn != nil {
			conns = append(conns, cl.conn)
		}
	}
	c.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, cn := range conns {
		cn.Close()
	}
}

// crash stops server id behind the master's back.
func (c *fakeCluster) crash(id uint32) {
	c.mu.Lock()
	s := c.servers[id]
	ln := s.ln
	s.ln = nil
	c.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

func (c *fakeCluster) running(id uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[id].ln != nil
}

func (c *fakeCluster) setFrozen(f bool) {
	c.mu.Lock()
	c.frozen = f
	c.mu.Unlock()
}

// server returns a copy of what the test asserts on.
func (c *fakeCluster) linkOps(id uint32) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.servers[id].linkOps...)
}

func (c *fakeCluster) startCalls() []api.StartArgs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]api.StartArgs(nil), c.starts...)
}

func (c *fakeCluster) killCalls() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.kills...)
}

func (c *fakeCluster) statusCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusCalls
}

// ---- watchdog

type fakeWatchdog struct{ c *fakeCluster }

func (w *fakeWatchdog) Ping(_ api.Empty, r *api.PingReply) error {
	*r = api.PingReply{Role: "watchdog"}
	return nil
}

func (w *fakeWatchdog) Start(a api.StartArgs, r *api.StartReply) error {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts = append(c.starts, a)
	s, ok := c.servers[a.ServerID]
	if !ok {
		return fmt.Errorf("no server %d", a.ServerID)
	}
	if s.ln != nil {
		return fmt.Errorf("server %d is already running", a.ServerID)
	}
	if a.Fresh {
		*s = fakeServer{id: s.id, linkOps: s.linkOps}
	}
	// A new process starts with every link up.
	s.cuts = map[uint32]bool{}
	cfg, _ := c.cfg.Server(a.ServerID)
	// As a real watchdog's: the server belongs to the run that asked.
	run := c.run
	if run == "" {
		run = a.Run
	}
	ln, err := rpcconn.Listen(rpcconn.Identity{Cluster: c.cfg.Cluster, Run: run, Role: rpcconn.RoleServer, ID: a.ServerID},
		cfg.RPCAddr(), "Server", &fakeServerRPC{c, a.ServerID})
	if err != nil {
		return err
	}
	s.ln = ln
	r.Pid = 1
	return nil
}

func (w *fakeWatchdog) Kill(a api.KillArgs, _ *api.Empty) error {
	c := w.c
	c.mu.Lock()
	c.kills = append(c.kills, a.ServerID)
	s, ok := c.servers[a.ServerID]
	if !ok || s.ln == nil {
		c.mu.Unlock()
		return fmt.Errorf("server %d is not running", a.ServerID)
	}
	ln := s.ln
	s.ln = nil
	c.mu.Unlock()
	return ln.Close()
}

// ---- server

type fakeServerRPC struct {
	c  *fakeCluster
	id uint32
}

// self returns the server under c.mu, or an error if it was killed while
// the call was on its way.
func (f *fakeServerRPC) self() (*fakeServer, error) {
	s := f.c.servers[f.id]
	if s.ln == nil {
		return nil, errors.New("server is down")
	}
	return s, nil
}

func (f *fakeServerRPC) Ping(_ api.Empty, r *api.PingReply) error {
	*r = api.PingReply{Role: "server", ID: f.id}
	return nil
}

func (f *fakeServerRPC) Put(a api.PutArgs, r *api.PutReply) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	s.seq++
	e := model.Entry{Key: a.Key, Value: a.Value, Seq: s.seq, Src: uint64(s.id),
		Version: model.Version{Wall: time.Now().UnixNano(), Origin: s.id}}
	s.log = append(s.log, e)
	s.seen.Add(e.Dot())
	*r = api.PutReply{Status: api.OK, Version: e.Version}
	return nil
}

func (f *fakeServerRPC) Get(a api.GetArgs, r *api.GetReply) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	if e, ok := s.store()[string(a.Key)]; ok {
		*r = api.GetReply{Status: api.OK, Value: e.Value, Version: e.Version}
	} else {
		*r = api.GetReply{Status: api.ErrKey}
	}
	return nil
}

// Pause and Resume only record: the fake server goes on answering, which
// lets a test see what the master sends it meanwhile (nothing).
func (w *fakeWatchdog) Pause(a api.KillArgs, _ *api.Empty) error  { return w.record(a, "Pause") }
func (w *fakeWatchdog) Resume(a api.KillArgs, _ *api.Empty) error { return w.record(a, "Resume") }

func (w *fakeWatchdog) record(a api.KillArgs, op string) error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	s, ok := w.c.servers[a.ServerID]
	if !ok || s.ln == nil {
		return fmt.Errorf("server %d is not running", a.ServerID)
	}
	s.linkOps = append(s.linkOps, op)
	return nil
}

// SkewClock is recorded with the link calls, as "Skew D".
func (f *fakeServerRPC) SkewClock(a api.SkewArgs, _ *api.Empty) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	s.linkOps = append(s.linkOps, "Skew "+a.Skew.String())
	return nil
}

func (f *fakeServerRPC) Cut(a api.LinkArgs, _ *api.Empty) error {
	return f.link(a.Peer, "Cut", true)
}

func (f *fakeServerRPC) Heal(a api.LinkArgs, _ *api.Empty) error {
	return f.link(a.Peer, "Heal", false)
}

func (f *fakeServerRPC) link(peer uint32, op string, cut bool) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	s.cuts[peer] = cut
	s.linkOps = append(s.linkOps, fmt.Sprintf("%s %d", op, peer))
	return nil
}

func (f *fakeServerRPC) Status(_ api.Empty, r *api.StatusReply) error {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	c.statusCalls++
	if !c.frozen {
		for _, p := range c.servers {
			if p == s || p.ln == nil || s.cuts[p.id] || p.cuts[s.id] {
				continue
			}
			for _, e := range p.log {
				if s.seen.Add(e.Dot()) {
					s.log = append(s.log, e)
					break
				}
			}
		}
	}
	st := s.store()
	h := fnv.New64a()
	for _, k := range sortedKeys(st) {
		fmt.Fprintf(h, "%q=%q;", k, st[k].Value)
	}
	*r = api.StatusReply{ID: s.id, Seen: s.seen.Clone(), StoreDigest: h.Sum64(), Keys: len(st)}
	return nil
}

func (f *fakeServerRPC) Dump(_ api.Empty, r *api.DumpReply) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	s, err := f.self()
	if err != nil {
		return err
	}
	st := s.store()
	for _, k := range sortedKeys(st) {
		r.Entries = append(r.Entries, api.KV{Key: []byte(k), Value: st[k].Value})
	}
	return nil
}

// store is the newest entry of each key.
func (s *fakeServer) store() map[string]model.Entry {
	st := map[string]model.Entry{}
	for _, e := range s.log {
		if old, ok := st[string(e.Key)]; !ok || old.Version.Less(e.Version) {
			st[string(e.Key)] = e
		}
	}
	return st
}

func sortedKeys(m map[string]model.Entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- client

type fakeClientRPC struct {
	c  *fakeCluster
	id uint32
}

func (f *fakeClientRPC) Ping(_ api.Empty, r *api.PingReply) error {
	*r = api.PingReply{Role: "client", ID: f.id}
	return nil
}

func (f *fakeClientRPC) Connect(a api.ConnectArgs, _ *api.Empty) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	cl := f.c.clients[f.id]
	if cl.conn != nil {
		cl.conn.Close()
	}
	run := f.c.run
	if run == "" {
		run = a.Run
	}
	cl.conn = rpcconn.New(rpcconn.Identity{Cluster: f.c.cfg.Cluster, Run: run, Role: rpcconn.RoleClient, ID: f.id}, a.Addr, time.Second)
	cl.serverID = a.ServerID
	cl.connected = true
	return nil
}

func (f *fakeClientRPC) Disconnect(_ api.Empty, _ *api.Empty) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.clients[f.id].connected = false
	return nil
}

// server returns the client's connection and the server's id, or nil if
// it has none; the call itself is made without c.mu, which the server's
// handler takes.
func (f *fakeClientRPC) server() (*rpcconn.Conn, uint32) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	cl := f.c.clients[f.id]
	if !cl.connected {
		return nil, 0
	}
	return cl.conn, cl.serverID
}

func (f *fakeClientRPC) Put(a api.ClientPutArgs, r *api.ClientReply) error {
	conn, id := f.server()
	if conn == nil {
		*r = api.ClientReply{Status: api.ErrConn, Reason: "disconnected"}
		return nil
	}
	var pr api.PutReply
	if err := conn.Call(api.ServerPut, api.PutArgs{Key: a.Key, Value: a.Value}, &pr); err != nil {
		*r = api.ClientReply{Status: api.ErrConn, Reason: err.Error()}
		return nil
	}
	*r = api.ClientReply{Status: pr.Status, Reason: pr.Reason, Server: id}
	return nil
}

func (f *fakeClientRPC) Get(a api.ClientGetArgs, r *api.ClientReply) error {
	conn, id := f.server()
	if conn == nil {
		*r = api.ClientReply{Status: api.ErrConn}
		return nil
	}
	var gr api.GetReply
	if err := conn.Call(api.ServerGet, api.GetArgs{Key: a.Key}, &gr); err != nil {
		*r = api.ClientReply{Status: api.ErrConn, Reason: err.Error()}
		return nil
	}
	*r = api.ClientReply{Status: gr.Status, Value: gr.Value, Server: id}
	return nil
}

// ---- config

// testConfig places n servers (ids 0..n-1) and m clients (ids n..n+m-1) on
// free loopback ports, with short timeouts so failing tests fail fast.
func testConfig(t *testing.T, n, m int) *config.Config {
	t.Helper()
	cfg, err := config.LocalFreePorts(n, m, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timing.RPCTimeout = 2 * time.Second
	cfg.Timing.StartTimeout = 10 * time.Second
	cfg.Timing.StabilizeTimeout = 10 * time.Second
	cfg.Timing.StabilizePoll = time.Millisecond
	return cfg
}
