// Command mutants measures what the harness catches: it plants one
// deliberate bug at a time (mutants.yaml: source edits to a copy of the
// project, or a GOSSIPKV_FAULT of the real servers), runs a fixed set of
// generated scenarios (`master gen -seed N`) through `master -check`
// against it, and prints which seed caught it, how and how soon.
//
// Every run treats kills as power losses (GOSSIPKV_POWER_LOSS=1): a
// server's log loses what it did not sync, and checkpoints (which sync
// bbolt) are ten minutes apart, so a missing fdatasync shows at every kill.
// A seed catches a mutant when the check fails (exit 3; the real build
// passed the same scenario twice); when a script line fails (exit 1) in
// two runs; or when one of its stabilizes, or one of its repairs (from a
// heal, restart or resume to the stabilize after it), takes -slow times
// the slowest of the real build's runs of the same line, and 150 ms more,
// in two runs, and still does once the real build has run the scenario
// twice more: a repair that is correct but much slower is a bug too
// (writes that the fast path should have carried, left to the slow one).
// A run that could not tell (no free port, a master that could not
// start, a run past -run-timeout) is run again, and left out if it still
// cannot.
//
// Usage, from the module root (make mutants):
//
//	go run ./cmd/mutants [-only a,b] [-seeds 1-6] [-tests] [-json FILE]
//
// Before the mutants it runs a control, the real build again as if it
// were one: a control that a seed "catches" means the timings are noise.
//
// A mutant the list marks beyond_scenarios (a cost below what a run's
// timing can tell, or a bug that needs an event no script can make) is
// run through the scenarios all the same; when they miss it, the unit
// tests of the packages it edits must catch it instead, and the table says
// so and why.
//
// Exit status: 0 every mutant was caught, 1 one or more were not, 2 the
// tool could not run (a bad flag, a build that failed, a mutant whose text
// is no longer in the code, the real build failing a seed, or the control
// caught), 130 interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/runstats"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the flags.
type options struct {
	list       string
	only       string
	seeds      []int
	servers    int
	clients    int
	ops        int
	kinds      string
	slow       float64
	tests      bool
	runTimeout time.Duration
	jsonPath   string
	keep       bool
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("mutants", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	var seeds string
	fl.StringVar(&o.list, "list", "", "YAML `file` of mutants (default: the project's own, cmd/mutants/mutants.yaml)")
	fl.StringVar(&o.only, "only", "", "comma-separated `names` of the mutants to run (default: all)")
	fl.StringVar(&seeds, "seeds", "1-6,9", "the gen `seeds` every mutant is run against, in order until one catches it: a range 1-6 or a list 1,4,9")
	fl.IntVar(&o.servers, "servers", 5, "servers of each scenario")
	fl.IntVar(&o.clients, "clients", 5, "clients of each scenario")
	fl.IntVar(&o.ops, "ops", 300, "puts, deletes and gets of each scenario")
	fl.StringVar(&o.kinds, "fault-kinds", "all", "gen's -fault-kinds")
	fl.Float64Var(&o.slow, "slow", 3, "a stabilize or repair this many `times` slower than the real build's (and 150 ms more) catches a mutant")
	fl.BoolVar(&o.tests, "tests", false, "also run the unit tests of the packages each edit mutant changes")
	fl.DurationVar(&o.runTimeout, "run-timeout", 3*time.Minute, "longest one scenario may run")
	fl.StringVar(&o.jsonPath, "json", "", "also write the results to `file` as JSON")
	fl.BoolVar(&o.keep, "keep", false, "keep the work directory (the mutated copies and their logs) and print where it is")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "mutants: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	var err error
	if o.seeds, err = parseSeeds(seeds); err != nil {
		fmt.Fprintln(stderr, "mutants: -seeds:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := runAll(ctx, o, stderr)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "mutants: interrupted")
		return 130
	}
	if err != nil {
		fmt.Fprintln(stderr, "mutants:", err)
		return 2
	}
	report(stdout, results, o)
	if o.jsonPath != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "mutants:", err)
			return 2
		}
	}
	for _, r := range results {
		if !r.Covered() {
			return 1
		}
	}
	return 0
}

