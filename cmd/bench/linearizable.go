package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gossipkv/pkg/config"
)

// Comparison is one run of bench single -consistency linearizable, or the
// medians of several: the spec benchmark in linearizable mode, the same in
// eventual mode, and as many sequential puts of the same size to an etcd
// cluster of as many members, in turn.
type Comparison struct {
	LinearizablePutsPerS float64 `json:"linearizable_puts_per_s"`
	EventualPutsPerS     float64 `json:"eventual_puts_per_s"`
	EtcdPutsPerS         float64 `json:"etcd_puts_per_s"`
	// The ratios of the run (for medians: the median of the runs' own
	// ratios).
	LinOverEventual float64 `json:"linearizable_over_eventual"`
	LinOverEtcd     float64 `json:"linearizable_over_etcd"`

	// CPU ms per put of each: gossipkv's every process over its whole
	// life; etcd's members over their whole lives plus bench's own CPU
	// while it made the puts, as their client; and the one-process
	// floor's, measured with the eventual run.
	LinearizableCPUMsPerPut float64 `json:"linearizable_cpu_ms_per_put"`
	EventualCPUMsPerPut     float64 `json:"eventual_cpu_ms_per_put"`
	EtcdCPUMsPerPut         float64 `json:"etcd_cpu_ms_per_put"`
	FloorCPUMsPerPut        float64 `json:"floor_cpu_ms_per_put"`
	// CPU ratios of the run: each over etcd's, and etcd's over the floor's.
	LinCPUOverEtcd      float64 `json:"linearizable_cpu_over_etcd"`
	EventualCPUOverEtcd float64 `json:"eventual_cpu_over_etcd"`
	EtcdCPUOverFloor    float64 `json:"etcd_cpu_over_floor"`
}

// etcdFigures is what one run of sequential puts to etcd measured.
type etcdFigures struct {
	PutsPerS, CPUMsPerPut float64
}

// compare pairs the runs' figures (lin[i], ev[i] and etcd[i] are of run
// i) and returns each run's comparison and their medians.
func compare(lin, ev []Result, etcd []etcdFigures) ([]Comparison, Comparison) {
	n := min(len(lin), len(ev), len(etcd))
	cs := make([]Comparison, n)
	for i := range cs {
		l, x := lin[i], etcd[i]
		cs[i] = Comparison{LinearizablePutsPerS: l.PutsPerS, EventualPutsPerS: ev[i].PutsPerS, EtcdPutsPerS: x.PutsPerS,
			LinOverEventual: ratio(l.PutsPerS, ev[i].PutsPerS), LinOverEtcd: ratio(l.PutsPerS, x.PutsPerS),
			LinearizableCPUMsPerPut: l.CPUMsPerPut, EventualCPUMsPerPut: ev[i].CPUMsPerPut,
			EtcdCPUMsPerPut: x.CPUMsPerPut, FloorCPUMsPerPut: ev[i].FloorCPUMsPerPut,
			LinCPUOverEtcd: ratio(l.CPUMsPerPut, x.CPUMsPerPut), EventualCPUOverEtcd: ratio(ev[i].CPUMsPerPut, x.CPUMsPerPut),
			EtcdCPUOverFloor: ratio(x.CPUMsPerPut, ev[i].FloorCPUMsPerPut)}
	}
	med := func(f func(Comparison) float64) float64 {
		xs := make([]float64, n)
		for i, c := range cs {
			xs[i] = f(c)
		}
		return median(xs)
	}
	return cs, Comparison{
		LinearizablePutsPerS: med(func(c Comparison) float64 { return c.LinearizablePutsPerS }),
		EventualPutsPerS:     med(func(c Comparison) float64 { return c.EventualPutsPerS }),
		EtcdPutsPerS:         med(func(c Comparison) float64 { return c.EtcdPutsPerS }),
		LinOverEventual:      med(func(c Comparison) float64 { return c.LinOverEventual }),
		LinOverEtcd:          med(func(c Comparison) float64 { return c.LinOverEtcd }),

		LinearizableCPUMsPerPut: med(func(c Comparison) float64 { return c.LinearizableCPUMsPerPut }),
		EventualCPUMsPerPut:     med(func(c Comparison) float64 { return c.EventualCPUMsPerPut }),
		EtcdCPUMsPerPut:         med(func(c Comparison) float64 { return c.EtcdCPUMsPerPut }),
		FloorCPUMsPerPut:        med(func(c Comparison) float64 { return c.FloorCPUMsPerPut }),
		LinCPUOverEtcd:          med(func(c Comparison) float64 { return c.LinCPUOverEtcd }),
		EventualCPUOverEtcd:     med(func(c Comparison) float64 { return c.EventualCPUOverEtcd }),
		EtcdCPUOverFloor:        med(func(c Comparison) float64 { return c.EtcdCPUOverFloor }),
	}
}

