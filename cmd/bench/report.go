package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// Result is one benchmark run, or the medians of several.
type Result struct {
	Workload string `json:"workload"` // "spec" or "partition"
	Hosts    string `json:"hosts"`    // "single" (one machine, loopback) or "multiple"
	// Consistency is the mode the servers ran in: "eventual" or
	// "linearizable" ("" in results saved before it was recorded: eventual).
	Consistency string `json:"consistency,omitempty"`
	// Placement is where the clients of bench concurrent are: "spread"
	// (client i on server i mod Servers) or "one" (all on server 0).
	Placement string `json:"placement,omitempty"`
	Servers   int    `json:"servers"`
	Clients   int    `json:"clients"`
	Puts      int    `json:"puts"`
	ValueSize int    `json:"value_size"`
	// ValueMin and ValueMax are the range of a workload of random sizes
	// (ValueSize is then their mean).
	ValueMin int       `json:"value_min,omitempty"`
	ValueMax int       `json:"value_max,omitempty"`
	When     time.Time `json:"when"`
	Runs     int       `json:"runs"` // 1 for a run, N for medians of N

	PutsPerS      float64 `json:"puts_per_s"`
	FloorPutsPerS float64 `json:"floor_puts_per_s"`
	// Ratio is PutsPerS / FloorPutsPerS of the same run (for medians: the
	// median of the runs' ratios).
	Ratio        float64 `json:"ratio"`
	CommandsPerS float64 `json:"commands_per_s"`
	PutP50Ms     float64 `json:"put_p50_ms"`
	PutP99Ms     float64 `json:"put_p99_ms"`
	// StabilizeS adds up every stabilize of the script.
	StabilizeS float64 `json:"stabilize_s"`
	MsgsPerPut float64 `json:"msgs_per_put"`
	// Of those messages' contents, per put: entries sent on the fast path,
	// acks and repair deltas.
	WritesPerPut float64 `json:"writes_per_put"`
	AcksPerPut   float64 `json:"acks_per_put"`
	DeltasPerPut float64 `json:"deltas_per_put"`
	BytesPerPut  float64 `json:"bytes_per_put"`
	// FsyncsPerPut is the fdatasyncs and fsyncs of every server's store
	// per put.
	FsyncsPerPut float64 `json:"fsyncs_per_put"`

	// CPUMsPerPut is the CPU time (user + system, in ms) of the whole
	// cluster per put: the master, every watchdog, server and client, over
	// the master's whole run (start-up and stop included), from rusage.
	// UserMsPerPut and SysMsPerPut split it; the three roles split it too
	// (the watchdogs counted with their servers; what the master did after
	// it read its own usage, its exit, is in the total only).
	CPUMsPerPut        float64 `json:"cpu_ms_per_put"`
	UserMsPerPut       float64 `json:"user_ms_per_put"`
	SysMsPerPut        float64 `json:"sys_ms_per_put"`
	MasterCPUMsPerPut  float64 `json:"master_cpu_ms_per_put"`
	ServersCPUMsPerPut float64 `json:"servers_cpu_ms_per_put"`
	ClientsCPUMsPerPut float64 `json:"clients_cpu_ms_per_put"`
	// FloorCPUMsPerPut is the floor's CPU time per put (bench's own
	// rusage around it; the lower of the two measurements of the run), and
	// CPURatio is CPUMsPerPut / FloorCPUMsPerPut of the same run (for
	// medians: the median of the runs' ratios).
	FloorCPUMsPerPut float64 `json:"floor_cpu_ms_per_put"`
	CPURatio         float64 `json:"cpu_ratio"`
	// FloorProcs* are the same chain with its client and server in
	// processes of their own, as the cluster runs them (bench plays the
	// master): puts/s, CPU per put of the three processes, and the
	// cluster's ratios to them (puts/s over its puts/s; CPU over its CPU).
	FloorProcsPutsPerS    float64 `json:"floor_procs_puts_per_s,omitempty"`
	FloorProcsRatio       float64 `json:"floor_procs_ratio,omitempty"`
	FloorProcsCPUMsPerPut float64 `json:"floor_procs_cpu_ms_per_put,omitempty"`
	FloorProcsCPURatio    float64 `json:"floor_procs_cpu_ratio,omitempty"`
	// FloorPeers* are the floor with as many peers and clients as the
	// cluster has servers and clients, each peer logging and
	// checkpointing every put (floor.MeasurePeers): the least the
	// cluster's replication costs, without its protocol.
	FloorPeersPutsPerS    float64 `json:"floor_peers_puts_per_s,omitempty"`
	FloorPeersRatio       float64 `json:"floor_peers_ratio,omitempty"`
	FloorPeersCPUMsPerPut float64 `json:"floor_peers_cpu_ms_per_put,omitempty"`
	FloorPeersCPURatio    float64 `json:"floor_peers_cpu_ratio,omitempty"`
	// CtxswPerPut is the cluster's context switches (voluntary and
	// involuntary) per put.
	CtxswPerPut float64 `json:"ctxsw_per_put"`

	Errors int `json:"errors"`
	// ServerPuts is the puts the servers took from clients, by their own
	// counters (bench concurrent, which issues the puts itself: it should
	// be Puts).
	ServerPuts int `json:"server_puts,omitempty"`
	// PeakRSSKB is each server's VmHWM, by server id (0 when unknown).
	PeakRSSKB map[uint32]int64 `json:"peak_rss_kb"`
}

