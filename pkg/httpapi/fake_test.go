package httpapi

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/metrics"
	"gossipkv/pkg/model"
)

// fakeStore is a store with one replica's semantics (model.Replica's Get:
// a write at least as new as the dependency answers, else ErrDep), that
// records the dependency of every call and can be made to forget writes,
// as a server that reloaded a disk that lost them.
type fakeStore struct {
	// mu guards the fields below.
	mu    sync.Mutex
	clock int64
	data  map[string]fakeEntry
	calls []fakeCall
	// block, when set, holds every Put until it is closed.
	block chan struct{}
}

type fakeEntry struct {
	value   []byte
	version model.Version
	deleted bool
}

type fakeCall struct {
	op  string
	key string
	dep model.Version
}

func newFakeStore() *fakeStore {
	return &fakeStore{data: map[string]fakeEntry{}, clock: time.Now().UnixNano()}
}

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) issue(key []byte, e fakeEntry, dep model.Version) api.PutReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(key) == 0 {
		return api.PutReply{Status: api.ErrFailed, Reason: "empty key"}
	}
	f.clock++
	e.version = model.Tick(model.Max(model.Version{Wall: f.clock}, dep), f.clock, 3)
	f.clock = e.version.Wall
	f.data[string(key)] = e
	return api.PutReply{Status: api.OK, Version: e.version}
}

func (f *fakeStore) record(op string, key []byte, dep model.Version) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{op, string(key), dep})
	return f.block
}

func (f *fakeStore) Put(key, value []byte, dep model.Version) api.PutReply {
	if b := f.record("put", key, dep); b != nil {
		<-b
	}
	return f.issue(key, fakeEntry{value: slices.Clone(value)}, dep)
}

func (f *fakeStore) PutIfAbsent(key, value []byte, dep model.Version) (api.PutReply, bool) {
	f.record("add", key, dep)
	r, _ := f.get(key, dep)
	switch r.Status {
	case api.OK:
		return api.PutReply{Status: api.OK, Version: r.Version}, false
	case api.ErrDep:
		return api.PutReply{Status: api.ErrDep}, false
	}
	return f.issue(key, fakeEntry{value: slices.Clone(value)}, dep), true
}

func (f *fakeStore) Delete(key []byte, dep model.Version) api.PutReply {
	f.record("delete", key, dep)
	return f.issue(key, fakeEntry{deleted: true}, dep)
}

func (f *fakeStore) Get(key []byte, dep model.Version) (api.GetReply, error) {
	f.record("get", key, dep)
	return f.get(key, dep)
}

func (f *fakeStore) get(key []byte, dep model.Version) (api.GetReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.data[string(key)]
	switch {
	case ok && !e.version.Less(dep) && e.deleted:
		return api.GetReply{Status: api.ErrKey, Version: e.version}, nil
	case ok && !e.version.Less(dep):
		return api.GetReply{Status: api.OK, Value: e.value, Version: e.version}, nil
	case !ok && dep.IsZero():
		return api.GetReply{Status: api.ErrKey}, nil
	}
	return api.GetReply{Status: api.ErrDep}, nil
}

func (f *fakeStore) Keys(from []byte, limit int) ([][]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var live []string
	for k, e := range f.data {
		if !e.deleted && k >= string(from) {
			live = append(live, k)
		}
	}
	slices.Sort(live)
	var out [][]byte
	for _, k := range live[:min(limit, len(live))] {
		out = append(out, []byte(k))
	}
	return out, len(live) > limit, nil
}

func (f *fakeStore) Status() (api.StatusReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := api.StatusReply{ID: 3, Keys: len(f.data), Links: []uint32{1, 4},
		Topology: map[uint32][]uint32{1: {3}, 3: {1, 4}, 4: {3}}}
	for range 5 {
		st.Seen.Add(model.Dot{Origin: 77, Seq: st.Seen.Count() + 1})
	}
	for _, e := range f.data {
		if !e.deleted {
			st.Live++
		}
	}
	return st, nil
}

func (f *fakeStore) Lag() (api.LagReply, error) {
	return api.LagReply{Behind: 2, Peers: []model.PeerLag{{Peer: 1, Linked: true, Missing: 2}, {Peer: 4, Unacked: 7}}}, nil
}

func (f *fakeStore) Stats() api.StatsReply {
	return api.StatsReply{ID: 3, Puts: 10, Gets: 20, Deletes: 3, Commits: 4, Checkpoints: 1, Batches: 9, Bytes: 9000,
		Writes: 12, Relayed: 5, Acks: 6, Deltas: 1, DeltaEntries: 2}
}

func (f *fakeStore) Latencies() api.Latencies {
	var put metrics.Histogram
	put.Observe(300 * time.Microsecond)
	put.Observe(2 * time.Millisecond)
	return api.Latencies{Put: put.Snapshot(), Delete: (&metrics.Histogram{}).Snapshot(), Get: (&metrics.Histogram{}).Snapshot()}
}

// forget drops key, as a server whose disk lost its writes.
func (f *fakeStore) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, key)
}

// deps returns the dependencies sent with the calls on key, in order,
// and forgets the calls.
func (f *fakeStore) deps(key string) []model.Version {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.Version
	for _, c := range f.calls {
		if c.key == key {
			out = append(out, c.dep)
		}
	}
	f.calls = nil
	return out
}

func (f *fakeStore) version(key string) model.Version {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data[key].version
}

// listen starts a front for store on a free loopback port until the test
// ends.
func listen(t *testing.T, store Store, cfg Config) *Server {
	t.Helper()
	if cfg.ID == 0 {
		cfg.ID = 3
	}
	if cfg.Cluster == "" {
		cfg.Cluster = "test"
	}
	if cfg.Servers == nil {
		cfg.Servers = []uint32{1, 3, 4}
	}
	s, err := Listen("127.0.0.1:0", store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// reply is an answer as a test looks at it.
type reply struct {
	code  int
	body  string
	token string
	h     http.Header
}

// do sends method path (already percent-encoded) with body and headers
// ("Name: value") to s.
func do(t *testing.T, s *Server, method, path, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.Addr().String()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{code: resp.StatusCode, body: string(b), token: resp.Header.Get(SessionHeader), h: resp.Header}
}

// client has a deadline only against a hang.
var client = &http.Client{Timeout: 30 * time.Second}
