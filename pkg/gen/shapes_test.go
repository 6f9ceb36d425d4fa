package gen

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"gossipkv/pkg/script"
)

// ids reads a list as fmt prints a []uint32: "[0 3 4]".
func ids(t *testing.T, s string) []uint32 {
	t.Helper()
	var out []uint32
	for _, f := range strings.Fields(strings.Trim(s, "[]")) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			t.Fatalf("list %q: %v", s, err)
		}
		out = append(out, uint32(n))
	}
	return out
}

// episodes replays the script of o in a sim and calls each with the
// commands of every episode of the given shape (numbered from 1), the sim
// stepped to each before the call. It returns how many episodes there
// were.
func episodes(t *testing.T, o Options, shape string, each func(ep int, comment string, s *sim, c script.Command)) int {
	t.Helper()
	s := newSim(o)
	n, in, comment := 0, false, ""
	for i, text := range generate(t, o) {
		if rest, ok := strings.CutPrefix(text, "# fault: "); ok {
			in = strings.HasPrefix(rest, shape+" ")
			if in {
				n++
				comment = rest
			}
			continue
		}
		if strings.HasPrefix(text, "# end:") {
			in = false
		}
		c, ok, err := script.ParseLine(i+1, text)
		if err != nil || !ok {
			continue
		}
		if err := s.step(c); err != nil {
			t.Fatalf("seed %d line %d %q: %v", o.Seed, i+1, text, err)
		}
		if in {
			each(n, comment, s, c)
		}
	}
	return n
}

// A deadorigin write is made through x while x reaches y alone; x is
// killed; the rest is healed to y and stabilized while x is down (when
// the lowest of the rest is below y, it is healed last, after a
// stabilize without it); the writer then reads its write back through a
// server of the rest; x restarts at the end.
func TestGenerate_DeadOrigin(t *testing.T) {
	total, whole, lowApart := 0, 0, 0
	for seed := range int64(40) {
		o := withSeed(seed)
		var x, y uint32
		var rest []uint32
		var client uint32
		var key string
		killed, stabilized, readBack := false, false, false
		finish := func() {
			if killed && stabilized && readBack {
				whole++
			}
		}
		cur := 0
		n := episodes(t, o, "deadorigin", func(ep int, comment string, s *sim, c script.Command) {
			if ep != cur {
				if cur != 0 {
					finish()
				}
				cur = ep
				f := strings.Fields(comment) // deadorigin X through Y | [rest]
				cx, _ := strconv.Atoi(f[1])
				cy, _ := strconv.Atoi(f[3])
				x, y, rest = uint32(cx), uint32(cy), ids(t, strings.Join(f[5:], " "))
				key, killed, stabilized, readBack = "", false, false, false
			}
			switch {
			case c.Kind == script.Put && key == "" && strings.HasPrefix(string(c.Key), "d"):
				client, key = c.IDs[0], string(c.Key)
				if s.joined[client] != x {
					t.Errorf("seed %d: %q through server %d, not the origin %d", seed, c.Text, s.joined[client], x)
				}
				for id := range s.live {
					if id != x && s.cuts[mklink(x, id)] == (id == y) {
						t.Errorf("seed %d: at %q the link %d-%d is cut=%v", seed, c.Text, x, id, s.cuts[mklink(x, id)])
					}
				}
			case c.Kind == script.KillServer && c.IDs[0] == x:
				killed = true
			case c.Kind == script.Stabilize && killed && !s.live[x]:
				// Either every link is up, or only the links of the
				// lowest of the rest are cut, when it is below y (y's
				// group then repairs x's writes while the group ordered
				// first agrees at once); a stabilize with every link up
				// follows.
				lo := slices.Min(rest)
				apart := false
				for l := range s.cuts {
					if !s.live[l.lo] || !s.live[l.hi] {
						continue
					}
					if lo > y || (l.lo != lo && l.hi != lo) {
						t.Errorf("seed %d: stabilize after the kill of %d with the link %d-%d cut", seed, x, l.lo, l.hi)
					}
					apart = true
				}
				if apart {
					lowApart++
					for id := range s.live {
						if s.live[id] && id != lo && !s.cuts[mklink(lo, id)] {
							t.Errorf("seed %d: stabilize with %d apart but linked to %d", seed, lo, id)
						}
					}
					if stabilized {
						t.Errorf("seed %d: a stabilize with %d apart after one with every link up", seed, lo)
					}
				} else {
					stabilized = true
				}
			case c.Kind == script.Get && stabilized && c.IDs[0] == client && string(c.Key) == key:
				readBack = true
				if !slices.Contains(rest, s.joined[client]) {
					t.Errorf("seed %d: %q through %d, not one of the rest %v", seed, c.Text, s.joined[client], rest)
				}
			case c.Kind == script.JoinServer && c.IDs[0] == x:
				if !killed || !stabilized {
					t.Errorf("seed %d: %d restarted before its kill and a stabilize", seed, x)
				}
			}
		})
		total += n
		if n > 0 {
			finish()
		}
	}
	if total == 0 || whole < total/2 {
		t.Errorf("%d deadorigin episodes in 40 seeds, %d with write, kill, stabilize and read back", total, whole)
	}
	if lowApart == 0 {
		t.Errorf("%d deadorigin episodes in 40 seeds, none stabilized with the lowest of the rest apart", total)
	}
}

