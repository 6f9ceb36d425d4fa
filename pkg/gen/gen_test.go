package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/script"
)

func generate(t *testing.T, o Options) []string {
	t.Helper()
	lines, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

var fourKinds = []string{"partition", "kill", "skew", "pause"}

func withKinds(o Options, kinds []string) Options {
	o.Kinds = kinds
	return o
}

func withSeed(seed int64) Options {
	o := DefaultOptions()
	o.Seed = seed
	return o
}

func TestGenerate_SameSeedSameScript(t *testing.T) {
	for seed := range int64(5) {
		a, b := generate(t, withSeed(seed)), generate(t, withSeed(seed))
		if !slices.Equal(a, b) {
			t.Fatalf("seed %d gave two different scripts", seed)
		}
	}
	if slices.Equal(generate(t, withSeed(1)), generate(t, withSeed(2))) {
		t.Error("seeds 1 and 2 gave the same script")
	}
}

// sim replays a script with the master's rules for bad lines, so a test can
// tell that every generated line would run.
type sim struct {
	servers, clients int
	live             map[uint32]bool
	cuts             map[link]bool
	joined           map[uint32]uint32
	connected        map[uint32]bool
	paused           map[uint32]bool
}

func newSim(o Options) *sim {
	return &sim{servers: o.Servers, clients: o.Clients, live: map[uint32]bool{}, cuts: map[link]bool{},
		joined: map[uint32]uint32{}, connected: map[uint32]bool{}, paused: map[uint32]bool{}}
}

func (s *sim) isServer(id uint32) bool { return id < uint32(s.servers) }
func (s *sim) isClient(id uint32) bool {
	return id >= uint32(s.servers) && id < uint32(s.servers+s.clients)
}

// step applies c and says what the master would reject, if anything.
func (s *sim) step(c script.Command) error {
	ids := c.IDs
	needLive := func(id uint32) error {
		if !s.isServer(id) {
			return fmt.Errorf("%d is not a server", id)
		}
		if !s.live[id] {
			return fmt.Errorf("server %d is not running", id)
		}
		return nil
	}
	switch c.Kind {
	case script.JoinServer:
		if !s.isServer(ids[0]) || s.live[ids[0]] {
			return fmt.Errorf("cannot start %d", ids[0])
		}
		s.live[ids[0]] = true
		for l := range s.cuts {
			if l.lo == ids[0] || l.hi == ids[0] {
				delete(s.cuts, l)
			}
		}
	case script.KillServer:
		if err := needLive(ids[0]); err != nil {
			return err
		}
		delete(s.live, ids[0])
		delete(s.paused, ids[0])
	case script.SkewClock:
		return needLive(ids[0])
	case script.PauseServer, script.ResumeServer:
		if err := needLive(ids[0]); err != nil {
			return err
		}
		if s.paused[ids[0]] == (c.Kind == script.PauseServer) {
			return fmt.Errorf("server %d: %v in the wrong state", ids[0], c.Kind)
		}
		s.paused[ids[0]] = c.Kind == script.PauseServer
	case script.JoinClient:
		if !s.isClient(ids[0]) {
			return fmt.Errorf("%d is not a client", ids[0])
		}
		if err := needLive(ids[1]); err != nil {
			return err
		}
		s.joined[ids[0]], s.connected[ids[0]] = ids[1], true
	case script.BreakConnection, script.CreateConnection:
		up := c.Kind == script.CreateConnection
		a, b := ids[0], ids[1]
		if s.isClient(b) {
			a, b = b, a
		}
		if s.isClient(a) {
			if !s.isServer(b) {
				return fmt.Errorf("link %d-%d", a, b)
			}
			if up {
				if err := needLive(b); err != nil {
					return err
				}
				s.joined[a], s.connected[a] = b, true
				return nil
			}
			if _, ok := s.joined[a]; !ok {
				return fmt.Errorf("client %d has not joined", a)
			}
			if s.joined[a] == b {
				s.connected[a] = false
			}
			return nil
		}
		if err := needLive(a); err != nil {
			return err
		}
		if err := needLive(b); err != nil {
			return err
		}
		if up {
			delete(s.cuts, mklink(a, b))
		} else {
			s.cuts[mklink(a, b)] = true
		}
	case script.PrintStore:
		if s.paused[ids[0]] {
			return fmt.Errorf("printStore of paused server %d", ids[0])
		}
		return needLive(ids[0])
	case script.Put, script.Delete:
		return s.write(ids[0])
	case script.Get:
		if _, ok := s.joined[ids[0]]; !s.isClient(ids[0]) || !ok {
			return fmt.Errorf("client %d has not joined", ids[0])
		}
	}
	return nil
}

// write says whether a put or delete through client cid would fail.
func (s *sim) write(cid uint32) error {
	sid, ok := s.joined[cid]
	if !s.isClient(cid) || !ok {
		return fmt.Errorf("client %d has not joined", cid)
	}
	if !s.connected[cid] || !s.live[sid] || s.paused[sid] {
		return fmt.Errorf("a write through client %d would fail: its server %d is down, paused or cut off", cid, sid)
	}
	return nil
}

func TestGenerate_EveryLineRuns(t *testing.T) {
	opts := []Options{DefaultOptions(), {Servers: 3, Clients: 2, Ops: 100, Keys: 3, ValueSize: 4, Faults: 8},
		{Servers: 7, Clients: 4, Ops: 300, Keys: 20, ValueSize: 100, Faults: 10}, {Servers: 1, Clients: 1, Ops: 30, Keys: 1, Faults: 3},
		{Servers: 2, Clients: 3, Ops: 0, Keys: 1, Faults: 2},
		{Servers: 5, Clients: 5, Ops: 300, Keys: 5, Faults: 12, Kinds: []string{"skew", "pause"}},
		{Servers: 3, Clients: 2, Ops: 100, Keys: 3, Faults: 8, Kinds: []string{"pause"}, MaxClockOffset: time.Second},
		{Servers: 5, Clients: 3, Ops: 200, Keys: 4, Faults: 12, Kinds: []string{"deadorigin", "flap", "readback"}},
		{Servers: 3, Clients: 1, Ops: 40, Keys: 2, Faults: 10, Kinds: []string{"deadorigin", "flap", "readback", "kill"}}}
	for _, o := range opts {
		for seed := range int64(30) {
			o.Seed = seed
			lines := generate(t, o)
			s := newSim(o)
			ops := 0
			for n, text := range lines {
				c, ok, err := script.ParseLine(n+1, text)
				if err != nil {
					t.Fatalf("%+v line %d: %v", o, n+1, err)
				}
				if !ok {
					continue
				}
				if c.Kind == script.Put || c.Kind == script.Delete || c.Kind == script.Get {
					ops++
				}
				err = s.step(c)
				if err != nil {
					t.Fatalf("%+v line %d %q: %v", o, n+1, text, err)
				}
			}
			if ops != o.Ops {
				t.Errorf("%+v: %d puts, deletes and gets, want %d", o, ops, o.Ops)
			}
			if len(s.live) != o.Servers || len(s.cuts) != 0 {
				t.Errorf("%+v: at the end %d of %d servers run and %d links are cut", o, len(s.live), o.Servers, len(s.cuts))
			}
		}
	}
}

func TestGenerate_EndsWithStabilizeAndEveryStore(t *testing.T) {
	o := DefaultOptions()
	for seed := range int64(10) {
		o.Seed = seed
		lines := generate(t, o)
		end := slices.Index(lines, "# end: heal every link, restart every server, stabilize, print every store")
		if end < 0 {
			t.Fatalf("seed %d: no end comment", seed)
		}
		tail := lines[end+1:]
		want := []string{"stabilize"}
		for id := range o.Servers {
			want = append(want, fmt.Sprintf("printStore %d", id))
		}
		if got := tail[len(tail)-len(want):]; !slices.Equal(got, want) {
			t.Errorf("seed %d ends with %q, want %q", seed, got, want)
		}
		for _, l := range tail[:len(tail)-len(want)] {
			if !strings.HasPrefix(l, "createConnection ") && !strings.HasPrefix(l, "joinServer ") {
				t.Errorf("seed %d: %q between the end comment and the final stabilize", seed, l)
			}
		}
	}
}

// Restarts are rare (a kill leaves its server down one time in three, and
// one of the next episode's many shapes must restart it): 200 seeds.
func TestGenerate_EveryShapeAcrossSeeds(t *testing.T) {
	seen := map[string]int{}
	for seed := range int64(200) {
		for _, l := range generate(t, withSeed(seed)) {
			if rest, ok := strings.CutPrefix(l, "# fault: "); ok {
				seen[strings.Fields(rest)[0]]++
			}
		}
	}
	for _, s := range Shapes {
		if seen[s] == 0 {
			t.Errorf("shape %q never appears in 200 seeds (seen: %v)", s, seen)
		}
	}
}

func TestGenerate_HeaderNamesTheOptions(t *testing.T) {
	o := Options{Seed: 7, Servers: 4, Clients: 3, Ops: 10, Keys: 2, ValueSize: 5, Faults: 1}
	lines := generate(t, o)
	if want := "# gossipkv gen -seed 7 -servers 4 -clients 3 -ops 10 -keys 2 -value-size 5 -faults 1"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if want := "# config: servers=4 clients=3"; lines[1] != want {
		t.Errorf("second line %q, want %q", lines[1], want)
	}
}

func TestGenerate_ValuesAreUniqueAndSized(t *testing.T) {
	o := withSeed(3)
	o.ValueSize = 32
	seen := map[string]bool{}
	for _, l := range generate(t, o) {
		f := strings.Fields(l)
		if f[0] != "put" {
			continue
		}
		if len(f[3]) != 32 {
			t.Errorf("value %q is %d bytes, want 32", f[3], len(f[3]))
		}
		if seen[f[3]] {
			t.Errorf("value %q written twice", f[3])
		}
		seen[f[3]] = true
	}
}

func TestOptions_Validate(t *testing.T) {
	bad := []struct {
		o    Options
		want string
	}{
		{Options{Servers: 0, Clients: 1, Keys: 1}, "-servers 0"},
		{Options{Servers: 1, Clients: 0, Keys: 1}, "-clients 0"},
		{Options{Servers: 60, Clients: 60, Keys: 1}, "at most 100 ids"},
		{Options{Servers: 1, Clients: 1, Keys: 0}, "-keys 0"},
		{Options{Servers: 1, Clients: 1, Keys: 1, Ops: -1}, "-ops -1"},
		{Options{Servers: 1, Clients: 1, Keys: 1, Faults: -2}, "-faults -2"},
		{Options{Servers: 1, Clients: 1, Keys: 1, ValueSize: -1}, "-value-size -1"},
	}
	for _, b := range bad {
		err := b.o.Validate()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", b.o, err, b.want)
		}
		if _, err := Generate(b.o); err == nil {
			t.Errorf("Generate(%+v) accepted bad options", b.o)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("default options: %v", err)
	}
}

// The share of deletes moves no other line of a seed's script: each delete
// stands where the script without deletes has a put of the same key by the
// same client, and values keep their numbers.
func TestGenerate_DeletesTakeThePlaceOfPuts(t *testing.T) {
	deletes, writes := 0, 0
	for seed := range int64(30) {
		o := withSeed(seed)
		with, err := build(o, deleteShare)
		if err != nil {
			t.Fatal(err)
		}
		without, err := build(o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(with) != len(without) {
			t.Fatalf("seed %d: %d lines with deletes, %d without", seed, len(with), len(without))
		}
		for n, l := range with {
			f, g := strings.Fields(l), strings.Fields(without[n])
			switch {
			case len(f) > 0 && f[0] == "delete":
				if len(g) != 4 || g[0] != "put" || f[1] != g[1] || f[2] != g[2] {
					t.Fatalf("seed %d line %d: %q where the script without deletes has %q", seed, n+1, l, without[n])
				}
				deletes++
				writes++
			case l != without[n]:
				t.Fatalf("seed %d line %d: %q, without deletes %q", seed, n+1, l, without[n])
			case len(f) > 0 && f[0] == "put":
				writes++
			}
			if len(g) > 0 && g[0] == "delete" {
				t.Fatalf("seed %d line %d: a delete with deletes turned off", seed, n+1)
			}
		}
	}
	if share := float64(deletes) / float64(writes); share < 0.08 || share > 0.18 {
		t.Errorf("%d deletes in %d writes (%.0f%%), want about %d%%", deletes, writes, 100*share, deleteShare)
	}
}

// Deletes hit k keys that hold a value (as far as script order says) and
// keys that do not, never the keys written once before a kill.
func TestGenerate_DeletesKeysThatExistOrNot(t *testing.T) {
	existing, absent := 0, 0
	for seed := range int64(20) {
		holds := map[string]bool{}
		for _, l := range generate(t, withSeed(seed)) {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "put":
				holds[f[2]] = true
			case "delete":
				if !strings.HasPrefix(f[2], "k") {
					t.Fatalf("seed %d: %q deletes a key of its own", seed, l)
				}
				if holds[f[2]] {
					existing++
				} else {
					absent++
				}
				holds[f[2]] = false
			}
		}
	}
	if existing == 0 || absent == 0 {
		t.Errorf("deletes of keys with a value: %d, without: %d; want both", existing, absent)
	}
}

// A client deletes a key, moves to another server and reads the key back
// there: the shape that tests Read Your Writes across a deletion.
func TestGenerate_DeleteThenReadElsewhere(t *testing.T) {
	scripts := 0
	for seed := range int64(20) {
		lines := generate(t, withSeed(seed))
		found := false
		for n := 0; n+2 < len(lines); n++ {
			d, j, g := strings.Fields(lines[n]), strings.Fields(lines[n+1]), strings.Fields(lines[n+2])
			if len(d) == 3 && d[0] == "delete" && len(j) == 3 && j[0] == "joinClient" && j[1] == d[1] &&
				len(g) == 3 && g[0] == "get" && g[1] == d[1] && g[2] == d[2] {
				found = true
			}
		}
		if found {
			scripts++
		}
	}
	if scripts < 10 {
		t.Errorf("delete, move, read back in %d of 20 seeds, want at least 10", scripts)
	}
}

// With only the kinds that existed before skews and pauses, a seed gives
// the script it gave then (but for the header, which names the kinds):
// the hashes are of `master gen` output from before they were added.
func TestGenerate_OlderKindsKeepTheirScripts(t *testing.T) {
	old := []string{"partition", "kill"}
	cases := []struct {
		o    Options
		want string
	}{
		{withSeed(1), "9ad03f48372ef490b085ea7ba09306b012f861ddc705dd7e2f06e3397ae1ee57"},
		{withSeed(2), "88c7c7acf8f299d4e24b880bce22add89f9fdb1ffc2926e5a17b19b3b32f7fc3"},
		{withSeed(3), "d57e50b9abe06a240805ad56426395a383a874d9cf18867fdc41586c7ee8753b"},
		{Options{Seed: 4, Servers: 7, Clients: 4, Ops: 300, Keys: 8, ValueSize: 8, Faults: 10},
			"fcd015504b1f64018fedc3d9edf7b1f3ed6bb7b0624a1a91e261f2de948e3475"},
		// The default kinds before deadorigin, flap and readback: hashes
		// of `master gen -fault-kinds partition,kill,skew,pause` output
		// from before those were added.
		{withKinds(withSeed(1), fourKinds), "7c694cbf42780a1539c04c84ef23a31e2d734345881b733bf16cfd813ce68077"},
		{withKinds(withSeed(2), fourKinds), "d346ff0335311d93232885ac9841e036b47a2c6cc3f082f06113fdba9a4b09cd"},
		{withKinds(withSeed(3), fourKinds), "9749c1e53ed05d955a2bdb12b57a9169f85905fda99c05d44457bfc9bf985151"},
		{withKinds(Options{Seed: 4, Servers: 7, Clients: 4, Ops: 300, Keys: 8, ValueSize: 8, Faults: 10}, fourKinds),
			"68666b58b142cc659ebbd66320f54246235da64cbb2e98f9ca648ee2e0459979"},
	}
	for _, c := range cases {
		if c.o.Kinds == nil {
			c.o.Kinds = old
		}
		lines := generate(t, c.o)
		sum := sha256.Sum256([]byte(strings.Join(lines[1:], "\n") + "\n"))
		if got := hex.EncodeToString(sum[:]); got != c.want {
			t.Errorf("seed %d with kinds %v: script changed (sha256 %s)", c.o.Seed, c.o.Kinds, got)
		}
	}
}

// Across seeds, the default kinds skew clocks both ways, within and
// beyond the max offset, and pause servers, each pause ending with a
// resume or a kill; no stabilize runs while a clock is beyond the offset
// behind (its server refuses every other's writes), and every skew is
// set right by the end.
func TestGenerate_SkewsAndPauses(t *testing.T) {
	seen := map[string]bool{}
	for seed := range int64(40) {
		o := withSeed(seed)
		o.Ops, o.Faults = 400, 12
		lines := generate(t, o)
		paused := map[uint32]bool{}
		skews := map[uint32]time.Duration{}
		for n, text := range lines {
			c, ok, err := script.ParseLine(n+1, text)
			if err != nil || !ok {
				continue
			}
			switch c.Kind {
			case script.SkewClock:
				d := c.Skew
				skews[c.IDs[0]] = d
				switch {
				case d > 5*time.Second:
					seen["ahead beyond"] = true
				case d < -5*time.Second:
					seen["behind beyond"] = true
				case d > 0:
					seen["ahead within"] = true
				case d < 0:
					seen["behind within"] = true
				}
			case script.PauseServer:
				paused[c.IDs[0]] = true
				seen["pause"] = true
			case script.ResumeServer:
				delete(paused, c.IDs[0])
				seen["resume"] = true
			case script.KillServer:
				if paused[c.IDs[0]] {
					seen["kill paused"] = true
				}
				delete(paused, c.IDs[0])
			case script.Stabilize:
				for id, d := range skews {
					if d < -5*time.Second {
						t.Fatalf("seed %d line %d: stabilize while server %d is %v behind", seed, n+1, id, d)
					}
				}
			}
		}
		if len(paused) > 0 {
			t.Errorf("seed %d ends with servers %v paused", seed, paused)
		}
		for id, d := range skews {
			if d != 0 {
				t.Errorf("seed %d ends with server %d skewed %v", seed, id, d)
			}
		}
	}
	for _, want := range []string{"ahead beyond", "behind beyond", "ahead within", "behind within", "pause", "resume", "kill paused"} {
		if !seen[want] {
			t.Errorf("no %q in 40 seeds", want)
		}
	}
}

func TestGenerate_KindsLimitTheFaults(t *testing.T) {
	o := withSeed(3)
	o.Kinds = []string{"pause"}
	for _, l := range generate(t, o) {
		if strings.HasPrefix(l, "# fault: ") && !strings.HasPrefix(l, "# fault: pause") && !strings.HasPrefix(l, "# fault: late-join") {
			t.Errorf("kinds [pause] gave %q", l)
		}
		if strings.HasPrefix(l, "skewClock") || strings.HasPrefix(l, "breakConnection 0") {
			t.Errorf("kinds [pause] gave %q", l)
		}
	}
	if _, err := ParseKinds("skew,bogus"); err == nil || !strings.Contains(err.Error(), `unknown kind "bogus"`) {
		t.Errorf("ParseKinds(skew,bogus) = %v", err)
	}
	if k, err := ParseKinds("all"); err != nil || k != nil {
		t.Errorf("ParseKinds(all) = %v, %v; want nil (every kind)", k, err)
	}
}

// A script for linearizable mode has cas among its writes, each of an old
// value the script wrote to that key before (or of one never written), and
// no clock skews; asking for skews there is an error.
func TestGenerate_Linearizable(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		o := DefaultOptions()
		o.Seed, o.Linearizable = seed, true
		lines, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string][]string{}
		cas := 0
		for n, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) > 0 && f[0] == "skewClock":
				t.Errorf("seed %d line %d: %q in a linearizable script", seed, n+1, l)
			case len(f) == 4 && f[0] == "put":
				written[f[2]] = append(written[f[2]], f[3])
			case len(f) == 5 && f[0] == "cas":
				cas++
				if f[3] != "v0" && !slices.Contains(written[f[2]], f[3]) {
					t.Errorf("seed %d line %d: %q expects a value never written to %s", seed, n+1, l, f[2])
				}
				written[f[2]] = append(written[f[2]], f[4])
			}
		}
		if cas == 0 {
			t.Errorf("seed %d: no cas in %d lines", seed, len(lines))
		}
	}
	o := DefaultOptions()
	o.Linearizable, o.Kinds = true, []string{"partition", "skew"}
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "skew") {
		t.Errorf("skews in linearizable mode: err %v", err)
	}
}

