package gen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gossipkv/pkg/script"
)

// Options shape a generated script.
type Options struct {
	// Seed picks the script: the same seed and options give the same one.
	Seed int64
	// Servers and Clients size the cluster: servers 0..Servers-1, clients
	// Servers..Servers+Clients-1, as config.Local lays them out.
	Servers, Clients int
	// Ops is the number of puts, deletes and gets.
	Ops int
	// Keys is the number of distinct keys (k0, k1, ...).
	Keys int
	// ValueSize is the length of each value; values are unique whatever
	// it is, so a few bytes more than asked may be used when it is small.
	ValueSize int
	// Faults is the number of fault episodes, spread over the ops.
	Faults int
	// Kinds names the kinds of fault to generate (see Kinds); nil or
	// empty: all of them.
	Kinds []string
	// MaxClockOffset is the config's timing.max_clock_offset, which skews
	// are drawn within and beyond (0: the default, 5s).
	MaxClockOffset time.Duration
	// Linearizable makes a script for linearizable mode: about one write
	// in six is a cas (of the key's last value, mostly), and there are no
	// clock skews, which Raft's order does not read.
	Linearizable bool
}

// Kinds names every kind of fault, as -fault-kinds spells them:
// partitions (isolate, split, majority, bridge, chain, tree, ring, flap),
// kills (kill, kill-after-stabilize, isolate-and-kill, restart), clock
// skews, pauses (SIGSTOP, then SIGCONT or a kill), writes whose origin
// dies once they reached part of a group (deadorigin), links that flap
// while a repair is under way (flap), clients that move from server to
// server reading back what they wrote and read (readback), and two clocks
// set back alike, so that two servers issue the same hybrid clock
// (twinskew). Late joins happen whatever the kinds.
var Kinds = []string{"partition", "kill", "skew", "pause", "deadorigin", "flap", "readback", "twinskew"}

// kindOf is the kind of each shape of Shapes.
var kindOf = map[string]string{
	"isolate": "partition", "split": "partition", "majority": "partition", "bridge": "partition",
	"chain": "partition", "tree": "partition", "ring": "partition", "flap": "partition",
	"kill": "kill", "kill-after-stabilize": "kill", "isolate-and-kill": "kill", "restart": "kill",
	"skew": "skew", "pause": "pause",
	"deadorigin": "deadorigin", "flap-repair": "flap", "readback": "readback", "twinskew": "twinskew",
}

