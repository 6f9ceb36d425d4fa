package master

import (
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

func TestLinkView_Groups(t *testing.T) {
	tests := []struct {
		name string
		live []uint32
		cuts [][2]uint32
		want [][]uint32
	}{
		{"none live", nil, nil, nil},
		{"one", []uint32{3}, nil, [][]uint32{{3}}},
		{"all linked", []uint32{2, 0, 1}, nil, [][]uint32{{0, 1, 2}}},
		{"one cut keeps a triangle whole", []uint32{0, 1, 2}, [][2]uint32{{0, 1}}, [][]uint32{{0, 1, 2}}},
		{"isolated server", []uint32{0, 1, 2}, [][2]uint32{{0, 1}, {2, 0}}, [][]uint32{{0}, {1, 2}}},
		{"two halves", []uint32{0, 1, 2, 3}, [][2]uint32{{0, 2}, {0, 3}, {1, 2}, {1, 3}}, [][]uint32{{0, 1}, {2, 3}}},
		{"chain stays one group", []uint32{0, 1, 2}, [][2]uint32{{0, 2}}, [][]uint32{{0, 1, 2}}},
		{"cut to a dead server changes nothing", []uint32{0, 1}, [][2]uint32{{0, 4}}, [][]uint32{{0, 1}}},
		{"all cut", []uint32{4, 1, 7}, [][2]uint32{{1, 4}, {1, 7}, {4, 7}}, [][]uint32{{1}, {4}, {7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newLinkView()
			for _, id := range tt.live {
				v.Join(id)
			}
			for _, c := range tt.cuts {
				v.Cut(c[0], c[1])
			}
			if got := v.Groups(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Groups() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLinkView_Join_RestoresCuts(t *testing.T) {
	v := newLinkView()
	for _, id := range []uint32{0, 1, 2, 3} {
		v.Join(id)
	}
	v.Cut(1, 0)
	v.Cut(1, 3)
	v.Cut(2, 3)
	v.Kill(1)
	if !v.IsCut(0, 1) || !v.IsCut(3, 1) {
		t.Fatal("kill must keep the dead server's cuts recorded")
	}
	if v.Live(1) {
		t.Fatal("server 1 still live after Kill")
	}
	if got, want := v.Join(1), []uint32{0, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Join(1) restored %v, want %v", got, want)
	}
	if v.IsCut(0, 1) || v.IsCut(1, 3) {
		t.Error("Join(1) left a cut of server 1")
	}
	if !v.IsCut(3, 2) {
		t.Error("Join(1) healed the link 2-3, which is not its own")
	}
	if got := v.Join(1); got != nil {
		t.Errorf("second Join(1) restored %v, want none", got)
	}
}

func TestLinkView_Heal(t *testing.T) {
	v := newLinkView()
	v.Join(0)
	v.Join(1)
	v.Cut(0, 1)
	if got := v.Groups(); len(got) != 2 {
		t.Fatalf("after cut: %v, want two groups", got)
	}
	v.Heal(1, 0)
	if v.IsCut(0, 1) {
		t.Error("Heal(1, 0) did not clear the cut 0-1")
	}
	if got, want := v.Groups(), [][]uint32{{0, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("after heal: %v, want %v", got, want)
	}
}

// TestLinkView_Groups_MatchesReachability checks Groups against a plain
// search over random views: two live servers share a group exactly when a
// path of uncut links joins them.
func TestLinkView_Groups_MatchesReachability(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		n := uint32(1 + rng.Intn(8))
		v := newLinkView()
		for id := uint32(0); id < n; id++ {
			if rng.Intn(4) > 0 {
				v.Join(id)
			}
		}
		for a := uint32(0); a < n; a++ {
			for b := a + 1; b < n; b++ {
				if rng.Intn(2) == 0 {
					v.Cut(a, b)
				}
			}
		}
		groups := v.Groups()
		groupOf := map[uint32]int{}
		var all []uint32
		for i, g := range groups {
			if !sort.SliceIsSorted(g, func(x, y int) bool { return g[x] < g[y] }) {
				t.Fatalf("group %v not sorted", g)
			}
			if i > 0 && groups[i-1][0] > g[0] {
				t.Fatalf("groups %v not ordered by smallest id", groups)
			}
			for _, id := range g {
				groupOf[id] = i
				all = append(all, id)
			}
		}
		sort.Slice(all, func(x, y int) bool { return all[x] < all[y] })
		if live := v.LiveIDs(); !reflect.DeepEqual(all, live) && len(live)+len(all) > 0 {
			t.Fatalf("groups %v do not partition the live servers %v", groups, live)
		}
		for _, a := range v.LiveIDs() {
			reach := reachable(v, a)
			for _, b := range v.LiveIDs() {
				if reach[b] != (groupOf[a] == groupOf[b]) {
					t.Fatalf("view %v cuts %v: %d and %d reachable=%v but groups %v",
						v.LiveIDs(), v.cuts, a, b, reach[b], groups)
				}
			}
		}
	}
}

func reachable(v *linkView, from uint32) map[uint32]bool {
	seen := map[uint32]bool{from: true}
	stack := []uint32{from}
	for len(stack) > 0 {
		a := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, b := range v.LiveIDs() {
			if !seen[b] && !v.IsCut(a, b) {
				seen[b] = true
				stack = append(stack, b)
			}
		}
	}
	return seen
}
