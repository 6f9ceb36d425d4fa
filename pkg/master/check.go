package master

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"gossipkv/pkg/check"
	"gossipkv/pkg/histfile"
	"gossipkv/pkg/linz"
	"gossipkv/pkg/runstats"
)

// ExitCheck: with Options.Check, the run broke the model (it wins over
// ExitFailed: a wrong answer matters more than a bad line).
const ExitCheck = 3

// maxShown bounds the violations printed on stderr; the verdict line counts
// them all.
const maxShown = 50

// linzTimeout bounds the linearizability search. A script runs one command
// at a time, so its operations overlap only through unacknowledged writes
// and the search is short; the bound keeps a pathological history from
// holding up the verdict.
const linzTimeout = 20 * time.Second

// finish prints the run's metrics, writes the -stats file, judges the
// history with -check and returns the exit code.
func (m *master) finish(ctx context.Context, code int, elapsed time.Duration) int {
	var verdict *check.Verdict
	var lin *linz.Verdict
	var repairs *check.RepairStats
	if m.hist != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(m.opts.Stderr, "check: skipped: the run was interrupted")
		} else {
			r := check.SummarizeRepairs(check.Repairs(m.hist.events))
			repairs = &r
			var v check.Verdict
			if m.cfg.Linearizable() {
				// The eventual model (groups converge on every write that
				// reaches them, sessions, causality) is not what Raft
				// promises: a cut-off minority converges on nothing.
				// Linearizability, required below, is.
				v.Counts = linearCounts(m.hist.events)
				if !m.opts.Quiet {
					fmt.Fprintln(m.opts.Stderr, "check: consistency linearizable: judged by linearizability, not by the eventual model")
				}
			} else {
				v = check.Check(m.hist.events)
			}
			verdict = &v
			l := linz.CheckHistory(m.hist.events, linz.Options{Timeout: linzTimeout})
			lin = &l
		}
	}
	stale := 0
	if verdict != nil {
		stale = verdict.Counts.StaleReads
	}
	st := m.stats(elapsed, stale)
	if m.hist != nil {
		st.Check = checkStats(verdict)
		if repairs != nil {
			st.Check.Repairs = repairStats(*repairs)
		}
	}
	if lin != nil {
		st.Linearizability = linzStats(lin, m.opts.RequireLinearizable)
	}
	m.metricsSummary(st)
	failed := func(what string, err error) {
		m.errf("writing %s: %v", what, err)
		if code == ExitOK {
			code = ExitFailed
		}
	}
	if m.opts.StatsFile != "" {
		if err := runstats.Write(m.opts.StatsFile, st); err != nil {
			failed("-stats", err)
		}
	}
	if m.opts.HistoryFile != "" && m.hist != nil {
		if err := histfile.WriteFile(m.opts.HistoryFile, m.hist.events); err != nil {
			failed("-history", err)
		}
	}
	if m.opts.HistoryHTMLFile != "" && lin != nil {
		if err := writeHTML(m.opts.HistoryHTMLFile, lin); err != nil {
			failed("-history-html", err)
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
	if !m.opts.Quiet {
		fmt.Fprintln(m.opts.Stderr, repairs.String())
	}
	linzFails := m.opts.RequireLinearizable && lin.Result == linz.NotLinearizable
	if !m.opts.Quiet || linzFails {
		if m.opts.RequireLinearizable {
			fmt.Fprintf(m.opts.Stderr, "check: linearizability: %s\n", lin.Summary())
		} else {
			fmt.Fprintf(m.opts.Stderr, "check: linearizability, reported only: %s\n", lin.Summary())
		}
	}
	summary := verdict.Summary()
	if linzFails {
		summary = failLinearizability(summary)
	}
	if !verdict.OK() || linzFails || !m.opts.Quiet {
		fmt.Fprintln(m.opts.Stderr, summary)
	}
	if m.opts.OnVerdict != nil {
		m.opts.OnVerdict(*verdict)
	}
	if !verdict.OK() || linzFails {
		return ExitCheck
	}
	return code
}

// linearCounts counts a linearizable run's operations, as check.Check
// counts them (a cas counts as a put).
func linearCounts(h check.History) check.Counts {
	var c check.Counts
	for _, e := range h {
		switch e.Op {
		case check.Put, check.CAS:
			if e.OutcomeUnknown() {
				c.PutsFailed++
			} else {
				c.Puts++
			}
		case check.Delete:
			if e.OutcomeUnknown() {
				c.DeletesFailed++
			} else {
				c.Deletes++
			}
		case check.Get:
			if e.Status == check.OK || e.Status == check.NoKey {
				c.Gets++
			}
		case check.Stabilize:
			c.Stabilizes++
		}
		if e.Status == check.Unreachable && (e.Op == check.Put || e.Op == check.Get || e.Op == check.Delete || e.Op == check.CAS) {
			c.ErrConn++
		}
	}
	return c
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

// repairStats is the -stats form of the repairs.
func repairStats(r check.RepairStats) *runstats.Repairs {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := &runstats.Repairs{Count: r.Count, MedianMs: ms(r.Median), MaxMs: ms(r.Max), MaxLine: r.MaxLine, MaxFrom: r.MaxFrom}
	for _, e := range r.Each {
		out.Each = append(out.Each, runstats.RepairTime{Line: e.Line, From: e.From, Ms: ms(e.Took), Ops: e.Ops})
	}
	return out
}

// failLinearizability turns the checker's verdict line into a failure
// that names linearizability first.
func failLinearizability(summary string) string {
	if rest, ok := strings.CutPrefix(summary, "check: ok: "); ok {
		return "check: FAIL: not linearizable; " + rest
	}
	return "check: FAIL: not linearizable, " + strings.TrimPrefix(summary, "check: FAIL: ")
}

func linzStats(v *linz.Verdict, required bool) *runstats.Linearizability {
	l := &runstats.Linearizability{Result: v.Result.String(), Required: required, Ops: v.Ops, Keys: v.Keys,
		FailedKeys: len(v.Failures)}
	if len(v.Failures) > 0 {
		f := v.Failures[0]
		l.Key, l.Line, l.Op = f.Key, f.Stuck.Line, f.Stuck.String()
	}
	return l
}

func writeHTML(path string, v *linz.Verdict) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := v.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