// parseSeeds reads "1-6" or "1,4,9".
func parseSeeds(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q: want seeds of 1 or more, as 1-6 or 1,4,9", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q: want seeds of 1 or more, as 1-6 or 1,4,9", s)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

// Result is what the scenarios made of one mutant.
type Result struct {
	Name   string `json:"name"`
	Area   string `json:"area"`
	Bug    string `json:"bug"`
	Caught bool   `json:"caught"`
	// Seed caught it, How says how (the check's classes, an exit, a slow
	// repair), after Seconds of scenarios (the seeds before it too).
	Seed    int     `json:"seed,omitempty"`
	How     string  `json:"how,omitempty"`
	Seconds float64 `json:"seconds"`
	// Unjudged are the seeds whose runs could not tell, twice (see
	// unjudged): left out.
	Unjudged []int `json:"unjudged,omitempty"`
	// UnitTests says whether the unit tests of the packages it edits
	// catch it (fail): "caught", "NOT caught", or "" when not run.
	UnitTests string `json:"unit_tests,omitempty"`
	// BeyondScenarios is the list's reason why no scenario can be
	// expected to catch it (see Mutant); such a mutant that the
	// scenarios miss is covered when its unit tests catch it.
	BeyondScenarios string `json:"beyond_scenarios,omitempty"`
}

// Covered reports whether something caught r: a scenario, or, for a bug
// beyond the scenarios' reach, the unit tests of the packages it edits.
func (r Result) Covered() bool {
	return r.Caught || (r.BeyondScenarios != "" && r.UnitTests == "caught")
}

// scenario is one generated script and what the real build made of it:
// the slowest of its runs of each stabilize and of each repair, by the
// stabilize's line, in ms.
type scenario struct {
	seed     int
	script   string
	real     timings
	realRuns int
}

// timings are a run's stabilize and repair times by line, in ms.
type timings struct {
	stabilize, repair map[int]float64
}

// realRuns is how many times the real build runs each scenario: times
// vary from run to run (failure detection, scheduling, a write caught in
// flight by a cut), and a mutant is slow only against the slowest of
// them. A mutant slow twice on a line has the real build run that many
// times again before it counts (see runMutant).
const realRuns = 2

// runReal runs the real build on sc n more times, each of which must pass,
// and keeps the slowest time of each line.
func (sc *scenario) runReal(ctx context.Context, realBin, work string, n int, o options) error {
	for range n {
		sc.realRuns++
		res := runScenario(ctx, realBin, realBin, sc.script, "", filepath.Join(work, "real", fmt.Sprintf("seed-%d-%d", sc.seed, sc.realRuns)), o)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res.code != 0 {
			return fmt.Errorf("the real build fails seed %d (exit %d), so the seeds measure nothing: %s", sc.seed, res.code, res.detail())
		}
		for line, ms := range res.times.stabilize {
			sc.real.stabilize[line] = max(sc.real.stabilize[line], ms)
		}
		for line, ms := range res.times.repair {
			sc.real.repair[line] = max(sc.real.repair[line], ms)
		}
	}
	return nil
}