// A twinskew episode sets two clocks back by the same amount, within the
// max clock offset, and writes one key through each of the two servers
// from two clients, each then reading it where the other wrote.
func TestGenerate_TwinSkew(t *testing.T) {
	episodes := 0
	for seed := int64(1); seed <= 10; seed++ {
		o := DefaultOptions()
		o.Seed, o.Kinds = seed, []string{"twinskew"}
		lines, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		for n, l := range lines {
			var x, y uint32
			var back string
			if _, err := fmt.Sscanf(l, "# fault: twinskew %d %d %s", &x, &y, &back); err != nil {
				continue
			}
			episodes++
			d, err := time.ParseDuration(back)
			if err != nil || d >= 0 || -d > 5*time.Second {
				t.Errorf("seed %d line %d: skew %q, want behind within the offset", seed, n+1, back)
			}
			ep := strings.Join(lines[n+1:min(len(lines), n+30)], "\n")
			for _, want := range []string{
				fmt.Sprintf("skewClock %d %s\nskewClock %d %s\n", x, back, y, back),
				"\nstabilize\n",
				fmt.Sprintf("skewClock %d 0\nskewClock %d 0", x, y),
			} {
				if !strings.Contains(ep, want) {
					t.Errorf("seed %d line %d: no %q in the episode:\n%s", seed, n+1, want, ep)
				}
			}
			var puts []string
			for _, e := range strings.Split(ep, "\n") {
				if f := strings.Fields(e); len(f) == 4 && f[0] == "put" {
					puts = append(puts, f[1]+" "+f[2])
				}
			}
			if len(puts) < 3 || puts[1] == puts[2] || strings.Fields(puts[1])[1] != strings.Fields(puts[2])[1] {
				t.Errorf("seed %d line %d: puts %q: want one key written by two clients", seed, n+1, puts)
			}
		}
	}
	if episodes == 0 {
		t.Error("no twinskew episode in seeds 1-10")
	}
}

// A max clock offset too small for a twinskew (which Validate accepts)
// generates scripts without one, and never panics.
func TestGenerate_TwinSkew_SmallMaxClockOffset(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		o := DefaultOptions()
		o.Seed, o.Kinds, o.MaxClockOffset = seed, []string{"twinskew"}, 200*time.Millisecond
		if err := o.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("seed %d: Generate panicked: %v", seed, r)
				}
			}()
			lines, err := Generate(o)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "# fault: twinskew") {
					t.Fatalf("seed %d: %q with a max clock offset of 200ms", seed, l)
				}
			}
		}()
	}
}
