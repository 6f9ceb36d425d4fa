package resp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
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
	block    chan struct{}
	returned bool // a held Put has returned
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
		defer func() { f.mu.Lock(); f.returned = true; f.mu.Unlock() }()
	}
	return f.issue(key, fakeEntry{value: slices.Clone(value)}, dep)
}

func (f *fakeStore) Delete(key []byte, dep model.Version) api.PutReply {
	f.record("delete", key, dep)
	return f.issue(key, fakeEntry{deleted: true}, dep)
}

func (f *fakeStore) Get(key []byte, dep model.Version) (api.GetReply, error) {
	f.record("get", key, dep)
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

// Replies as the raw client reads them, so that tests see exactly what
// went on the wire: a simple string, an error, an integer, a bulk string
// (nil for a null bulk) or an array.
type (
	simple string
	rerr   string
	bulk   string
)

// raw is a bare RESP2 client on one connection.
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

// do sends a command and reads its reply.
func (r *raw) do(args ...string) any {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.c.SetDeadline(time.Now().Add(30 * time.Second)) // only against a hang
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		r.t.Fatalf("send %q: %v", args, err)
	}
	v, err := r.read()
	if err != nil {
		r.t.Fatalf("reply to %q: %v", args, err)
	}
	return v
}

func (r *raw) read() (any, error) {
	line, err := r.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return nil, fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return simple(body), nil
	case '-':
		return rerr(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err // null bulk: nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return nil, err
		}
		return bulk(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = r.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply %q", line)
}

// want fails the test unless got equals want (by their printed forms,
// which show the reply types).
func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", want); g != w {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
