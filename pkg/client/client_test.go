package client

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/rpcconn"
)

// fakeServer stands in for a gossipkv server: it records the dependency of
// every request and answers with the canned reply set for the next call.
type fakeServer struct {
	mu   sync.Mutex
	deps []model.Version // Dep of every Put and Get, in order
	put  api.PutReply
	get  api.GetReply
	fail error // returned as the call's error when set
	// deleted lists the keys of every Delete, in order.
	deleted []string
}

func (f *fakeServer) Put(args api.PutArgs, reply *api.PutReply) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deps = append(f.deps, args.Dep)
	*reply = f.put
	return f.fail
}

// Delete answers like Put, and records its key so a test can tell the
// two apart.
func (f *fakeServer) Delete(args api.DeleteArgs, reply *api.PutReply) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deps = append(f.deps, args.Dep)
	f.deleted = append(f.deleted, string(args.Key))
	*reply = f.put
	return f.fail
}

func (f *fakeServer) Get(args api.GetArgs, reply *api.GetReply) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deps = append(f.deps, args.Dep)
	*reply = f.get
	return f.fail
}

func (f *fakeServer) answerPut(r api.PutReply) {
	f.mu.Lock()
	f.put = r
	f.mu.Unlock()
}

func (f *fakeServer) answerGet(r api.GetReply) {
	f.mu.Lock()
	f.get = r
	f.mu.Unlock()
}

// lastDep is the dependency the most recent request carried.
func (f *fakeServer) lastDep(t *testing.T) model.Version {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.deps) == 0 {
		t.Fatal("the server got no request")
	}
	return f.deps[len(f.deps)-1]
}

func (f *fakeServer) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.deps)
}

type harness struct {
	cfg    *config.Config
	conn   *rpcconn.Conn // the master's view of the client
	client *Client
}

const clientID = 2

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOfRun(t, "")
}

