package check

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gossipkv/pkg/model"
	"gossipkv/pkg/router"
)

// Check judges h against the model described in the package doc.
func Check(h History) Verdict {
	c := newChecker()
	for _, e := range h {
		c.step(e)
	}
	return c.v
}

// write is one put or delete: acknowledged (its version known), or failed
// (its version unknown until a read or dump shows it). A delete is a write
// of a tombstone (del, no value), ordered like any other.
type write struct {
	id        int
	key       string
	value     []byte
	del       bool
	version   model.Version
	versioned bool
	acked     bool
	origin    uint32
	client    uint32
	line      int
}

func (w *write) String() string {
	what := "put"
	if w.del {
		what = "delete"
	}
	if !w.acked {
		what = "failed " + what
	}
	v := "version unknown"
	if w.versioned {
		v = w.version.String()
	}
	if w.del {
		return fmt.Sprintf("the deletion of %s (%s, %s by client %d at line %d through server %d)",
			showBytes([]byte(w.key)), v, what, w.client, w.line, w.origin)
	}
	return fmt.Sprintf("%s=%s (%s, %s by client %d at line %d through server %d)",
		showBytes([]byte(w.key)), showBytes(w.value), v, what, w.client, w.line, w.origin)
}

// floor is the newest version of a key that a server is known to hold, and
// how that is known.
type floor struct {
	version model.Version
	line    int
	how     string
}

// session is what a client has seen of one key: the newest version it
// wrote or read, and what that version was.
type session struct {
	max     model.Version
	value   []byte
	deleted bool // max is a tombstone
	line    int
	wrote   bool // max came from the client's own put or delete
}

type sessKey struct {
	client uint32
	key    string
}

type pair struct{ lo, hi uint32 }

func mkpair(a, b uint32) pair {
	if a > b {
		a, b = b, a
	}
	return pair{a, b}
}

type checker struct {
	v Verdict

	writes []*write
	byVer  map[model.Version]*write
	byKey  map[string][]*write
	latest map[string]model.Version // newest acknowledged version of each key

	live     map[uint32]bool
	paused   map[uint32]int // paused server -> line of the pause
	killedAt map[uint32]int
	cuts     map[pair]int // cut link -> line of the cut
	groups   [][]uint32
	groupOf  map[uint32]int

	may    map[uint32]*bitset
	floors map[uint32]map[string]floor
	sess   map[sessKey]*session

	// reported keeps one message per lost, extra or phantom write, which
	// otherwise every later stabilize would repeat.
	reported map[reportKey]bool
}

type reportKey struct {
	class   Class
	version model.Version
}

func newChecker() *checker {
	return &checker{
		byVer:    map[model.Version]*write{},
		byKey:    map[string][]*write{},
		latest:   map[string]model.Version{},
		live:     map[uint32]bool{},
		paused:   map[uint32]int{},
		killedAt: map[uint32]int{},
		cuts:     map[pair]int{},
		groupOf:  map[uint32]int{},
		may:      map[uint32]*bitset{},
		floors:   map[uint32]map[string]floor{},
		sess:     map[sessKey]*session{},
		reported: map[reportKey]bool{},
	}
}

func (c *checker) step(e Event) {
	switch e.Op {
	case Start:
		if e.Fresh {
			c.may[e.Server] = &bitset{}
			c.floors[e.Server] = map[string]floor{}
		}
		c.live[e.Server] = true
		delete(c.paused, e.Server)
		for p := range c.cuts {
			if p.lo == e.Server || p.hi == e.Server {
				delete(c.cuts, p)
			}
		}
		c.topologyChanged()
	case Kill:
		delete(c.live, e.Server)
		delete(c.paused, e.Server)
		c.killedAt[e.Server] = e.Line
		c.topologyChanged()
	case Pause:
		c.paused[e.Server] = e.Line
		c.topologyChanged()
	case Resume:
		delete(c.paused, e.Server)
		c.topologyChanged()
	case Skew:
		// Nothing here depends on clocks agreeing: writes are named and
		// ordered by their versions, and a client's write must still be
		// above what it saw (see write), whatever its server's clock.
	case Cut:
		c.cuts[mkpair(e.Server, e.Peer)] = e.Line
		c.topologyChanged()
	case Heal:
		delete(c.cuts, mkpair(e.Server, e.Peer))
		c.topologyChanged()
	case Put, Delete:
		c.write(e)
	case Get:
		c.get(e)
	case Stabilize:
		c.stabilize(e)
	}
}

// ---- topology and possible holders