// resultOf turns a master's stats into a Result; the caller fills in the
// layout and the floor.
func resultOf(s *Stats) Result {
	r := Result{
		Runs:         1,
		PutsPerS:     s.PutsPerS,
		CommandsPerS: s.CommandsPerS,
		PutP50Ms:     s.PutLatencyMs.P50,
		PutP99Ms:     s.PutLatencyMs.P99,
		MsgsPerPut:   s.MsgsPerPut.Total,
		WritesPerPut: s.MsgsPerPut.Writes,
		AcksPerPut:   s.MsgsPerPut.Acks,
		DeltasPerPut: s.MsgsPerPut.Deltas,
		BytesPerPut:  s.BytesPerPut,
		FsyncsPerPut: s.FsyncsPerPut,
		Errors:       s.Errors,
		PeakRSSKB:    map[uint32]int64{},
	}
	for _, st := range s.Stabilize {
		r.StabilizeS += st.Seconds
	}
	for id, sv := range s.Servers {
		var n uint32
		if _, err := fmt.Sscan(id, &n); err == nil {
			r.PeakRSSKB[n] = sv.PeakRSSKB
		}
	}
	return r
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// field picks one figure out of each run.
func field(runs []Result, f func(Result) float64) []float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return xs
}

// Summarize takes the median of every figure over the runs; the layout and
// date are the first run's.
func Summarize(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	m := runs[0]
	m.Runs = len(runs)
	med := func(f func(Result) float64) float64 { return median(field(runs, f)) }
	m.PutsPerS = med(func(r Result) float64 { return r.PutsPerS })
	m.FloorPutsPerS = med(func(r Result) float64 { return r.FloorPutsPerS })
	m.Ratio = med(func(r Result) float64 { return r.Ratio })
	m.CommandsPerS = med(func(r Result) float64 { return r.CommandsPerS })
	m.PutP50Ms = med(func(r Result) float64 { return r.PutP50Ms })
	m.PutP99Ms = med(func(r Result) float64 { return r.PutP99Ms })
	m.StabilizeS = med(func(r Result) float64 { return r.StabilizeS })
	m.MsgsPerPut = med(func(r Result) float64 { return r.MsgsPerPut })
	m.BytesPerPut = med(func(r Result) float64 { return r.BytesPerPut })
	m.WritesPerPut = med(func(r Result) float64 { return r.WritesPerPut })
	m.AcksPerPut = med(func(r Result) float64 { return r.AcksPerPut })
	m.DeltasPerPut = med(func(r Result) float64 { return r.DeltasPerPut })
	m.FsyncsPerPut = med(func(r Result) float64 { return r.FsyncsPerPut })
	m.CPUMsPerPut = med(func(r Result) float64 { return r.CPUMsPerPut })
	m.UserMsPerPut = med(func(r Result) float64 { return r.UserMsPerPut })
	m.SysMsPerPut = med(func(r Result) float64 { return r.SysMsPerPut })
	m.MasterCPUMsPerPut = med(func(r Result) float64 { return r.MasterCPUMsPerPut })
	m.ServersCPUMsPerPut = med(func(r Result) float64 { return r.ServersCPUMsPerPut })
	m.ClientsCPUMsPerPut = med(func(r Result) float64 { return r.ClientsCPUMsPerPut })
	m.FloorCPUMsPerPut = med(func(r Result) float64 { return r.FloorCPUMsPerPut })
	m.CPURatio = med(func(r Result) float64 { return r.CPURatio })
	m.FloorProcsPutsPerS = med(func(r Result) float64 { return r.FloorProcsPutsPerS })
	m.FloorProcsRatio = med(func(r Result) float64 { return r.FloorProcsRatio })
	m.FloorProcsCPUMsPerPut = med(func(r Result) float64 { return r.FloorProcsCPUMsPerPut })
	m.FloorProcsCPURatio = med(func(r Result) float64 { return r.FloorProcsCPURatio })
	m.FloorPeersPutsPerS = med(func(r Result) float64 { return r.FloorPeersPutsPerS })
	m.FloorPeersRatio = med(func(r Result) float64 { return r.FloorPeersRatio })
	m.FloorPeersCPUMsPerPut = med(func(r Result) float64 { return r.FloorPeersCPUMsPerPut })
	m.FloorPeersCPURatio = med(func(r Result) float64 { return r.FloorPeersCPURatio })
	m.CtxswPerPut = med(func(r Result) float64 { return r.CtxswPerPut })
	m.ServerPuts = int(med(func(r Result) float64 { return float64(r.ServerPuts) }))
	m.Errors = 0
	m.PeakRSSKB = map[uint32]int64{}
	ids := map[uint32]bool{}
	for _, r := range runs {
		m.Errors += r.Errors
		for id := range r.PeakRSSKB {
			ids[id] = true
		}
	}
	for id := range ids {
		m.PeakRSSKB[id] = int64(med(func(r Result) float64 { return float64(r.PeakRSSKB[id]) }))
	}
	return m
}

