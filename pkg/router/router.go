package router

import (
	"slices"
	"sync"
)

// Graph is an undirected graph of mutual links, immutable after New and safe
// for concurrent use. Nodes are addressed internally by their index in the
// sorted id list, so that index order equals id order and sorted adjacency
// lists give the ascending-id BFS for free.
type Graph struct {
	ids   []uint32       // sorted node ids
	index map[uint32]int // id -> position in ids
	adj   [][]int        // sorted neighbour indices, mutual links only

	// trees[i] builds, once, the BFS tree rooted at node i. Built lazily
	// because a server usually asks about a few roots only.
	trees []func() *tree
}

// tree is the deterministic BFS tree from one root.
type tree struct {
	parent   []int   // predecessor index, -1 for the root and unreachable nodes
	first    []int   // first hop from the root towards the node, -1 if none
	dist     []int   // hop count from the root, -1 if unreachable
	children [][]int // children in ascending order
}

// New builds the graph from each server's announced links. Nodes are every
// key of links plus every id listed. Self-links and duplicates are ignored.
func New(links map[uint32][]uint32) *Graph {
	set := make(map[uint32]struct{}, len(links))
	for a, bs := range links {
		set[a] = struct{}{}
		for _, b := range bs {
			set[b] = struct{}{}
		}
	}
	g := &Graph{ids: make([]uint32, 0, len(set)), index: make(map[uint32]int, len(set))}
	for id := range set {
		g.ids = append(g.ids, id)
	}
	slices.Sort(g.ids)
	for i, id := range g.ids {
		g.index[id] = i
	}

	// claims[a][b] records that a announced b; an edge needs both claims.
	claims := make(map[uint32]map[uint32]struct{}, len(links))
	for a, bs := range links {
		m := make(map[uint32]struct{}, len(bs))
		for _, b := range bs {
			m[b] = struct{}{}
		}
		claims[a] = m
	}
	g.adj = make([][]int, len(g.ids))
	for a, bs := range claims {
		ia := g.index[a]
		for b := range bs {
			if b == a {
				continue
			}
			if _, back := claims[b][a]; back {
				g.adj[ia] = append(g.adj[ia], g.index[b])
			}
		}
		slices.Sort(g.adj[ia])
	}

	g.trees = make([]func() *tree, len(g.ids))
	for i := range g.ids {
		g.trees[i] = sync.OnceValue(func() *tree { return g.bfs(i) })
	}
	return g
}

// bfs builds the tree rooted at root, visiting neighbours in ascending order.
func (g *Graph) bfs(root int) *tree {
	n := len(g.ids)
	t := &tree{
		parent:   make([]int, n),
		first:    make([]int, n),
		dist:     make([]int, n),
		children: make([][]int, n),
	}
	for i := range n {
		t.parent[i], t.first[i], t.dist[i] = -1, -1, -1
	}
	t.dist[root] = 0
	queue := make([]int, 0, n)
	queue = append(queue, root)
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range g.adj[u] {
			if t.dist[v] >= 0 {
				continue
			}
			t.dist[v] = t.dist[u] + 1
			t.parent[v] = u
			t.children[u] = append(t.children[u], v)
			if u == root {
				t.first[v] = v
			} else {
				t.first[v] = t.first[u]
			}
			queue = append(queue, v)
		}
	}
	return t
}

// treeOf returns the BFS tree rooted at id, or nil when id is not a node.
func (g *Graph) treeOf(id uint32) *tree {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.trees[i]()
}

// idsOf maps indices to ids in a fresh slice, so callers cannot alias the
// graph's state.
func (g *Graph) idsOf(idx []int) []uint32 {
	if len(idx) == 0 {
		return nil
	}
	out := make([]uint32, len(idx))
	for k, i := range idx {
		out[k] = g.ids[i]
	}
	return out
}

// Nodes returns every node id, sorted.
func (g *Graph) Nodes() []uint32 { return slices.Clone(g.ids) }

// Neighbors returns the ids id shares a mutual link with, sorted; nil for an
// unknown id.
func (g *Graph) Neighbors(id uint32) []uint32 {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.idsOf(g.adj[i])
}

// HasEdge reports whether a and b share a mutual link.
func (g *Graph) HasEdge(a, b uint32) bool {
	ia, ok := g.index[a]
	if !ok {
		return false
	}
	ib, ok := g.index[b]
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(g.adj[ia], ib)
	return found
}

// NextHop returns the first hop on a shortest path from->to. Among several
// shortest paths it picks the lowest-id first hop, which is what the
// ascending-id BFS from `from` yields. ok is false when to is unreachable or
// from == to.
func (g *Graph) NextHop(from, to uint32) (hop uint32, ok bool) {
	t := g.treeOf(from)
	j, known := g.index[to]
	if t == nil || !known || t.first[j] < 0 {
		return 0, false
	}
	return g.ids[t.first[j]], true
}

// Distance returns the number of hops on a shortest path from->to; ok is
// false when to is unreachable. Distance(x, x) is 0 for any x.
func (g *Graph) Distance(from, to uint32) (hops int, ok bool) {
	if from == to {
		return 0, true
	}
	t := g.treeOf(from)
	j, known := g.index[to]
	if t == nil || !known || t.dist[j] < 0 {
		return 0, false
	}
	return t.dist[j], true
}

// Parent returns n's predecessor in the shortest-path tree rooted at root.
// Every server computing it over the same graph gets the same tree; the
// replication protocol forwards a write of origin root from server X to
// neighbour N exactly when Parent(root, N) == X, so each server receives the
// write once per tree. ok is false when n == root or n is unreachable from
// root.
func (g *Graph) Parent(root, n uint32) (parent uint32, ok bool) {
	t := g.treeOf(root)
	j, known := g.index[n]
	if t == nil || !known || t.parent[j] < 0 {
		return 0, false
	}
	return g.ids[t.parent[j]], true
}

// Children returns the nodes whose Parent(root, .) is id, sorted: the
// neighbours id forwards a write of origin root to.
func (g *Graph) Children(root, id uint32) []uint32 {
	t := g.treeOf(root)
	j, known := g.index[id]
	if t == nil || !known {
		return nil
	}
	return g.idsOf(t.children[j])
}

// Reachable returns the ids reachable from from, sorted and including from
// itself; an unknown id reaches only itself.
func (g *Graph) Reachable(from uint32) []uint32 {
	t := g.treeOf(from)
	if t == nil {
		return []uint32{from}
	}
	var out []uint32
	for i, d := range t.dist {
		if d >= 0 {
			out = append(out, g.ids[i])
		}
	}
	return out
}

// Full is the graph on ids in which every two are linked unless cut says
// otherwise: a cluster as a script sets it up, every live server reaching
// every other until a link between them is cut.
func Full(ids []uint32, cut func(a, b uint32) bool) *Graph {
	links := make(map[uint32][]uint32, len(ids))
	for _, a := range ids {
		links[a] = []uint32{}
		for _, b := range ids {
			if a != b && !cut(a, b) {
				links[a] = append(links[a], b)
			}
		}
	}
	return New(links)
}

// Components returns the connected components, each sorted, ordered by their
// smallest id.
func (g *Graph) Components() [][]uint32 {
	seen := make([]bool, len(g.ids))
	var out [][]uint32
	var stack []int
	for start := range g.ids {
		if seen[start] {
			continue
		}
		var comp []int
		seen[start] = true
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, u)
			for _, v := range g.adj[u] {
				if !seen[v] {
					seen[v] = true
					stack = append(stack, v)
				}
			}
		}
		slices.Sort(comp)
		out = append(out, g.idsOf(comp))
	}
	return out
}