// ParseKinds reads a comma-separated list of Kinds ("all": every one).
func ParseKinds(s string) ([]string, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("-fault-kinds: unknown kind %q (known: %s, or all)", k, strings.Join(Kinds, ","))
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// has reports whether kind is to be generated.
func (o Options) has(kind string) bool {
	if o.Linearizable && isSkew(kind) {
		return false
	}
	return len(o.Kinds) == 0 || slices.Contains(o.Kinds, kind)
}

// isSkew reports whether kind skews clocks.
func isSkew(kind string) bool { return kind == "skew" || kind == "twinskew" }

func (o Options) maxOffset() time.Duration {
	if o.MaxClockOffset > 0 {
		return o.MaxClockOffset
	}
	return 5 * time.Second
}

// DefaultOptions fit the repository's config.yaml (5 servers, 5 clients)
// and run in a few seconds.
func DefaultOptions() Options {
	return Options{Seed: 1, Servers: 5, Clients: 5, Ops: 200, Keys: 8, ValueSize: 8, Faults: 6}
}

// maxIDs is config.Local's limit on servers plus clients.
const maxIDs = 100

// Validate says what is wrong with o, naming the option as the master's
// flags spell it.
func (o Options) Validate() error {
	var errs []error
	if o.Servers < 1 {
		errs = append(errs, fmt.Errorf("-servers %d: need at least 1", o.Servers))
	}
	if o.Clients < 1 {
		errs = append(errs, fmt.Errorf("-clients %d: need at least 1", o.Clients))
	}
	if o.Servers+o.Clients > maxIDs {
		errs = append(errs, fmt.Errorf("-servers %d -clients %d: at most %d ids in all", o.Servers, o.Clients, maxIDs))
	}
	if o.Ops < 0 {
		errs = append(errs, fmt.Errorf("-ops %d: must not be negative", o.Ops))
	}
	if o.Keys < 1 {
		errs = append(errs, fmt.Errorf("-keys %d: need at least 1", o.Keys))
	}
	if o.ValueSize < 0 {
		errs = append(errs, fmt.Errorf("-value-size %d: must not be negative", o.ValueSize))
	}
	if o.Faults < 0 {
		errs = append(errs, fmt.Errorf("-faults %d: must not be negative", o.Faults))
	}
	for _, k := range o.Kinds {
		if o.Linearizable && isSkew(k) {
			errs = append(errs, fmt.Errorf("-fault-kinds %s: clock skews mean nothing in linearizable mode, whose order is Raft's log, not the servers' clocks", k))
		}
		if !slices.Contains(Kinds, k) {
			errs = append(errs, fmt.Errorf("-fault-kinds: unknown kind %q (known: %s)", k, strings.Join(Kinds, ",")))
		}
	}
	if o.MaxClockOffset < 0 {
		errs = append(errs, fmt.Errorf("-max-clock-offset %v: must not be negative", o.MaxClockOffset))
	}
	return errors.Join(errs...)
}

// Shapes names every fault shape, as the "# fault:" comments spell them.
var Shapes = []string{
	"isolate", "split", "majority", "bridge", "chain", "tree", "ring", "flap",
	"kill", "kill-after-stabilize", "isolate-and-kill", "restart", "late-join",
	"skew", "pause", "deadorigin", "flap-repair", "readback", "twinskew",
}

// deleteShare is the percentage of the writes of ordinary ops that are
// deletes; probes delete twice as often, so that most scripts delete a key
// and read it back through another server.
const deleteShare = 12

// Generate returns the script's lines (without newlines).
func Generate(o Options) ([]string, error) {
	return build(o, deleteShare)
}

// build is Generate with the share of deletes as a parameter, so that a
// test can compare a script with the same seed's script without deletes.
func build(o Options, deletes int) ([]string, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	g := &gen{
		o: o,
		r: rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15)),
		// Which writes are deletes is drawn from a stream of its own: the
		// rest of the script (faults, clients, keys) is the same whatever
		// the share of deletes.
		d:       rand.New(rand.NewPCG(uint64(o.Seed), 0xd1b54a32d192ed03)),
		deletes: deletes,
		// Skews and pauses are drawn from a stream of their own too: with
		// only the older kinds, a seed gives the script it always gave.
		f: rand.New(rand.NewPCG(uint64(o.Seed), 0x94d049bb133111eb)),
		// And so are the shapes of deadorigin, flap and readback.
		n: rand.New(rand.NewPCG(uint64(o.Seed), 0xbf58476d1ce4e5b9)),
		// And which writes are cas in linearizable mode, and their old
		// values.
		c:       rand.New(rand.NewPCG(uint64(o.Seed), 0x2545f4914f6cdd1d)),
		values:  map[int][]string{},
		paused:  map[uint32]bool{},
		live:    make([]bool, o.Servers),
		cuts:    map[link]bool{},
		clients: make([]client, o.Clients),
		lastKey: make([]int, o.Clients),
	}
	for i := range g.lastKey {
		g.lastKey[i] = -1
	}
	g.run()
	return g.out, nil
}

type link struct{ lo, hi uint32 }

func mklink(a, b uint32) link {
	if a > b {
		a, b = b, a
	}
	return link{a, b}
}

type client struct {
	server            uint32
	joined, connected bool
}