func runAll(ctx context.Context, o options, log io.Writer) ([]Result, error) {
	list, source := defaultList, "cmd/mutants/mutants.yaml"
	if o.list != "" {
		b, err := os.ReadFile(o.list)
		if err != nil {
			return nil, err
		}
		list, source = b, o.list
	}
	all, err := parseList(list, source)
	if err != nil {
		return nil, err
	}
	mutants, err := selectMutants(all, o.only)
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "gossipkv-mutants-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintln(log, "mutants: work directory", work)
	} else {
		defer os.RemoveAll(work)
	}

	realBin := filepath.Join(work, "real", "bin")
	fmt.Fprintln(log, "mutants: building the real binaries")
	if err := build(ctx, root, realBin); err != nil {
		return nil, err
	}
	var scenarios []scenario
	for _, seed := range o.seeds {
		script, err := generate(realBin, seed, o)
		if err != nil {
			return nil, err
		}
		sc := scenario{seed: seed, script: script, real: timings{stabilize: map[int]float64{}, repair: map[int]float64{}}}
		if err := sc.runReal(ctx, realBin, work, realRuns, o); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "mutants: seed %d: the real build passes %d runs (%d stabilizes, %d repairs)\n", seed, realRuns, len(sc.real.stabilize), len(sc.real.repair))
		scenarios = append(scenarios, sc)
	}

	// A control first: the real build again, run like a mutant. If timing
	// noise alone makes a seed "catch" it, slowness cannot tell a bug here.
	control := Mutant{Name: "control", Area: "none", Bug: "the real build, unchanged: no scenario may catch it"}
	realTests := map[string]bool{} // by package list: the real tree's unit tests pass
	ctl, err := runMutant(ctx, control, root, realBin, work, scenarios, realTests, o, log)
	if err != nil {
		return nil, err
	}
	switch {
	case ctl.Caught && strings.HasPrefix(ctl.How, "slow "):
		return nil, fmt.Errorf("seed %d caught the control, the real build itself (%s): the machine is too noisy for the timings to tell a bug (raise -slow, or run it on a quieter machine)", ctl.Seed, ctl.How)
	case ctl.Caught:
		return nil, fmt.Errorf("seed %d caught the control, the real build itself (%s): the real build fails this scenario now and then; that is a bug to find before any mutant can be judged", ctl.Seed, ctl.How)
	}
	var results []Result
	for _, m := range mutants {
		r, err := runMutant(ctx, m, root, realBin, work, scenarios, realTests, o, log)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

// runMutant builds m (unless it is a fault of the real build) and runs the
// scenarios against it until one catches it. The master, which judges the
// run, is the real one unless m is a bug of the master itself (stabilize):
// a bug planted in code the checker shares (the conflict order of package
// model) must not bend the judge.
func runMutant(ctx context.Context, m Mutant, root, realBin, work string, scenarios []scenario, realTests map[string]bool, o options, log io.Writer) (Result, error) {
	r := Result{Name: m.Name, Area: m.Area, Bug: m.Bug, BeyondScenarios: m.BeyondScenarios}
	dir := filepath.Join(work, m.Name)
	bin, masterBin := realBin, realBin
	if len(m.Edits) > 0 {
		src := filepath.Join(dir, "src")
		if err := copyModule(root, src); err != nil {
			return r, err
		}
		if err := m.apply(src); err != nil {
			return r, err
		}
		bin = filepath.Join(dir, "bin")
		if err := build(ctx, src, bin); err != nil {
			return r, fmt.Errorf("mutant %s: %w", m.Name, err)
		}
		if m.editsMaster() {
			masterBin = bin
		}
		if o.tests || m.BeyondScenarios != "" {
			r.UnitTests = unitTests(ctx, root, src, m.packages(), realTests)
		}
	}
	start := time.Now()
	for i := range scenarios {
		sc := &scenarios[i]
		run := func(name string) (outcome, verdict, string) {
			res := runScenario(ctx, masterBin, bin, sc.script, m.Fault, filepath.Join(dir, name), o)
			v, how := res.judge(sc.real, o.slow)
			return res, v, how
		}
		res, v, how := run(fmt.Sprint("seed-", sc.seed))
		if v == unjudged && ctx.Err() == nil {
			fmt.Fprintf(log, "mutants: %s: seed %d could not be judged (%s); running it again\n", m.Name, sc.seed, how)
			res, v, how = run(fmt.Sprintf("seed-%d-rerun", sc.seed))
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		caught := false
		switch v {
		case failedCheck:
			caught = true
		case failedRun, slow:
			again, _, _ := run(fmt.Sprintf("seed-%d-again", sc.seed))
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			var first []slowLine
			if v == slow {
				first = res.slowLines(sc.real, o.slow)
			}
			how, caught = confirmed(first, again, sc.real, o.slow)
			if caught && v == slow && again.code == 0 {
				// Slow twice: before it counts, the real build runs
				// the scenario as many times again, in case the line
				// is one it too is sometimes slow on.
				if err := sc.runReal(ctx, realBin, work, realRuns, o); err != nil {
					return r, err
				}
				how, caught = confirmed(res.slowLines(sc.real, o.slow), again, sc.real, o.slow)
			}
		case unjudged:
			r.Unjudged = append(r.Unjudged, sc.seed)
			fmt.Fprintf(log, "mutants: %s: seed %d could not be judged twice (%s): left out\n", m.Name, sc.seed, how)
		}
		if caught {
			r.Caught, r.Seed, r.How = true, sc.seed, how
			break
		}
	}
	r.Seconds = time.Since(start).Seconds()
	verdict := "NOT caught"
	switch {
	case r.Caught:
		verdict = fmt.Sprintf("caught by seed %d: %s", r.Seed, r.How)
	case r.Covered():
		verdict = "not caught by the scenarios, which it is beyond; caught by its unit tests"
	}
	fmt.Fprintf(log, "mutants: %s: %s (%.1f s)\n", m.Name, verdict, r.Seconds)
	return r, nil
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod here or above: run it from the project")
		}
		dir = parent
	}
}