// topologyChanged recomputes the groups and lets every member of a group
// possibly hold what any member possibly holds.
func (c *checker) topologyChanged() {
	ids := make([]uint32, 0, len(c.live))
	for id := range c.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.groups = router.Full(ids, func(a, b uint32) bool {
		_, cut := c.cuts[mkpair(a, b)]
		_, pa := c.paused[a]
		_, pb := c.paused[b]
		return cut || pa || pb // a paused server neither sends nor receives
	}).Components()
	clear(c.groupOf)
	for i, g := range c.groups {
		for _, id := range g {
			c.groupOf[id] = i
		}
	}
	for _, g := range c.groups {
		if len(g) < 2 {
			continue
		}
		var u bitset
		for _, id := range g {
			u.or(*c.mayOf(id))
		}
		for _, id := range g {
			*c.mayOf(id) = slices.Clone(u)
		}
	}
}

func (c *checker) mayOf(id uint32) *bitset {
	b := c.may[id]
	if b == nil {
		b = &bitset{}
		c.may[id] = b
	}
	return b
}

// group returns the members of id's group, or just id if it is not live.
func (c *checker) group(id uint32) []uint32 {
	if i, ok := c.groupOf[id]; ok {
		return c.groups[i]
	}
	return []uint32{id}
}

// spread makes w possibly held by server id's group.
func (c *checker) spread(w *write, id uint32) {
	for _, m := range c.group(id) {
		c.mayOf(m).set(w.id)
	}
}

func (c *checker) mayHold(id uint32, w *write) bool { return c.mayOf(id).has(w.id) }

// ---- known holders

func (c *checker) floorOf(id uint32, key string) (floor, bool) {
	f, ok := c.floors[id][key]
	return f, ok
}

func (c *checker) raise(id uint32, key string, v model.Version, line int, how string) {
	m := c.floors[id]
	if m == nil {
		m = map[string]floor{}
		c.floors[id] = m
	}
	if f, ok := m[key]; !ok || f.version.Less(v) {
		m[key] = floor{version: v, line: line, how: how}
	}
}

// ---- writes and gets

func (c *checker) newWrite(e Event, acked bool) *write {
	w := &write{
		id: len(c.writes), key: string(e.Key), del: e.Op == Delete,
		version: e.Version, versioned: acked, acked: acked,
		origin: e.Server, client: e.Client, line: e.Line,
	}
	if !w.del {
		w.value = bytes.Clone(e.Value)
	}
	c.writes = append(c.writes, w)
	c.byKey[w.key] = append(c.byKey[w.key], w)
	if acked {
		c.byVer[w.version] = w
	}
	return w
}

// write takes a put or a delete: both are writes in the conflict order, and
// the client's session depends on either.
func (c *checker) write(e Event) {
	del := e.Op == Delete
	if e.Status != OK {
		if del {
			c.v.Counts.DeletesFailed++
		} else {
			c.v.Counts.PutsFailed++
		}
		if e.Status == Unreachable {
			c.v.Counts.ErrConn++
		}
		// It may have taken effect at its server, and spread from there.
		c.spread(c.newWrite(e, false), e.Server)
		return
	}
	if del {
		c.v.Counts.Deletes++
	} else {
		c.v.Counts.Puts++
	}
	key := string(e.Key)
	if e.Version.IsZero() {
		c.v.add(Phantom, e.Line, "client %d's %v of %s was acknowledged without a version", e.Client, e.Op, showBytes(e.Key))
		return
	}
	if prev := c.byVer[e.Version]; prev != nil {
		c.v.add(Causality, e.Line, "version %v was issued twice: to client %d's %s, and to %v",
			e.Version, e.Client, writeOf(e), prev)
		return
	}
	s := c.session(e.Client, key)
	if !s.max.IsZero() && !s.max.Less(e.Version) {
		c.v.add(Causality, e.Line, "client %d's %s got %v, not above %s that it %s at line %d: the older write would win over it",
			e.Client, writeOf(e), e.Version, s.seen(), s.verb(), s.line)
	}
	w := c.newWrite(e, true)
	c.spread(w, e.Server)
	c.raise(e.Server, key, e.Version, e.Line, fmt.Sprintf("acknowledged the %v", e.Op))
	c.latest[key] = model.Max(c.latest[key], e.Version)
	if s.max.Less(e.Version) {
		*s = session{max: e.Version, value: w.value, deleted: del, line: e.Line, wrote: true}
	}
}

