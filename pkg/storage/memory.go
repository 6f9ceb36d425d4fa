package storage

import (
	"bytes"
	"slices"
	"sync"

	"gossipkv/pkg/model"
)

// Memory is a Backend that lives in memory, for tests that run servers in one
// process. It deep-copies on the way in and out, so that a caller that
// mutates a slice after Commit, or a slice that Load returned, finds the same
// aliasing bugs it would with Bolt.
type Memory struct {
	mu sync.Mutex
	// closed, store, meta and logged are guarded by mu.
	closed bool
	store  map[string]model.Entry
	meta   model.Meta
	// logged is what Log took since the last Commit, which folds it in
	// again over the caller's snapshot, as Bolt does.
	logged []logRecord
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{store: map[string]model.Entry{}}
}

// Load returns copies of every committed entry and of the meta. Memory
// never finds damage.
func (m *Memory) Load() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return State{}, ErrClosed
	}
	entries := make([]model.Entry, 0, len(m.store))
	for _, e := range m.store {
		entries = append(entries, cloneEntry(e))
	}
	return State{Entries: dropCollected(entries, m.meta.Stable), Meta: cloneMeta(m.meta)}, nil
}

// Reset replaces what m holds with copies of entries and meta.
func (m *Memory) Reset(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	clear(m.store)
	for _, e := range entries {
		m.put(e)
	}
	m.meta, m.logged = cloneMeta(meta), nil
	return nil
}

// Commit stores copies of entries and meta. Like Bolt it refuses a batch
// that Load would later call corrupt, and then stores none of it.
func (m *Memory) Commit(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.meta = cloneMeta(commitState(m.meta, &meta, entries, m.logged, m.get, m.put, m.del))
	m.logged = nil
	return nil
}

// Log folds copies of entries and meta into the committed state at once:
// for a Memory, durable and committed are the same.
func (m *Memory) Log(entries []model.Entry, meta model.Meta) error {
	if err := validate(entries, meta); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	rec := newRecord(entries, meta)
	m.meta = commitState(m.meta, nil, nil, []logRecord{rec}, m.get, m.put, m.del)
	m.logged = append(m.logged, rec)
	return nil
}

// Checkpoint forgets the log: its records are in the state already.
func (m *Memory) Checkpoint() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.logged = nil
	return nil
}

// get and put are the store as fold sees it; mu must be held.
func (m *Memory) get(key []byte) (model.Entry, bool) {
	e, ok := m.store[string(key)]
	return e, ok
}

func (m *Memory) put(e model.Entry) { m.store[string(e.Key)] = cloneEntry(e) }

func (m *Memory) del(key []byte) { delete(m.store, string(key)) }

// Close makes later Load and Commit calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// Crash simulates the death of the process that owns m: m is closed, so that
// commits the dead server still attempts fail with ErrClosed rather than
// vanish silently, and the returned Memory, for the restarted server, holds
// exactly what was committed. Crash also works on a closed Memory (a restart
// after a clean shutdown).
func (m *Memory) Crash() *Memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return m.copyLocked()
}

// Copy returns a Memory holding what m holds now, leaving m as it is: a
// backup, which a test may later restart a server from as if its data
// directory had been restored from an older copy.
func (m *Memory) Copy() *Memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.copyLocked()
}

func (m *Memory) copyLocked() *Memory {
	c := &Memory{store: make(map[string]model.Entry, len(m.store)), meta: cloneMeta(m.meta)}
	for k, e := range m.store {
		c.store[k] = cloneEntry(e)
	}
	return c
}

func cloneEntry(e model.Entry) model.Entry {
	e.Key = bytes.Clone(e.Key)
	e.Value = bytes.Clone(e.Value)
	return e
}

func cloneMeta(m model.Meta) model.Meta {
	return model.Meta{Seen: m.Seen.Clone(), Clock: m.Clock, Stable: m.Stable.Clone(), Members: slices.Clone(m.Members)}
}