// gen mirrors the master's view of the cluster (which servers run, which
// links are cut, where each client points) so that every line it writes is
// valid when it runs.
type gen struct {
	o       Options
	r       *rand.Rand
	d       *rand.Rand // which writes are deletes
	f       *rand.Rand // skews and pauses
	n       *rand.Rand // deadorigin, flap-repair and readback
	c       *rand.Rand // cas (linearizable mode)
	deletes int        // percent of ordinary writes that are deletes
	// values holds, per key, the values written to it in script order (""
	// for a delete): the old values a cas is drawn from.
	values map[int][]string
	// paused holds the servers paused now; noStabilize says a clock is
	// skewed so far behind that its server refuses every other server's
	// writes, so that stabilize could not converge until it is set right.
	paused      map[uint32]bool
	noStabilize bool
	out         []string
	live        []bool
	cuts        map[link]bool
	clients     []client
	lastKey     []int // per client, the key it last wrote or read (-1: none)
	ops         int
	// writes numbers every put and delete; a put's value carries its
	// number, so values are unique and do not depend on which writes
	// before it were deletes.
	writes int
	own    int // keys d1, d2, ... written once each (see putOwn)
	// late holds the servers that join mid-script, with the op count at
	// which each joins.
	late []lateJoin
}

type lateJoin struct {
	id uint32
	at int
}

func (g *gen) emit(format string, args ...any) { g.out = append(g.out, fmt.Sprintf(format, args...)) }

func (g *gen) comment(format string, args ...any) { g.emit("# "+format, args...) }

func (g *gen) clientID(i int) uint32 { return uint32(g.o.Servers + i) }

func (g *gen) run() {
	o := g.o
	kinds := ""
	if len(o.Kinds) > 0 {
		kinds = " -fault-kinds " + strings.Join(o.Kinds, ",")
	}
	if o.MaxClockOffset > 0 && o.has("skew") {
		kinds += " -max-clock-offset " + o.MaxClockOffset.String()
	}
	if o.Linearizable {
		kinds += " -consistency linearizable"
	}
	g.comment("gossipkv gen -seed %d -servers %d -clients %d -ops %d -keys %d -value-size %d -faults %d%s",
		o.Seed, o.Servers, o.Clients, o.Ops, o.Keys, o.ValueSize, o.Faults, kinds)
	g.comment("config: servers=%d clients=%d", o.Servers, o.Clients)

	// Some servers join late, once writes have happened without them.
	order := g.perm(o.Servers)
	nLate := 0
	if o.Servers > 2 && o.Ops > 0 {
		nLate = g.r.IntN(o.Servers/3 + 1)
	}
	for _, id := range order[nLate:] {
		g.joinServer(id)
	}
	for _, id := range order[:nLate] {
		g.late = append(g.late, lateJoin{id: id, at: g.r.IntN(o.Ops/2 + 1)})
	}
	live := g.liveIDs()
	for i := range g.clients {
		g.joinClient(i, live[g.r.IntN(len(live))])
	}

	// Episodes start at evenly spread ops, give or take a little.
	var starts []int
	seg := 0
	if o.Faults > 0 {
		seg = o.Ops / o.Faults
		for k := range o.Faults {
			starts = append(starts, k*seg+g.r.IntN(seg/4+1))
		}
	}
	next := 0
	for g.ops < o.Ops {
		g.lateJoins()
		if next < len(starts) && starts[next] <= g.ops {
			next++
			g.episode(max(2, seg/2+g.r.IntN(seg/4+1)))
			continue
		}
		g.op()
	}
	for _, lj := range g.late {
		g.joinServerComment(lj.id)
	}
	g.late = nil

	g.comment("end: heal every link, restart every server, stabilize, print every store")
	g.healAll()
	for id := range uint32(o.Servers) {
		if !g.live[id] {
			g.joinServer(id)
		}
	}
	g.emit("stabilize")
	for id := range uint32(o.Servers) {
		g.emit("printStore %d", id)
	}
}

func (g *gen) perm(n int) []uint32 {
	p := make([]uint32, n)
	for i, v := range g.r.Perm(n) {
		p[i] = uint32(v)
	}
	return p
}

