package memcache

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
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

func newFakeStore() *fakeStore { return &fakeStore{data: map[string]fakeEntry{}} }

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) issue(key []byte, e fakeEntry, dep model.Version) api.PutReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(key) == 0 {
		return api.PutReply{Status: api.ErrFailed, Reason: "empty key"}
	}
	f.clock++
	e.version = model.Tick(model.Max(model.Version{Wall: f.clock}, dep), f.clock, 7)
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

func (f *fakeStore) Status() (api.StatusReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := api.StatusReply{ID: 3, Keys: len(f.data), Links: []uint32{1, 4}}
	for _, e := range f.data {
		if !e.deleted {
			st.Live++
		}
	}
	return st, nil
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

// raw is a bare text-protocol client on one connection.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, s *Server) *raw {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes text as it is.
func (r *raw) send(text string) {
	r.t.Helper()
	r.c.SetDeadline(time.Now().Add(30 * time.Second)) // only against a hang
	if _, err := io.WriteString(r.c, text); err != nil {
		r.t.Fatalf("send %q: %v", text, err)
	}
}

// line reads one reply line, without its "\r\n".
func (r *raw) line() string {
	r.t.Helper()
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		r.t.Fatalf("reply line %q does not end in \\r\\n", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// do sends text and reads n reply lines, joined by "|".
func (r *raw) do(text string, n int) string {
	r.t.Helper()
	r.send(text)
	var out []string
	for range n {
		out = append(out, r.line())
	}
	return strings.Join(out, "|")
}
