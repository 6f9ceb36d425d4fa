package raftkv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"testing"
	"testing/quick"
	"time"

	"github.com/hashicorp/raft"

	"gossipkv/pkg/model"
)

func TestCommand_RoundTrip(t *testing.T) {
	for _, c := range []command{
		{Op: opPut, Key: []byte("k"), Value: []byte("v"), Origin: 3},
		{Op: opPut, Key: []byte("k\x00"), Value: nil, Origin: 0},
		{Op: opDelete, Key: []byte("k"), Origin: 7},
		{Op: opCAS, Key: []byte("k"), Old: []byte("a"), Value: []byte("b"), Origin: 1},
		{Op: opNoop, Origin: 2},
	} {
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("%v: %v", c.Op, err)
		}
		if got.Op != c.Op || !bytes.Equal(got.Key, c.Key) || !bytes.Equal(got.Value, c.Value) ||
			!bytes.Equal(got.Old, c.Old) || got.Origin != c.Origin {
			t.Errorf("round trip of %+v gave %+v", c, got)
		}
	}
}

func TestCommand_Garbage(t *testing.T) {
	good, _ := encodeCommand(command{Op: opPut, Key: []byte("k"), Value: []byte("v")})
	for name, b := range map[string][]byte{
		"empty":     nil,
		"type 0":    {0},
		"get":       append([]byte{byte(opGet)}, good[1:]...),
		"truncated": good[:len(good)-2],
		"long bin":  {byte(opPut), 0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := decodeCommand(b); !errors.Is(err, errBadCommand) {
			t.Errorf("%s: err %v, want errBadCommand", name, err)
		}
		f := newFSM()
		res := f.Apply(&raft.Log{Index: 5, Data: b}).(applied)
		if !errors.Is(res.Err, errBadCommand) || f.appliedIndex() != 5 || len(f.regs) != 0 {
			t.Errorf("%s: Apply gave %+v, index %d, %d keys; want errBadCommand, 5, 0", name, res, f.appliedIndex(), len(f.regs))
		}
	}
}

// apply feeds f the command c as log entry index.
func apply(t *testing.T, f *fsm, index uint64, c command) applied {
	t.Helper()
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}).(applied)
}

func TestFSM_Semantics(t *testing.T) {
	v := func(i int64, o uint32) model.Version { return model.Version{Wall: i, Origin: o} }
	k := []byte("k")
	steps := []struct {
		name string
		c    command
		want applied
		// after is k's register afterwards; nil: never written.
		after *Register
	}{
		{"cas on a missing key fails", command{Op: opCAS, Key: k, Old: nil, Value: []byte("x"), Origin: 1},
			applied{Mismatch: true}, nil},
		{"put", command{Op: opPut, Key: k, Value: []byte("a"), Origin: 2},
			applied{Version: v(2, 2)}, &Register{Value: []byte("a"), Version: v(2, 2)}},
		{"cas with the wrong old fails and reports what it read", command{Op: opCAS, Key: k, Old: []byte("b"), Value: []byte("c"), Origin: 1},
			applied{Version: v(2, 2), Mismatch: true}, &Register{Value: []byte("a"), Version: v(2, 2)}},
		{"cas with the right old writes", command{Op: opCAS, Key: k, Old: []byte("a"), Value: []byte("c"), Origin: 3},
			applied{Version: v(4, 3)}, &Register{Value: []byte("c"), Version: v(4, 3)}},
		{"noop changes nothing", command{Op: opNoop, Origin: 1},
			applied{}, &Register{Value: []byte("c"), Version: v(4, 3)}},
		{"delete writes a tombstone", command{Op: opDelete, Key: k, Origin: 4},
			applied{Version: v(6, 4)}, &Register{Version: v(6, 4), Deleted: true}},
		{"cas with an empty old does not match a deleted key", command{Op: opCAS, Key: k, Old: []byte{}, Value: []byte("d"), Origin: 1},
			applied{Version: v(6, 4), Mismatch: true}, &Register{Version: v(6, 4), Deleted: true}},
		{"put of the empty value", command{Op: opPut, Key: k, Value: []byte{}, Origin: 1},
			applied{Version: v(8, 1)}, &Register{Version: v(8, 1)}},
		{"cas with an empty old matches the empty value", command{Op: opCAS, Key: k, Old: []byte{}, Value: []byte("e"), Origin: 5},
			applied{Version: v(9, 5)}, &Register{Value: []byte("e"), Version: v(9, 5)}},
	}
	f := newFSM()
	for i, s := range steps {
		got := apply(t, f, uint64(i+1), s.c)
		if got != s.want {
			t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
		}
		reg, ok := f.get(k)
		switch {
		case s.after == nil && ok:
			t.Errorf("%s: key holds %+v, want never written", s.name, reg)
		case s.after != nil && (!ok || !bytes.Equal(reg.Value, s.after.Value) || reg.Version != s.after.Version || reg.Deleted != s.after.Deleted):
			t.Errorf("%s: key holds %+v (written %v), want %+v", s.name, reg, ok, *s.after)
		}
	}
	// A delete of a key never written still gets its own version.
	if got := apply(t, f, 10, command{Op: opDelete, Key: []byte("other"), Origin: 2}); got.Version != v(10, 2) {
		t.Errorf("delete of a missing key: %+v, want version %v", got, v(10, 2))
	}
	if r, ok := f.get([]byte("other")); !ok || !r.Deleted {
		t.Errorf("other: %+v %v, want a tombstone", r, ok)
	}
}

