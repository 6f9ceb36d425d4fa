package router

import (
	"math/rand"
	"testing"
)

func ringLinks(n uint32) map[uint32][]uint32 {
	var edges [][2]uint32
	for i := range n {
		edges = append(edges, [2]uint32{i, (i + 1) % n})
	}
	return mutual(edges...)
}

// benchGraphs are the topologies benchmarked: a ring has the longest paths
// for its size, the random graph is the largest cluster we plan for.
func benchGraphs() []struct {
	name  string
	links map[uint32][]uint32
} {
	return []struct {
		name  string
		links map[uint32][]uint32
	}{
		{"ring20", ringLinks(20)},
		{"random100", randomLinks(rand.New(rand.NewSource(7)), 100, 0.05)},
	}
}

// BenchmarkGraph_NextHop measures answers on a graph whose trees are already
// built, the steady state between topology changes.
func BenchmarkGraph_NextHop(b *testing.B) {
	for _, bg := range benchGraphs() {
		b.Run(bg.name, func(b *testing.B) {
			g := New(bg.links)
			nodes := g.Nodes()
			for _, n := range nodes {
				g.NextHop(n, nodes[0])
			}
			for i := 0; b.Loop(); i++ {
				g.NextHop(nodes[i%len(nodes)], nodes[(i*7+3)%len(nodes)])
			}
		})
	}
}

func BenchmarkGraph_Parent(b *testing.B) {
	for _, bg := range benchGraphs() {
		b.Run(bg.name, func(b *testing.B) {
			g := New(bg.links)
			nodes := g.Nodes()
			for _, n := range nodes {
				g.Parent(n, nodes[0])
			}
			for i := 0; b.Loop(); i++ {
				g.Parent(nodes[i%len(nodes)], nodes[(i*7+3)%len(nodes)])
			}
		})
	}
}

// BenchmarkGraph_NewAndParent measures a topology change: a new graph and the
// first question about each root, which builds every tree.
func BenchmarkGraph_NewAndParent(b *testing.B) {
	for _, bg := range benchGraphs() {
		b.Run(bg.name, func(b *testing.B) {
			for b.Loop() {
				g := New(bg.links)
				nodes := g.Nodes()
				for _, n := range nodes {
					g.Parent(n, nodes[0])
				}
			}
		})
	}
}