func (g *gen) lateJoins() {
	kept := g.late[:0]
	for _, lj := range g.late {
		if lj.at <= g.ops {
			g.joinServerComment(lj.id)
		} else {
			kept = append(kept, lj)
		}
	}
	g.late = kept
}

func (g *gen) joinServerComment(id uint32) {
	g.comment("fault: late-join %d", id)
	g.joinServer(id)
}

// ---- the cluster view, and the lines that change it

func (g *gen) liveIDs() []uint32 {
	var ids []uint32
	for id, ok := range g.live {
		if ok {
			ids = append(ids, uint32(id))
		}
	}
	return ids
}

func (g *gen) deadIDs() []uint32 {
	var ids []uint32
	for id, ok := range g.live {
		if !ok && !g.isLate(uint32(id)) {
			ids = append(ids, uint32(id))
		}
	}
	return ids
}

func (g *gen) isLate(id uint32) bool {
	for _, lj := range g.late {
		if lj.id == id {
			return true
		}
	}
	return false
}

// joinServer starts id; like the master, it restores every link of id.
func (g *gen) joinServer(id uint32) {
	g.emit("joinServer %d", id)
	g.live[id] = true
	for l := range g.cuts {
		if l.lo == id || l.hi == id {
			delete(g.cuts, l)
		}
	}
}

func (g *gen) killServer(id uint32) {
	g.emit("killServer %d", id)
	g.live[id] = false
}

func (g *gen) cut(a, b uint32) {
	if a == b || !g.live[a] || !g.live[b] || g.cuts[mklink(a, b)] {
		return
	}
	g.emit("breakConnection %d %d", a, b)
	g.cuts[mklink(a, b)] = true
}

func (g *gen) heal(a, b uint32) {
	if !g.live[a] || !g.live[b] || !g.cuts[mklink(a, b)] {
		return
	}
	g.emit("createConnection %d %d", a, b)
	delete(g.cuts, mklink(a, b))
}

// healAll restores every cut link between live servers, in id order; links
// to dead servers come back when they restart.
func (g *gen) healAll() {
	var ls []link
	for l := range g.cuts {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(x, y link) int {
		if x.lo != y.lo {
			return int(x.lo) - int(y.lo)
		}
		return int(x.hi) - int(y.hi)
	})
	for _, l := range ls {
		g.heal(l.lo, l.hi)
	}
}

// keepOnly cuts every link between live servers that is not in keep.
func (g *gen) keepOnly(keep map[link]bool) {
	live := g.liveIDs()
	for i, a := range live {
		for _, b := range live[i+1:] {
			if !keep[mklink(a, b)] {
				g.cut(a, b)
			}
		}
	}
}

// group returns the live servers reachable from id through uncut links.
func (g *gen) group(id uint32) []uint32 {
	seen := map[uint32]bool{id: true}
	queue := []uint32{id}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		for _, b := range g.liveIDs() {
			if !seen[b] && !g.cuts[mklink(a, b)] {
				seen[b] = true
				queue = append(queue, b)
			}
		}
	}
	var out []uint32
	for _, b := range g.liveIDs() {
		if seen[b] {
			out = append(out, b)
		}
	}
	return out
}

// ---- clients

func (g *gen) joinClient(i int, sid uint32) {
	g.emit("joinClient %d %d", g.clientID(i), sid)
	g.clients[i] = client{server: sid, joined: true, connected: true}
}

// usable reports whether client i can put: its link is up and its server
// runs (a put otherwise fails, and the line with it).
func (g *gen) usable(i int) bool {
	c := g.clients[i]
	return c.joined && c.connected && g.live[c.server] && !g.paused[c.server]
}

// moveClient points client i at a live server other than its own if there
// is one.
func (g *gen) moveClient(i int) {
	live := g.liveIDs()
	live = slices.DeleteFunc(live, func(id uint32) bool { return g.paused[id] })
	others := slices.DeleteFunc(slices.Clone(live), func(id uint32) bool { return id == g.clients[i].server })
	if len(others) == 0 {
		others = live
	}
	g.joinClient(i, others[g.r.IntN(len(others))])
}

