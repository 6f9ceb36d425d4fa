package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gossipkv/pkg/check"
	"gossipkv/pkg/script"
	"gossipkv/pkg/shrink"
)

// ErrPasses means the script given to Shrink does not fail the check.
var ErrPasses = errors.New("master: the script passes the check: nothing to shrink")

// Shrink runs the script's commands with Check, and if the run fails the
// check, removes lines (package shrink) while the run still fails with a
// violation of a class the first run had, so the result shows the same bug
// rather than another one the cuts made up. A smaller script counts as
// failing only if it fails in each of runs runs: failures that hang on
// timing would otherwise shrink to a script that seldom fails again. Each
// trial is a whole run with its own processes; opts gives the cluster, and
// its outputs and Check are set here. Progress goes to log. It returns the
// smallest failing script's lines and the classes of the first run's
// violations.
func Shrink(ctx context.Context, opts Options, text string, runs int, log io.Writer) ([]string, []check.Class, error) {
	var lines []string
	for i, l := range strings.Split(text, "\n") {
		if _, ok, err := script.ParseLine(i+1, l); ok || err != nil {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	trial := func(c []string) (int, *check.Verdict) {
		var v *check.Verdict
		o := opts
		o.Check, o.Echo, o.StatsFile = true, false, ""
		o.Stdout, o.Stderr = io.Discard, io.Discard
		o.OnVerdict = func(got check.Verdict) { v = &got }
		code := Run(ctx, o, strings.NewReader(strings.Join(c, "\n")+"\n"))
		return code, v
	}
	code, v := trial(lines)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if code != ExitCheck || v == nil {
		return nil, nil, fmt.Errorf("%w (exit status %d)", ErrPasses, code)
	}
	classes := v.Classes()
	fmt.Fprintf(log, "shrink: %d lines fail the check: %s\n", len(lines), v.Summary())
	failsOnce := func(c []string) bool {
		if ctx.Err() != nil {
			return false
		}
		code, v := trial(c)
		if code != ExitCheck || v == nil {
			return false
		}
		for _, cl := range v.Classes() {
			if slices.Contains(classes, cl) {
				return true
			}
		}
		return false
	}
	fails := func(c []string) bool {
		for range max(runs, 1) {
			if !failsOnce(c) {
				return false
			}
		}
		return true
	}
	smallest, tried := len(lines), 0
	kept := shrink.Minimize(lines, fails, func(trials, size int) {
		tried = trials
		if size < smallest {
			smallest = size
			fmt.Fprintf(log, "shrink: trial %d: %d lines still fail\n", trials, size)
		}
	})
	fmt.Fprintf(log, "shrink: %d lines left after %d trials\n", len(kept), tried)
	if ctx.Err() != nil {
		return kept, classes, ctx.Err()
	}
	return kept, classes, nil
}
