package check

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gossipkv/pkg/model"
)

// cluster is a correct system in miniature, for random histories: each
// server holds the newest write of each key (a value or a tombstone),
// writes move only between live servers over uncut links, and clients
// carry a dependency per key and are answered as SPEC §2 says. Versions
// come from one counter, which is above everything any server has seen.
type cluster struct {
	r       *rand.Rand
	b       hb
	live    []bool
	cuts    map[pair]bool
	stores  []map[string]Item
	clients []simClient
	clock   int64
	values  int
	// collect makes the servers drop a tombstone once every member of
	// the group holds it: a deleted value may then come back.
	collect   bool
	collected int
	// tombReads counts gets answered ERR_KEY from a tombstone.
	tombReads int
}

type simClient struct {
	id     uint32
	server uint32
	deps   map[string]model.Version
}

var simKeys = []string{"a", "b", "c"}

func newCluster(seed uint64, servers, clients int) *cluster {
	c := &cluster{r: rand.New(rand.NewPCG(seed, 1)), live: make([]bool, servers), cuts: map[pair]bool{}}
	for id := range uint32(servers) {
		c.stores = append(c.stores, map[string]Item{})
		c.live[id] = true
		c.b.start(id)
	}
	for i := range clients {
		c.clients = append(c.clients, simClient{id: uint32(100 + i), deps: map[string]model.Version{}})
	}
	for i := range c.clients {
		c.move(i)
	}
	return c
}

func (c *cluster) liveIDs() []uint32 {
	var ids []uint32
	for id, ok := range c.live {
		if ok {
			ids = append(ids, uint32(id))
		}
	}
	return ids
}

func (c *cluster) pick(ids []uint32) uint32 { return ids[c.r.IntN(len(ids))] }

func (c *cluster) move(i int) { c.clients[i].server = c.pick(c.liveIDs()) }

func (c *cluster) linked(a, b uint32) bool {
	return a != b && c.live[a] && c.live[b] && !c.cuts[mkpair(a, b)]
}

// merge gives b every write of a that is newer than what b holds.
func (c *cluster) merge(a, b uint32) {
	for k, it := range c.stores[a] {
		if cur, ok := c.stores[b][k]; !ok || cur.Version.Less(it.Version) {
			c.stores[b][k] = it
		}
	}
}

func (c *cluster) groups() [][]uint32 {
	var out [][]uint32
	seen := map[uint32]bool{}
	for _, id := range c.liveIDs() {
		if seen[id] {
			continue
		}
		g := []uint32{id}
		seen[id] = true
		for i := 0; i < len(g); i++ {
			for _, o := range c.liveIDs() {
				if !seen[o] && c.linked(g[i], o) {
					seen[o] = true
					g = append(g, o)
				}
			}
		}
		out = append(out, g)
	}
	return out
}

func (c *cluster) write(i int, del bool) {
	cl := &c.clients[i]
	key := simKeys[c.r.IntN(len(simKeys))]
	e := Event{Op: Put, Client: cl.id, Server: cl.server, Key: []byte(key), Dep: cl.deps[key]}
	if del {
		e.Op = Delete
	} else {
		c.values++
		e.Value = []byte{byte('A' + c.values%26), byte(c.values), byte(c.values >> 8)}
	}
	c.clock++
	v := model.Version{Wall: c.clock, Origin: cl.server}
	it := Item{Key: e.Key, Value: e.Value, Version: v, Deleted: del}
	switch {
	case !c.live[cl.server]:
		e.Status = Unreachable
	case c.r.IntN(10) == 0:
		// Timed out: it may or may not have taken effect.
		e.Status = Unreachable
		if c.r.IntN(2) == 0 {
			c.stores[cl.server][key] = it
		}
	default:
		e.Status, e.Version = OK, v
		c.stores[cl.server][key] = it
		cl.deps[key] = v
	}
	c.b.add(e)
}

func (c *cluster) get(i int) {
	cl := &c.clients[i]
	key := simKeys[c.r.IntN(len(simKeys))]
	dep := cl.deps[key]
	e := Event{Op: Get, Client: cl.id, Server: cl.server, Key: []byte(key), Dep: dep}
	it, ok := c.stores[cl.server][key]
	switch {
	case !c.live[cl.server]:
		e.Status = Unreachable
	case ok && !it.Version.Less(dep):
		e.Status, e.Version = OK, it.Version
		if it.Deleted {
			e.Status = NoKey
			c.tombReads++
		} else {
			e.Value = it.Value
		}
		cl.deps[key] = it.Version
	case !ok && dep.IsZero():
		e.Status = NoKey
	default:
		e.Status = Behind
	}
	c.b.add(e)
}