// newHarnessOfRun runs a client that belongs to run (as the master that
// starts one passes -run); the harness calls it as a master of that run.
func newHarnessOfRun(t *testing.T, run string) *harness {
	t.Helper()
	cfg, err := config.LocalFreePorts(2, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Client(clientID); !ok {
		t.Fatalf("LocalFreePorts(2, 1) has no client %d: %+v", clientID, cfg.Clients)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := Listen(cfg, clientID, run, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	conn := rpcconn.New(rpcconn.Identity{Cluster: cfg.Cluster, Run: run, Role: rpcconn.RoleMaster}, c.Addr(), cfg.Timing.RPCTimeout)
	t.Cleanup(func() { conn.Close() })
	return &harness{cfg: cfg, conn: conn, client: c}
}

// serve starts a fake server on server id's configured address.
func (h *harness) serve(t *testing.T, id uint32) (*fakeServer, *rpcconn.Server) {
	t.Helper()
	return h.serveOfRun(t, id, "")
}

// serveOfRun starts a fake server that belongs to run.
func (h *harness) serveOfRun(t *testing.T, id uint32, run string) (*fakeServer, *rpcconn.Server) {
	t.Helper()
	s, ok := h.cfg.Server(id)
	if !ok {
		t.Fatalf("no server %d in the config", id)
	}
	f := &fakeServer{}
	srv, err := rpcconn.Listen(rpcconn.Identity{Cluster: h.cfg.Cluster, Run: run, Role: rpcconn.RoleServer, ID: id}, s.RPCAddr(), "Server", f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return f, srv
}

func (h *harness) connect(t *testing.T, id uint32) {
	t.Helper()
	if err := h.conn.Call(api.ClientConnect, api.ConnectArgs{ServerID: id}, &api.Empty{}); err != nil {
		t.Fatalf("connect to %d: %v", id, err)
	}
}

func (h *harness) disconnect(t *testing.T) {
	t.Helper()
	if err := h.conn.Call(api.ClientDisconnect, api.Empty{}, &api.Empty{}); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}

func (h *harness) put(t *testing.T, key, value string) api.ClientReply {
	t.Helper()
	var r api.ClientReply
	if err := h.conn.Call(api.ClientPut, api.ClientPutArgs{Key: []byte(key), Value: []byte(value)}, &r); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return r
}

func (h *harness) del(t *testing.T, key string) api.ClientReply {
	t.Helper()
	var r api.ClientReply
	if err := h.conn.Call(api.ClientDelete, api.ClientDeleteArgs{Key: []byte(key)}, &r); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	return r
}

func (h *harness) get(t *testing.T, key string) api.ClientReply {
	t.Helper()
	var r api.ClientReply
	if err := h.conn.Call(api.ClientGet, api.ClientGetArgs{Key: []byte(key)}, &r); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return r
}

func ver(wall int64, origin uint32) model.Version { return model.Version{Wall: wall, Origin: origin} }

func wantStatus(t *testing.T, what string, r api.ClientReply, want api.Status) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %v (reason %q), want %v", what, r.Status, r.Reason, want)
	}
}

func wantDep(t *testing.T, f *fakeServer, want model.Version) {
	t.Helper()
	if got := f.lastDep(t); got != want {
		t.Fatalf("server got dependency %v, want %v", got, want)
	}
}

func TestClient_Ping_IdentifiesClient(t *testing.T) {
	h := newHarness(t)
	var r api.PingReply
	if err := h.conn.Call(api.ClientPing, api.Empty{}, &r); err != nil {
		t.Fatal(err)
	}
	want := api.PingReply{Role: "client", ID: clientID, Pid: os.Getpid()}
	if r != want {
		t.Fatalf("ping: %+v, want %+v", r, want)
	}
}

// A client started by hand (no run) calls its server as a member of the
// run of the master that connected it: a server of another run refuses.
func TestClient_CallsItsServerAsTheMastersRun(t *testing.T) {
	h := newHarness(t)
	f, _ := h.serveOfRun(t, 0, "r1")
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	connect := func(run string) {
		t.Helper()
		if err := h.conn.Call(api.ClientConnect, api.ConnectArgs{ServerID: 0, Run: run}, &api.Empty{}); err != nil {
			t.Fatalf("connect as run %q: %v", run, err)
		}
	}
	connect("r1")
	wantStatus(t, "put as the server's run", h.put(t, "k", "v"), api.OK)
	connect("r2")
	r := h.put(t, "k", "w")
	wantStatus(t, "put as another run", r, api.ErrConn)
	if !strings.Contains(r.Reason, "refused") || !strings.Contains(r.Reason, "run r1") || !strings.Contains(r.Reason, "run r2") {
		t.Errorf("reason %q does not name the refusal and both runs", r.Reason)
	}
	if n := f.calls(); n != 1 {
		t.Errorf("the server got %d requests, want 1 (another run's put reached it)", n)
	}
}

// A client the master started (-run) refuses every other run, and calls
// its server as its own run whatever Connect says.
func TestClient_OfARun_RefusesOtherRuns(t *testing.T) {
	h := newHarnessOfRun(t, "r1")
	other := rpcconn.New(rpcconn.Identity{Cluster: h.cfg.Cluster, Run: "r2", Role: rpcconn.RoleMaster}, h.client.Addr(), h.cfg.Timing.RPCTimeout)
	defer other.Close()
	var r api.ClientReply
	err := other.Call(api.ClientPut, api.ClientPutArgs{Key: []byte("intruder"), Value: []byte("x")}, &r)
	var re *rpcconn.RefusedError
	if !errors.As(err, &re) || re.Peer.Role != rpcconn.RoleClient || re.Peer.Run != "r1" {
		t.Fatalf("put from run r2: %v; want a refusal by client %d of run r1", err, clientID)
	}
	f, _ := h.serveOfRun(t, 0, "r1")
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	h.connect(t, 0) // names no run
	wantStatus(t, "put through its own run", h.put(t, "k", "v"), api.OK)
}

func TestListen_UnknownID(t *testing.T) {
	cfg, err := config.LocalFreePorts(1, 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Listen(cfg, 0, "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, ErrUnknownID) {
		t.Fatalf("Listen as server id 0: %v, want ErrUnknownID", err)
	}
}

func TestClient_NotConnected_ErrConn(t *testing.T) {
	h := newHarness(t)
	f, _ := h.serve(t, 0)
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})

	wantStatus(t, "put before connect", h.put(t, "k", "v"), api.ErrConn)
	r := h.get(t, "k")
	wantStatus(t, "get before connect", r, api.ErrConn)
	if !strings.Contains(r.Reason, "not connected") {
		t.Fatalf("reason %q does not say the client is not connected", r.Reason)
	}

	h.connect(t, 0)
	wantStatus(t, "put while connected", h.put(t, "k", "v"), api.OK)
	h.disconnect(t)
	wantStatus(t, "put after disconnect", h.put(t, "k", "v"), api.ErrConn)
	wantStatus(t, "get after disconnect", h.get(t, "k"), api.ErrConn)
	if n := f.calls(); n != 1 {
		t.Fatalf("server got %d requests, want only the one made while connected", n)
	}
}

func TestClient_Put_SendsDependencyAndKeepsNewest(t *testing.T) {
	h := newHarness(t)
	f, _ := h.serve(t, 0)
	h.connect(t, 0)

	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	wantStatus(t, "first put", h.put(t, "k", "a"), api.OK)
	wantDep(t, f, model.Version{})

	// A reply older than what the session holds must not lower it.
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(5, 1)})
	wantStatus(t, "second put", h.put(t, "k", "b"), api.OK)
	wantDep(t, f, ver(10, 0))

	f.answerGet(api.GetReply{Status: api.OK, Value: []byte("b"), Version: ver(20, 1)})
	r := h.get(t, "k")
	wantStatus(t, "get", r, api.OK)
	if string(r.Value) != "b" {
		t.Fatalf("get value %q, want %q", r.Value, "b")
	}
	wantDep(t, f, ver(10, 0))

	// The newer version read becomes the dependency of the next write.
	wantStatus(t, "third put", h.put(t, "k", "c"), api.OK)
	wantDep(t, f, ver(20, 1))

	// Keys are independent.
	wantStatus(t, "put other key", h.put(t, "other", "x"), api.OK)
	wantDep(t, f, model.Version{})
}

