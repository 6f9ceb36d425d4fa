package router

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/quick"
)

// mutual builds announcements in which both ends of every edge list each
// other, as servers do when a link is up.
func mutual(edges ...[2]uint32) map[uint32][]uint32 {
	links := map[uint32][]uint32{}
	for _, e := range edges {
		links[e[0]] = append(links[e[0]], e[1])
		links[e[1]] = append(links[e[1]], e[0])
	}
	return links
}

// Named topologies shared by the table tests.
var (
	chain = mutual([2]uint32{0, 1}, [2]uint32{1, 2}, [2]uint32{2, 3}, [2]uint32{3, 4})
	// tree: 0 is the root, 1 and 2 its children, 3,4 under 1 and 5,6 under 2.
	binTree = mutual([2]uint32{0, 1}, [2]uint32{0, 2}, [2]uint32{1, 3}, [2]uint32{1, 4}, [2]uint32{2, 5}, [2]uint32{2, 6})
	ring5   = mutual([2]uint32{0, 1}, [2]uint32{1, 2}, [2]uint32{2, 3}, [2]uint32{3, 4}, [2]uint32{4, 0})
	// An odd ring has a unique shortest path between any two nodes, so the
	// tie-break is exercised on an even ring.
	ring6 = mutual([2]uint32{0, 1}, [2]uint32{1, 2}, [2]uint32{2, 3}, [2]uint32{3, 4}, [2]uint32{4, 5}, [2]uint32{5, 0})
	star  = mutual([2]uint32{0, 1}, [2]uint32{0, 2}, [2]uint32{0, 3}, [2]uint32{0, 4})
	split = mutual([2]uint32{0, 1}, [2]uint32{1, 2}, [2]uint32{3, 4})
	// oneSided: only 0-1 is announced by both ends.
	oneSided = map[uint32][]uint32{0: {1, 2}, 1: {0}, 2: {}, 3: {0}}
	// diamond: two shortest paths 0-1-4-5 and 0-2-3-5 where the BFS parent
	// of 5 (4, reached through the lower first hop) is not its lowest-id
	// predecessor (3).
	diamond = mutual([2]uint32{0, 1}, [2]uint32{0, 2}, [2]uint32{1, 4}, [2]uint32{2, 3}, [2]uint32{3, 5}, [2]uint32{4, 5})
)

func complete(n uint32) map[uint32][]uint32 {
	var edges [][2]uint32
	for a := range n {
		for b := a + 1; b < n; b++ {
			edges = append(edges, [2]uint32{a, b})
		}
	}
	return mutual(edges...)
}

