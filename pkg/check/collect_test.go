package check

import (
	"testing"

	"gossipkv/pkg/model"
)

// getCollected records a get answered ERR_KEY with no version by a server
// whose stable point is stable.
func (b *hb) getCollected(client, server uint32, key string, stable, dep model.Version) *hb {
	return b.add(Event{Op: Get, Client: client, Server: server, Key: []byte(key), Status: NoKey, Dep: dep, Stable: stable})
}

// stabilizeStable records a stabilize whose dumps come with the servers'
// stable points.
func (b *hb) stabilizeStable(stores map[uint32][]Item, stables map[uint32]model.Version) *hb {
	return b.add(Event{Op: Stabilize, Converged: true, Stores: stores, Stables: stables})
}

// A tombstone collected below a server's stable point: its get answers
// ERR_KEY without a version, its dump lacks the tombstone while a peer's
// may still hold it. None of that is a lost delete or a divergence.
func TestCheck_Collected_CleanRun(t *testing.T) {
	b := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		del(5, 0, "a", ver(20, 0)).
		stabilize(same([]Item{tomb("a", ver(20, 0))}, 0, 1)).
		getDeleted(6, 1, "a", ver(20, 0), model.Version{}).
		getCollected(5, 0, "a", ver(25, 9), ver(20, 0)).
		getCollected(6, 1, "a", ver(25, 9), ver(20, 0)).
		stabilizeStable(map[uint32][]Item{0: nil, 1: {tomb("a", ver(20, 0))}}, map[uint32]model.Version{0: ver(25, 9)}).
		stabilizeStable(same(nil, 0, 1), map[uint32]model.Version{0: ver(25, 9), 1: ver(25, 9)})
	expect(t, Check(b.h), nil)
}

func TestCheck_Collected_Violations(t *testing.T) {
	base := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		del(5, 0, "a", ver(20, 0)).
		stabilize(same([]Item{tomb("a", ver(20, 0))}, 0, 1))

	// The client saw a write above the stable point the server claims.
	newer := base.fork().put(5, 1, "a", "2", ver(30, 1)).
		getCollected(5, 0, "a", ver(25, 9), ver(30, 1))
	expect(t, Check(newer.h), []Class{ReadYourWrites},
		`client 5 read "a" = ERR_KEY (collected at or below v25.0@9) from server 0, older than "2" (v30.0@1) that it wrote at line 6`)

	// The newest write at or below the point is a put: a value lost.
	put := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		getCollected(6, 1, "a", ver(25, 9), model.Version{})
	expect(t, Check(put.h), []Class{Lost},
		`server 1 answered ERR_KEY (collected at or below v25.0@9) to client 6 for "a", but the newest write of it at or below that point is`)

	// A dump without a value the server must hold is no collection.
	lostValue := (&hb{}).start(0, 1).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1)).
		stabilizeStable(map[uint32][]Item{0: nil, 1: {item("a", "1", ver(10, 0))}}, map[uint32]model.Version{0: ver(25, 9)})
	expect(t, Check(lostValue.h), []Class{Diverged, Lost})

	// A tombstone above the stable point cannot have been collected.
	early := base.fork().stabilizeStable(map[uint32][]Item{0: nil, 1: {tomb("a", ver(20, 0))}}, map[uint32]model.Version{0: ver(15, 9)})
	expect(t, Check(early.h), []Class{Diverged, Lost})
}
