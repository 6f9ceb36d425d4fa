package check

import (
	"testing"

	"gossipkv/pkg/model"
)

func TestCheck_Delete_CleanRun(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).
		put(5, 0, "a", "1", ver(10, 0)).
		del(6, 1, "a", ver(20, 1)).     // a key that exists
		del(7, 2, "never", ver(21, 2)). // a key that never had a value
		getDeleted(6, 1, "a", ver(20, 1), ver(20, 1)).
		put(5, 0, "b", "2", ver(22, 0)).
		stabilize(same([]Item{tomb("a", ver(20, 1)), item("b", "2", ver(22, 0)), tomb("never", ver(21, 2))}, 0, 1, 2)).
		getDeleted(5, 2, "a", ver(20, 1), ver(10, 0)).
		getStatus(8, 0, "zzz", NoKey, model.Version{}).
		put(6, 2, "a", "back", ver(30, 2)). // a put after the delete wins over it
		stabilize(same([]Item{item("a", "back", ver(30, 2)), item("b", "2", ver(22, 0)), tomb("never", ver(21, 2))}, 0, 1, 2)).
		get(5, 0, "a", "back", ver(30, 2), ver(20, 1))
	v := Check(b.h)
	expect(t, v, nil)
	if c := v.Counts; c.Puts != 3 || c.Deletes != 2 || c.DeletesFailed != 0 || c.Gets != 4 || c.StaleReads != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestCheck_Delete_TombstoneLostFromGroup(t *testing.T) {
	// 1 holds the value the delete replaced while 0 holds the tombstone.
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1)).
		del(5, 0, "a", ver(20, 0)).
		stabilize(map[uint32][]Item{0: {tomb("a", ver(20, 0))}, 1: {item("a", "1", ver(10, 0))}})
	expect(t, Check(b.h), []Class{Diverged, Lost},
		`key "a": server 0 has a tombstone (v20.0@0), server 1 has "1" (v10.0@0)`,
		`the deletion of "a" (v20.0@0, delete by client 5 at line 5 through server 0) is missing in group [0 1] (server 1 has "1" (v10.0@0))`,
		"server 0 holds it since line 5 (acknowledged the delete)")

	// A tombstone of a key with no value, held by 0 at a stabilize, gone
	// from both at the next: both lack it.
	b = (&hb{}).start(0, 1).cut(0, 1).
		del(5, 0, "a", ver(20, 0)).
		stabilize(map[uint32][]Item{0: {tomb("a", ver(20, 0))}, 1: nil}).
		heal(0, 1).
		stabilize(same(nil, 0, 1))
	expect(t, Check(b.h), []Class{Lost},
		`the deletion of "a" (v20.0@0, delete by client 5 at line 4 through server 0) is missing in group [0 1] (servers [0 1] have no value)`)
}

func TestCheck_Delete_ValueComesBack(t *testing.T) {
	// Every member held the tombstone; later the deleted value shows up
	// again, agreed on by the whole group or served to a client that never
	// saw the key.
	b := (&hb{}).start(0, 1, 2).
		put(5, 0, "a", "1", ver(10, 0)).
		del(5, 0, "a", ver(20, 0)).
		stabilize(same([]Item{tomb("a", ver(20, 0))}, 0, 1, 2)).
		kill(2).restart(2)

	inStores := b.fork().stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1, 2))
	expect(t, Check(inStores.h), []Class{Lost},
		`the deletion of "a" (v20.0@0, delete by client 5 at line 5 through server 0) is missing in group [0 1 2] (servers [0 1 2] have "1" (v10.0@0))`)

	served := b.fork().get(7, 2, "a", "1", ver(10, 0), model.Version{})
	expect(t, Check(served.h), []Class{Lost},
		`server 2 answered "a" = "1" (v10.0@0) to client 7, older than the deletion of "a" (v20.0@0, delete by client 5 at line 5 through server 0) that it holds since line 6 (held it at the stabilize)`)

	// A server that served the tombstone holds it from then on.
	read := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		del(6, 1, "a", ver(20, 1)).
		getDeleted(7, 0, "a", ver(20, 1), model.Version{}).
		get(8, 0, "a", "1", ver(10, 0), model.Version{})
	expect(t, Check(read.h), []Class{Lost},
		`server 0 answered "a" = "1" (v10.0@0) to client 8, older than the deletion of "a" (v20.0@1, delete by client 6 at line 4 through server 1) that it holds since line 5 (served it)`)

	// An older tombstone served where a newer one is held is lost too.
	older := (&hb{}).start(0).
		del(5, 0, "a", ver(10, 0)).
		del(5, 0, "a", ver(20, 0)).
		getDeleted(6, 0, "a", ver(10, 0), model.Version{})
	expect(t, Check(older.h), []Class{Lost}, `server 0 answered "a" = ERR_KEY (deleted at v10.0@0) to client 6, older than the deletion of "a" (v20.0@0`)
}