func (c *cluster) stabilize() {
	stores := map[uint32][]Item{}
	for _, g := range c.groups() {
		for _, a := range g {
			for _, b := range g {
				c.merge(a, b)
			}
		}
	}
	for _, id := range c.liveIDs() {
		var items []Item
		for _, k := range simKeys {
			if it, ok := c.stores[id][k]; ok {
				items = append(items, it)
			}
		}
		stores[id] = items
	}
	c.b.stabilize(stores)
	if !c.collect {
		return
	}
	for _, id := range c.liveIDs() {
		for k, it := range c.stores[id] {
			if it.Deleted {
				delete(c.stores[id], k)
				c.collected++
			}
		}
	}
}

func (c *cluster) step() {
	live := c.liveIDs()
	n := len(c.stores)
	switch p := c.r.IntN(100); {
	case p < 25:
		c.write(c.r.IntN(len(c.clients)), false)
	case p < 35:
		c.write(c.r.IntN(len(c.clients)), true)
	case p < 65:
		c.get(c.r.IntN(len(c.clients)))
	case p < 70:
		c.move(c.r.IntN(len(c.clients)))
	case p < 78:
		a, b := uint32(c.r.IntN(n)), uint32(c.r.IntN(n))
		if c.linked(a, b) {
			c.merge(a, b) // gossip: some writes arrive before a stabilize
		}
	case p < 84:
		a, b := uint32(c.r.IntN(n)), uint32(c.r.IntN(n))
		if c.linked(a, b) {
			c.cuts[mkpair(a, b)] = true
			c.b.cut(a, b)
		}
	case p < 89:
		a, b := uint32(c.r.IntN(n)), uint32(c.r.IntN(n))
		if a != b && c.live[a] && c.live[b] && c.cuts[mkpair(a, b)] {
			delete(c.cuts, mkpair(a, b))
			c.b.heal(a, b)
		}
	case p < 92:
		if len(live) > 1 {
			id := c.pick(live)
			c.live[id] = false
			c.b.kill(id)
		}
	case p < 95:
		for id, ok := range c.live {
			if !ok {
				c.restart(uint32(id))
				break
			}
		}
	default:
		c.stabilize()
	}
}

// restart brings id back with its store, its links restored.
func (c *cluster) restart(id uint32) {
	c.live[id] = true
	for p := range c.cuts {
		if p.lo == id || p.hi == id {
			delete(c.cuts, p)
		}
	}
	c.b.restart(id)
}

// run takes steps, then heals, restarts and stabilizes everything.
func (c *cluster) run(steps int) History {
	for range steps {
		c.step()
	}
	for id, ok := range c.live {
		if !ok {
			c.restart(uint32(id))
		}
	}
	ps := make([]pair, 0, len(c.cuts))
	for p := range c.cuts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y pair) int { return int(x.lo)*1000 + int(x.hi) - int(y.lo)*1000 - int(y.hi) })
	for _, p := range ps {
		delete(c.cuts, p)
		c.b.heal(p.lo, p.hi)
	}
	c.stabilize()
	return c.b.h
}

// A correct system with puts, deletes, failed writes, partitions, kills
// and restarts passes the check, whatever the seed.
func TestCheck_RandomCorrectRuns(t *testing.T) {
	var total Counts
	tombReads := 0
	for seed := range uint64(300) {
		c := newCluster(seed, 2+int(seed%4), 3)
		v := Check(c.run(300))
		if !v.OK() {
			t.Fatalf("seed %d: %s\n%s", seed, v.Summary(), dump(v))
		}
		total.Deletes += v.Counts.Deletes
		total.DeletesFailed += v.Counts.DeletesFailed
		total.ErrDepNecessary += v.Counts.ErrDepNecessary
		total.Groups += v.Counts.Groups
		tombReads += c.tombReads
	}
	if total.Deletes == 0 || total.DeletesFailed == 0 || total.ErrDepNecessary == 0 || tombReads == 0 {
		t.Errorf("the runs missed a case: %+v, %d reads of a tombstone", total, tombReads)
	}
}

// Servers that drop a tombstone once their group holds it let deleted
// values come back; the check says so.
func TestCheck_RandomRuns_CollectedTombstones(t *testing.T) {
	runs, caught := 0, 0
	for seed := range uint64(100) {
		c := newCluster(seed, 3, 3)
		c.collect = true
		h := c.run(300)
		if c.collected == 0 {
			continue
		}
		runs++
		v := Check(h)
		if v.ByClass[Lost] > 0 {
			caught++
		}
	}
	if runs == 0 || caught < runs*3/4 {
		t.Errorf("lost deletes caught in %d of %d runs that dropped tombstones", caught, runs)
	}
}