// ratio is a/b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// row is one line of the report: a label and how to show one figure.
type row struct {
	label string
	get   func(Result) float64
	// format shows one value, e.g. "%.0f".
	format string
}

var reportRows = []row{
	{"puts/s", func(r Result) float64 { return r.PutsPerS }, "%.0f"},
	{"floor puts/s", func(r Result) float64 { return r.FloorPutsPerS }, "%.0f"},
	{"ratio to floor", func(r Result) float64 { return r.Ratio }, "%.3f"},
	{"put p50 ms", func(r Result) float64 { return r.PutP50Ms }, "%.2f"},
	{"put p99 ms", func(r Result) float64 { return r.PutP99Ms }, "%.2f"},
	{"stabilize ms", func(r Result) float64 { return r.StabilizeS * 1000 }, "%.1f"},
	{"msgs/put", func(r Result) float64 { return r.MsgsPerPut }, "%.2f"},
	{"  writes/put", func(r Result) float64 { return r.WritesPerPut }, "%.2f"},
	{"  acks/put", func(r Result) float64 { return r.AcksPerPut }, "%.2f"},
	{"  deltas/put", func(r Result) float64 { return r.DeltasPerPut }, "%.2f"},
	{"bytes/put", func(r Result) float64 { return r.BytesPerPut }, "%.0f"},
	{"cpu ms/put", func(r Result) float64 { return r.CPUMsPerPut }, "%.3f"},
	{"  user ms/put", func(r Result) float64 { return r.UserMsPerPut }, "%.3f"},
	{"  sys ms/put", func(r Result) float64 { return r.SysMsPerPut }, "%.3f"},
	{"  master", func(r Result) float64 { return r.MasterCPUMsPerPut }, "%.3f"},
	{"  servers+wd", func(r Result) float64 { return r.ServersCPUMsPerPut }, "%.3f"},
	{"  clients", func(r Result) float64 { return r.ClientsCPUMsPerPut }, "%.3f"},
	{"floor cpu ms/put", func(r Result) float64 { return r.FloorCPUMsPerPut }, "%.3f"},
	{"cpu ratio", func(r Result) float64 { return r.CPURatio }, "%.2f"},
	{"floor in 3 processes:", nil, ""},
	{"  puts/s", func(r Result) float64 { return r.FloorProcsPutsPerS }, "%.0f"},
	{"  ratio", func(r Result) float64 { return r.FloorProcsRatio }, "%.3f"},
	{"  cpu ms/put", func(r Result) float64 { return r.FloorProcsCPUMsPerPut }, "%.3f"},
	{"  cpu ratio", func(r Result) float64 { return r.FloorProcsCPURatio }, "%.2f"},
	{"floor with peers:", nil, ""},
	{"  puts/s", func(r Result) float64 { return r.FloorPeersPutsPerS }, "%.0f"},
	{"  ratio", func(r Result) float64 { return r.FloorPeersRatio }, "%.3f"},
	{"  cpu ms/put", func(r Result) float64 { return r.FloorPeersCPUMsPerPut }, "%.3f"},
	{"  cpu ratio", func(r Result) float64 { return r.FloorPeersCPURatio }, "%.2f"},
	{"fsyncs/put", func(r Result) float64 { return r.FsyncsPerPut }, "%.2f"},
	{"ctx switches/put", func(r Result) float64 { return r.CtxswPerPut }, "%.1f"},
	{"errors", func(r Result) float64 { return float64(r.Errors) }, "%.0f"},
}