// writeOf names a put or delete event for a message.
func writeOf(e Event) string {
	if e.Op == Delete {
		return "delete of " + showBytes(e.Key)
	}
	return fmt.Sprintf("put of %s=%s", showBytes(e.Key), showBytes(e.Value))
}

func (c *checker) session(client uint32, key string) *session {
	k := sessKey{client, key}
	s := c.sess[k]
	if s == nil {
		s = &session{}
		c.sess[k] = s
	}
	return s
}

func (s *session) verb() string {
	if s.wrote {
		return "wrote"
	}
	return "read"
}

// seen names what the client saw at s.max, for a message.
func (s *session) seen() string {
	if s.deleted {
		return fmt.Sprintf("the deletion (%v)", s.max)
	}
	return fmt.Sprintf("%s (%v)", showBytes(s.value), s.max)
}

func (c *checker) get(e Event) {
	key := string(e.Key)
	switch e.Status {
	case Unreachable:
		c.v.Counts.ErrConn++
		return
	case Failed:
		return
	case OK:
		c.v.Counts.Gets++
		c.read(e, false)
	case NoKey:
		c.v.Counts.Gets++
		if !e.Version.IsZero() {
			// The server read a tombstone: a read of the delete.
			c.read(e, true)
			return
		}
		if !e.Stable.IsZero() {
			c.collectedRead(e)
			return
		}
		c.checkSession(e, model.Version{}, "ERR_KEY")
		if !c.latest[key].IsZero() {
			c.v.Counts.StaleReads++
		}
		if f, ok := c.floorOf(e.Server, key); ok {
			c.v.add(Lost, e.Line, "server %d answered ERR_KEY to client %d for %s, but it holds %s since line %d (%s)",
				e.Server, e.Client, showBytes(e.Key), c.describe(f.version), f.line, f.how)
		}
	case Behind:
		c.v.Counts.Gets++
		c.v.Counts.ErrDep++
		c.judgeDep(e)
	}
}

// collectedRead judges ERR_KEY from a server that holds nothing of the key
// and whose stable point is e.Stable: it claims to hold every write of the
// key up to that point, the newest of them (if any) a delete whose
// tombstone it collected. That is a read of that delete, or of nothing:
// the client must not have seen anything newer than the point, the server
// must not be known to hold anything newer, and the newest write of the
// key at or below it must not be a put.
func (c *checker) collectedRead(e Event) {
	key := string(e.Key)
	shown := fmt.Sprintf("ERR_KEY (collected at or below %v)", e.Stable)
	if s := c.sess[sessKey{e.Client, key}]; s != nil && e.Stable.Less(s.max) {
		c.checkSession(e, model.Version{}, shown)
	}
	if f, ok := c.floorOf(e.Server, key); ok && e.Stable.Less(f.version) {
		c.v.add(Lost, e.Line, "server %d answered %s to client %d for %s, but it holds %s since line %d (%s)",
			e.Server, shown, e.Client, showBytes(e.Key), c.describe(f.version), f.line, f.how)
	} else if w := c.newestUpTo(key, e.Stable); w != nil && !w.del {
		c.v.add(Lost, e.Line, "server %d answered %s to client %d for %s, but the newest write of it at or below that point is %v",
			e.Server, shown, e.Client, showBytes(e.Key), w)
	}
	if e.Stable.Less(c.latest[key]) {
		c.v.Counts.StaleReads++
	}
}

// newestUpTo is the newest write of key whose version is known and at or
// below v (nil: none).
func (c *checker) newestUpTo(key string, v model.Version) *write {
	var best *write
	for _, w := range c.byKey[key] {
		if w.versioned && !v.Less(w.version) && (best == nil || best.version.Less(w.version)) {
			best = w
		}
	}
	return best
}

// collected says whether a server whose stable point is stable may lack
// key although it is known to hold version need of it: the write at need
// and every other up to the point are in its past, the newest of them a
// delete whose tombstone it collected.
func (c *checker) collected(key string, stable, need model.Version) bool {
	if stable.IsZero() || stable.Less(need) {
		return false
	}
	w := c.newestUpTo(key, stable)
	return w != nil && w.del
}