// copyModule copies the module's sources, leaving out what is not source:
// version control, binaries and data directories.
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin" || rel == "data") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// build builds the binaries a scenario runs into bin.
func build(ctx context.Context, src, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/master", "./cmd/server", "./cmd/client", "./cmd/watchdog")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", src, err, out)
	}
	return nil
}

// unitTests says whether the tests of pkgs catch the mutant in src:
// "caught" if they fail there and pass on an unmutated copy of the real
// tree (root), made as src was, whose results realPass keeps by package
// list; "NOT caught" if they pass; "fail on the real build too" if they
// fail on both, which says nothing. The copy, not root itself, is what
// src differs from only by the mutation: copyModule leaves out data
// directories and dot directories, which a test may read.
func unitTests(ctx context.Context, root, src string, pkgs []string, realPass map[string]bool) string {
	passes := func(dir string) bool {
		cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-count=1", "-timeout", "10m"}, pkgs...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		return cmd.Run() == nil
	}
	key := strings.Join(pkgs, " ")
	if _, ok := realPass[key]; !ok {
		base, err := os.MkdirTemp("", "gossipkv-mutants-base-")
		if err != nil {
			return "could not copy the real tree: " + err.Error()
		}
		defer os.RemoveAll(base)
		if err := copyModule(root, base); err != nil {
			return "could not copy the real tree: " + err.Error()
		}
		realPass[key] = passes(base)
	}
	switch {
	case !realPass[key]:
		return "fail on the real build too"
	case passes(src):
		return "NOT caught"
	}
	return "caught"
}

// generate prints seed's scenario with the real master.
func generate(bin string, seed int, o options) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "master"), "gen", "-seed", fmt.Sprint(seed), "-servers", fmt.Sprint(o.servers),
		"-clients", fmt.Sprint(o.clients), "-ops", fmt.Sprint(o.ops), "-fault-kinds", o.kinds)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("master gen -seed %d: %v: %s", seed, err, errb.String())
	}
	return string(out), nil
}

// outcome is what one scenario run ended with.
type outcome struct {
	code    int
	classes []string
	times   timings
	stderr  string
}

// detail is the run's last words, for a report.
func (o outcome) detail() string {
	lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "(no output)"
}

// verdict is what one run of a scenario says of the build it ran.
type verdict int