// anyUsable returns a client that can put, moving one if none can.
func (g *gen) anyUsable() int {
	var ok []int
	for i := range g.clients {
		if g.usable(i) {
			ok = append(ok, i)
		}
	}
	if len(ok) > 0 {
		return ok[g.r.IntN(len(ok))]
	}
	i := g.r.IntN(len(g.clients))
	g.moveClient(i)
	return i
}

func (g *gen) key() int { return g.r.IntN(g.o.Keys) }

func (g *gen) value() string {
	g.writes++
	v := fmt.Sprintf("v%d", g.writes)
	if pad := g.o.ValueSize - len(v) - 1; pad > 0 {
		var b strings.Builder
		b.WriteString(v)
		b.WriteByte('-')
		for j := range pad {
			b.WriteByte(byte('a' + (g.writes+j)%26))
		}
		v = b.String()
	}
	return v
}

func (g *gen) put(i, k int) {
	v := g.value()
	g.emit("put %d k%d %s", g.clientID(i), k, v)
	g.values[k] = append(g.values[k], v)
	g.lastKey[i] = k
	g.ops++
}

// del deletes k, whether it holds a value or not (never written, or
// deleted already).
func (g *gen) del(i, k int) {
	g.writes++
	g.emit("delete %d k%d", g.clientID(i), k)
	g.values[k] = append(g.values[k], "")
	g.lastKey[i] = k
	g.ops++
}

// casShare is the percentage of ordinary writes that are cas in
// linearizable mode.
const casShare = 16

// write puts k, or with the given percentage deletes it; in linearizable
// mode some writes are cas.
func (g *gen) write(i, k, deletes int) {
	if g.o.Linearizable && g.c.IntN(100) < casShare {
		g.cas(i, k)
		return
	}
	if g.d.IntN(100) < deletes {
		g.del(i, k)
		return
	}
	g.put(i, k)
}

// cas sets k to a new value if it holds an old one: three times in four
// the value the script last wrote to it (which it holds, unless that
// write failed or a later one failed to report), else an older one (or
// one never written) that only a lost or reordered write would match.
func (g *gen) cas(i, k int) {
	hist := slices.DeleteFunc(slices.Clone(g.values[k]), func(v string) bool { return v == "" })
	old := "v0"
	last := g.values[k]
	switch {
	case len(last) > 0 && last[len(last)-1] != "" && g.c.IntN(4) != 0:
		old = last[len(last)-1]
	case len(hist) > 0:
		old = hist[g.c.IntN(len(hist))]
	}
	v := g.value()
	g.emit("cas %d k%d %s %s", g.clientID(i), k, old, v)
	g.values[k] = append(g.values[k], v)
	g.lastKey[i] = k
	g.ops++
}

// putOwn writes a key that no other put writes, so that losing it cannot
// hide behind a later write of the key.
func (g *gen) putOwn(i int) {
	g.own++
	g.emit("put %d d%d %s", g.clientID(i), g.own, g.value())
	g.ops++
}

func (g *gen) get(i, k int) {
	g.emit("get %d k%d", g.clientID(i), k)
	g.lastKey[i] = k
	g.ops++
}

// op is one put, delete or get, sometimes after a client moves, loses or
// regains its link, or a stabilize.
func (g *gen) op() {
	switch p := g.r.IntN(100); {
	case p < 6:
		g.moveClient(g.r.IntN(len(g.clients)))
	case p < 7:
		i := g.r.IntN(len(g.clients))
		if c := g.clients[i]; c.connected {
			g.emit("breakConnection %d %d", g.clientID(i), c.server)
			g.clients[i].connected = false
		}
	case p < 10:
		for i, c := range g.clients {
			if !c.connected && g.live[c.server] {
				g.emit("createConnection %d %d", g.clientID(i), c.server)
				g.clients[i].connected = true
				break
			}
		}
	case p < 12:
		if !g.noStabilize {
			g.emit("stabilize")
		}
	}
	if g.r.IntN(100) < 60 {
		g.write(g.anyUsable(), g.key(), g.deletes)
		return
	}
	i := g.notPaused(g.r.IntN(len(g.clients)))
	k := g.key()
	if g.lastKey[i] >= 0 && g.r.IntN(2) == 0 {
		k = g.lastKey[i] // reread: sessions matter when a client returns to a key
	}
	g.get(i, k)
}

