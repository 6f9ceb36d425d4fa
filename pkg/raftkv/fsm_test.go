package raftkv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
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
		{Op: opCAS, Key: []byte("k"), Absent: true, Value: []byte("b"), Origin: 4},
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
			!bytes.Equal(got.Old, c.Old) || got.Absent != c.Absent || got.Origin != c.Origin {
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
	// Absent makes a cas a put-if-absent.
	Absent bool
}

func randomOp(r *rand.Rand) modelOp {
	o := modelOp{Op: op(1 + r.IntN(3)), Key: byte(r.IntN(3)), Old: byte(r.IntN(3)), Value: byte(r.IntN(3))}
	o.Absent = o.Op == opCAS && r.IntN(2) == 0
	return o
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
			c := command{Op: o.Op, Key: key, Old: []byte{o.Old}, Value: []byte{o.Value}, Absent: o.Absent, Origin: uint32(r.IntN(5))}
			index := uint64(i + 1)
			got := apply(t, f, index, c)
			cur, present := m[string(key)]
			wantMismatch := o.Op == opCAS && (!present || !bytes.Equal(cur, c.Old))
			if o.Absent {
				wantMismatch = present
			}
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
		// The counts are the model's.
		if keys, liveCount := f.counts(); keys != len(f.regs) || liveCount != len(m) {
			t.Logf("counts %d keys, %d live; want %d, %d", keys, liveCount, len(f.regs), len(m))
			return false
		}
		// A listing from any point, with any limit, is the model's
		// present keys in order.
		live := slices.Sorted(maps.Keys(m))
		from := []byte{'k', '0' + byte(r.IntN(4))}
		limit := 1 + r.IntN(4)
		keys, more := f.keys(from, limit)
		var want []string
		for _, k := range live {
			if k >= string(from) {
				want = append(want, k)
			}
		}
		wantMore := len(want) > limit
		want = want[:min(limit, len(want))]
		if got := stringsOf(keys); !slices.Equal(got, want) || more != wantMore {
			t.Logf("keys(%q, %d) = %q, %v; want %q, %v", from, limit, got, more, want, wantMore)
			return false
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
	// The restored FSM lists the restored keys, and none it held before.
	var want []string
	for _, k := range slices.Sorted(maps.Keys(f.regs)) {
		if !f.regs[k].Deleted {
			want = append(want, k)
		}
	}
	if got, more := g.keys(nil, 1000); !slices.Equal(stringsOf(got), want) || more {
		t.Errorf("restored FSM lists %q (more %v), want %q", got, more, want)
	}
	if keys, live := g.counts(); keys != len(f.regs) || live != len(want) {
		t.Errorf("restored FSM counts %d keys, %d live; want %d, %d", keys, live, len(f.regs), len(want))
	}

	// Equal states give equal bytes, whatever the map's order.
	f.index = 201
	if !bytes.Equal(snapshotBytes(t, g), snapshotBytes(t, f)) {
		t.Error("two snapshots of one state differ")
	}

	// A key first written after the restore takes its place in the order.
	apply(t, g, 202, command{Op: opCAS, Key: []byte("new"), Absent: true, Value: []byte("x")})
	if got, _ := g.keys([]byte("n"), 1); len(got) != 1 || string(got[0]) != "new" {
		t.Errorf("a key written after the restore lists as %q, want [new]", got)
	}
}

// TestFSM_PutIfAbsent: a cas marked Absent writes where the key holds no
// value (never written, or deleted), and elsewhere reports the version it
// found, whatever Old says.
func TestFSM_PutIfAbsent(t *testing.T) {
	v := func(i int64, o uint32) model.Version { return model.Version{Wall: i, Origin: o} }
	k := []byte("k")
	add := func(val string) command {
		return command{Op: opCAS, Key: k, Absent: true, Old: []byte(val), Value: []byte(val), Origin: 1}
	}
	f := newFSM()
	for i, s := range []struct {
		name  string
		c     command
		want  applied
		value string
	}{
		{"on a missing key it writes", add("a"), applied{Version: v(1, 1)}, "a"},
		{"on a held key it fails, even with Old equal to the value", add("a"), applied{Version: v(1, 1), Mismatch: true}, "a"},
		{"delete", command{Op: opDelete, Key: k, Origin: 2}, applied{Version: v(3, 2)}, ""},
		{"on a deleted key it writes", add("b"), applied{Version: v(4, 1)}, "b"},
		{"put of the empty value", command{Op: opPut, Key: k, Value: []byte{}, Origin: 3}, applied{Version: v(5, 3)}, ""},
		{"the empty value is a value", add("c"), applied{Version: v(5, 3), Mismatch: true}, ""},
	} {
		if got := apply(t, f, uint64(i+1), s.c); got != s.want {
			t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
		}
		if r, ok := f.get(k); !ok || r.Deleted != (s.c.Op == opDelete) || string(r.Value) != s.value {
			t.Errorf("%s: key holds %+v (written %v), want %q", s.name, r, ok, s.value)
		}
	}
}

// TestFSM_Keys lists keys in pages: byte order, from inclusive, deleted
// keys left out, more only when a key follows the page.
func TestFSM_Keys(t *testing.T) {
	f := newFSM()
	for i, k := range []string{"d", "b", "a\x00", "a", "c", "e", "\xff"} {
		apply(t, f, uint64(i+1), command{Op: opPut, Key: []byte(k), Value: []byte("v")})
	}
	apply(t, f, 8, command{Op: opDelete, Key: []byte("c")})
	apply(t, f, 9, command{Op: opDelete, Key: []byte("never")})
	for _, tc := range []struct {
		from  string
		limit int
		want  []string
		more  bool
	}{
		{"", 100, []string{"a", "a\x00", "b", "d", "e", "\xff"}, false},
		{"", 2, []string{"a", "a\x00"}, true},
		{"a\x00", 2, []string{"a\x00", "b"}, true},
		{"b\x00", 2, []string{"d", "e"}, true}, // c is deleted
		{"e", 1, []string{"e"}, true},
		{"e\x00", 1, []string{"\xff"}, false},
		{"\xff\x00", 5, nil, false},
		{"c", 1, []string{"d"}, true},
	} {
		keys, more := f.keys([]byte(tc.from), tc.limit)
		if got := stringsOf(keys); !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("keys(%q, %d) = %q, %v; want %q, %v", tc.from, tc.limit, got, more, tc.want, tc.more)
		}
	}
	// The page is a copy: changing it changes nothing in the FSM.
	keys, _ := f.keys(nil, 1)
	keys[0][0] = 'z'
	if again, _ := f.keys(nil, 1); string(again[0]) != "a" {
		t.Errorf("the listing shares its bytes with the FSM: now %q", again[0])
	}
}

// Long keys cut a page short of its limit, so that it fits a forwarded
// answer; it still holds one key at least, and says more follow.
func TestFSM_Keys_PageBoundedInBytes(t *testing.T) {
	f := newFSM()
	for i := range 3 {
		key := bytes.Repeat([]byte{'a' + byte(i)}, maxListBytes/2+1)
		apply(t, f, uint64(i+1), command{Op: opPut, Key: key})
	}
	var pages []int
	for from := []byte(nil); ; {
		keys, more := f.keys(from, 10)
		pages = append(pages, len(keys))
		if !more {
			break
		}
		from = append(keys[len(keys)-1], 0)
	}
	if !slices.Equal(pages, []int{1, 1, 1}) {
		t.Errorf("pages of %v keys, want [1 1 1]", pages)
	}
}

func stringsOf(keys [][]byte) []string {
	var out []string
	for _, k := range keys {
		out = append(out, string(k))
	}
	return out
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