const (
	passed verdict = iota
	// failedCheck: the check found a violation (exit 3). It convicts at
	// once: the real build passed this scenario twice.
	failedCheck
	// failedRun: a script line failed (exit 1); slow: a stabilize or
	// repair much slower than the real build's. Either may be the
	// machine's doing, so either convicts only if a second run agrees.
	failedRun
	slow
	// unjudged: the run could not tell (no free port, a master that could
	// not start, a run past -run-timeout): the environment, not the code.
	unjudged
)

// judge says what a run of a mutant shows, against the real build's
// timings of the same scenario.
func (o outcome) judge(real timings, factor float64) (verdict, string) {
	switch {
	case o.code == 3 && len(o.classes) > 0:
		return failedCheck, "check: " + strings.Join(o.classes, ", ")
	case o.code == 1 || o.code == 3:
		return failedRun, fmt.Sprintf("exit %d: %s", o.code, o.detail())
	case o.code != 0:
		return unjudged, fmt.Sprintf("exit %d: %s", o.code, o.detail())
	}
	if s := o.slowLines(real, factor); len(s) > 0 {
		return slow, s[0].String()
	}
	return passed, ""
}

// slowLine is a stabilize or repair much slower than the real build's.
type slowLine struct {
	what       string // "stabilize" or "repair"
	line       int
	ms, realMs float64
}

func (s slowLine) String() string {
	return fmt.Sprintf("slow %s: line %d took %.0f ms, the real build at most %.0f ms", s.what, s.line, s.ms, s.realMs)
}

// slowMargin is how much slower than the real build's slowest a line must
// be, beside -slow times: a write caught in flight by a cut makes the real
// build repair within a stabilize, which takes a resend interval or two.
const slowMargin = 150

// slowLines lists, in line order, the stabilizes and repairs of the run
// that took factor times the real build's slowest on the same line and
// slowMargin ms more.
func (o outcome) slowLines(real timings, factor float64) []slowLine {
	var out []slowLine
	for _, c := range []struct {
		what      string
		got, real map[int]float64
	}{{"stabilize", o.times.stabilize, real.stabilize}, {"repair", o.times.repair, real.repair}} {
		for _, line := range slices.Sorted(maps.Keys(c.got)) {
			ms := c.got[line]
			if ref, ok := c.real[line]; ok && ms > factor*ref && ms > ref+slowMargin {
				out = append(out, slowLine{c.what, line, ms, ref})
			}
		}
	}
	return out
}

// confirmed judges the second run of a scenario whose first run failed a
// line (first is then nil) or was slow on the lines first: it fails the
// check or a line, or it is slow on one of the same lines again. One slow
// line or failed line can be the machine's doing; twice is the code's.
func confirmed(first []slowLine, again outcome, real timings, factor float64) (how string, ok bool) {
	switch v, how := again.judge(real, factor); v {
	case failedCheck, failedRun:
		return how + " (on a second run)", true
	case unjudged:
		return "", false
	}
	for _, s := range again.slowLines(real, factor) {
		for _, f := range first {
			if f.what == s.what && f.line == s.line {
				return fmt.Sprintf("%s, and %.0f ms on a second run", f, s.ms), true
			}
		}
	}
	return "", false
}

var classLine = regexp.MustCompile(`(?m)^check: line \d+: ([a-z-]+): `)