func TestClient_Connect_SessionMovesWithClient(t *testing.T) {
	h := newHarness(t)
	f0, _ := h.serve(t, 0)
	f1, _ := h.serve(t, 1)

	h.connect(t, 0)
	f0.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	wantStatus(t, "put on 0", h.put(t, "k", "a"), api.OK)

	h.connect(t, 1)
	f1.answerGet(api.GetReply{Status: api.ErrDep})
	wantStatus(t, "get on 1", h.get(t, "k"), api.ErrDep)
	wantDep(t, f1, ver(10, 0))
	if n := f0.calls(); n != 1 {
		t.Fatalf("server 0 got %d requests after the client moved to 1", n)
	}

	// Through a disconnect, too.
	h.disconnect(t)
	h.connect(t, 0)
	f0.answerGet(api.GetReply{Status: api.OK, Value: []byte("a"), Version: ver(10, 0)})
	wantStatus(t, "get back on 0", h.get(t, "k"), api.OK)
	wantDep(t, f0, ver(10, 0))
}

func TestClient_Connect_ExplicitAddress(t *testing.T) {
	h := newHarness(t)
	f1, _ := h.serve(t, 1)
	s1, _ := h.cfg.Server(1)
	// The id says 0, the address is server 1's: the address wins.
	if err := h.conn.Call(api.ClientConnect, api.ConnectArgs{ServerID: 0, Addr: s1.RPCAddr()}, &api.Empty{}); err != nil {
		t.Fatal(err)
	}
	f1.answerGet(api.GetReply{Status: api.ErrKey})
	wantStatus(t, "get", h.get(t, "k"), api.ErrKey)
	if n := f1.calls(); n != 1 {
		t.Fatalf("server at the given address got %d requests, want 1", n)
	}
}

func TestClient_Connect_UnknownServer(t *testing.T) {
	h := newHarness(t)
	err := h.conn.Call(api.ClientConnect, api.ConnectArgs{ServerID: 77}, &api.Empty{})
	if err == nil || !strings.Contains(err.Error(), "unknown server") {
		t.Fatalf("connect to a server not in the config: %v", err)
	}
}