// A flap-repair writes on one side of a split only, heals, then cuts and
// heals a link across the split at least twice before a stabilize with
// every link up; then the writer reads back on the other side.
func TestGenerate_FlapRepair(t *testing.T) {
	total, flapped, readBack := 0, 0, 0
	for seed := range int64(40) {
		o := withSeed(seed)
		var a, b []uint32
		var client uint32
		var written []string
		healing, done := false, false
		breaks := map[link]int{}
		cur := 0
		n := episodes(t, o, "flap-repair", func(ep int, comment string, s *sim, c script.Command) {
			if ep != cur {
				cur = ep
				sides := strings.SplitN(strings.TrimPrefix(comment, "flap-repair "), " | ", 2)
				a, b = ids(t, sides[0]), ids(t, sides[1])
				written, healing, done = nil, false, false
				clear(breaks)
			}
			switch c.Kind {
			case script.Put, script.Delete:
				if healing || done {
					return
				}
				client = c.IDs[0]
				written = append(written, string(c.Key))
				if !slices.Contains(a, s.joined[client]) {
					t.Errorf("seed %d: %q through %d, not on side %v", seed, c.Text, s.joined[client], a)
				}
				for _, x := range a {
					for _, y := range b {
						if !s.cuts[mklink(x, y)] {
							t.Errorf("seed %d: %q with %d-%d up", seed, c.Text, x, y)
						}
					}
				}
			case script.CreateConnection:
				healing = healing || len(written) > 0
			case script.BreakConnection:
				if healing && !done {
					breaks[mklink(c.IDs[0], c.IDs[1])]++
				}
			case script.Stabilize:
				if healing && !done {
					done = true
					if len(s.cuts) != 0 {
						t.Errorf("seed %d: the repair's stabilize with links %v cut", seed, s.cuts)
					}
					for _, k := range breaks {
						if k >= 2 {
							flapped++
							break
						}
					}
				}
			case script.Get:
				if done && c.IDs[0] == client && slices.Contains(written, string(c.Key)) && slices.Contains(b, s.joined[client]) {
					readBack++
					client = ^uint32(0)
				}
			}
		})
		total += n
	}
	if total == 0 || flapped < total*3/4 || readBack < total/2 {
		t.Errorf("%d flap-repair episodes in 40 seeds: %d flapped a link twice during the repair, %d read back", total, flapped, readBack)
	}
}

// A readback client writes a key and reads one through a server, then
// reads both back through at least two other servers.
func TestGenerate_ReadBack(t *testing.T) {
	total, moved := 0, 0
	for seed := range int64(40) {
		o := withSeed(seed)
		var client uint32
		var wk, rk string
		cur := 0
		readAt := map[uint32]map[string]bool{}
		var first uint32
		count := func() {
			n := 0
			for id, keys := range readAt {
				if id != first && keys[wk] && keys[rk] {
					n++
				}
			}
			if n >= 2 {
				moved++
			}
		}
		n := episodes(t, o, "readback", func(ep int, comment string, s *sim, c script.Command) {
			if ep != cur {
				if cur != 0 {
					count()
				}
				cur = ep
				f := strings.Fields(comment)
				cid, _ := strconv.Atoi(f[1])
				client, wk, rk = uint32(cid), "", ""
				clear(readAt)
			}
			if len(c.IDs) == 0 || c.IDs[0] != client {
				return
			}
			switch {
			case (c.Kind == script.Put || c.Kind == script.Delete) && wk == "":
				wk, first = string(c.Key), s.joined[client]
			case c.Kind == script.Get && wk != "" && rk == "":
				rk = string(c.Key)
				if s.joined[client] != first {
					t.Errorf("seed %d: the first read %q through %d, not %d", seed, c.Text, s.joined[client], first)
				}
			case c.Kind == script.Get && rk != "":
				if readAt[s.joined[client]] == nil {
					readAt[s.joined[client]] = map[string]bool{}
				}
				readAt[s.joined[client]][string(c.Key)] = true
			}
		})
		if n > 0 {
			count()
		}
		total += n
	}
	if total == 0 || moved < total*3/4 {
		t.Errorf("%d readback episodes in 40 seeds, %d read back both keys through two other servers", total, moved)
	}
}