// notPaused returns client i, or if its server is paused the next client
// whose server is not (a get there would wait a whole rpc timeout for
// its ERR_CONN; each pause does that once on purpose, see pause).
func (g *gen) notPaused(i int) int {
	for j := range len(g.clients) {
		c := (i + j) % len(g.clients)
		if !g.paused[g.clients[c].server] {
			return c
		}
	}
	return i
}

// probe writes (puts or deletes) through a client, moves it to a server of
// another group (or any other server if there is no other group) and reads
// the key back: a correct server that lacks the write answers ERR_DEP, a
// broken one an old value (or, after a delete, ERR_KEY from holding
// nothing).
func (g *gen) probe() {
	i := g.anyUsable()
	k := g.key()
	g.write(i, k, 2*g.deletes)
	mine := g.group(g.clients[i].server)
	var others []uint32
	for _, id := range g.liveIDs() {
		if !slices.Contains(mine, id) {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		// Still connected (a bridge, a chain): a far server may not have
		// the write yet either.
		for _, id := range mine {
			if id != g.clients[i].server {
				others = append(others, id)
			}
		}
	}
	if len(others) == 0 || g.ops >= g.o.Ops {
		return
	}
	g.joinClient(i, others[g.r.IntN(len(others))])
	g.get(i, k)
}

// ---- fault episodes

// eligible lists the shapes that n live servers can take (and restart if a
// server is down).
func (g *gen) eligible() []string {
	n := len(g.liveIDs())
	var out []string
	for _, s := range Shapes {
		if kind, ok := kindOf[s]; ok && !g.o.has(kind) {
			continue
		}
		switch s {
		case "late-join", "skew", "pause", "deadorigin", "flap-repair", "readback", "twinskew":
			continue // scheduled (late-join), or chosen by newKind or newerKind
		case "restart":
			if len(g.deadIDs()) == 0 {
				continue
			}
		case "majority", "bridge", "chain", "tree":
			if n < 3 {
				continue
			}
		case "ring":
			if n < 4 {
				continue
			}
		default:
			if n < 2 {
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// episode runs one fault for about nops ops, then heals it.
func (g *gen) episode(nops int) {
	if g.newKind(nops) || g.newerKind(nops) {
		return
	}
	shapes := g.eligible()
	if len(shapes) == 0 {
		g.opsFor(nops, nil)
		return
	}
	shape := shapes[g.r.IntN(len(shapes))]
	live := g.liveIDs()
	order := slices.Clone(live)
	g.r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	keep := map[link]bool{}
	switch shape {
	case "isolate":
		x := order[0]
		g.comment("fault: isolate %d", x)
		g.keepOnly(g.complete(order[1:]))
	case "split", "majority":
		k := 1 + g.r.IntN(len(order)-1)
		if shape == "majority" {
			k = len(order)/2 + 1
		}
		g.comment("fault: %s %v | %v", shape, order[:k], order[k:])
		keep = g.complete(order[:k])
		for l := range g.complete(order[k:]) {
			keep[l] = true
		}
		g.keepOnly(keep)
	case "bridge":
		k := 1 + g.r.IntN(len(order)-1)
		a, b := order[g.r.IntN(k)], order[k+g.r.IntN(len(order)-k)]
		g.comment("fault: bridge %v | %v through %d-%d", order[:k], order[k:], a, b)
		keep = g.complete(order[:k])
		for l := range g.complete(order[k:]) {
			keep[l] = true
		}
		keep[mklink(a, b)] = true
		g.keepOnly(keep)
	case "chain", "ring":
		var names []string
		for i, id := range order {
			names = append(names, fmt.Sprint(id))
			if i > 0 {
				keep[mklink(order[i-1], id)] = true
			}
		}
		if shape == "ring" {
			keep[mklink(order[len(order)-1], order[0])] = true
			names = append(names, fmt.Sprint(order[0]))
		}
		g.comment("fault: %s %s", shape, strings.Join(names, "-"))
		g.keepOnly(keep)
	case "tree":
		var edges []string
		for i := 1; i < len(order); i++ {
			p := order[g.r.IntN(i)]
			keep[mklink(p, order[i])] = true
			edges = append(edges, fmt.Sprintf("%d-%d", p, order[i]))
		}
		g.comment("fault: tree %s", strings.Join(edges, " "))
		g.keepOnly(keep)
	case "flap":
		a, b := order[0], order[1]
		g.comment("fault: flap %d-%d", a, b)
		g.cut(a, b)
		g.opsFor(nops, func() {
			if g.r.IntN(3) == 0 {
				if g.cuts[mklink(a, b)] {
					g.heal(a, b)
				} else {
					g.cut(a, b)
				}
			}
		})
		g.endEpisode()
		return
	case "restart":
		dead := g.deadIDs()
		x := dead[g.r.IntN(len(dead))]
		g.comment("fault: restart %d", x)
		g.joinServer(x)
	case "kill", "kill-after-stabilize", "isolate-and-kill":
		g.kill(shape, order[0], nops)
		return
	}
	// Partitions are where sessions are tested: clients write, move
	// across the cut and read back.
	probes := 0
	if shape != "restart" {
		probes = 1 + g.r.IntN(2)
	}
	g.opsFor(nops, nil)
	for range probes {
		if g.ops < g.o.Ops {
			g.probe()
		}
	}
	if g.r.IntN(2) == 0 {
		g.emit("stabilize") // each side converges on its own
	}
	g.endEpisode()
}

// kill kills x after writes through it: at once (the writes may still be
// on their way), after a stabilize, or while x is cut off from everyone.
// Most of the time x comes back at the end of the episode; otherwise a
// later episode or the end of the script restarts it.
func (g *gen) kill(shape string, x uint32, nops int) {
	g.comment("fault: %s %d", shape, x)
	if shape == "isolate-and-kill" {
		var others []uint32
		for _, id := range g.liveIDs() {
			if id != x {
				others = append(others, id)
			}
		}
		g.keepOnly(g.complete(others))
	}
	i := g.r.IntN(len(g.clients))
	if g.clients[i].server != x || !g.usable(i) {
		g.joinClient(i, x)
	}
	for range 1 + g.r.IntN(3) {
		if g.ops < g.o.Ops { // the script's ops may run out
			g.putOwn(i)
		}
	}
	if shape == "kill-after-stabilize" {
		g.emit("stabilize")
	}
	g.killServer(x)
	g.opsFor(nops, nil)
	if g.r.IntN(10) < 7 {
		g.joinServer(x)
	}
	g.endEpisode()
}

func (g *gen) endEpisode() {
	g.healAll()
	if g.r.IntN(10) < 6 {
		g.emit("stabilize")
	}
}

// opsFor runs n ops (fewer if the script's ops run out), calling between
// before each.
func (g *gen) opsFor(n int, between func()) {
	for j := 0; j < n && g.ops < g.o.Ops; j++ {
		if between != nil {
			between()
		}
		g.op()
	}
}

// complete is every link among ids.
func (g *gen) complete(ids []uint32) map[link]bool {
	m := map[link]bool{}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			m[mklink(a, b)] = true
		}
	}
	return m
}

// ---- skews and pauses

// newKind runs a skew or pause episode in about a third of the episodes
// when those kinds are on, and reports whether it did. Its choices come
// from g.f, so that the older kinds' scripts do not change when these
// are off.
func (g *gen) newKind(nops int) bool {
	var kinds []string
	for _, k := range []string{"skew", "pause"} {
		if g.o.has(k) {
			kinds = append(kinds, k)
		}
	}
	live := g.liveIDs()
	if len(kinds) == 0 || len(live) < 2 || g.f.IntN(3) != 0 {
		return false
	}
	x := live[g.f.IntN(len(live))]
	switch kinds[g.f.IntN(len(kinds))] {
	case "skew":
		g.skew(x, nops)
	case "pause":
		g.pause(x, nops)
	}
	return true
}

// skew skews x's clock for the episode: within the max clock offset
// (either way; a client that read elsewhere then writes through x, whose
// version must still follow what it read), or beyond it (ahead: the
// others refuse x's writes until their clocks catch up; behind: x refuses
// everyone's, and no stabilize runs until it is set right). Now and then
// x is killed and restarted while skewed: the restarted server keeps the
// skew. The episode ends with the clock set right.
func (g *gen) skew(x uint32, nops int) {
	off := g.o.maxOffset()
	ms := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(g.f.Int64N(int64(hi-lo)/int64(time.Millisecond)+1))*time.Millisecond
	}
	var d time.Duration
	where := "within"
	switch g.f.IntN(4) {
	case 0, 1:
		d = ms(50*time.Millisecond, off*4/5)
		if g.f.IntN(2) == 0 {
			d = -d
		}
	case 2:
		d, where = off+ms(200*time.Millisecond, time.Second), "beyond"
	case 3:
		d, where = -(off + ms(500*time.Millisecond, 3*time.Second)), "beyond"
	}
	g.comment("fault: skew %d %s (%s the max clock offset %v)", x, script.FormatSkew(d), where, off)
	g.emit("skewClock %d %s", x, script.FormatSkew(d))
	g.noStabilize = where == "beyond" && d < 0
	// A client reads a key elsewhere, moves to x and writes it.
	if i, other, ok := g.clientAwayFrom(x); ok {
		k := g.key()
		if g.clients[i].server != other {
			g.joinClient(i, other)
		}
		g.get(i, k)
		g.joinClient(i, x)
		g.write(i, k, g.deletes)
	}
	restart := where == "within" && g.f.IntN(3) == 0
	if restart {
		g.killServer(x)
		g.joinServer(x)
	}
	g.opsFor(nops, nil)
	g.emit("skewClock %d 0", x)
	g.noStabilize = false
	g.endEpisode()
}

// clientAwayFrom picks a usable client and a live, unpaused server other
// than x for it to read at.
func (g *gen) clientAwayFrom(x uint32) (int, uint32, bool) {
	var servers []uint32
	for _, id := range g.liveIDs() {
		if id != x && !g.paused[id] {
			servers = append(servers, id)
		}
	}
	if len(servers) == 0 || g.ops+3 > g.o.Ops {
		return 0, 0, false
	}
	i := g.f.IntN(len(g.clients))
	return i, servers[g.f.IntN(len(servers))], true
}

// pause stops x (SIGSTOP) for the episode: a client of x reads through
// it once (ERR_CONN, after a whole rpc timeout), the others go on, and
// then x resumes and catches up, or (one time in four) is killed while
// stopped and restarted.
func (g *gen) pause(x uint32, nops int) {
	kill := g.f.IntN(4) == 0
	what := "pause"
	if kill {
		what = "pause-and-kill"
	}
	g.comment("fault: %s %d", what, x)
	i := g.f.IntN(len(g.clients))
	if g.clients[i].server != x || !g.clients[i].connected {
		g.joinClient(i, x)
	}
	g.emit("pauseServer %d", x)
	g.paused[x] = true
	if g.ops < g.o.Ops {
		g.get(i, g.key())
	}
	g.opsFor(nops, nil)
	delete(g.paused, x)
	if kill {
		g.killServer(x)
		g.joinServer(x)
	} else {
		g.emit("resumeServer %d", x)
	}
	g.endEpisode()
}
