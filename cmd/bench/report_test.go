package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/netns"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7, 7, 1, 100, 7}, 7},
	} {
		in := append([]float64(nil), tc.xs...)
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.xs[i] {
				t.Fatalf("median reordered its input: %v", tc.xs)
			}
		}
	}
}

func TestSummarize_MediansRatiosAndErrors(t *testing.T) {
	runs := []Result{
		{Workload: "spec", Servers: 5, PutsPerS: 700, FloorPutsPerS: 3500, Ratio: 0.2, StabilizeS: 0.010, Errors: 0, PeakRSSKB: map[uint32]int64{0: 100, 1: 300}},
		{Workload: "spec", Servers: 5, PutsPerS: 900, FloorPutsPerS: 3000, Ratio: 0.3, StabilizeS: 0.002, Errors: 2, PeakRSSKB: map[uint32]int64{0: 200, 1: 100}},
		{Workload: "spec", Servers: 5, PutsPerS: 800, FloorPutsPerS: 4000, Ratio: 0.2, StabilizeS: 0.005, Errors: 1, PeakRSSKB: map[uint32]int64{0: 150, 1: 200}},
	}
	m := Summarize(runs)
	if m.Runs != 3 || m.Workload != "spec" || m.Servers != 5 {
		t.Fatalf("layout not kept: %+v", m)
	}
	if m.PutsPerS != 800 || m.FloorPutsPerS != 3500 || m.StabilizeS != 0.005 {
		t.Fatalf("medians: puts %v floor %v stabilize %v", m.PutsPerS, m.FloorPutsPerS, m.StabilizeS)
	}
	// The ratio is the median of each run's own ratio, not a ratio of
	// medians (800/3500 = 0.229).
	if m.Ratio != 0.2 {
		t.Fatalf("ratio %v, want the median of the runs' ratios 0.2", m.Ratio)
	}
	if m.Errors != 3 {
		t.Fatalf("errors %d, want the sum 3", m.Errors)
	}
	if m.PeakRSSKB[0] != 150 || m.PeakRSSKB[1] != 200 {
		t.Fatalf("peak RSS per server %v, want medians 0:150 1:200", m.PeakRSSKB)
	}
}

func TestRatio(t *testing.T) {
	if r := ratio(800, 3200); r != 0.25 {
		t.Fatalf("ratio = %v", r)
	}
	if r := ratio(800, 0); r != 0 {
		t.Fatalf("ratio against no floor = %v, want 0", r)
	}
}

// schemaExample is the example of the master's -stats contract, verbatim
// but for the elided server stats.
const schemaExample = `{
  "commands": 4011, "errors": 0, "elapsed_s": 5.4, "commands_per_s": 742.0,
  "puts": 4000, "puts_per_s": 740.1, "gets": 0, "gets_per_s": 0,
  "put_latency_ms": {"p50": 1.2, "p99": 3.4, "max": 9.9},
  "get_latency_ms": {"p50": 0, "p99": 0, "max": 0},
  "stabilize": [{"line": 4011, "seconds": 0.006, "polls": 3}],
  "servers": {"0": {"pid": 1234, "peak_rss_kb": 23000, "stats": {"id": 0, "puts": 800, "batches": 99}}},
  "msgs_per_put": {"total": 3.1, "writes": 1.0, "relays": 0.0, "acks": 2.0, "deltas": 0.0, "membership": 0.0},
  "bytes_per_put": 1300.0,
  "err_dep": 0, "err_conn": 0, "stale_reads": 0,
  "check": {"ok": true, "violations": 0, "classes": [], "counts": {"puts": 4000, "stabilizes": 1, "groups": 1}}
}`

func TestReadStats_SchemaExample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.json")
	if err := os.WriteFile(path, []byte(schemaExample), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readStats(path)
	if err != nil {
		t.Fatal(err)
	}
	r := resultOf(s)
	if r.PutsPerS != 740.1 || r.CommandsPerS != 742 || r.PutP50Ms != 1.2 || r.PutP99Ms != 3.4 ||
		r.StabilizeS != 0.006 || r.MsgsPerPut != 3.1 || r.WritesPerPut != 1 || r.AcksPerPut != 2 ||
		r.BytesPerPut != 1300 || r.PeakRSSKB[0] != 23000 {
		t.Fatalf("figures not read from the schema's fields: %+v", r)
	}
	if s.Servers["0"].Stats.Puts != 800 || s.Servers["0"].Stats.Batches != 99 {
		t.Fatalf("server stats not read: %+v", s.Servers["0"])
	}
}

