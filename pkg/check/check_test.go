package check

import (
	"strings"
	"testing"

	"gossipkv/pkg/model"
)

// hb builds a history line by line, as a master would record it.
type hb struct {
	h    History
	line int
}

func (b *hb) add(e Event) *hb {
	b.line++
	e.Line = b.line
	b.h = append(b.h, e)
	return b
}

func (b *hb) start(ids ...uint32) *hb {
	for _, id := range ids {
		b.add(Event{Op: Start, Server: id, Fresh: true})
	}
	return b
}

func (b *hb) restart(id uint32) *hb { return b.add(Event{Op: Start, Server: id}) }
func (b *hb) kill(id uint32) *hb    { return b.add(Event{Op: Kill, Server: id}) }
func (b *hb) cut(a, c uint32) *hb   { return b.add(Event{Op: Cut, Server: a, Peer: c}) }
func (b *hb) heal(a, c uint32) *hb  { return b.add(Event{Op: Heal, Server: a, Peer: c}) }

// isolate cuts id from every other server of ids.
func (b *hb) isolate(id uint32, ids ...uint32) *hb {
	for _, o := range ids {
		if o != id {
			b.cut(id, o)
		}
	}
	return b
}

func (b *hb) put(client, server uint32, key, value string, v model.Version) *hb {
	return b.add(Event{Op: Put, Client: client, Server: server, Key: []byte(key), Value: []byte(value), Status: OK, Version: v})
}

func (b *hb) putFailed(client, server uint32, key, value string) *hb {
	return b.add(Event{Op: Put, Client: client, Server: server, Key: []byte(key), Value: []byte(value), Status: Unreachable})
}

func (b *hb) get(client, server uint32, key, value string, v, dep model.Version) *hb {
	return b.add(Event{Op: Get, Client: client, Server: server, Key: []byte(key), Value: []byte(value), Status: OK, Version: v, Dep: dep})
}

func (b *hb) getStatus(client, server uint32, key string, st Status, dep model.Version) *hb {
	return b.add(Event{Op: Get, Client: client, Server: server, Key: []byte(key), Status: st, Dep: dep})
}

func (b *hb) del(client, server uint32, key string, v model.Version) *hb {
	return b.add(Event{Op: Delete, Client: client, Server: server, Key: []byte(key), Status: OK, Version: v})
}

func (b *hb) delFailed(client, server uint32, key string) *hb {
	return b.add(Event{Op: Delete, Client: client, Server: server, Key: []byte(key), Status: Unreachable})
}

// getDeleted records a get answered ERR_KEY from a tombstone at v.
func (b *hb) getDeleted(client, server uint32, key string, v, dep model.Version) *hb {
	return b.add(Event{Op: Get, Client: client, Server: server, Key: []byte(key), Status: NoKey, Version: v, Dep: dep})
}

func tomb(key string, v model.Version) Item {
	return Item{Key: []byte(key), Version: v, Deleted: true}
}

// fork copies a history builder, so that one prefix can end in several ways.
func (b *hb) fork() *hb {
	return &hb{h: append(History(nil), b.h...), line: b.line}
}

// stabilize records a converged stabilize with the given stores.
func (b *hb) stabilize(stores map[uint32][]Item) *hb {
	return b.add(Event{Op: Stabilize, Converged: true, Stores: stores})
}

func ver(wall int64, origin uint32) model.Version { return model.Version{Wall: wall, Origin: origin} }

func item(key, value string, v model.Version) Item {
	return Item{Key: []byte(key), Value: []byte(value), Version: v}
}

// same gives every listed server the same store.
func same(items []Item, ids ...uint32) map[uint32][]Item {
	m := map[uint32][]Item{}
	for _, id := range ids {
		m[id] = items
	}
	return m
}

// expect asserts that v has exactly the given violation classes, and that
// the messages mention every one of wants.
func expect(t *testing.T, v Verdict, classes []Class, wants ...string) {
	t.Helper()
	got := v.Classes()
	if len(got) != len(classes) {
		t.Fatalf("classes %v, want %v; violations:\n%s", got, classes, dump(v))
	}
	for i := range got {
		if got[i] != classes[i] {
			t.Fatalf("classes %v, want %v; violations:\n%s", got, classes, dump(v))
		}
	}
	all := dump(v)
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("violations lack %q:\n%s", w, all)
		}
	}
	if v.OK() != (len(classes) == 0) {
		t.Errorf("OK() = %v with %d classes", v.OK(), len(classes))
	}
	prefix := "check: FAIL: "
	if len(classes) == 0 {
		prefix = "check: ok: "
	}
	if s := v.Summary(); !strings.HasPrefix(s, prefix) {
		t.Errorf("summary %q, want prefix %q", s, prefix)
	}
}

