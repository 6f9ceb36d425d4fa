package gen

import (
	"slices"
	"time"

	"gossipkv/pkg/script"
)

// ---- deadorigin, flap-repair, readback and twinskew

// newerKind runs a deadorigin, flap-repair, readback or twinskew episode in
// about a third of the episodes that newKind leaves when those kinds are on, and
// reports whether it did. Its choices come from g.n, which is not drawn
// from at all when these kinds are off, so that the older kinds' scripts
// do not change. While a server is down it leaves the episode to the
// older shapes, one of which may restart it.
func (g *gen) newerKind(nops int) bool {
	if len(g.deadIDs()) > 0 {
		return false
	}
	n := len(g.ready())
	var shapes []string
	for _, s := range []string{"deadorigin", "flap-repair", "readback", "twinskew"} {
		need := 2
		if s == "deadorigin" || s == "twinskew" {
			need = 3
		}
		if s == "twinskew" && (len(g.clients) < 2 || g.o.maxOffset()*4/5 < twinSkewMin) {
			continue
		}
		if g.o.has(kindOf[s]) && n >= need {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 || g.n.IntN(3) != 0 {
		return false
	}
	switch shapes[g.n.IntN(len(shapes))] {
	case "deadorigin":
		g.deadOrigin(nops)
	case "flap-repair":
		g.flapRepair(nops)
	case "readback":
		g.readBack(nops)
	case "twinskew":
		g.twinSkew(nops)
	}
	return true
}

// ready lists the live servers that are not paused, in a random order
// drawn from g.n.
func (g *gen) ready() []uint32 {
	ids := slices.DeleteFunc(g.liveIDs(), func(id uint32) bool { return g.paused[id] })
	g.n.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// room reports whether n more ops fit in the script.
func (g *gen) room(n int) bool { return g.ops+n <= g.o.Ops }

// getOwn reads back a key that putOwn wrote.
func (g *gen) getOwn(i, own int) {
	g.emit("get %d d%d", g.clientID(i), own)
	g.ops++
}

// deadOrigin writes through x while x reaches only y, so that the write
// gets to part of a group, kills x, and heals y to the rest before x
// returns: the rest can only get the write from y. When the lowest id of
// the rest is below y, y first joins the rest but that one, and a
// stabilize waits for y's group. Before the kill the
// write is made known on y (a stabilize of x and y, or the writer reading
// it back through y); after the heal a stabilize must spread it to the
// rest, where the writer reads it back. x restarts at the end of the
// episode.
func (g *gen) deadOrigin(nops int) {
	order := g.ready()
	x, y, rest := order[0], order[1], order[2:]
	g.comment("fault: deadorigin %d through %d | %v", x, y, rest)
	keep := g.complete(rest)
	keep[mklink(x, y)] = true
	g.keepOnly(keep)
	i := g.n.IntN(len(g.clients))
	if g.clients[i].server != x || !g.usable(i) {
		g.joinClient(i, x)
	}
	var owns []int
	for range 1 + g.n.IntN(2) {
		if g.room(1) {
			g.putOwn(i)
			owns = append(owns, g.own)
		}
	}
	if g.n.IntN(2) == 0 || len(owns) == 0 {
		g.emit("stabilize") // x and y converge; the rest on their own
	} else {
		g.joinClient(i, y)
		if g.room(1) {
			g.getOwn(i, owns[0])
		}
	}
	g.killServer(x)
	if lo := slices.Min(rest); len(rest) > 1 && lo < y {
		// First y joins the rest but the lowest id, which is cut off
		// alone: stabilize must wait for y's group to repair x's
		// writes, while the group ordered first (the lowest id) agrees
		// at once.
		for _, r := range rest {
			if r != lo {
				g.cut(lo, r)
				g.heal(y, r)
			}
		}
		g.emit("stabilize")
	}
	g.healAll()
	g.emit("stabilize")
	g.joinClient(i, rest[g.n.IntN(len(rest))])
	for _, own := range owns {
		if g.room(1) {
			g.getOwn(i, own)
		}
	}
	g.opsFor(nops, nil)
	g.joinServer(x)
	g.endEpisode()
}

// flapRepair splits the servers in two, writes on one side only, heals,
// and while the other side catches up flaps links across the split (cut,
// heal, cut, heal) before a stabilize; then the writer reads back on the
// other side.
func (g *gen) flapRepair(nops int) {
	order := g.ready()
	k := 1 + g.n.IntN(len(order)-1)
	a, b := order[:k], order[k:]
	g.comment("fault: flap-repair %v | %v", a, b)
	keep := g.complete(a)
	for l := range g.complete(b) {
		keep[l] = true
	}
	g.keepOnly(keep)
	i := g.n.IntN(len(g.clients))
	g.joinClient(i, a[g.n.IntN(len(a))])
	var owns []int
	for range 2 + g.n.IntN(3) {
		if !g.room(1) {
			break
		}
		if g.n.IntN(2) == 0 {
			g.putOwn(i)
			owns = append(owns, g.own)
		} else {
			g.write(i, g.n.IntN(g.o.Keys), g.deletes)
		}
	}
	g.healAll()
	// The repair is under way: flap one or two links across the split.
	var links []link
	for range 1 + g.n.IntN(2) {
		links = append(links, mklink(a[g.n.IntN(len(a))], b[g.n.IntN(len(b))]))
	}
	for range 2 + g.n.IntN(2) {
		for _, l := range links {
			g.cut(l.lo, l.hi)
		}
		for _, l := range links {
			g.heal(l.lo, l.hi)
		}
	}
	g.emit("stabilize")
	g.joinClient(i, b[g.n.IntN(len(b))])
	for _, own := range owns {
		if g.room(1) {
			g.getOwn(i, own)
		}
	}
	if k := g.lastKey[i]; k >= 0 && g.room(1) {
		g.get(i, k)
	}
	g.opsFor(nops, nil)
	g.endEpisode()
}

// readBack has a client write one key and read another through one
// server, then move to two or three other servers in turn and read both
// back at each: its own write (read your writes) and what it read
// (monotonic reads) must hold across servers. Ordinary ops follow.
func (g *gen) readBack(nops int) {
	order := g.ready()
	i := g.n.IntN(len(g.clients))
	hops := min(len(order), 3+g.n.IntN(2))
	wk, rk := g.n.IntN(g.o.Keys), g.n.IntN(g.o.Keys)
	g.comment("fault: readback %d through %v", g.clientID(i), order[:hops])
	g.joinClient(i, order[0])
	if g.room(2) {
		g.write(i, wk, g.deletes)
		g.get(i, rk)
	}
	for _, id := range order[1:hops] {
		g.joinClient(i, id)
		if g.room(2) {
			g.get(i, wk)
			g.get(i, rk)
		}
	}
	g.opsFor(nops, nil)
	g.endEpisode()
}

// twinSkewMin is the least a twinskew sets clocks back: more than the
// third server's write, the stabilize and the cuts take before the two
// writes, however loaded the machine, so that both clocks are still behind
// that write when they are issued. Within the max clock offset's four
// fifths, so no server refuses another's writes: a smaller offset has no
// twinskew.
const twinSkewMin = time.Second

// twinSkew sets the clocks of x and y back by the same amount (within the
// max clock offset), lets both take in the newest write of a key (put
// through a third server, then a stabilize), cuts each off alone, and has
// one client write the key through x and another through y. With their
// clocks behind that write, x and y issue the same hybrid clock (physical
// and logical parts), and only the origin orders the two writes. Each
// client then reads the key where the other wrote: the one whose write
// orders higher must not read the other's (Read Your Writes; ERR_DEP is
// right), nor ever read it after its own.
func (g *gen) twinSkew(nops int) {
	order := g.ready()
	x, y, z := order[0], order[1], order[2]
	off := g.o.maxOffset()
	back := twinSkewMin + time.Duration(g.n.Int64N(int64(off*4/5-twinSkewMin)/int64(time.Millisecond)+1))*time.Millisecond
	k := g.n.IntN(g.o.Keys)
	i := g.n.IntN(len(g.clients))
	j := (i + 1 + g.n.IntN(len(g.clients)-1)) % len(g.clients)
	g.comment("fault: twinskew %d %d %s", x, y, script.FormatSkew(-back))
	g.emit("skewClock %d %s", x, script.FormatSkew(-back))
	g.emit("skewClock %d %s", y, script.FormatSkew(-back))
	if g.room(5) {
		g.joinClient(i, z)
		g.put(i, k)
		g.emit("stabilize")
		g.keepOnly(g.complete(order[2:]))
		g.joinClient(i, x)
		g.put(i, k)
		g.joinClient(j, y)
		g.put(j, k)
		g.joinClient(i, y)
		g.get(i, k)
		g.joinClient(j, x)
		g.get(j, k)
	}
	g.healAll()
	g.emit("skewClock %d 0", x)
	g.emit("skewClock %d 0", y)
	g.opsFor(nops, nil)
	g.endEpisode()
}
