package raftkv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// Register is one key's state in the FSM.
type Register struct {
	// Value is the key's value; meaningless when Deleted.
	Value []byte `msgpack:"v,omitempty"`
	// Version is the last write to the key: Wall is its Raft log index,
	// Origin the server its client's operation arrived at.
	Version model.Version `msgpack:"ver"`
	// Deleted marks a tombstone: the key's last write was a delete.
	Deleted bool `msgpack:"d,omitempty"`
}

// fsm is the replicated state machine: a register per key. Raft calls
// Apply, StoreConfiguration, Snapshot and Restore from one goroutine; reads
// come from any goroutine.
type fsm struct {
	// mu guards the fields below.
	mu   sync.RWMutex
	regs map[string]Register
	// order is every key of regs, sorted, for listing keys in pages
	// without sorting the whole key space for each. Keys never leave regs
	// (tombstones are kept), so a key is inserted once, when first
	// written, at the cost of moving the keys after it.
	order []string
	// live counts the keys of regs that hold a value (not a tombstone).
	live int
	// index is the last log index the FSM has applied: commands and
	// configuration entries (raft's own no-op and barrier entries never
	// reach an FSM), or the index of the snapshot it was restored from.
	index uint64
	// changed is closed, and replaced, whenever index advances.
	changed chan struct{}
	// restores counts the snapshots restored, at start or sent by a leader.
	restores int
}

var _ raft.ConfigurationStore = (*fsm)(nil)

func newFSM() *fsm {
	return &fsm{regs: make(map[string]Register), changed: make(chan struct{})}
}

// Apply applies one committed command. The result depends only on the
// entry and the state before it, so every replica computes the same one.
func (f *fsm) Apply(l *raft.Log) any {
	c, err := decodeCommand(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	var res applied
	if err != nil {
		res.Err = err
	} else {
		res = f.applyLocked(c, l.Index)
	}
	f.advanceLocked(l.Index)
	return res
}

// applyLocked applies c as the write at log index i. A delete writes a
// tombstone even for a key that was never written, so that every
// acknowledged delete has a version of its own. A cas matches only a key
// that holds a value equal to Old: a missing or deleted key never matches,
// not even an empty Old, because the empty string is a value like any
// other and absence is not a value. A cas marked Absent is the converse:
// it matches only a key that holds no value.
func (f *fsm) applyLocked(c command, i uint64) applied {
	v := model.Version{Wall: int64(i), Origin: c.Origin}
	k := string(c.Key)
	switch c.Op {
	case opPut:
		f.setLocked(k, Register{Value: c.Value, Version: v})
	case opDelete:
		f.setLocked(k, Register{Version: v, Deleted: true})
	case opCAS:
		cur, ok := f.regs[k]
		held := ok && !cur.Deleted
		match := held && bytes.Equal(cur.Value, c.Old)
		if c.Absent {
			match = !held
		}
		if !match {
			return applied{Version: cur.Version, Mismatch: true}
		}
		f.setLocked(k, Register{Value: c.Value, Version: v})
	case opNoop:
		return applied{}
	}
	return applied{Version: v}
}

// setLocked sets k's register, and enters k in order if it is new.
func (f *fsm) setLocked(k string, r Register) {
	old, ok := f.regs[k]
	if !ok {
		i, _ := slices.BinarySearch(f.order, k)
		f.order = slices.Insert(f.order, i, k)
	}
	if ok && !old.Deleted {
		f.live--
	}
	if !r.Deleted {
		f.live++
	}
	f.regs[k] = r
}

// counts returns how many keys were ever written (tombstones included)
// and how many hold a value.
func (f *fsm) counts() (keys, live int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.regs), f.live
}

// StoreConfiguration only counts a configuration entry as applied, so that
// a read waiting for the commit index is not held up by one.
func (f *fsm) StoreConfiguration(index uint64, _ raft.Configuration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(index)
}

