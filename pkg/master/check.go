package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"gossipkv/pkg/check"
	"gossipkv/pkg/runstats"
)

// ExitCheck: with Options.Check, the run broke the model (it wins over
// ExitFailed: a wrong answer matters more than a bad line).
const ExitCheck = 3

// maxShown bounds the violations printed on stderr; the verdict line counts
// them all.
const maxShown = 50

// finish prints the run's metrics, writes the -stats file, judges the
// history with -check and returns the exit code.
func (m *master) finish(ctx context.Context, code int, elapsed time.Duration) int {
	var verdict *check.Verdict
	if m.hist != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(m.opts.Stderr, "check: skipped: the run was interrupted")
		} else {
			v := check.Check(m.hist.events)
			verdict = &v
		}
	}
	stale := 0
	if verdict != nil {
		stale = verdict.Counts.StaleReads
	}
	st := m.stats(elapsed, stale)
	if m.hist != nil {
		st.Check = checkStats(verdict)
	}
	m.metricsSummary(st)
	if m.opts.StatsFile != "" {
		if err := runstats.Write(m.opts.StatsFile, st); err != nil {
			m.errf("writing -stats: %v", err)
			if code == ExitOK {
				code = ExitFailed
			}
		}
	}
	if m.opts.HistoryFile != "" && m.hist != nil {
		if err := writeHistory(m.opts.HistoryFile, m.hist.events); err != nil {
			m.errf("writing -history: %v", err)
			if code == ExitOK {
				code = ExitFailed
			}
		}
	}
	if verdict == nil {
		return code
	}
	for i, v := range verdict.Violations {
		if i == maxShown {
			fmt.Fprintf(m.opts.Stderr, "check: ... %d more\n", verdict.Total()-maxShown)
			break
		}
		fmt.Fprintf(m.opts.Stderr, "check: %v\n", v)
	}
	if !verdict.OK() || !m.opts.Quiet {
		fmt.Fprintln(m.opts.Stderr, verdict.Summary())
	}
	if m.opts.OnVerdict != nil {
		m.opts.OnVerdict(*verdict)
	}
	if !verdict.OK() {
		return ExitCheck
	}
	return code
}

// checkStats is the -stats record of a verdict; nil: the check was
// skipped.
func checkStats(v *check.Verdict) *runstats.Check {
	if v == nil {
		return &runstats.Check{Skipped: "the run was interrupted", Classes: []runstats.ClassCount{}}
	}
	c := v.Counts
	st := &runstats.Check{
		OK: v.OK(), Violations: v.Total(), Classes: []runstats.ClassCount{},
		Counts: runstats.CheckCounts{
			Puts: c.Puts, PutsFailed: c.PutsFailed, Deletes: c.Deletes, DeletesFailed: c.DeletesFailed,
			Gets: c.Gets, ErrConn: c.ErrConn, Stabilizes: c.Stabilizes, Groups: c.Groups,
			ErrDep: c.ErrDep, ErrDepNecessary: c.ErrDepNecessary, ErrDepSpurious: c.ErrDepSpurious,
			ErrDepUndetermined: c.ErrDepUndetermined, StaleReads: c.StaleReads,
		},
	}
	for _, cl := range v.Classes() {
		st.Classes = append(st.Classes, runstats.ClassCount{Class: cl.String(), Violations: v.ByClass[cl]})
	}
	return st
}

// writeHistory writes events one a line; after a stabilize, each server's
// store as the checker saw it.
func writeHistory(path string, events check.History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, e := range events {
		fmt.Fprintln(w, e)
		ids := make([]uint32, 0, len(e.Stores))
		for id := range e.Stores {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(w, "  server %d:", id)
			for _, it := range e.Stores[id] {
				fmt.Fprintf(w, " %q=%q@%v", it.Key, it.Value, it.Version)
			}
			fmt.Fprintln(w)
		}
	}
	return errors.Join(w.Flush(), f.Close())
}