// read judges a get that returned a write at e.Version: a value, or (del)
// ERR_KEY from a tombstone.
func (c *checker) read(e Event, del bool) {
	key := string(e.Key)
	if w := c.identify(e.Server, key, e.Value, e.Version, del, e.Line); w != nil && !c.mayHold(e.Server, w) {
		c.v.add(Extra, e.Line, "server %d served %v to client %d, but that write could not have reached it: %s",
			e.Server, w, e.Client, c.why(w, e.Server))
		c.mayOf(e.Server).set(w.id) // it is there now: do not report its spread again
	}
	shown := fmt.Sprintf("%s (%v)", showBytes(e.Value), e.Version)
	if del {
		shown = fmt.Sprintf("ERR_KEY (deleted at %v)", e.Version)
	}
	c.checkSession(e, e.Version, shown)
	if f, ok := c.floorOf(e.Server, key); ok && e.Version.Less(f.version) {
		c.v.add(Lost, e.Line, "server %d answered %s = %s to client %d, older than %s that it holds since line %d (%s)",
			e.Server, showBytes(e.Key), shown, e.Client, c.describe(f.version), f.line, f.how)
	}
	if e.Version.Less(c.latest[key]) {
		c.v.Counts.StaleReads++
	}
	c.raise(e.Server, key, e.Version, e.Line, "served it")
	if s := c.session(e.Client, key); s.max.Less(e.Version) {
		*s = session{max: e.Version, deleted: del, line: e.Line}
		if !del {
			s.value = bytes.Clone(e.Value)
		}
	}
}

// checkSession reports a read (got; zero for ERR_KEY) older than what the
// client has seen of the key.
func (c *checker) checkSession(e Event, got model.Version, shown string) {
	s := c.sess[sessKey{e.Client, string(e.Key)}]
	if s == nil || s.max.IsZero() || !got.Less(s.max) {
		return
	}
	class := MonotonicReads
	if s.wrote {
		class = ReadYourWrites
	}
	c.v.add(class, e.Line, "client %d read %s = %s from server %d, older than %s that it %s at line %d",
		e.Client, showBytes(e.Key), shown, e.Server, s.seen(), s.verb(), s.line)
}

// judgeDep sorts an ERR_DEP into necessary, spurious or undetermined.
func (c *checker) judgeDep(e Event) {
	key := string(e.Key)
	dep := e.Dep
	if dep.IsZero() {
		dep = c.session(e.Client, key).max
	}
	if dep.IsZero() {
		c.v.Counts.ErrDepSpurious++
		c.v.add(SpuriousDep, e.Line, "server %d answered ERR_DEP to client %d for %s, which depends on no write of it",
			e.Server, e.Client, showBytes(e.Key))
		return
	}
	if f, ok := c.floorOf(e.Server, key); ok && !f.version.Less(dep) {
		c.v.Counts.ErrDepSpurious++
		c.v.add(SpuriousDep, e.Line, "server %d answered ERR_DEP to client %d for %s (dependency %v), but it holds %s since line %d (%s)",
			e.Server, e.Client, showBytes(e.Key), dep, c.describe(f.version), f.line, f.how)
		return
	}
	for _, w := range c.byKey[key] {
		if (!w.versioned || !w.version.Less(dep)) && c.mayHold(e.Server, w) {
			c.v.Counts.ErrDepUndetermined++
			return
		}
	}
	c.v.Counts.ErrDepNecessary++
}

// identify finds the write that a value (or, del, a tombstone) at version v
// is, reporting a phantom when there is none. A failed put or delete that
// shows up takes its version from here.
func (c *checker) identify(server uint32, key string, value []byte, v model.Version, del bool, line int) *write {
	shown := fmt.Sprintf("%s=%s", showBytes([]byte(key)), showBytes(value))
	if del {
		shown = "a tombstone of " + showBytes([]byte(key))
	}
	if w := c.byVer[v]; w != nil {
		if w.key == key && w.del == del && (del || bytes.Equal(w.value, value)) {
			return w
		}
		if rk := (reportKey{Phantom, v}); !c.reported[rk] {
			c.reported[rk] = true
			other := "the write " + w.String()
			if w.del {
				other = w.String()
			}
			c.v.add(Phantom, line, "server %d has %s at %v, but that version is %s", server, shown, v, other)
		}
		return nil
	}
	var match *write
	for _, w := range c.byKey[key] {
		if w.versioned || w.del != del || w.origin != v.Origin || (!del && !bytes.Equal(w.value, value)) {
			continue
		}
		if match == nil || (!c.mayHold(server, match) && c.mayHold(server, w)) {
			match = w
		}
	}
	if match != nil {
		match.version, match.versioned = v, true
		c.byVer[v] = match
		return match
	}
	if rk := (reportKey{Phantom, v}); !c.reported[rk] {
		c.reported[rk] = true
		what := "a value that no put wrote"
		if del {
			what = "a tombstone that no delete wrote"
		}
		c.v.add(Phantom, line, "server %d has %s at %v, %s", server, shown, v, what)
	}
	return nil
}