// writeComparison prints the three side by side, the medians first.
func writeComparison(w io.Writer, cs []Comparison, m Comparison, members int, head string) {
	fmt.Fprintf(w, "\n%s\n", head)
	fmt.Fprintf(w, "  %-9s %14s %14s %14s %10s %10s\n", "", "linearizable", "eventual", fmt.Sprintf("etcd (%d)", members), "lin/ev", "lin/etcd")
	line := func(label string, c Comparison) {
		fmt.Fprintf(w, "  %-9s %14.0f %14.0f %14.0f %10.3f %10.3f\n", label, c.LinearizablePutsPerS, c.EventualPutsPerS, c.EtcdPutsPerS, c.LinOverEventual, c.LinOverEtcd)
	}
	line("median", m)
	for i, c := range cs {
		line(fmt.Sprintf("run %d", i+1), c)
	}
	fmt.Fprintf(w, "\ncpu ms/put: gossipkv's processes and etcd's members over their whole lives, etcd's client (bench) while it put; floor: the one-process floor of the eventual run\n")
	fmt.Fprintf(w, "  %-9s %14s %14s %14s %8s %10s %10s %10s\n", "", "linearizable", "eventual", fmt.Sprintf("etcd (%d)", members), "floor", "lin/etcd", "ev/etcd", "etcd/floor")
	cpuLine := func(label string, c Comparison) {
		fmt.Fprintf(w, "  %-9s %14.3f %14.3f %14.3f %8.3f %10.3f %10.3f %10.3f\n", label, c.LinearizableCPUMsPerPut, c.EventualCPUMsPerPut,
			c.EtcdCPUMsPerPut, c.FloorCPUMsPerPut, c.LinCPUOverEtcd, c.EventualCPUOverEtcd, c.EtcdCPUOverFloor)
	}
	cpuLine("median", m)
	for i, c := range cs {
		cpuLine(fmt.Sprintf("run %d", i+1), c)
	}
}

// runLinearizable runs the spec benchmark in linearizable mode, in
// eventual mode, and the same puts against an etcd cluster of o.servers
// members through its HTTP/JSON gateway, in turn, o.runs times; then
// reports each mode and the comparison.
func runLinearizable(ctx context.Context, e *env, o options) error {
	etcdBin, err := lookEtcd()
	if err != nil {
		return err
	}
	loadStart := loadAverage()
	linO, evO := o, o
	linO.consistency, evO.consistency = config.ConsistencyLinearizable, config.ConsistencyEventual
	linJob := specJob(linO, o.servers, o.clients, o.size)
	evJob := specJob(evO, o.servers, o.clients, o.size)
	var lin, ev []Result
	var etcd []etcdFigures
	for i := range o.runs {
		r, err := e.run(ctx, linJob)
		if err != nil {
			return fmt.Errorf("run %d of %d, linearizable: %w", i+1, o.runs, err)
		}
		lin = append(lin, r)
		e.logf("run %d/%d: linearizable %.0f puts/s, %d errors", i+1, o.runs, r.PutsPerS, r.Errors)
		if r, err = e.run(ctx, evJob); err != nil {
			return fmt.Errorf("run %d of %d, eventual: %w", i+1, o.runs, err)
		}
		ev = append(ev, r)
		e.logf("run %d/%d: eventual %.0f puts/s, %d errors", i+1, o.runs, r.PutsPerS, r.Errors)
		x, err := e.etcdRun(ctx, etcdBin, o)
		if err != nil {
			return fmt.Errorf("run %d of %d, etcd: %w", i+1, o.runs, err)
		}
		etcd = append(etcd, x)
		e.logf("run %d/%d: etcd (%d members) %.0f puts/s, %.3f cpu ms/put", i+1, o.runs, o.servers, x.PutsPerS, x.CPUMsPerPut)
	}
	WriteReport(os.Stdout, lin)
	WriteReport(os.Stdout, ev)
	cs, m := compare(lin, ev, etcd)
	head := fmt.Sprintf("puts/s, %d sequential puts of %d B: gossipkv (%d servers, %d clients) linearizable and eventual, etcd (%d members, v3 HTTP/JSON gateway, members in turn); %d run(s) in turn, %s; load average %s before, %s at the end",
		o.puts, o.size, o.servers, o.clients, o.servers, o.runs, lin[0].When.Format("2006-01-02 15:04"), loadStart, loadAverage())
	writeComparison(os.Stdout, cs, m, o.servers, head)
	if o.jsonPath != "" {
		saved := Saved{Command: "bench " + strings.Join(os.Args[1:], " "),
			Median: []Result{Summarize(lin), Summarize(ev)}, Runs: append(lin, ev...),
			Comparison: &m, ComparisonRuns: cs}
		return saveJSON(o.jsonPath, saved)
	}
	return nil
}

// etcdRun starts a fresh etcd cluster of o.servers members under the data
// directory, makes o.puts sequential puts of o.size bytes, and stops every
// member. Its CPU per put is the members' over their whole lives, as the
// cluster's servers' is, and bench's own while it made the puts.
func (e *env) etcdRun(ctx context.Context, bin string, o options) (etcdFigures, error) {
	ms, stop, err := e.startEtcdCluster(ctx, bin, "etcd-cluster", o.servers)
	if err != nil {
		return etcdFigures{}, err
	}
	rate, client, err := etcdSequentialPuts(ctx, ms, o.puts, o.size)
	members := stop()
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return etcdFigures{}, err
	}
	members.Add(client)
	return etcdFigures{PutsPerS: rate, CPUMsPerPut: members.CPUS() * 1000 / float64(o.puts)}, nil
}