func TestCheck_Delete_ReadYourWrites(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1)).
		cut(0, 1).
		del(5, 0, "x", ver(20, 0)).
		getDeleted(5, 0, "x", ver(20, 0), ver(20, 0)). // its own deletion: fine
		get(5, 1, "x", "old", ver(10, 1), ver(20, 0))
	expect(t, Check(b.h), []Class{ReadYourWrites},
		`client 5 read "x" = "old" (v10.0@1) from server 1, older than the deletion (v20.0@0) that it wrote at line 6`)
}

func TestCheck_Delete_MonotonicReadsAfterTombstone(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1, 2)).
		isolate(2, 0, 1).
		del(6, 1, "x", ver(20, 1)).
		getDeleted(5, 0, "x", ver(20, 1), model.Version{}).
		get(5, 2, "x", "old", ver(10, 1), ver(20, 1))
	expect(t, Check(b.h), []Class{MonotonicReads},
		`client 5 read "x" = "old" (v10.0@1) from server 2, older than the deletion (v20.0@1) that it read at line 9`)
}

func TestCheck_Delete_ErrKeyWithoutVersionDespiteDependency(t *testing.T) {
	// Server 1 holds nothing of x: with a dependency it must say ERR_DEP.
	base := (&hb{}).start(0, 1).cut(0, 1)

	own := base.fork().
		del(5, 0, "x", ver(20, 0)).
		getDeleted(5, 0, "x", ver(20, 0), ver(20, 0)).
		getStatus(5, 1, "x", NoKey, ver(20, 0))
	expect(t, Check(own.h), []Class{ReadYourWrites},
		`client 5 read "x" = ERR_KEY from server 1, older than the deletion (v20.0@0) that it wrote at line 4`)

	read := base.fork().
		del(6, 0, "x", ver(20, 0)).
		getDeleted(5, 0, "x", ver(20, 0), model.Version{}).
		getStatus(5, 1, "x", NoKey, ver(20, 0))
	expect(t, Check(read.h), []Class{MonotonicReads},
		`client 5 read "x" = ERR_KEY from server 1, older than the deletion (v20.0@0) that it read at line 5`)

	// The same read with the tombstone's version satisfies the dependency.
	ok := base.fork().heal(0, 1).
		del(5, 0, "x", ver(20, 0)).
		getDeleted(5, 1, "x", ver(20, 0), ver(20, 0))
	expect(t, Check(ok.h), nil)
}

func TestCheck_Delete_StoresDifferByTombstone(t *testing.T) {
	cases := []struct {
		name    string
		b       *hb
		classes []Class
		want    string
	}{{
		name: "tombstone and value at one version",
		b: (&hb{}).start(0, 1).
			del(5, 0, "a", ver(20, 0)).
			stabilize(map[uint32][]Item{0: {tomb("a", ver(20, 0))}, 1: {item("a", "", ver(20, 0))}}),
		classes: []Class{Diverged, Phantom},
		want:    `key "a": server 0 has a tombstone (v20.0@0), server 1 has "" (v20.0@0)`,
	}, {
		name: "tombstone and nothing",
		b: (&hb{}).start(0, 1).
			del(5, 0, "a", ver(20, 0)).
			stabilize(map[uint32][]Item{0: {tomb("a", ver(20, 0))}, 1: nil}),
		classes: []Class{Diverged, Lost},
		want:    `key "a": server 0 has a tombstone (v20.0@0), server 1 has no value`,
	}, {
		name: "tombstone and the older value",
		b: (&hb{}).start(0, 1).
			put(6, 1, "a", "1", ver(10, 1)).
			del(5, 0, "a", ver(20, 0)).
			stabilize(map[uint32][]Item{0: {tomb("a", ver(20, 0))}, 1: {item("a", "1", ver(10, 1))}}),
		classes: []Class{Diverged, Lost},
		want:    `key "a": server 0 has a tombstone (v20.0@0), server 1 has "1" (v10.0@1)`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, Check(c.b.h), c.classes, c.want)
		})
	}
}