// describe names the write at version v, or just the version if there is
// none (a phantom already reported).
func (c *checker) describe(v model.Version) string {
	if w := c.byVer[v]; w != nil {
		return w.String()
	}
	return v.String()
}

// why explains why w could not have reached server id: its possible holders
// are dead, or every link between them and id's group is cut.
func (c *checker) why(w *write, id uint32) string {
	var holders, liveHolders []uint32
	for s, b := range c.may {
		if s != id && b.has(w.id) {
			holders = append(holders, s)
			if c.live[s] {
				liveHolders = append(liveHolders, s)
			}
		}
	}
	slices.Sort(holders)
	slices.Sort(liveHolders)
	if len(holders) == 0 {
		return "no other server could hold it"
	}
	if len(liveHolders) == 0 {
		var dead []string
		for _, s := range holders {
			dead = append(dead, fmt.Sprintf("%d (killed at line %d)", s, c.killedAt[s]))
		}
		return fmt.Sprintf("only servers %s could hold it, and they are down", strings.Join(dead, ", "))
	}
	var links []string
	for _, h := range liveHolders {
		if line, ok := c.paused[h]; ok {
			links = append(links, fmt.Sprintf("server %d paused at line %d", h, line))
			continue
		}
		for _, m := range c.group(id) {
			if line, ok := c.paused[m]; ok {
				links = append(links, fmt.Sprintf("server %d paused at line %d", m, line))
				continue
			}
			if line, cut := c.cuts[mkpair(h, m)]; cut {
				links = append(links, fmt.Sprintf("%d-%d cut at line %d", h, m, line))
			}
		}
	}
	slices.Sort(links)
	links = slices.Compact(links)
	sort.Strings(links)
	const show = 6
	if len(links) > show {
		links = append(links[:show], fmt.Sprintf("and %d more", len(links)-show))
	}
	return fmt.Sprintf("only servers %v could hold it, cut off from server %d's group %v (links %s)",
		holders, id, c.group(id), strings.Join(links, ", "))
}

// ---- stabilize

