package resp

import (
	"math/rand/v2"
	"sync"
)

// cursors remembers where SCAN pages end. Redis clients treat a cursor as
// an unsigned 64-bit number (redis-cli parses it with strtoull, go-redis
// with ParseUint), and a key does not fit in one, so a cursor names an
// entry here: the key the next page starts from. Any connection to this
// server may continue a scan (client libraries spread one over their
// pool), but only the newest maxCursors pages can be continued, and none
// after a restart: an older cursor is refused, never taken for another.
type cursors struct {
	// mu guards the fields below.
	mu   sync.Mutex
	next uint64
	from map[uint64][]byte
	ring []uint64 // ids in the order they were made, oldest at old
	old  int
}

// maxCursors bounds the cursors kept: each holds a key (at most
// max_key_bytes).
const maxCursors = 4096

func newCursors() *cursors {
	// Numbering starts at random, so that a cursor of an earlier life of
	// this server, or of another server, is unknown here rather than
	// someone else's place.
	return &cursors{next: rand.Uint64() >> 2, from: map[uint64][]byte{}}
}

// add keeps from and returns its cursor (never 0, which means "start" and
// "done").
func (c *cursors) add(from []byte) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	if c.next == 0 {
		c.next = 1
	}
	id := c.next
	if len(c.ring) < maxCursors {
		c.ring = append(c.ring, id)
	} else {
		delete(c.from, c.ring[c.old])
		c.ring[c.old] = id
		c.old = (c.old + 1) % maxCursors
	}
	c.from[id] = from
	return id
}

// get returns where cursor id's page starts. A cursor stays valid until
// maxCursors newer ones push it out, so a client may repeat a page.
func (c *cursors) get(id uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, ok := c.from[id]
	return from, ok
}