func dump(v Verdict) string {
	var b strings.Builder
	for _, x := range v.Violations {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestCheck_CleanRun(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).
		put(5, 0, "a", "1", ver(10, 0)).
		put(6, 1, "b", "2", ver(20, 1)).
		put(5, 0, "a", "3", ver(30, 0)).
		get(6, 1, "a", "1", ver(10, 0), model.Version{}). // stale, allowed
		stabilize(same([]Item{item("a", "3", ver(30, 0)), item("b", "2", ver(20, 1))}, 0, 1, 2)).
		get(6, 2, "a", "3", ver(30, 0), ver(10, 0)).
		getStatus(7, 2, "zzz", NoKey, model.Version{})
	v := Check(b.h)
	expect(t, v, nil)
	c := v.Counts
	if c.Puts != 3 || c.Gets != 3 || c.Stabilizes != 1 || c.Groups != 1 || c.StaleReads != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestCheck_LostWrite(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		put(5, 0, "a", "2", ver(20, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1))
	expect(t, Check(b.h), []Class{Lost},
		`"a"="2" (v20.0@0, put by client 5 at line 4 through server 0) is missing in group [0 1] (servers [0 1] have "1" (v10.0@0))`,
		`server 0 holds it since line 4 (acknowledged the put)`)
}

func TestCheck_LostWrite_AfterKillAndRestart(t *testing.T) {
	// Server 2 is cut off, acknowledges a put and is killed: the write must
	// come back with it (durability), though not while it is down.
	b := (&hb{}).start(0, 1, 2).isolate(2, 0, 1).
		put(7, 2, "d", "x", ver(10, 2)).
		kill(2).
		stabilize(same(nil, 0, 1)). // 2 is down: nothing expected
		restart(2).
		stabilize(same(nil, 0, 1, 2))
	expect(t, Check(b.h), []Class{Lost}, `"d"="x"`, "server 2 holds it since line 6")
}

func TestCheck_DeadServerWritesNotExpected(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).isolate(2, 0, 1).
		put(7, 2, "d", "x", ver(10, 2)).
		kill(2).
		stabilize(same(nil, 0, 1)).
		restart(2).
		stabilize(same([]Item{item("d", "x", ver(10, 2))}, 0, 1, 2))
	expect(t, Check(b.h), nil)
}

func TestCheck_ExtraWrite_AcrossCutLinks(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).isolate(0, 1, 2).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(map[uint32][]Item{
			0: {item("a", "1", ver(10, 0))},
			1: {item("a", "1", ver(10, 0))},
			2: {item("a", "1", ver(10, 0))},
		})
	expect(t, Check(b.h), []Class{Extra},
		`servers [1 2] hold "a"="1"`, "0-1 cut at line 4", "0-2 cut at line 5")
}

func TestCheck_ExtraWrite_FromDeadServer(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).isolate(2, 0, 1).
		put(7, 2, "d", "x", ver(10, 2)).
		kill(2).
		stabilize(same([]Item{item("d", "x", ver(10, 2))}, 0, 1))
	expect(t, Check(b.h), []Class{Extra}, "only servers 2 (killed at line 7) could hold it")
}

func TestCheck_ExtraWrite_ServedByGet(t *testing.T) {
	b := (&hb{}).start(0, 1).cut(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		get(6, 1, "a", "1", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Extra}, "server 1 served", "0-1 cut at line 3")
}

func TestCheck_PossiblyHeld_ThroughTopologyHistory(t *testing.T) {
	// 0 writes while linked to 1 only; then 0-1 is cut and 1-2 healed: 1
	// may have passed the write on to 2, so 2 may hold it (but need not).
	b := (&hb{}).start(0, 1, 2).cut(0, 2).cut(1, 2).
		put(5, 0, "a", "1", ver(10, 0)).
		cut(0, 1).heal(1, 2)
	with := *b
	with.h = append(History(nil), b.h...)
	with.stabilize(map[uint32][]Item{
		0: {item("a", "1", ver(10, 0))},
		1: {item("a", "1", ver(10, 0))},
		2: {item("a", "1", ver(10, 0))},
	})
	expect(t, Check(with.h), nil)
	b.stabilize(map[uint32][]Item{0: {item("a", "1", ver(10, 0))}, 1: nil, 2: nil})
	expect(t, Check(b.h), nil)
}

func TestCheck_Diverged(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		put(6, 1, "a", "2", ver(20, 1)).
		add(Event{Op: Stabilize, Converged: false, Err: "not stable after 1s", Stores: map[uint32][]Item{
			0: {item("a", "2", ver(20, 1))},
			1: {item("a", "1", ver(10, 0))},
		}})
	expect(t, Check(b.h), []Class{Diverged, NotConverged, Lost},
		`group [0 1] did not converge: key "a": server 0 has "2" (v20.0@1), server 1 has "1" (v10.0@0)`,
		"stabilize failed: not stable after 1s")
}