func (c *checker) stabilize(e Event) {
	c.v.Counts.Stabilizes++
	if !e.Converged {
		c.v.add(NotConverged, e.Line, "stabilize failed: %s", e.Err)
	}
	stores := make(map[uint32]map[string]Item, len(e.Stores))
	for id, items := range e.Stores {
		m := make(map[string]Item, len(items))
		for _, it := range items {
			m[string(it.Key)] = it
		}
		stores[id] = m
	}
	for _, g := range c.groups {
		if _, paused := c.paused[g[0]]; paused && len(g) == 1 {
			continue // left out by stabilize: it can take no part
		}
		var have, missing []uint32
		for _, id := range g {
			if _, ok := stores[id]; ok {
				have = append(have, id)
			} else {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 && e.Converged {
			c.v.add(NotConverged, e.Line, "the stores of servers %v could not be read after stabilize", missing)
		}
		if len(have) == 0 {
			continue
		}
		c.v.Counts.Groups++
		c.compare(e.Line, g, have, withoutCollected(have, stores, e.Stables))
		c.required(e.Line, g, have, stores, e.Stables)
		c.present(e.Line, have, stores)
	}
	for id, m := range stores {
		for k, it := range m {
			c.raise(id, k, it.Version, e.Line, "held it at the stabilize")
		}
	}
}

// withoutCollected returns the stores of have without the tombstones at or
// below the newest stable point among them: one server may have collected
// a tombstone that another still holds, a difference that reads cannot
// tell (either answers ERR_KEY) and that goes with the next collection.
func withoutCollected(have []uint32, stores map[uint32]map[string]Item, stables map[uint32]model.Version) map[uint32]map[string]Item {
	var top model.Version
	for _, id := range have {
		if top.Less(stables[id]) {
			top = stables[id]
		}
	}
	if top.IsZero() {
		return stores
	}
	out := make(map[uint32]map[string]Item, len(have))
	for _, id := range have {
		m := make(map[string]Item, len(stores[id]))
		for k, it := range stores[id] {
			if !it.Deleted || top.Less(it.Version) {
				m[k] = it
			}
		}
		out[id] = m
	}
	return out
}

// compare reports a group whose members hold different stores.
func (c *checker) compare(line int, g, have []uint32, stores map[uint32]map[string]Item) {
	keys := map[string]bool{}
	for _, id := range have {
		for k := range stores[id] {
			keys[k] = true
		}
	}
	var diffs []string
	n := 0
	for _, k := range sortedKeys(keys) {
		ref, refOK := stores[have[0]][k]
		for _, id := range have[1:] {
			it, ok := stores[id][k]
			if ok == refOK && (!ok || (it.Version == ref.Version && it.Deleted == ref.Deleted && bytes.Equal(it.Value, ref.Value))) {
				continue
			}
			n++
			if len(diffs) < 3 {
				diffs = append(diffs, fmt.Sprintf("key %s: server %d has %s, server %d has %s",
					showBytes([]byte(k)), have[0], showItem(ref, refOK), id, showItem(it, ok)))
			}
			break
		}
	}
	if n > 0 {
		more := ""
		if n > len(diffs) {
			more = fmt.Sprintf(" (%d keys differ)", n)
		}
		c.v.add(Diverged, line, "group %v did not converge: %s%s", g, strings.Join(diffs, "; "), more)
	}
}

func showItem(it Item, ok bool) string {
	if !ok {
		return "no value"
	}
	if it.Deleted {
		return fmt.Sprintf("a tombstone (%v)", it.Version)
	}
	return fmt.Sprintf("%s (%v)", showBytes(it.Value), it.Version)
}

// required reports writes that a member of g is known to hold and some
// member lacks.
func (c *checker) required(line int, g, have []uint32, stores map[uint32]map[string]Item, stables map[uint32]model.Version) {
	type need struct {
		floor
		holder uint32
	}
	req := map[string]need{}
	for _, id := range g {
		for k, f := range c.floors[id] {
			if r, ok := req[k]; !ok || r.version.Less(f.version) {
				req[k] = need{f, id}
			}
		}
	}
	keys := map[string]bool{}
	for k := range req {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		r := req[k]
		// Servers lacking it, grouped by what they hold instead.
		var lacking []string
		byHeld := map[string][]uint32{}
		for _, id := range have {
			it, ok := stores[id][k]
			if !ok && c.collected(k, stables[id], r.version) {
				continue
			}
			if !ok || it.Version.Less(r.version) {
				held := showItem(it, ok)
				if byHeld[held] == nil {
					lacking = append(lacking, held)
				}
				byHeld[held] = append(byHeld[held], id)
			}
		}
		for i, held := range lacking {
			if ids := byHeld[held]; len(ids) == 1 {
				lacking[i] = fmt.Sprintf("server %d has %s", ids[0], held)
			} else {
				lacking[i] = fmt.Sprintf("servers %v have %s", ids, held)
			}
		}
		rk := reportKey{Lost, r.version}
		if len(lacking) == 0 || c.reported[rk] {
			continue
		}
		c.reported[rk] = true
		c.v.add(Lost, line, "%s is missing in group %v (%s), though server %d holds it since line %d (%s)",
			c.describe(r.version), g, strings.Join(lacking, "; "), r.holder, r.line, r.how)
	}
}

// present reports values that are no write, or that could not have reached
// the member holding them.
func (c *checker) present(line int, have []uint32, stores map[uint32]map[string]Item) {
	type extra struct {
		w       *write
		servers []uint32
	}
	var extras []*extra
	byWrite := map[*write]*extra{}
	for _, id := range have {
		m := stores[id]
		keys := make(map[string]bool, len(m))
		for k := range m {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			it := m[k]
			w := c.identify(id, k, it.Value, it.Version, it.Deleted, line)
			if w == nil || c.mayHold(id, w) {
				continue
			}
			x := byWrite[w]
			if x == nil {
				x = &extra{w: w}
				byWrite[w] = x
				extras = append(extras, x)
			}
			x.servers = append(x.servers, id)
		}
	}
	for _, x := range extras {
		rk := reportKey{Extra, x.w.version}
		if !c.reported[rk] {
			c.reported[rk] = true
			c.v.add(Extra, line, "servers %v hold %v, which could not have reached them: %s",
				x.servers, x.w, c.why(x.w, x.servers[0]))
		}
		for _, id := range x.servers {
			c.mayOf(id).set(x.w.id)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- bitset

// bitset is a set of write ids.
type bitset []uint64

func (b *bitset) set(i int) {
	for len(*b) <= i/64 {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitset) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0 }

func (b *bitset) or(o bitset) {
	for len(*b) < len(o) {
		*b = append(*b, 0)
	}
	for i, w := range o {
		(*b)[i] |= w
	}
}