func TestCheck_Delete_RacesWithPut(t *testing.T) {
	// 0 and 1 are cut apart; client 5 puts a through 0, client 6 deletes it
	// through 1; after the heal the newer of the two must win everywhere,
	// whichever it is.
	race := func(putV, delV model.Version) *hb {
		return (&hb{}).start(0, 1).cut(0, 1).
			put(5, 0, "a", "p", putV).
			del(6, 1, "a", delV).
			heal(0, 1)
	}
	cases := []struct {
		name         string
		putV, delV   model.Version
		winner, lost Item
		want         string
	}{
		{"delete newer", ver(10, 0), ver(20, 1), tomb("a", ver(20, 1)), item("a", "p", ver(10, 0)),
			`the deletion of "a" (v20.0@1, delete by client 6 at line 5 through server 1) is missing in group [0 1] (servers [0 1] have "p" (v10.0@0))`},
		{"put newer", ver(20, 0), ver(10, 1), item("a", "p", ver(20, 0)), tomb("a", ver(10, 1)),
			`"a"="p" (v20.0@0, put by client 5 at line 4 through server 0) is missing in group [0 1] (servers [0 1] have a tombstone (v10.0@1))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			right := race(c.putV, c.delV).stabilize(same([]Item{c.winner}, 0, 1))
			expect(t, Check(right.h), nil)
			wrong := race(c.putV, c.delV).stabilize(same([]Item{c.lost}, 0, 1))
			expect(t, Check(wrong.h), []Class{Lost}, c.want)
		})
	}
}

func TestCheck_Delete_FailedMayShowUp(t *testing.T) {
	// A delete that timed out may have taken effect in its server's group,
	// taking the version its tombstone shows up with...
	b := (&hb{}).start(0, 1, 2).cut(0, 2).cut(1, 2).
		put(6, 0, "a", "1", ver(5, 0)).
		delFailed(5, 0, "a").
		stabilize(map[uint32][]Item{0: {tomb("a", ver(10, 0))}, 1: {tomb("a", ver(10, 0))}, 2: nil})
	v := Check(b.h)
	expect(t, v, nil)
	if c := v.Counts; c.DeletesFailed != 1 || c.ErrConn != 1 || c.Deletes != 0 {
		t.Errorf("counts %+v", c)
	}
	// ...or not.
	not := (&hb{}).start(0, 1).
		put(6, 0, "a", "1", ver(5, 0)).
		delFailed(5, 0, "a").
		stabilize(same([]Item{item("a", "1", ver(5, 0))}, 0, 1))
	expect(t, Check(not.h), nil)
	// But not beyond the group it could reach,
	b.stabilize(map[uint32][]Item{0: {tomb("a", ver(10, 0))}, 1: {tomb("a", ver(10, 0))}, 2: {tomb("a", ver(10, 0))}})
	expect(t, Check(b.h), []Class{Extra}, `servers [2] hold the deletion of "a" (v10.0@0, failed delete by client 5 at line 7 through server 0)`)
	// and a failed put is no tombstone.
	b = (&hb{}).start(0).
		putFailed(5, 0, "a", "x").
		stabilize(same([]Item{tomb("a", ver(10, 0))}, 0))
	expect(t, Check(b.h), []Class{Phantom}, `server 0 has a tombstone of "a" at v10.0@0, a tombstone that no delete wrote`)
}

func TestCheck_Delete_Phantom(t *testing.T) {
	// ERR_KEY from a tombstone at the version of a put.
	b := (&hb{}).start(0).
		put(5, 0, "x", "1", ver(10, 0)).
		getDeleted(6, 0, "x", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Phantom}, `server 0 has a tombstone of "x" at v10.0@0, but that version is the write "x"="1"`)
	// A value at the version of a delete.
	b = (&hb{}).start(0).
		del(5, 0, "x", ver(10, 0)).
		get(6, 0, "x", "", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Phantom}, `server 0 has "x"="" at v10.0@0, but that version is the deletion of "x" (v10.0@0, delete by client 5 at line 2 through server 0)`)
	// The tombstone of another key.
	b = (&hb{}).start(0).
		del(5, 0, "x", ver(10, 0)).
		getDeleted(6, 0, "y", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Phantom}, `server 0 has a tombstone of "y" at v10.0@0`)
	// A tombstone no delete wrote.
	b = (&hb{}).start(0).getDeleted(6, 0, "x", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Phantom}, "a tombstone that no delete wrote")
}

func TestCheck_Delete_ExtraAcrossCut(t *testing.T) {
	b := (&hb{}).start(0, 1).cut(0, 1).
		del(5, 0, "x", ver(10, 0)).
		getDeleted(6, 1, "x", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Extra}, `server 1 served the deletion of "x" (v10.0@0, delete by client 5 at line 4 through server 0) to client 6`, "0-1 cut at line 3")
}

func TestCheck_Delete_Causality(t *testing.T) {
	// A delete ordered below the client's own earlier put...
	b := (&hb{}).start(0, 1).cut(0, 1).
		put(5, 0, "x", "first", ver(30, 0)).
		del(5, 1, "x", ver(20, 1))
	expect(t, Check(b.h), []Class{Causality}, `client 5's delete of "x" got v20.0@1, not above "first" (v30.0@0) that it wrote at line 4`)
	// ...and a put ordered below a deletion the client read.
	b = (&hb{}).start(0, 1).cut(0, 1).
		del(6, 0, "x", ver(30, 0)).
		getDeleted(5, 0, "x", ver(30, 0), model.Version{}).
		put(5, 1, "x", "again", ver(20, 1))
	expect(t, Check(b.h), []Class{Causality}, `client 5's put of "x"="again" got v20.0@1, not above the deletion (v30.0@0) that it read at line 5`)
	// A version issued to a put and to a delete.
	b = (&hb{}).start(0).
		put(5, 0, "x", "a", ver(30, 0)).
		del(6, 0, "y", ver(30, 0))
	expect(t, Check(b.h), []Class{Causality}, `version v30.0@0 was issued twice: to client 6's delete of "y", and to "x"="a"`)
}

func TestCheck_Delete_ErrDep(t *testing.T) {
	// 1 never saw the deletion while cut off: ERR_DEP is necessary; after
	// the heal it serves the tombstone.
	necessary := (&hb{}).start(0, 1).
		put(6, 1, "x", "old", ver(10, 1)).
		stabilize(same([]Item{item("x", "old", ver(10, 1))}, 0, 1)).
		cut(0, 1).
		del(5, 0, "x", ver(20, 0)).
		getStatus(5, 1, "x", Behind, ver(20, 0)).
		heal(0, 1).
		stabilize(same([]Item{tomb("x", ver(20, 0))}, 0, 1)).
		getDeleted(5, 1, "x", ver(20, 0), ver(20, 0))
	v := Check(necessary.h)
	expect(t, v, nil)
	if c := v.Counts; c.ErrDep != 1 || c.ErrDepNecessary != 1 || c.ErrDepSpurious != 0 || c.ErrDepUndetermined != 0 {
		t.Errorf("counts %+v", c)
	}

	// 1 held the tombstone: it should have answered ERR_KEY.
	spurious := (&hb{}).start(0, 1).
		del(5, 0, "x", ver(20, 0)).
		stabilize(same([]Item{tomb("x", ver(20, 0))}, 0, 1)).
		getStatus(5, 1, "x", Behind, ver(20, 0))
	v = Check(spurious.h)
	expect(t, v, []Class{SpuriousDep},
		`server 1 answered ERR_DEP to client 5 for "x" (dependency v20.0@0), but it holds the deletion of "x" (v20.0@0, delete by client 5 at line 3 through server 0) since line 4 (held it at the stabilize)`)
	if c := v.Counts; c.ErrDepSpurious != 1 || c.ErrDepNecessary != 0 {
		t.Errorf("counts %+v", c)
	}

	// A tombstone newer than a value the client depends on satisfies it.
	newer := (&hb{}).start(0, 1).
		put(5, 0, "x", "v", ver(10, 0)).
		del(6, 0, "x", ver(20, 0)).
		stabilize(same([]Item{tomb("x", ver(20, 0))}, 0, 1)).
		getStatus(5, 1, "x", Behind, ver(10, 0))
	expect(t, Check(newer.h), []Class{SpuriousDep}, `but it holds the deletion of "x" (v20.0@0`)

	// A delete that may be at the server leaves it undetermined.
	undetermined := (&hb{}).start(0, 1).
		del(5, 0, "x", ver(20, 0)).
		getStatus(5, 1, "x", Behind, ver(20, 0))
	v = Check(undetermined.h)
	expect(t, v, nil)
	if c := v.Counts; c.ErrDepUndetermined != 1 || c.ErrDepNecessary != 0 {
		t.Errorf("counts %+v", c)
	}
}