// Two stores that hold the same versions but differ in one value (a value
// that rotted on one server's disk) are not converged, even when
// stabilize, fooled, said they were.
func TestCheck_Diverged_OnlyInOneValue(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		put(5, 0, "b", "2", ver(11, 0)).
		stabilize(map[uint32][]Item{
			0: {item("a", "1", ver(10, 0)), item("b", "2", ver(11, 0))},
			1: {item("a", "1", ver(10, 0)), item("b", "X", ver(11, 0))},
		})
	expect(t, Check(b.h), []Class{Diverged, Phantom},
		`group [0 1] did not converge: key "b": server 0 has "2" (v11.0@0), server 1 has "X" (v11.0@0)`)
}

func TestCheck_Phantom(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0)), item("b", "ghost", ver(15, 1))}, 0, 1))
	expect(t, Check(b.h), []Class{Phantom}, `"b"="ghost" at v15.0@1, a value that no put wrote`)

	// A known version with another value is a phantom too.
	b = (&hb{}).start(0).
		put(5, 0, "a", "1", ver(10, 0)).
		get(5, 0, "a", "corrupt", ver(10, 0), ver(10, 0))
	expect(t, Check(b.h), []Class{Phantom}, "but that version is the write")
}

func TestCheck_FailedPut_MayShowUp(t *testing.T) {
	// A put that timed out may have taken effect: its value at its
	// server's group is fine, and it takes the version it shows up with.
	b := (&hb{}).start(0, 1, 2).cut(0, 2).cut(1, 2).
		putFailed(5, 0, "a", "maybe").
		stabilize(map[uint32][]Item{
			0: {item("a", "maybe", ver(10, 0))},
			1: {item("a", "maybe", ver(10, 0))},
			2: nil,
		})
	v := Check(b.h)
	expect(t, v, nil)
	if v.Counts.PutsFailed != 1 || v.Counts.ErrConn != 1 {
		t.Errorf("counts %+v", v.Counts)
	}
	// ...but not beyond the group it could reach.
	b.stabilize(map[uint32][]Item{
		0: {item("a", "maybe", ver(10, 0))},
		1: {item("a", "maybe", ver(10, 0))},
		2: {item("a", "maybe", ver(10, 0))},
	})
	expect(t, Check(b.h), []Class{Extra}, "failed put by client 5")
}

func TestCheck_ReadYourWrites(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1)).
		cut(0, 1).
		put(5, 0, "x", "new", ver(20, 0)).
		get(5, 1, "x", "old", ver(10, 1), ver(20, 0))
	expect(t, Check(b.h), []Class{ReadYourWrites},
		`client 5 read "x" = "old" (v10.0@1) from server 1, older than "new" (v20.0@0) that it wrote at line 6`)
}

func TestCheck_ReadYourWrites_ErrKey(t *testing.T) {
	b := (&hb{}).start(0, 1).cut(0, 1).
		put(5, 0, "x", "mine", ver(20, 0)).
		getStatus(5, 1, "x", NoKey, ver(20, 0))
	expect(t, Check(b.h), []Class{ReadYourWrites}, `read "x" = ERR_KEY from server 1`)
}

func TestCheck_MonotonicReads(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1, 2)).
		isolate(2, 0, 1).
		put(6, 1, "x", "new", ver(20, 1)).
		get(5, 0, "x", "new", ver(20, 1), model.Version{}).
		get(5, 2, "x", "old", ver(10, 1), ver(20, 1))
	expect(t, Check(b.h), []Class{MonotonicReads},
		`client 5 read "x" = "old" (v10.0@1) from server 2, older than "new" (v20.0@1) that it read at line 9`)
}

func TestCheck_Causality(t *testing.T) {
	// Client 5 wrote x at 30 through 0, moved to 1, and 1 ordered its next
	// write below that: the older write would win everywhere.
	b := (&hb{}).start(0, 1).cut(0, 1).
		put(5, 0, "x", "first", ver(30, 0)).
		put(5, 1, "x", "second", ver(20, 1))
	expect(t, Check(b.h), []Class{Causality}, `got v20.0@1, not above "first" (v30.0@0) that it wrote at line 4`)

	b = (&hb{}).start(0).
		put(5, 0, "x", "a", ver(30, 0)).
		put(6, 0, "y", "b", ver(30, 0))
	expect(t, Check(b.h), []Class{Causality}, "version v30.0@0 was issued twice")
}

