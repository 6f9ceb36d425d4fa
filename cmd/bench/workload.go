package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Spec is the assignment's benchmark: Servers servers, Clients clients each
// joined to a server of its own (client i of the ids after the servers goes
// to server i mod Servers), clients taking turns issuing Puts puts of
// ValueSize-byte values under random 3-letter keys, then one stabilize.
type Spec struct {
	Servers, Clients, Puts, ValueSize int
	Seed                              uint64
}

// Partition is the partition workload: the spec layout, Puts puts of
// MinValue..MaxValue-byte values while server links are cut and restored
// every CutEvery puts; then every link is restored, one server is killed,
// the last KillPuts of the puts run without it, it restarts, and the
// cluster stabilizes.
type Partition struct {
	Servers, Clients, Puts int
	MinValue, MaxValue     int
	CutEvery, KillPuts     int
	Seed                   uint64
}

// keyLetters and valueLetters are what the original assignment's scripts
// draw keys and values from; none needs quoting in a script.
const (
	keyLetters   = "abcdefghij"
	valueLetters = "abcdefghijklmnopqrstuvwxyz"
)

// gen writes a script; every random choice comes from one seeded source so
// that a seed always gives the same script.
type gen struct {
	w   *bufio.Writer
	rng *rand.Rand
	buf []byte
}

func newGen(w io.Writer, seed uint64) *gen {
	return &gen{w: bufio.NewWriterSize(w, 1<<16), rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (g *gen) line(format string, args ...any) {
	fmt.Fprintf(g.w, format, args...)
	g.w.WriteByte('\n')
}

// put writes "put CID KEY VALUE" with a fresh random key and value.
func (g *gen) put(client, size int) {
	g.buf = g.buf[:0]
	g.buf = append(g.buf, "put "...)
	g.buf = fmt.Appendf(g.buf, "%d ", client)
	for range 3 {
		g.buf = append(g.buf, keyLetters[g.rng.IntN(len(keyLetters))])
	}
	g.buf = append(g.buf, ' ')
	for range size {
		g.buf = append(g.buf, valueLetters[g.rng.IntN(len(valueLetters))])
	}
	g.buf = append(g.buf, '\n')
	g.w.Write(g.buf)
}

// join starts the servers and points each client at its own server.
func (g *gen) join(servers, clients int) {
	g.joinOn(servers, clients, func(c int) int { return c % servers })
}

// joinOn starts the servers and points client c (0-based; its id is
// servers+c) at server serverOf(c).
func (g *gen) joinOn(servers, clients int, serverOf func(c int) int) {
	for s := range servers {
		g.line("joinServer %d", s)
	}
	for c := range clients {
		g.line("joinClient %d %d", servers+c, serverOf(c))
	}
}

func checkLayout(servers, clients, puts int) error {
	if servers < 1 || clients < 1 || puts < 0 {
		return fmt.Errorf("need at least one server and one client and no negative puts (got %d, %d, %d)", servers, clients, puts)
	}
	return nil
}

// Write prints the spec script.
func (s Spec) Write(w io.Writer) error {
	if err := checkLayout(s.Servers, s.Clients, s.Puts); err != nil {
		return err
	}
	if s.ValueSize < 1 {
		return fmt.Errorf("value size %d: need at least 1 byte", s.ValueSize)
	}
	g := newGen(w, s.Seed)
	g.join(s.Servers, s.Clients)
	for i := range s.Puts {
		g.put(s.Servers+i%s.Clients, s.ValueSize)
	}
	g.line("stabilize")
	return g.w.Flush()
}

// Write prints the partition script.
func (p Partition) Write(w io.Writer) error {
	if err := checkLayout(p.Servers, p.Clients, p.Puts); err != nil {
		return err
	}
	if p.Servers < 2 {
		return fmt.Errorf("the partition workload needs at least 2 servers")
	}
	if p.MinValue < 1 || p.MaxValue < p.MinValue {
		return fmt.Errorf("value sizes %d..%d: need 1 <= min <= max", p.MinValue, p.MaxValue)
	}
	if p.CutEvery < 1 || p.KillPuts < 0 || p.KillPuts > p.Puts {
		return fmt.Errorf("cut every %d puts, %d puts during the kill: need cut-every >= 1 and 0 <= kill-puts <= puts", p.CutEvery, p.KillPuts)
	}
	g := newGen(w, p.Seed)
	g.join(p.Servers, p.Clients)
	size := func() int { return p.MinValue + g.rng.IntN(p.MaxValue-p.MinValue+1) }

	// cut holds the cut server links as pairs a<b, in cut order.
	var cut [][2]int
	isCut := func(a, b int) bool {
		for _, l := range cut {
			if l == [2]int{a, b} {
				return true
			}
		}
		return false
	}
	// At most about half the links of the complete graph are down at once,
	// so the cluster keeps splitting into groups and joining again.
	maxCut := p.Servers * (p.Servers - 1) / 4
	maxCut = max(maxCut, 1)
	linkEvent := func() {
		if len(cut) > 0 && (len(cut) >= maxCut || g.rng.IntN(3) == 0) {
			i := g.rng.IntN(len(cut))
			g.line("createConnection %d %d", cut[i][0], cut[i][1])
			cut = append(cut[:i], cut[i+1:]...)
			return
		}
		for {
			a, b := g.rng.IntN(p.Servers), g.rng.IntN(p.Servers)
			if a == b {
				continue
			}
			a, b = min(a, b), max(a, b)
			if !isCut(a, b) {
				g.line("breakConnection %d %d", a, b)
				cut = append(cut, [2]int{a, b})
				return
			}
		}
	}

	before := p.Puts - p.KillPuts
	for i := range before {
		if i > 0 && i%p.CutEvery == 0 {
			linkEvent()
		}
		g.put(p.Servers+i%p.Clients, size())
	}
	for _, l := range cut {
		g.line("createConnection %d %d", l[0], l[1])
	}
	victim := g.rng.IntN(p.Servers)
	g.line("killServer %d", victim)
	// Clients of the dead server sit out; the others keep taking turns.
	var live []int
	for c := range p.Clients {
		if c%p.Servers != victim {
			live = append(live, p.Servers+c)
		}
	}
	for i := range p.KillPuts {
		if len(live) == 0 {
			break
		}
		g.put(live[i%len(live)], size())
	}
	g.line("joinServer %d", victim)
	g.line("stabilize")
	return g.w.Flush()
}