func TestClient_ServerDown_ErrConnAndSessionKept(t *testing.T) {
	h := newHarness(t)

	// Connect does not need the server to be up.
	h.connect(t, 0)
	r := h.put(t, "k", "a")
	wantStatus(t, "put with no server listening", r, api.ErrConn)
	if !strings.Contains(r.Reason, "server 0") {
		t.Fatalf("reason %q does not name the server", r.Reason)
	}

	f, srv := h.serve(t, 0)
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	wantStatus(t, "put", h.put(t, "k", "a"), api.OK)

	srv.Close()
	wantStatus(t, "put after the server stopped", h.put(t, "k", "b"), api.ErrConn)
	wantStatus(t, "get after the server stopped", h.get(t, "k"), api.ErrConn)

	// The server comes back on the same address: the session is intact and
	// the client redials.
	f2, _ := h.serve(t, 0)
	f2.answerGet(api.GetReply{Status: api.OK, Value: []byte("a"), Version: ver(10, 0)})
	wantStatus(t, "get after the server came back", h.get(t, "k"), api.OK)
	wantDep(t, f2, ver(10, 0))
}

func TestClient_StatusesPassThrough(t *testing.T) {
	h := newHarness(t)
	f, _ := h.serve(t, 0)
	h.connect(t, 0)

	f.answerPut(api.PutReply{Status: api.ErrFailed, Version: ver(99, 0), Reason: "value too large"})
	r := h.put(t, "k", "a")
	wantStatus(t, "failed put", r, api.ErrFailed)
	if r.Reason != "value too large" {
		t.Fatalf("reason %q, want the server's", r.Reason)
	}
	f.answerGet(api.GetReply{Status: api.ErrDep, Version: ver(97, 0)})
	wantStatus(t, "get of a missing dependency", h.get(t, "k"), api.ErrDep)

	// Versions that came with a failure are not the client's to depend on.
	wantStatus(t, "get", h.get(t, "k"), api.ErrDep)
	wantDep(t, f, model.Version{})

	// A deleted key is ERR_KEY with the delete's version: reading a
	// deletion is a read, which the session then depends on.
	f.answerGet(api.GetReply{Status: api.ErrKey, Version: ver(98, 0)})
	wantStatus(t, "get of a deleted key", h.get(t, "k"), api.ErrKey)
	wantStatus(t, "get", h.get(t, "k"), api.ErrKey)
	wantDep(t, f, ver(98, 0))

	// A server that rejects the call is not a lost link.
	f.mu.Lock()
	f.fail = errors.New("bad request")
	f.mu.Unlock()
	r = h.put(t, "k", "a")
	wantStatus(t, "rejected put", r, api.ErrFailed)
	if !strings.Contains(r.Reason, "bad request") {
		t.Fatalf("reason %q does not carry the server's error", r.Reason)
	}
}

// A delete is a write of the session: it carries the client's dependency
// on the key, and the client then depends on the delete, so that no server
// may answer with the value it deleted.
func TestClient_Delete_CarriesAndSetsDependency(t *testing.T) {
	h := newHarness(t)
	f, _ := h.serve(t, 0)
	h.connect(t, 0)
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(10, 0)})
	wantStatus(t, "put", h.put(t, "k", "v"), api.OK)
	f.answerPut(api.PutReply{Status: api.OK, Version: ver(20, 0)})
	if r := h.del(t, "k"); r.Status != api.OK || r.Version != ver(20, 0) || r.Dep != ver(10, 0) {
		t.Fatalf("delete = %+v, want OK at v20 with dependency v10", r)
	}
	f.mu.Lock()
	deleted := f.deleted
	f.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != "k" {
		t.Fatalf("server got deletes %q, want [k]", deleted)
	}
	f.answerGet(api.GetReply{Status: api.ErrKey, Version: ver(20, 0)})
	wantStatus(t, "get", h.get(t, "k"), api.ErrKey)
	wantDep(t, f, ver(20, 0))
}