func TestCheck_ErrDep_Necessary(t *testing.T) {
	// testdata/err_dep.txt as a history: 1 never saw the new write.
	b := (&hb{}).start(0, 1).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1)).
		cut(0, 1).
		put(5, 0, "x", "new", ver(20, 0)).
		getStatus(5, 1, "x", Behind, ver(20, 0)).
		heal(0, 1).
		stabilize(same([]Item{item("x", "new", ver(20, 0))}, 0, 1)).
		get(5, 1, "x", "new", ver(20, 0), ver(20, 0))
	v := Check(b.h)
	expect(t, v, nil)
	if c := v.Counts; c.ErrDep != 1 || c.ErrDepNecessary != 1 || c.ErrDepSpurious != 0 || c.ErrDepUndetermined != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestCheck_ErrDep_Undetermined(t *testing.T) {
	// Linked to the writer and no stabilize since: 1 may or may not have it.
	b := (&hb{}).start(0, 1).
		put(5, 0, "x", "new", ver(20, 0)).
		getStatus(5, 1, "x", Behind, ver(20, 0))
	v := Check(b.h)
	expect(t, v, nil)
	if c := v.Counts; c.ErrDepUndetermined != 1 || c.ErrDepNecessary != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestCheck_ErrDep_Spurious(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "x", "new", ver(20, 0)).
		stabilize(same([]Item{item("x", "new", ver(20, 0))}, 0, 1)).
		getStatus(5, 1, "x", Behind, ver(20, 0))
	v := Check(b.h)
	expect(t, v, []Class{SpuriousDep}, "server 1 answered ERR_DEP to client 5", "held it at the stabilize")
	if c := v.Counts; c.ErrDepSpurious != 1 {
		t.Errorf("counts %+v", c)
	}
	// Its own put: the origin knows it from the ack.
	b = (&hb{}).start(0).
		put(5, 0, "x", "new", ver(20, 0)).
		getStatus(5, 0, "x", Behind, ver(20, 0))
	expect(t, Check(b.h), []Class{SpuriousDep}, "acknowledged the put")
	// With no dependency at all, ERR_DEP is never right.
	b = (&hb{}).start(0).getStatus(5, 0, "x", Behind, model.Version{})
	expect(t, Check(b.h), []Class{SpuriousDep}, "depends on no write")
}

func TestCheck_ErrKey_ForHeldKeyIsLost(t *testing.T) {
	b := (&hb{}).start(0).
		put(5, 0, "x", "v", ver(20, 0)).
		getStatus(6, 0, "x", NoKey, model.Version{})
	expect(t, Check(b.h), []Class{Lost}, "server 0 answered ERR_KEY to client 6")
}

func TestCheck_Get_OlderThanHeldIsLost(t *testing.T) {
	// 0 acknowledged v20, so it holds at least that: serving v10 after it
	// means it lost the newer write, whoever asks.
	b := (&hb{}).start(0).
		put(5, 0, "x", "old", ver(10, 0)).
		put(5, 0, "x", "new", ver(20, 0)).
		get(6, 0, "x", "old", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Lost},
		`server 0 answered "x" = "old" (v10.0@0) to client 6, older than "x"="new" (v20.0@0, put by client 5 at line 3 through server 0) that it holds since line 3 (acknowledged the put)`)
}

func TestCheck_FreshStartForgets(t *testing.T) {
	// A fresh start wipes a server: nothing is expected of it, and what it
	// held before is no longer a reason for anything.
	b := (&hb{}).start(0).
		put(5, 0, "x", "v", ver(20, 0)).
		kill(0).
		start(0).
		stabilize(same(nil, 0))
	expect(t, Check(b.h), nil)
}

func TestCheck_ReportsEachLostWriteOnce(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same(nil, 0, 1)).
		stabilize(same(nil, 0, 1))
	v := Check(b.h)
	if v.ByClass[Lost] != 1 {
		t.Errorf("%d lost-write violations, want 1:\n%s", v.ByClass[Lost], dump(v))
	}
}

func TestCheck_UnreadableStoreAfterStabilize(t *testing.T) {
	b := (&hb{}).start(0, 1).stabilize(map[uint32][]Item{0: nil})
	expect(t, Check(b.h), []Class{NotConverged}, "servers [1] could not be read")
}

func TestVerdict_KeepsBoundedMessages(t *testing.T) {
	b := (&hb{}).start(0)
	for range maxKept + 50 {
		b.getStatus(5, 0, "k", Behind, model.Version{})
	}
	v := Check(b.h)
	if v.ByClass[SpuriousDep] != maxKept+50 || len(v.Violations) != maxKept {
		t.Errorf("counted %d, kept %d", v.ByClass[SpuriousDep], len(v.Violations))
	}
	if !strings.Contains(v.Summary(), "250 spurious-err-dep") {
		t.Errorf("summary %q", v.Summary())
	}
}