// WriteReport prints the medians and every run's figures, then the peak
// RSS of each server.
func WriteReport(w io.Writer, runs []Result) {
	if len(runs) == 0 {
		return
	}
	m := Summarize(runs)
	size := fmt.Sprint(m.ValueSize)
	if m.ValueMax > 0 {
		size = fmt.Sprintf("%d-%d", m.ValueMin, m.ValueMax)
	}
	mode := m.Consistency
	if mode == "" {
		mode = "eventual"
	}
	clients := fmt.Sprintf("%d clients", m.Clients)
	if m.Placement != "" {
		clients += " (" + placementText(m.Placement) + ")"
	}
	fmt.Fprintf(w, "\nbench %s, %s, %s mode: %d servers, %s, %d puts of %s B, %d run(s), %s\n",
		m.Workload, m.Hosts, mode, m.Servers, clients, m.Puts, size, len(runs), m.When.Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "  %-16s %10s   %s\n", "", "median", "runs")
	for _, rw := range reportRows {
		if rw.get == nil { // a heading for the rows below it
			fmt.Fprintf(w, "  %s\n", rw.label)
			continue
		}
		vals := make([]string, len(runs))
		for i, r := range runs {
			vals[i] = fmt.Sprintf(rw.format, rw.get(r))
		}
		med := fmt.Sprintf(rw.format, rw.get(m))
		if rw.label == "errors" {
			med = fmt.Sprintf("%d", m.Errors) // a sum: one error in any run matters
		}
		fmt.Fprintf(w, "  %-16s %10s   %s\n", rw.label, med, strings.Join(vals, " "))
	}
	if len(m.PeakRSSKB) > 0 {
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(m.PeakRSSKB)) {
			kb := m.PeakRSSKB[id]
			if kb <= 0 {
				parts = append(parts, fmt.Sprintf("%d: ?", id))
				continue
			}
			parts = append(parts, fmt.Sprintf("%d: %.1f", id, float64(kb)/1024))
		}
		fmt.Fprintf(w, "  %-16s %s\n", "peak RSS MB", strings.Join(parts, "  "))
	}
}