// modelOp is a random operation on a small key space, for the property
// test against a plain map.
type modelOp struct {
	Op         op
	Key        byte
	Old, Value byte
}

func randomOp(r *rand.Rand) modelOp {
	return modelOp{Op: op(1 + r.IntN(3)), Key: byte(r.IntN(3)), Old: byte(r.IntN(3)), Value: byte(r.IntN(3))}
}

// TestFSM_MatchesModel applies random commands to the FSM and to a map of
// present values: the same answers, and versions equal to log indexes.
func TestFSM_MatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func() bool {
		f := newFSM()
		m := map[string][]byte{}
		for i := range 1 + r.IntN(60) {
			o := randomOp(r)
			key := []byte{'k', '0' + o.Key}
			c := command{Op: o.Op, Key: key, Old: []byte{o.Old}, Value: []byte{o.Value}, Origin: uint32(r.IntN(5))}
			index := uint64(i + 1)
			got := apply(t, f, index, c)
			cur, present := m[string(key)]
			wantMismatch := o.Op == opCAS && (!present || !bytes.Equal(cur, c.Old))
			if got.Mismatch != wantMismatch {
				t.Logf("step %d %+v: mismatch %v, want %v", i, o, got.Mismatch, wantMismatch)
				return false
			}
			if !wantMismatch {
				if got.Version != (model.Version{Wall: int64(index), Origin: c.Origin}) {
					t.Logf("step %d: version %v, want index %d origin %d", i, got.Version, index, c.Origin)
					return false
				}
				if o.Op == opDelete {
					delete(m, string(key))
				} else {
					m[string(key)] = c.Value
				}
			}
		}
		for k, reg := range f.regs {
			want, ok := m[k]
			if reg.Deleted == ok || (ok && !bytes.Equal(reg.Value, want)) {
				t.Logf("key %q: fsm %+v, model %q (%v)", k, reg, want, ok)
				return false
			}
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}

// memSink is a raft.SnapshotSink into memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func snapshotBytes(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("persist: %v, closed %v", err, sink.closed)
	}
	return sink.Bytes()
}

func TestFSM_SnapshotRestore(t *testing.T) {
	f := newFSM()
	for i := range 200 {
		c := command{Op: opPut, Key: []byte{byte(i % 50)}, Value: bytes.Repeat([]byte{byte(i)}, i), Origin: uint32(i % 3)}
		if i%7 == 0 {
			c = command{Op: opDelete, Key: []byte{byte(i % 50)}, Origin: 1}
		}
		apply(t, f, uint64(i+1), c)
	}
	f.StoreConfiguration(201, raft.Configuration{})
	b := snapshotBytes(t, f)

	// Writes after the snapshot do not reach it.
	apply(t, f, 202, command{Op: opPut, Key: []byte("late"), Value: []byte("x")})

	g := newFSM()
	apply(t, g, 1, command{Op: opPut, Key: []byte("stale"), Value: []byte("x")})
	if err := g.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if g.appliedIndex() != 201 || g.restores != 1 {
		t.Errorf("restored index %d, restores %d; want 201, 1", g.appliedIndex(), g.restores)
	}
	delete(f.regs, "late")
	if !maps.EqualFunc(f.regs, g.regs, func(a, b Register) bool {
		return bytes.Equal(a.Value, b.Value) && a.Version == b.Version && a.Deleted == b.Deleted
	}) {
		t.Errorf("restored state differs: %d keys, want %d", len(g.regs), len(f.regs))
	}
	// Equal states give equal bytes, whatever the map's order.
	f.index = 201
	if !bytes.Equal(snapshotBytes(t, g), snapshotBytes(t, f)) {
		t.Error("two snapshots of one state differ")
	}
}

func TestFSM_RestoreGarbage(t *testing.T) {
	f := newFSM()
	apply(t, f, 1, command{Op: opPut, Key: []byte("a"), Value: []byte("1")})
	apply(t, f, 2, command{Op: opPut, Key: []byte("b"), Value: []byte("2")})
	b := snapshotBytes(t, f)
	for name, bad := range map[string][]byte{
		"empty":      nil,
		"truncated":  b[:len(b)-3],
		"trailing":   append(bytes.Clone(b), 0),
		"huge frame": {0xff, 0xff, 0xff, 0xff, 0x7f},
	} {
		g := newFSM()
		apply(t, g, 1, command{Op: opPut, Key: []byte("keep"), Value: []byte("me")})
		if err := g.Restore(io.NopCloser(bytes.NewReader(bad))); !errors.Is(err, errBadSnapshot) {
			t.Errorf("%s: err %v, want errBadSnapshot", name, err)
		}
		if r, ok := g.get([]byte("keep")); !ok || string(r.Value) != "me" || g.appliedIndex() != 1 {
			t.Errorf("%s: a failed restore changed the state", name)
		}
	}
}

func TestFSM_WaitApplied(t *testing.T) {
	f := newFSM()
	done := make(chan error, 1)
	go func() { done <- f.waitApplied(context.Background(), 3) }()
	apply(t, f, 1, command{Op: opNoop})
	f.StoreConfiguration(2, raft.Configuration{})
	select {
	case err := <-done:
		t.Fatalf("waitApplied(3) returned %v at index 2", err)
	default:
	}
	apply(t, f, 3, command{Op: opNoop})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.waitApplied(ctx, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waitApplied(4) at index 3: %v, want the context's deadline", err)
	}
}