func (f *fsm) advanceLocked(index uint64) {
	if index > f.index {
		f.index = index
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// get returns key's register and whether the key was ever written (a
// tombstone counts). The value is a copy.
func (f *fsm) get(key []byte) (Register, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.regs[string(key)]
	r.Value = bytes.Clone(r.Value)
	return r, ok
}

// maxListBytes bounds the keys one listing returns, in bytes, so that a
// page always fits a forwarded answer (maxForwardFrame) whatever its
// limit; a page cut short by it says more follow.
const maxListBytes = maxForwardFrame / 2

// keys lists up to limit keys that hold a value, in byte order, from the
// key from on (from itself included), and whether more follow. The keys
// are copies.
func (f *fsm) keys(from []byte, limit int) (keys [][]byte, more bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, _ := slices.BinarySearch(f.order, string(from))
	size := 0
	for _, k := range f.order[i:] {
		if f.regs[k].Deleted {
			continue
		}
		if len(keys) == limit || (len(keys) > 0 && size+len(k) > maxListBytes) {
			return keys, true
		}
		keys = append(keys, []byte(k))
		size += len(k)
	}
	return keys, false
}

// applied copies every register, sorted by key, and the index applied.
func (f *fsm) applied() (uint64, []KeyRegister) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	regs := make([]KeyRegister, 0, len(f.regs))
	for k, r := range f.regs {
		regs = append(regs, KeyRegister{Key: []byte(k), Register: r})
	}
	slices.SortFunc(regs, func(a, b KeyRegister) int { return bytes.Compare(a.Key, b.Key) })
	return f.index, regs
}

// appliedIndex returns the last index applied.
func (f *fsm) appliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index
}

// waitApplied waits until the FSM has applied index, or ctx ends.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.RLock()
		cur, ch := f.index, f.changed
		f.mu.RUnlock()
		if cur >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot captures the state. Registers are never modified in place (a
// write replaces the map entry), so copying the map is enough for Persist
// to run while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	regs := make(map[string]Register, len(f.regs))
	for k, r := range f.regs {
		regs[k] = r
	}
	return &fsmSnapshot{index: f.index, regs: regs}, nil
}

// Restore replaces the state with a snapshot's. On an error the state is
// left as it was.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	index, regs, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	order := make([]string, 0, len(regs))
	live := 0
	for k, r := range regs {
		order = append(order, k)
		if !r.Deleted {
			live++
		}
	}
	slices.Sort(order)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.regs = regs
	f.order = order
	f.live = live
	f.index = index
	f.restores++
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

// A snapshot is a sequence of frames, each a uvarint length and a msgpack
// body: a snapshotHeader, then Count snapshotRecords in key order (so equal
// states give equal bytes). Framing records one by one keeps both ends
// streaming, and lets each body be checked before it is decoded.

// snapshotFormat is the version of the layout, checked on restore.
const snapshotFormat = 1

// maxSnapshotFrame bounds one frame; a larger length means a damaged file.
const maxSnapshotFrame = 64 << 20

type snapshotHeader struct {
	Format int    `msgpack:"f"`
	Index  uint64 `msgpack:"i"`
	Count  int    `msgpack:"n"`
}

type snapshotRecord struct {
	Key []byte   `msgpack:"k"`
	Reg Register `msgpack:"r"`
}

// errBadSnapshot is returned for a snapshot that cannot be read.
var errBadSnapshot = errors.New("raftkv: bad snapshot")

type fsmSnapshot struct {
	index uint64
	regs  map[string]Register
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.index, s.regs); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

func writeSnapshot(w io.Writer, index uint64, regs map[string]Register) error {
	bw := bufio.NewWriter(w)
	var lenBuf [binary.MaxVarintLen64]byte
	frame := func(v any) error {
		b, err := msgpack.Marshal(v)
		if err != nil {
			return err
		}
		n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
		if _, err := bw.Write(lenBuf[:n]); err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	if err := frame(&snapshotHeader{Format: snapshotFormat, Index: index, Count: len(regs)}); err != nil {
		return err
	}
	keys := make([]string, 0, len(regs))
	for k := range regs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	for _, k := range keys {
		if err := frame(&snapshotRecord{Key: []byte(k), Reg: regs[k]}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func readSnapshot(r io.Reader) (uint64, map[string]Register, error) {
	br := bufio.NewReader(r)
	frame := func(v any) error {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		if n > maxSnapshotFrame {
			return fmt.Errorf("frame of %d bytes", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return err
		}
		if err := mpcheck.Check(b); err != nil {
			return err
		}
		return msgpack.Unmarshal(b, v)
	}
	var h snapshotHeader
	if err := frame(&h); err != nil {
		return 0, nil, fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if h.Format != snapshotFormat || h.Count < 0 {
		return 0, nil, fmt.Errorf("%w: format %d, %d records", errBadSnapshot, h.Format, h.Count)
	}
	regs := make(map[string]Register, min(h.Count, 1<<16))
	for i := range h.Count {
		var rec snapshotRecord
		if err := frame(&rec); err != nil {
			return 0, nil, fmt.Errorf("%w: record %d of %d: %v", errBadSnapshot, i, h.Count, err)
		}
		regs[string(rec.Key)] = rec.Reg
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return 0, nil, fmt.Errorf("%w: data after %d records", errBadSnapshot, h.Count)
	}
	return h.Index, regs, nil
}