// maxRSSKB is the largest peak RSS of any server.
func maxRSSKB(r Result) int64 {
	var m int64
	for _, kb := range r.PeakRSSKB {
		m = max(m, kb)
	}
	return m
}

// WriteScalingTable prints one line of medians per cell.
func WriteScalingTable(w io.Writer, cells []Result) {
	fmt.Fprintf(w, "\n%8s %8s %8s %8s %7s %8s %8s %11s %9s %12s %11s %9s\n",
		"servers", "value B", "puts/s", "floor/s", "ratio", "p50 ms", "p99 ms", "stabil. ms", "msgs/put", "max RSS MB", "cpu ms/put", "cpu ratio")
	for _, c := range cells {
		fmt.Fprintf(w, "%8d %8d %8.0f %8.0f %7.3f %8.2f %8.2f %11.1f %9.2f %12.1f %11.3f %9.2f\n",
			c.Servers, c.ValueSize, c.PutsPerS, c.FloorPutsPerS, c.Ratio, c.PutP50Ms, c.PutP99Ms,
			c.StabilizeS*1000, c.MsgsPerPut, float64(maxRSSKB(c))/1024, c.CPUMsPerPut, c.CPURatio)
	}
}

// placementText says where the clients of a placement are.
func placementText(p string) string {
	switch p {
	case Spread:
		return "each on a server, round-robin"
	case OneServer:
		return "all on server 0"
	}
	return p
}

// WriteConcurrentTable prints one line of medians per point of bench
// concurrent: the rates, the CPU per put of the cluster and of each role,
// and the floor of the same runs.
func WriteConcurrentTable(w io.Writer, points []Result) {
	fmt.Fprintf(w, "\n%7s %-7s %7s %7s %7s %8s %8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %6s\n",
		"clients", "placed", "puts/s", "p50 ms", "p99 ms", "stab. ms", "cpu/put", "master", "srv+wd", "clients",
		"fsync/p", "floor/s", "fl cpu", "cpu x", "cpu x3", "cpu xR", "errors")
	for _, p := range points {
		fmt.Fprintf(w, "%7d %-7s %7.0f %7.2f %7.2f %8.1f %8.3f %7.3f %7.3f %7.3f %7.2f %7.0f %7.3f %7.2f %7.2f %7.2f %6d\n",
			p.Clients, p.Placement, p.PutsPerS, p.PutP50Ms, p.PutP99Ms, p.StabilizeS*1000, p.CPUMsPerPut,
			p.MasterCPUMsPerPut, p.ServersCPUMsPerPut, p.ClientsCPUMsPerPut, p.FsyncsPerPut,
			p.FloorPutsPerS, p.FloorCPUMsPerPut, p.CPURatio, p.FloorProcsCPURatio, p.FloorPeersCPURatio, p.Errors)
	}
	fmt.Fprintln(w, "  (cpu ms per put: the cluster, then the master's role (bench issues the puts), the servers with their watchdogs,")
	fmt.Fprintln(w, "   the clients; fsyncs per put; the floor's puts/s and cpu ms per put; cpu x: cluster cpu / floor cpu;")
	fmt.Fprintln(w, "   cpu x3: cluster cpu / the cpu of the floor across three processes;")
	fmt.Fprintln(w, "   cpu xR: cluster cpu / the cpu of the floor with as many peers, each holding every put)")
}

// Saved is what -json writes.
type Saved struct {
	Command string   `json:"command"`
	Median  []Result `json:"median"`
	Runs    []Result `json:"runs"`
	// Comparison (bench single -consistency linearizable) is the medians
	// of ComparisonRuns.
	Comparison     *Comparison  `json:"comparison,omitempty"`
	ComparisonRuns []Comparison `json:"comparison_runs,omitempty"`
}

func saveJSON(path string, s Saved) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
