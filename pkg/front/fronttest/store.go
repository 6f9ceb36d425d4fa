package fronttest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/front"
	"gossipkv/pkg/metrics"
	"gossipkv/pkg/model"
)

// ID is the server id a Store issues its versions as, and reports.
const ID = 3

// Store is a front.Store with one replica's semantics (model.Replica's
// Get: a write at least as new as the dependency answers, else ErrDep),
// that records the dependency of every call and can be made to forget
// writes, as a server that reloaded a disk that lost them, and so be
// behind a session. Its status, lag and counters are fixed figures of a
// server 3 linked to 1 and 4.
type Store struct {
	// mu guards the fields below.
	mu    sync.Mutex
	clock int64 // the wall of the last version issued
	data  map[string]entry
	calls []call
	// hold, when set, holds every Put until it is closed.
	hold     chan struct{}
	held     bool // a Put has been held
	returned bool // a held Put has returned
	fail     error
}

type entry struct {
	value   []byte
	version model.Version
	deleted bool
}

type call struct {
	key string
	dep model.Version
}

var _ front.Store = (*Store)(nil)

// NewStore returns an empty store whose versions start at the wall clock,
// as a server's do (the HTTP front refuses versions far from its clock).
func NewStore() *Store {
	return &Store{data: map[string]entry{}, clock: time.Now().UnixNano()}
}

func (f *Store) issue(key []byte, e entry, dep model.Version) api.PutReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return api.PutReply{Status: api.ErrFailed, Reason: f.fail.Error()}
	}
	if len(key) == 0 {
		return api.PutReply{Status: api.ErrFailed, Reason: "empty key"}
	}
	f.clock++
	e.version = model.Tick(model.Max(model.Version{Wall: f.clock}, dep), f.clock, ID)
	f.clock = e.version.Wall
	f.data[string(key)] = e
	return api.PutReply{Status: api.OK, Version: e.version}
}

func (f *Store) record(key []byte, dep model.Version) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{string(key), dep})
}

func (f *Store) Put(key, value []byte, dep model.Version) api.PutReply {
	f.record(key, dep)
	f.mu.Lock()
	h := f.hold
	f.held = f.held || h != nil
	f.mu.Unlock()
	if h != nil {
		<-h
		defer func() { f.mu.Lock(); f.returned = true; f.mu.Unlock() }()
	}
	return f.issue(key, entry{value: slices.Clone(value)}, dep)
}

func (f *Store) PutIfAbsent(key, value []byte, dep model.Version) (api.PutReply, bool) {
	f.record(key, dep)
	r, err := f.get(key, dep)
	switch {
	case err != nil:
		return api.PutReply{Status: api.ErrFailed, Reason: err.Error()}, false
	case r.Status == api.OK:
		return api.PutReply{Status: api.OK, Version: r.Version}, false
	case r.Status == api.ErrDep:
		return api.PutReply{Status: api.ErrDep}, false
	}
	return f.issue(key, entry{value: slices.Clone(value)}, dep), true
}

func (f *Store) Delete(key []byte, dep model.Version) api.PutReply {
	f.record(key, dep)
	return f.issue(key, entry{deleted: true}, dep)
}

func (f *Store) Get(key []byte, dep model.Version) (api.GetReply, error) {
	f.record(key, dep)
	return f.get(key, dep)
}

func (f *Store) get(key []byte, dep model.Version) (api.GetReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return api.GetReply{}, f.fail
	}
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

func (f *Store) Keys(from []byte, limit int) ([][]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, false, f.fail
	}
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

func (f *Store) Status() (api.StatusReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return api.StatusReply{}, f.fail
	}
	st := api.StatusReply{ID: ID, Keys: len(f.data), Links: []uint32{1, 4},
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

func (f *Store) Lag() (api.LagReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return api.LagReply{}, f.fail
	}
	return api.LagReply{Behind: 2, Peers: []model.PeerLag{{Peer: 1, Linked: true, Missing: 2}, {Peer: 4, Unacked: 7}}}, nil
}

func (f *Store) Stats() api.StatsReply {
	return api.StatsReply{ID: ID, Puts: 10, Gets: 20, Deletes: 3, Commits: 4, Checkpoints: 1, Batches: 9, Bytes: 9000,
		Writes: 12, Relayed: 5, Acks: 6, Deltas: 1, DeltaEntries: 2}
}

func (f *Store) Latencies() api.Latencies {
	var put metrics.Histogram
	put.Observe(300 * time.Microsecond)
	put.Observe(2 * time.Millisecond)
	return api.Latencies{Put: put.Snapshot(), Delete: (&metrics.Histogram{}).Snapshot(), Get: (&metrics.Histogram{}).Snapshot()}
}

// Hold makes every Put wait, once recorded, until release is called.
func (f *Store) Hold() (release func()) {
	h := make(chan struct{})
	f.mu.Lock()
	f.hold = h
	f.mu.Unlock()
	return func() { close(h) }
}

// WaitHeld returns once Hold holds a Put. Its deadline only guards
// against a hang.
func (f *Store) WaitHeld(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		held := f.held
		f.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no Put reached the store")
		}
		time.Sleep(time.Millisecond)
	}
}

// Returned says whether a Put that Hold held has returned.
func (f *Store) Returned() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.returned
}

// Fail makes every later call fail with err (ErrFailed with its text, for
// a write), as a server that cannot reach its disk; nil ends that.
func (f *Store) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// Forget drops key, as a server whose disk lost its writes: a session
// that depends on one of them finds the store behind (ErrDep).
func (f *Store) Forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.data, key)
}

// Plant makes key hold value at version v, as a write from elsewhere
// (an older one, say, after Forget).
func (f *Store) Plant(key, value string, v model.Version) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[key] = entry{value: []byte(value), version: v}
}

// Deps returns the dependencies sent with the calls on key, in order,
// and forgets every call.
func (f *Store) Deps(key string) []model.Version {
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

// Version is the version of key's newest write (zero: none).
func (f *Store) Version(key string) model.Version {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data[key].version
}

// Value is what key holds, and whether that is a deletion.
func (f *Store) Value(key string) (value []byte, deleted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.data[key]
	return e.value, e.deleted
}