func TestWriteReport_ShowsMediansAndRuns(t *testing.T) {
	when := time.Date(2026, 11, 21, 19, 40, 0, 0, time.UTC)
	runs := []Result{
		{Workload: "spec", Hosts: "single", Servers: 5, Clients: 5, Puts: 4000, ValueSize: 1024, When: when, PutsPerS: 700, FloorPutsPerS: 3500, Ratio: 0.2, PeakRSSKB: map[uint32]int64{0: 20480, 1: 0}},
		{Workload: "spec", Hosts: "single", Servers: 5, Clients: 5, Puts: 4000, ValueSize: 1024, When: when, PutsPerS: 900, FloorPutsPerS: 3000, Ratio: 0.3, PeakRSSKB: map[uint32]int64{0: 30720, 1: 0}},
	}
	var buf bytes.Buffer
	WriteReport(&buf, runs)
	out := buf.String()
	for _, want := range []string{
		"5 servers, 5 clients, 4000 puts of 1024 B, 2 run(s), 2026-11-21 19:40",
		"puts/s                  800   700 900",
		"ratio to floor        0.250   0.200 0.300",
		"peak RSS MB      0: 25.0  1: ?",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestSaveJSON_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	in := Saved{Command: "bench single", Median: []Result{{PutsPerS: 1, PeakRSSKB: map[uint32]int64{3: 9}}}}
	if err := saveJSON(path, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out Saved
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Command != in.Command || out.Median[0].PeakRSSKB[3] != 9 {
		t.Fatalf("round trip gave %+v", out)
	}
}

func TestHostsConfig_OneHostPerID(t *testing.T) {
	plan, err := netns.NewPlan(7, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := hostsConfig(plan, 3, 4, "/data")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config does not validate: %v", err)
	}
	hosts := map[string]bool{}
	check := func(id uint32, host string) {
		a, err := netip.ParseAddr(host)
		if err != nil || !netns.Subnet.Contains(a) || a == netns.RootAddr {
			t.Fatalf("id %d on %q: want a host address of %v", id, host, netns.Subnet)
		}
		if host != plan.Hosts[id].Addr.String() || hosts[host] {
			t.Fatalf("id %d on %s: want its own host %v", id, host, plan.Hosts[id].Addr)
		}
		hosts[host] = true
	}
	for _, s := range cfg.Servers {
		check(s.ID, s.Host)
	}
	for _, c := range cfg.Clients {
		check(c.ID, c.Host)
	}
	if got := cfg.ServerIDs(); len(got) != 3 || got[2] != 2 {
		t.Fatalf("servers %v, want 0..2", got)
	}
	if got := cfg.ClientIDs(); len(got) != 4 || got[0] != 3 {
		t.Fatalf("clients %v, want 3..6", got)
	}
}

func TestSeries_GroupsBySizeSortedByServers(t *testing.T) {
	cells := []Result{
		{Servers: 10, ValueSize: 1024, PutsPerS: 2},
		{Servers: 5, ValueSize: 1024, PutsPerS: 1},
		{Servers: 5, ValueSize: 100, PutsPerS: 3},
	}
	sizes, lines := series(cells, func(r Result) float64 { return r.PutsPerS })
	if len(sizes) != 2 || sizes[0] != 100 || sizes[1] != 1024 {
		t.Fatalf("sizes %v", sizes)
	}
	l := lines[1024]
	if len(l) != 2 || l[0].X != 5 || l[0].Y != 1 || l[1].X != 10 || l[1].Y != 2 {
		t.Fatalf("1 KiB line %v", l)
	}
}

func TestWritePlot_WritesPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "p.png")
	cells := []Result{
		{Servers: 5, ValueSize: 100, PutsPerS: 700, StabilizeS: 0.01},
		{Servers: 10, ValueSize: 100, PutsPerS: 500, StabilizeS: 0.02},
	}
	if err := writePlot(path, cells); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("not a PNG: % x", b[:min(8, len(b))])
	}
}

func TestParseBenchmarkCSV(t *testing.T) {
	out := []byte(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","2645.50","0.370","0.160","0.327","0.543","0.871","9.231"
"GET","20534.66","0.045","0.016","0.039","0.071","0.111","1.039"
`)
	got, err := parseBenchmarkCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if got["SET"] != (figure{2645.50, 0.327}) || got["GET"] != (figure{20534.66, 0.039}) {
		t.Fatalf("parsed %v", got)
	}
	if _, err := parseBenchmarkCSV([]byte("\"test\",\"rps\"\n\"SET\",\"x\"\n")); err == nil {
		t.Fatal("a header without p50 parsed")
	}
}
