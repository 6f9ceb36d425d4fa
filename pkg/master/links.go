package master

import (
	"sort"

	"gossipkv/pkg/router"
)

// linkView is the master's own picture of the cluster: which servers it has
// started and which server links it has cut. Stabilize groups servers by it
// rather than by what the servers report, because the servers' view is the
// very thing being waited on.
//
// A cut between a live and a dead server stays recorded, and joinServer
// clears every cut of the server it starts (the script language says a join
// restores that server's links).
//
// A paused server (pauseServer) is live, but stabilize leaves it out: it
// can neither receive nor serve until resumeServer.
type linkView struct {
	live   map[uint32]bool
	paused map[uint32]bool
	cuts   map[pair]bool
}

// pair is an unordered server link, stored with lo <= hi.
type pair struct{ lo, hi uint32 }

func mkpair(a, b uint32) pair {
	if a > b {
		a, b = b, a
	}
	return pair{a, b}
}

func newLinkView() *linkView {
	return &linkView{live: map[uint32]bool{}, paused: map[uint32]bool{}, cuts: map[pair]bool{}}
}

// Live reports whether the master has id running.
func (v *linkView) Live(id uint32) bool { return v.live[id] }

// LiveIDs returns the running servers, sorted.
func (v *linkView) LiveIDs() []uint32 {
	ids := make([]uint32, 0, len(v.live))
	for id := range v.live {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Paused reports whether id is live and paused.
func (v *linkView) Paused(id uint32) bool { return v.paused[id] }

// Pause and Resume mark a live server paused (SIGSTOP) or running again.
func (v *linkView) Pause(id uint32)  { v.paused[id] = true }
func (v *linkView) Resume(id uint32) { delete(v.paused, id) }

// PausedIDs returns the paused servers, sorted.
func (v *linkView) PausedIDs() []uint32 {
	ids := make([]uint32, 0, len(v.paused))
	for id := range v.paused {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// ActiveIDs returns the running servers that are not paused, sorted.
func (v *linkView) ActiveIDs() []uint32 {
	ids := v.LiveIDs()
	out := ids[:0]
	for _, id := range ids {
		if !v.paused[id] {
			out = append(out, id)
		}
	}
	return out
}

// Join marks id running and clears its cut links. It returns the peers whose
// link with id was cut, sorted, so the caller can heal the live ones.
func (v *linkView) Join(id uint32) []uint32 {
	v.live[id] = true
	delete(v.paused, id)
	var peers []uint32
	for p := range v.cuts {
		switch id {
		case p.lo:
			peers = append(peers, p.hi)
		case p.hi:
			peers = append(peers, p.lo)
		default:
			continue
		}
		delete(v.cuts, p)
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i] < peers[j] })
	return peers
}

// Kill marks id stopped; its cuts stay recorded until it joins again.
func (v *linkView) Kill(id uint32) {
	delete(v.live, id)
	delete(v.paused, id)
}

// Cut records the link a-b as broken.
func (v *linkView) Cut(a, b uint32) { v.cuts[mkpair(a, b)] = true }

// Heal records the link a-b as restored.
func (v *linkView) Heal(a, b uint32) { delete(v.cuts, mkpair(a, b)) }

// IsCut reports whether the link a-b is recorded as broken.
func (v *linkView) IsCut(a, b uint32) bool { return v.cuts[mkpair(a, b)] }

// Groups returns the connected groups of live servers that are not
// paused: every pair of them is linked unless cut, and a group is a
// connected component of that graph. Each group is sorted and groups are
// ordered by their smallest id, so the result is deterministic.
func (v *linkView) Groups() [][]uint32 {
	return router.Full(v.ActiveIDs(), v.IsCut).Components()
}