// runScenario runs script through `master -check` (the one in masterBin,
// starting the servers, watchdogs and clients of bin) on fresh ports and a
// fresh data directory under dir, with fault planted (if any), kills as
// power losses, and everything it started stopped after.
func runScenario(ctx context.Context, masterBin, bin, script, fault, dir string, o options) outcome {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return outcome{code: -1, stderr: err.Error()}
	}
	cfg, err := config.LocalFreePorts(o.servers, o.clients, filepath.Join(dir, "data"))
	if err != nil {
		return outcome{code: -1, stderr: err.Error()}
	}
	cfg.Timing.StabilizeTimeout = 5 * time.Second
	// A checkpoint folds the log into bbolt, which syncs: a write that a
	// checkpoint carried survives a power loss whether its log append was
	// synced or not. Checkpoints far apart leave every write since the
	// server started to its log's syncs, so that a kill shows a missing one
	// however the run's timing falls (a log of 300 small puts stays far
	// below the size that checkpoints early).
	cfg.Timing.Checkpoint = 10 * time.Minute
	cfgPath, statsPath := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "stats.json")
	if err := cfg.Write(cfgPath); err != nil {
		return outcome{code: -1, stderr: err.Error()}
	}
	master := filepath.Join(masterBin, "master")
	ctx, cancel := context.WithTimeout(ctx, o.runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, master, "-check", "-config", cfgPath, "-stats", statsPath, "-bin", bin)
	// Interrupted, the master stops what it started before it exits.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = append(withoutHarnessVars(os.Environ()), "GOSSIPKV_POWER_LOSS=1")
	if fault != "" {
		cmd.Env = append(cmd.Env, "GOSSIPKV_FAULT="+fault)
	}
	cmd.Stdin = strings.NewReader(script)
	var errb strings.Builder
	cmd.Stderr = &errb
	err = cmd.Run()
	// What a killed master left, its pid files name.
	_ = exec.Command(master, "cleanup", "-config", cfgPath).Run()
	out := outcome{stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		out.code = exit.ExitCode()
	case err != nil:
		out.code, out.stderr = -1, err.Error()
	}
	if ctx.Err() != nil {
		out.code, out.stderr = -1, fmt.Sprintf("the scenario ran longer than %v", o.runTimeout)
	}
	for _, m := range classLine.FindAllStringSubmatch(out.stderr, -1) {
		if !slices.Contains(out.classes, m[1]) {
			out.classes = append(out.classes, m[1])
		}
	}
	out.times = timings{stabilize: map[int]float64{}, repair: map[int]float64{}}
	if st, err := runstats.Read(statsPath); err == nil {
		for _, s := range st.Stabilize {
			out.times.stabilize[s.Line] = s.Seconds * 1000
		}
		if st.Check != nil && st.Check.Repairs != nil {
			for _, r := range st.Check.Repairs.Each {
				out.times.repair[r.Line] = r.Ms
			}
		}
	}
	return out
}

// withoutHarnessVars drops the variables that plant faults, so that only
// the mutant's own reach the servers.
func withoutHarnessVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOSSIPKV_FAULT=") && !strings.HasPrefix(kv, "GOSSIPKV_POWER_LOSS=") {
			out = append(out, kv)
		}
	}
	return out
}

// report prints the kill table.
func report(w io.Writer, results []Result, o options) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	tests := o.tests || slices.ContainsFunc(results, func(r Result) bool { return r.BeyondScenarios != "" })
	header := "mutant\tarea\tcaught by\thow\tseconds"
	if tests {
		header += "\tunit tests of its packages"
	}
	fmt.Fprintln(tw, header)
	caught, beyond := 0, 0
	var reasons []string
	for _, r := range results {
		by := "NOT caught"
		how := r.How
		switch {
		case r.Caught:
			caught++
			by = fmt.Sprint("seed ", r.Seed)
		case r.Covered():
			beyond++
			by = "unit tests only"
			how = "beyond the scenarios (below)"
			reasons = append(reasons, fmt.Sprintf("%s: %s", r.Name, r.BeyondScenarios))
		}
		if len(r.Unjudged) > 0 {
			how = strings.TrimSpace(fmt.Sprintf("%s (seeds %v could not be judged)", how, r.Unjudged))
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%.1f", r.Name, r.Area, by, how, r.Seconds)
		if tests {
			line += "\t" + r.UnitTests
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintf(w, "caught %d of %d mutants with seeds %v (%d ops each, fault kinds %s); the control, the real build run as a mutant, was caught by none\n", caught, len(results), o.seeds, o.ops, o.kinds)
	if beyond > 0 {
		fmt.Fprintf(w, "%d more are beyond what a scenario can catch, and their unit tests caught them:\n", beyond)
		for _, why := range reasons {
			fmt.Fprintf(w, "  %s\n", why)
		}
	}
}