func TestNew_NodesAndEdges(t *testing.T) {
	tests := []struct {
		name      string
		links     map[uint32][]uint32
		nodes     []uint32
		neighbors map[uint32][]uint32
	}{
		{"empty", nil, []uint32{}, nil},
		{"isolated", map[uint32][]uint32{5: nil}, []uint32{5}, map[uint32][]uint32{5: nil}},
		{"chain", chain, []uint32{0, 1, 2, 3, 4}, map[uint32][]uint32{0: {1}, 2: {1, 3}, 4: {3}}},
		{"listed only", map[uint32][]uint32{1: {7}}, []uint32{1, 7}, map[uint32][]uint32{1: nil, 7: nil}},
		{"one-sided claims ignored", oneSided, []uint32{0, 1, 2, 3}, map[uint32][]uint32{0: {1}, 1: {0}, 2: nil, 3: nil}},
		{"self link and duplicates", map[uint32][]uint32{1: {1, 2, 2}, 2: {1, 1}}, []uint32{1, 2}, map[uint32][]uint32{1: {2}, 2: {1}}},
		{"unsorted input", map[uint32][]uint32{9: {3, 1}, 1: {9}, 3: {9}}, []uint32{1, 3, 9}, map[uint32][]uint32{9: {1, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(tt.links)
			if got := g.Nodes(); !slices.Equal(got, tt.nodes) {
				t.Errorf("Nodes() = %v, want %v", got, tt.nodes)
			}
			for id, want := range tt.neighbors {
				if got := g.Neighbors(id); !slices.Equal(got, want) {
					t.Errorf("Neighbors(%d) = %v, want %v", id, got, want)
				}
			}
		})
	}
}

func TestGraph_HasEdge(t *testing.T) {
	tests := []struct {
		name  string
		links map[uint32][]uint32
		a, b  uint32
		want  bool
	}{
		{"chain link", chain, 1, 2, true},
		{"chain link reversed", chain, 2, 1, true},
		{"chain non-link", chain, 0, 2, false},
		{"ring closing link", ring5, 4, 0, true},
		{"mutual claim", oneSided, 0, 1, true},
		{"claim by 0 only", oneSided, 0, 2, false},
		{"claim by 3 only", oneSided, 3, 0, false},
		{"self", map[uint32][]uint32{1: {1}}, 1, 1, false},
		{"unknown", chain, 0, 99, false},
		{"both unknown", chain, 98, 99, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.links).HasEdge(tt.a, tt.b); got != tt.want {
				t.Errorf("HasEdge(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// hopCase is one NextHop or Parent question: for NextHop (x, y) is (from, to),
// for Parent it is (root, n).
type hopCase struct {
	name  string
	links map[uint32][]uint32
	x, y  uint32
	want  uint32
	ok    bool
}

func TestGraph_NextHop(t *testing.T) {
	tests := []hopCase{
		{"chain forward", chain, 0, 4, 1, true},
		{"chain backward", chain, 4, 0, 3, true},
		{"chain middle left", chain, 2, 0, 1, true},
		{"chain middle right", chain, 2, 4, 3, true},
		{"chain neighbour", chain, 3, 4, 4, true},
		{"chain self", chain, 2, 2, 0, false},
		{"tree leaf to leaf across root", binTree, 3, 6, 1, true},
		{"tree inner to far leaf", binTree, 1, 6, 0, true},
		{"tree root down", binTree, 0, 6, 2, true},
		{"tree leaf to sibling", binTree, 3, 4, 1, true},
		{"ring5 clockwise", ring5, 0, 2, 1, true},
		{"ring5 counter-clockwise", ring5, 0, 3, 4, true},
		{"ring5 from 2 to 4", ring5, 2, 4, 3, true},
		{"ring5 from 1 to 4 wraps", ring5, 1, 4, 0, true},
		{"ring6 tie goes to lower id", ring6, 0, 3, 1, true},
		{"ring6 tie from the other side", ring6, 3, 0, 2, true},
		{"ring6 tie from 4", ring6, 4, 1, 3, true},
		{"diamond tie", diamond, 0, 5, 1, true},
		{"diamond tie reversed", diamond, 5, 0, 3, true},
		{"star leaf to leaf", star, 1, 3, 0, true},
		{"star centre to leaf", star, 0, 3, 3, true},
		{"complete direct", complete(5), 4, 1, 1, true},
		{"split same side", split, 0, 2, 1, true},
		{"split across", split, 0, 3, 0, false},
		{"split across reversed", split, 4, 1, 0, false},
		{"one-sided claim is no route", oneSided, 0, 2, 0, false},
		{"one-sided claim other way", oneSided, 3, 0, 0, false},
		{"mutual claim routes", oneSided, 1, 0, 0, true},
		{"unknown destination", chain, 0, 99, 0, false},
		{"unknown source", chain, 99, 0, 0, false},
		{"unknown self", chain, 99, 99, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hop, ok := New(tt.links).NextHop(tt.x, tt.y)
			if hop != tt.want || ok != tt.ok {
				t.Errorf("NextHop(%d, %d) = %d, %v; want %d, %v", tt.x, tt.y, hop, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestGraph_NextHop_TieBreakIgnoresInputOrder checks that the lowest id wins
// a tie even when it is listed last and ids are not in ring order.
func TestGraph_NextHop_TieBreakIgnoresInputOrder(t *testing.T) {
	// Ring 10-30-20-40-10: from 10, both 30 and 40 lead to 20 in two hops.
	links := map[uint32][]uint32{10: {40, 30}, 30: {20, 10}, 20: {40, 30}, 40: {10, 20}}
	g := New(links)
	if hop, ok := g.NextHop(10, 20); hop != 30 || !ok {
		t.Errorf("NextHop(10, 20) = %d, %v; want 30, true", hop, ok)
	}
	if hop, ok := g.NextHop(20, 10); hop != 30 || !ok {
		t.Errorf("NextHop(20, 10) = %d, %v; want 30, true", hop, ok)
	}
	if p, ok := g.Parent(10, 20); p != 30 || !ok {
		t.Errorf("Parent(10, 20) = %d, %v; want 30, true", p, ok)
	}
}

func TestGraph_Parent(t *testing.T) {
	tests := []hopCase{
		{"chain root 0 end", chain, 0, 4, 3, true},
		{"chain root 0 first", chain, 0, 1, 0, true},
		{"chain root 2 left", chain, 2, 0, 1, true},
		{"chain root 2 right", chain, 2, 4, 3, true},
		{"chain root itself", chain, 0, 0, 0, false},
		{"tree rooted at leaf 3", binTree, 3, 6, 2, true},
		{"tree rooted at leaf 3 root", binTree, 3, 0, 1, true},
		{"tree rooted at leaf 3 sibling", binTree, 3, 4, 1, true},
		{"ring5 root 0 left", ring5, 0, 2, 1, true},
		{"ring5 root 0 right", ring5, 0, 3, 4, true},
		{"ring5 root 2 wraps", ring5, 2, 0, 1, true},
		{"ring5 root 2 other side", ring5, 2, 4, 3, true},
		{"ring6 antipode via lower branch", ring6, 0, 3, 2, true},
		{"ring6 antipode from 3", ring6, 3, 0, 1, true},
		{"diamond parent follows BFS order", diamond, 0, 5, 4, true},
		{"diamond reversed", diamond, 5, 0, 2, true},
		{"star leaf root", star, 1, 3, 0, true},
		{"star leaf root centre", star, 1, 0, 1, true},
		{"complete", complete(5), 3, 1, 3, true},
		{"split same side", split, 0, 2, 1, true},
		{"split unreachable", split, 0, 4, 0, false},
		{"one-sided not a tree edge", oneSided, 0, 2, 0, false},
		{"unknown node", chain, 0, 99, 0, false},
		{"unknown root", chain, 99, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := New(tt.links).Parent(tt.x, tt.y)
			if p != tt.want || ok != tt.ok {
				t.Errorf("Parent(%d, %d) = %d, %v; want %d, %v", tt.x, tt.y, p, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestGraph_Children(t *testing.T) {
	tests := []struct {
		name     string
		links    map[uint32][]uint32
		root, id uint32
		want     []uint32
	}{
		{"chain root", chain, 0, 0, []uint32{1}},
		{"chain middle", chain, 0, 2, []uint32{3}},
		{"chain leaf", chain, 0, 4, nil},
		{"chain root in the middle", chain, 2, 2, []uint32{1, 3}},
		{"tree root", binTree, 0, 0, []uint32{1, 2}},
		{"tree rooted at leaf", binTree, 3, 3, []uint32{1}},
		{"tree rooted at leaf, inner", binTree, 3, 1, []uint32{0, 4}},
		{"tree rooted at leaf, old root", binTree, 3, 0, []uint32{2}},
		{"ring5 root", ring5, 0, 0, []uint32{1, 4}},
		{"ring5 branch", ring5, 0, 4, []uint32{3}},
		{"ring6 lower branch takes antipode", ring6, 0, 2, []uint32{3}},
		{"ring6 upper branch does not", ring6, 0, 4, nil},
		{"diamond", diamond, 0, 4, []uint32{5}},
		{"diamond other branch", diamond, 0, 3, nil},
		{"star centre", star, 0, 0, []uint32{1, 2, 3, 4}},
		{"star via centre", star, 2, 0, []uint32{1, 3, 4}},
		{"complete root", complete(4), 2, 2, []uint32{0, 1, 3}},
		{"complete other", complete(4), 2, 0, nil},
		{"split other side", split, 0, 3, nil},
		{"unknown root", chain, 99, 0, nil},
		{"unknown id", chain, 0, 99, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.links).Children(tt.root, tt.id); !slices.Equal(got, tt.want) {
				t.Errorf("Children(%d, %d) = %v, want %v", tt.root, tt.id, got, tt.want)
			}
		})
	}
}

func TestGraph_Reachable(t *testing.T) {
	tests := []struct {
		name  string
		links map[uint32][]uint32
		from  uint32
		want  []uint32
	}{
		{"chain", chain, 3, []uint32{0, 1, 2, 3, 4}},
		{"ring", ring5, 0, []uint32{0, 1, 2, 3, 4}},
		{"split left", split, 1, []uint32{0, 1, 2}},
		{"split right", split, 4, []uint32{3, 4}},
		{"one-sided", oneSided, 0, []uint32{0, 1}},
		{"one-sided claimer alone", oneSided, 3, []uint32{3}},
		{"isolated", map[uint32][]uint32{5: nil}, 5, []uint32{5}},
		{"unknown", chain, 99, []uint32{99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.links).Reachable(tt.from); !slices.Equal(got, tt.want) {
				t.Errorf("Reachable(%d) = %v, want %v", tt.from, got, tt.want)
			}
		})
	}
}

func TestGraph_Components(t *testing.T) {
	tests := []struct {
		name  string
		links map[uint32][]uint32
		want  [][]uint32
	}{
		{"empty", nil, nil},
		{"chain", chain, [][]uint32{{0, 1, 2, 3, 4}}},
		{"split", split, [][]uint32{{0, 1, 2}, {3, 4}}},
		{"one-sided", oneSided, [][]uint32{{0, 1}, {2}, {3}}},
		{"ordered by smallest id", mutual([2]uint32{9, 1}, [2]uint32{5, 0}, [2]uint32{7, 3}), [][]uint32{{0, 5}, {1, 9}, {3, 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.links).Components(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Components() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGraph_Distance(t *testing.T) {
	g := New(ring6)
	for _, tt := range []struct {
		from, to uint32
		want     int
		ok       bool
	}{{0, 0, 0, true}, {0, 1, 1, true}, {0, 3, 3, true}, {5, 2, 3, true}, {4, 0, 2, true}, {0, 99, 0, false}, {99, 99, 0, true}} {
		if got, ok := g.Distance(tt.from, tt.to); got != tt.want || ok != tt.ok {
			t.Errorf("Distance(%d, %d) = %d, %v; want %d, %v", tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
}

// TestGraph_LinkRemoved rebuilds the graph after a cut, the way a server does
// when a peer's announcement changes, and checks that routes go around it.
func TestGraph_LinkRemoved(t *testing.T) {
	before := New(ring5)
	if hop, _ := before.NextHop(0, 1); hop != 1 {
		t.Fatalf("before the cut NextHop(0, 1) = %d, want 1", hop)
	}

	cut := func(links map[uint32][]uint32, a, b uint32) map[uint32][]uint32 {
		out := map[uint32][]uint32{}
		for k, vs := range links {
			for _, v := range vs {
				if (k == a && v == b) || (k == b && v == a) {
					continue
				}
				out[k] = append(out[k], v)
			}
		}
		return out
	}
	// The cut 0-1 applied at both ends, and applied by 0 only: either way the
	// link is gone and the ring becomes the chain 1-2-3-4-0.
	halfCut := map[uint32][]uint32{}
	for k, vs := range ring5 {
		halfCut[k] = slices.Clone(vs)
	}
	halfCut[0] = slices.DeleteFunc(halfCut[0], func(v uint32) bool { return v == 1 })

	for name, links := range map[string]map[uint32][]uint32{"both ends": cut(ring5, 0, 1), "one end": halfCut} {
		t.Run(name, func(t *testing.T) {
			g := New(links)
			if g.HasEdge(0, 1) {
				t.Error("HasEdge(0, 1) after the cut")
			}
			for _, c := range []struct{ from, to, want uint32 }{{0, 1, 4}, {1, 0, 2}, {0, 2, 4}, {2, 4, 3}} {
				if hop, ok := g.NextHop(c.from, c.to); hop != c.want || !ok {
					t.Errorf("NextHop(%d, %d) = %d, %v; want %d, true", c.from, c.to, hop, ok, c.want)
				}
			}
			for _, c := range []struct{ root, n, want uint32 }{{0, 1, 2}, {0, 2, 3}, {0, 3, 4}, {1, 0, 4}} {
				if p, ok := g.Parent(c.root, c.n); p != c.want || !ok {
					t.Errorf("Parent(%d, %d) = %d, %v; want %d, true", c.root, c.n, p, ok, c.want)
				}
			}
			if got := g.Children(0, 0); !slices.Equal(got, []uint32{4}) {
				t.Errorf("Children(0, 0) = %v, want [4]", got)
			}
		})
	}
	// The old graph is a value: building a new one does not change it.
	if hop, _ := before.NextHop(0, 1); hop != 1 {
		t.Errorf("old graph changed: NextHop(0, 1) = %d, want 1", hop)
	}
}

func TestGraph_UnknownIDs(t *testing.T) {
	g := New(chain)
	if got := g.Neighbors(99); got != nil {
		t.Errorf("Neighbors(99) = %v, want nil", got)
	}
	if got := g.Children(99, 99); got != nil {
		t.Errorf("Children(99, 99) = %v, want nil", got)
	}
	if _, ok := g.Parent(99, 99); ok {
		t.Error("Parent(99, 99) ok")
	}
	if got := g.Reachable(99); !slices.Equal(got, []uint32{99}) {
		t.Errorf("Reachable(99) = %v, want [99]", got)
	}
	if got := g.Nodes(); slices.Contains(got, 99) {
		t.Errorf("Nodes() = %v, asking about 99 added it", got)
	}
	empty := New(nil)
	if _, ok := empty.NextHop(0, 1); ok {
		t.Error("NextHop on an empty graph ok")
	}
	if got := empty.Reachable(0); !slices.Equal(got, []uint32{0}) {
		t.Errorf("empty Reachable(0) = %v, want [0]", got)
	}
}

// TestGraph_ResultsDoNotAlias checks that callers scribbling on returned
// slices cannot change later answers.
func TestGraph_ResultsDoNotAlias(t *testing.T) {
	g := New(star)
	g.Nodes()[0] = 42
	g.Neighbors(0)[0] = 42
	g.Children(0, 0)[0] = 42
	g.Reachable(0)[0] = 42
	g.Components()[0][0] = 42
	if got := g.Nodes(); !slices.Equal(got, []uint32{0, 1, 2, 3, 4}) {
		t.Errorf("Nodes() = %v after mutation", got)
	}
	if got := g.Neighbors(0); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
		t.Errorf("Neighbors(0) = %v after mutation", got)
	}
	if got := g.Children(0, 0); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
		t.Errorf("Children(0, 0) = %v after mutation", got)
	}
	if got := g.Components(); !reflect.DeepEqual(got, [][]uint32{{0, 1, 2, 3, 4}}) {
		t.Errorf("Components() = %v after mutation", got)
	}
}

// TestGraph_ConcurrentReaders races many readers over the lazily built trees
// (run with -race) and checks they all see the answers of a fresh graph.
func TestGraph_ConcurrentReaders(t *testing.T) {
	links := randomLinks(rand.New(rand.NewSource(1)), 40, 0.08)
	want := New(links)
	g := New(links)
	nodes := g.Nodes()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Go(func() {
			for k := range nodes {
				root := nodes[(k+w*5)%len(nodes)]
				for _, n := range nodes {
					p, ok := g.Parent(root, n)
					wp, wok := want.Parent(root, n)
					h, hok := g.NextHop(root, n)
					wh, whok := want.NextHop(root, n)
					if p != wp || ok != wok || h != wh || hok != whok {
						select {
						case errs <- fmt.Sprintf("root %d n %d: Parent %d,%v NextHop %d,%v; want %d,%v %d,%v", root, n, p, ok, h, hok, wp, wok, wh, whok):
						default:
						}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// randomLinks announces each of n sparse ids with edges of probability p,
// plus one-sided claims (some to ids that announce nothing) that must be
// ignored.
func randomLinks(r *rand.Rand, n int, p float64) map[uint32][]uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i*3 + r.Intn(3)) // sparse but unique and unsorted in maps
	}
	links := make(map[uint32][]uint32, n)
	for _, id := range ids {
		links[id] = nil
	}
	for i := range ids {
		for j := i + 1; j < n; j++ {
			switch x := r.Float64(); {
			case x < p:
				links[ids[i]] = append(links[ids[i]], ids[j])
				links[ids[j]] = append(links[ids[j]], ids[i])
			case x < p*1.3:
				links[ids[i]] = append(links[ids[i]], ids[j]) // one-sided
			}
		}
	}
	if n > 0 && r.Intn(2) == 0 {
		a := ids[r.Intn(n)]
		links[a] = append(links[a], uint32(3*n+7)) // a listed id that announces nothing
	}
	for _, vs := range links {
		r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	}
	return links
}

// model is a deliberately naive reading of the same announcements, used as
// the reference in the property tests.
type model struct {
	nodes []uint32
	adj   map[uint32]map[uint32]bool
}

func newModel(links map[uint32][]uint32) model {
	m := model{adj: map[uint32]map[uint32]bool{}}
	add := func(id uint32) {
		if m.adj[id] == nil {
			m.adj[id] = map[uint32]bool{}
			m.nodes = append(m.nodes, id)
		}
	}
	for a, bs := range links {
		add(a)
		for _, b := range bs {
			add(b)
			if a != b && slices.Contains(links[b], a) {
				m.adj[a][b] = true
			}
		}
	}
	slices.Sort(m.nodes)
	return m
}

// dist returns hop counts from src to every reachable node.
func (m model) dist(src uint32) map[uint32]int {
	d := map[uint32]int{src: 0}
	frontier := []uint32{src}
	for len(frontier) > 0 {
		var next []uint32
		for _, u := range frontier {
			for v := range m.adj[u] {
				if _, ok := d[v]; !ok {
					d[v] = d[u] + 1
					next = append(next, v)
				}
			}
		}
		frontier = next
	}
	return d
}

// linkSet lets testing/quick generate announcement maps.
type linkSet map[uint32][]uint32

func (linkSet) Generate(r *rand.Rand, size int) reflect.Value {
	n := r.Intn(25)
	return reflect.ValueOf(linkSet(randomLinks(r, n, r.Float64()*0.4)))
}

var quickCfg = &quick.Config{MaxCount: 300}

func TestGraph_Quick_EdgesMatchModel(t *testing.T) {
	prop := func(ls linkSet) bool {
		g, m := New(ls), newModel(ls)
		if !slices.Equal(g.Nodes(), m.nodes) {
			t.Logf("Nodes() = %v, model %v", g.Nodes(), m.nodes)
			return false
		}
		for _, a := range m.nodes {
			var want []uint32
			for b := range m.adj[a] {
				want = append(want, b)
			}
			slices.Sort(want)
			if got := g.Neighbors(a); !slices.Equal(got, want) {
				t.Logf("Neighbors(%d) = %v, model %v", a, got, want)
				return false
			}
			for _, b := range m.nodes {
				if g.HasEdge(a, b) != m.adj[a][b] {
					t.Logf("HasEdge(%d, %d) = %v", a, b, g.HasEdge(a, b))
					return false
				}
			}
		}
		return true
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

// TestGraph_Quick_NextHopPath follows next hops from every node to every
// node: each step is a link, the walk reaches the target in exactly the
// shortest distance, and each hop is the lowest-id neighbour that is one step
// closer.
func TestGraph_Quick_NextHopPath(t *testing.T) {
	prop := func(ls linkSet) bool {
		g, m := New(ls), newModel(ls)
		for _, to := range m.nodes {
			dTo := m.dist(to) // distances are symmetric
			for _, from := range m.nodes {
				want, reachable := dTo[from]
				if d, ok := g.Distance(from, to); ok != reachable || d != want {
					t.Logf("Distance(%d, %d) = %d, %v; model %d, %v", from, to, d, ok, want, reachable)
					return false
				}
				if !reachable || from == to {
					if hop, ok := g.NextHop(from, to); ok {
						t.Logf("NextHop(%d, %d) = %d, want none", from, to, hop)
						return false
					}
					continue
				}
				lowest := uint32(0)
				found := false
				for _, n := range m.nodes { // ascending
					if dn, ok := dTo[n]; ok && m.adj[from][n] && dn == want-1 {
						lowest, found = n, true
						break
					}
				}
				if hop, _ := g.NextHop(from, to); !found || hop != lowest {
					t.Logf("NextHop(%d, %d) = %d, want lowest closer neighbour %d", from, to, hop, lowest)
					return false
				}
				cur, steps := from, 0
				for cur != to {
					hop, ok := g.NextHop(cur, to)
					if !ok || !m.adj[cur][hop] || steps > len(m.nodes) {
						t.Logf("walk %d->%d stuck at %d (hop %d, %v)", from, to, cur, hop, ok)
						return false
					}
					cur = hop
					steps++
				}
				if steps != want {
					t.Logf("walk %d->%d took %d steps, shortest is %d", from, to, steps, want)
					return false
				}
			}
		}
		return true
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

// TestGraph_Quick_ParentTree checks every root's tree: parents are links one
// step closer to the root, following them reaches the root, Children is the
// inverse of Parent, and the first hop towards n is n's ancestor just below
// the root.
func TestGraph_Quick_ParentTree(t *testing.T) {
	prop := func(ls linkSet) bool {
		g, m := New(ls), newModel(ls)
		for _, root := range m.nodes {
			d := m.dist(root)
			children := map[uint32][]uint32{}
			for _, n := range m.nodes {
				p, ok := g.Parent(root, n)
				_, reachable := d[n]
				if ok != (reachable && n != root) {
					t.Logf("Parent(%d, %d) ok = %v, reachable %v", root, n, ok, reachable)
					return false
				}
				if !ok {
					continue
				}
				if !m.adj[p][n] || d[p] != d[n]-1 {
					t.Logf("Parent(%d, %d) = %d: not a link one step closer", root, n, p)
					return false
				}
				children[p] = append(children[p], n)
				cur, below := n, n
				for cur != root {
					next, ok := g.Parent(root, cur)
					if !ok || d[next] != d[cur]-1 {
						t.Logf("walk up from %d to %d broke at %d", n, root, cur)
						return false
					}
					below, cur = cur, next
				}
				if hop, _ := g.NextHop(root, n); hop != below {
					t.Logf("NextHop(%d, %d) = %d, but tree ancestor below root is %d", root, n, hop, below)
					return false
				}
			}
			for _, id := range m.nodes {
				if got := g.Children(root, id); !slices.Equal(got, children[id]) {
					t.Logf("Children(%d, %d) = %v, want %v", root, id, got, children[id])
					return false
				}
			}
		}
		return true
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

// TestGraph_Quick_Deterministic: servers receive announcements in any order
// and with repeats; they must still agree on every tree.
func TestGraph_Quick_Deterministic(t *testing.T) {
	prop := func(ls linkSet, seed int64) bool {
		r := rand.New(rand.NewSource(seed))
		other := map[uint32][]uint32{}
		for k, vs := range ls {
			vs = slices.Clone(vs)
			if len(vs) > 0 {
				vs = append(vs, vs[r.Intn(len(vs))])
			}
			r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			other[k] = vs
		}
		a, b := New(ls), New(other)
		for _, root := range a.Nodes() {
			for _, n := range a.Nodes() {
				pa, oka := a.Parent(root, n)
				pb, okb := b.Parent(root, n)
				if pa != pb || oka != okb {
					t.Logf("Parent(%d, %d) differs: %d,%v vs %d,%v", root, n, pa, oka, pb, okb)
					return false
				}
			}
		}
		return true
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

func TestGraph_Quick_Components(t *testing.T) {
	prop := func(ls linkSet) bool {
		g := New(ls)
		comps := g.Components()
		var all []uint32
		for i, c := range comps {
			if len(c) == 0 || !slices.IsSorted(c) {
				t.Logf("component %v empty or unsorted", c)
				return false
			}
			if i > 0 && comps[i-1][0] >= c[0] {
				t.Logf("components out of order: %v", comps)
				return false
			}
			for _, id := range c {
				if got := g.Reachable(id); !slices.Equal(got, c) {
					t.Logf("Reachable(%d) = %v, component %v", id, got, c)
					return false
				}
			}
			all = append(all, c...)
		}
		slices.Sort(all)
		// Nodes() is sorted without repeats, so equality also rules out a
		// node in two components.
		if !slices.Equal(all, g.Nodes()) {
			t.Logf("components %v do not partition %v", comps, g.Nodes())
			return false
		}
		return true
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Error(err)
	}
}

func TestFull_ComponentsMinusCuts(t *testing.T) {
	cuts := func(pairs ...[2]uint32) func(a, b uint32) bool {
		return func(a, b uint32) bool {
			for _, p := range pairs {
				if (p[0] == a && p[1] == b) || (p[0] == b && p[1] == a) {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name string
		ids  []uint32
		cut  func(a, b uint32) bool
		want [][]uint32
	}{
		{"no cuts", []uint32{3, 1, 2}, cuts(), [][]uint32{{1, 2, 3}}},
		{"a cut around which the others still link", []uint32{1, 2, 3}, cuts([2]uint32{1, 2}), [][]uint32{{1, 2, 3}}},
		{"one server cut off", []uint32{1, 2, 3}, cuts([2]uint32{1, 2}, [2]uint32{1, 3}), [][]uint32{{1}, {2, 3}}},
		{"split in two", []uint32{0, 1, 2, 3}, cuts([2]uint32{0, 2}, [2]uint32{0, 3}, [2]uint32{1, 2}, [2]uint32{1, 3}), [][]uint32{{0, 1}, {2, 3}}},
		{"one server", []uint32{7}, cuts(), [][]uint32{{7}}},
		{"none", nil, cuts(), nil},
	} {
		if got := Full(tc.ids, tc.cut).Components(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: Full(%v).Components() = %v, want %v", tc.name, tc.ids, got, tc.want)
		}
	}
}
