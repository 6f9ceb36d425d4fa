package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every mutant of the project's list still finds its text, exactly once,
// in the code as it is: a change to the code that moves a mutant's text
// fails here rather than when someone runs `make mutants`.
func TestDefaultList_EveryEditAppliesToTheTree(t *testing.T) {
	ms, err := parseList(defaultList, "mutants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]int{}
	for _, m := range ms {
		areas[m.Area]++
		// Only a bug of the master's own (stabilize) runs under a
		// mutated master; every other is judged by the real one.
		if m.editsMaster() != (m.Area == "stabilize") {
			t.Errorf("%s (area %s): editsMaster %v", m.Name, m.Area, m.editsMaster())
		}
		if len(m.Edits) == 0 {
			continue
		}
		dst := t.TempDir()
		for _, e := range m.Edits {
			b, err := os.ReadFile(filepath.Join(root, e.File))
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(e.File)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.File), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.apply(dst); err != nil {
			t.Errorf("%v", err)
		}
	}
	// The list covers each part of the protocol the harness must guard.
	for _, area := range []string{"conflict order", "session", "forwarding", "repair", "acks", "wal", "stabilize"} {
		if areas[area] == 0 {
			t.Errorf("no mutant of area %q", area)
		}
	}
}

func TestParseList_Rejects(t *testing.T) {
	for name, yaml := range map[string]string{
		"no name":          "- {area: a, bug: b, fault: drop-writes}",
		"taken name":       "- {name: x, area: a, bug: b, fault: drop-writes}\n- {name: x, area: a, bug: b, fault: drop-writes}",
		"no bug":           "- {name: x, area: a, fault: drop-writes}",
		"both":             "- {name: x, area: a, bug: b, fault: drop-writes, edits: [{file: a.go, from: x, to: y}]}",
		"neither":          "- {name: x, area: a, bug: b}",
		"unchanged edit":   "- {name: x, area: a, bug: b, edits: [{file: a.go, from: x, to: x}]}",
		"outside module":   "- {name: x, area: a, bug: b, edits: [{file: ../a.go, from: x, to: y}]}",
		"unknown field":    "- {name: x, area: a, bug: b, fault: drop-writes, seed: 3}",
		"not a list":       "name: x",
		"empty from text":  "- {name: x, area: a, bug: b, edits: [{file: a.go, from: '', to: y}]}",
		"unknown fault":    "- {name: x, area: a, bug: b, fault: drop-write}",
		"beyond, no edits": "- {name: x, area: a, bug: b, fault: drop-writes, beyond_scenarios: why}",
	} {
		if _, err := parseList([]byte(yaml), "list.yaml"); err == nil || !strings.Contains(err.Error(), "list.yaml") {
			t.Errorf("%s: err %v, want an error naming the file", name, err)
		}
	}
}

// An edit whose text is missing or ambiguous is refused, and the file is
// left as it was.
func TestApply_ExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.go")
	const src = "a := 1\nb := 1\nc := 2\n"
	for _, c := range []struct {
		from, want string
		ok         bool
	}{
		{"c := 2", "a := 1\nb := 1\nc := 3\n", true},
		{":= 1", src, false},   // twice
		{"d := 4", src, false}, // never
	} {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		m := Mutant{Name: "m", Edits: []Edit{{File: "f.go", From: c.from, To: strings.Replace(c.from, "2", "3", 1)}}}
		err := m.apply(dir)
		if (err == nil) != c.ok {
			t.Errorf("from %q: err %v, want ok=%v", c.from, err, c.ok)
		}
		if got, _ := os.ReadFile(path); string(got) != c.want {
			t.Errorf("from %q: file %q, want %q", c.from, got, c.want)
		}
	}
}

func TestParseSeeds(t *testing.T) {
	for in, want := range map[string]string{"1-3": "[1 2 3]", "2,5": "[2 5]", "1-2,7": "[1 2 7]", "4": "[4]"} {
		got, err := parseSeeds(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("%q: %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "3-1", "a", "1-", "-2"} {
		if _, err := parseSeeds(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestOutcome_Judge(t *testing.T) {
	real := timings{stabilize: map[int]float64{5: 10, 10: 50}, repair: map[int]float64{10: 60, 20: 10, 30: 400}}
	at := func(stab, rep map[int]float64) timings { return timings{stabilize: stab, repair: rep} }
	for _, c := range []struct {
		name string
		o    outcome
		v    verdict
		how  string
	}{
		{"check failed", outcome{code: 3, classes: []string{"lost-write"}}, failedCheck, "check: lost-write"},
		{"a line failed", outcome{code: 1, stderr: "line 9: put: ERR\n"}, failedRun, "exit 1: line 9: put: ERR"},
		// The environment, not the code: no free port, a master that
		// could not start, a run past its time.
		{"no port", outcome{code: -1, stderr: "config: finding a free port in 10000-32767: address already in use"}, unjudged, "exit -1: config: finding a free port in 10000-32767: address already in use"},
		{"past its time", outcome{code: -1, stderr: "the scenario ran longer than 3m0s"}, unjudged, "exit -1: the scenario ran longer than 3m0s"},
		{"could not start", outcome{code: 2, stderr: "master: watchdog of server 0: not answering"}, unjudged, "exit 2: master: watchdog of server 0: not answering"},
		{"passed", outcome{times: at(map[int]float64{5: 20, 10: 120}, map[int]float64{10: 130})}, passed, ""},
		{"slow stabilize", outcome{times: at(map[int]float64{5: 300}, nil)}, slow, "slow stabilize: line 5 took 300 ms, the real build at most 10 ms"},
		{"slow repair", outcome{times: at(nil, map[int]float64{10: 450})}, slow, "slow repair: line 10 took 450 ms, the real build at most 60 ms"},
		{"slow by ratio, not by 100 ms", outcome{times: at(nil, map[int]float64{20: 90})}, passed, ""},
		// The real build's slowest time elsewhere does not hide a slow
		// one here, nor does a slow one here count against another line.
		{"slow against its own line only", outcome{times: at(nil, map[int]float64{30: 450})}, passed, ""},
		{"a line the real build never timed", outcome{times: at(map[int]float64{40: 900}, map[int]float64{40: 900})}, passed, ""},
	} {
		v, how := c.o.judge(real, 3)
		if v != c.v || how != c.how {
			t.Errorf("%s: %v %q, want %v %q", c.name, v, how, c.v, c.how)
		}
	}
}

// A slow line counts once it is slow again on a second run; a second run
// that fails counts as it would have on the first.
func TestConfirmed(t *testing.T) {
	real := timings{stabilize: map[int]float64{5: 10, 9: 10}, repair: map[int]float64{}}
	first := []slowLine{{"stabilize", 5, 300, 10}}
	slowAt := func(line int) outcome {
		return outcome{times: timings{stabilize: map[int]float64{line: 300}}}
	}
	if how, ok := confirmed(first, slowAt(5), real, 3); !ok || !strings.Contains(how, "second run") {
		t.Errorf("slow on the same line again: %q %v", how, ok)
	}
	if _, ok := confirmed(first, slowAt(9), real, 3); ok {
		t.Error("slow on another line confirmed the first")
	}
	if _, ok := confirmed(first, outcome{}, real, 3); ok {
		t.Error("a second run on time confirmed the first")
	}
	if how, ok := confirmed(first, outcome{code: 3, classes: []string{"lost-write"}}, real, 3); !ok || how != "check: lost-write (on a second run)" {
		t.Errorf("a failed second run: %q %v", how, ok)
	}
	// A line that failed twice convicts; once, then an unjudged run, not.
	if _, ok := confirmed(nil, outcome{code: 1, stderr: "line 9: put: ERR"}, real, 3); !ok {
		t.Error("a line failed on the second run too, not confirmed")
	}
	if _, ok := confirmed(nil, outcome{code: 2, stderr: "master: could not start"}, real, 3); ok {
		t.Error("a second run that could not start confirmed the first")
	}
}

// A mutant beyond the scenarios' reach counts only when its unit tests
// catch it; the table says which were, and why they are beyond.
func TestReport_BeyondScenarios(t *testing.T) {
	results := []Result{
		{Name: "seen", Area: "wal", Caught: true, Seed: 6, How: "check: lost-write"},
		{Name: "tested", Area: "wal", UnitTests: "caught", BeyondScenarios: "needs a kill inside a checkpoint"},
		{Name: "missed", Area: "acks", UnitTests: "NOT caught", BeyondScenarios: "needs a disk that went back"},
		{Name: "plain", Area: "acks", UnitTests: "caught"},
	}
	for _, c := range []struct {
		r    Result
		want bool
	}{{results[0], true}, {results[1], true}, {results[2], false}, {results[3], false}} {
		if c.r.Covered() != c.want {
			t.Errorf("%s: covered %v, want %v", c.r.Name, c.r.Covered(), c.want)
		}
	}
	var b strings.Builder
	report(&b, results, options{seeds: []int{6}})
	out := regexp.MustCompile(`  +`).ReplaceAllString(b.String(), "  ") // the table's columns, two spaces apart
	for _, want := range []string{
		"tested  wal  unit tests only  beyond the scenarios (below)  0.0  caught\n",
		"missed  acks  NOT caught  0.0  NOT caught\n",
		"plain  acks  NOT caught  0.0  caught\n",
		"caught 1 of 4 mutants",
		"1 more are beyond what a scenario can catch, and their unit tests caught them:\n  tested: needs a kill inside a checkpoint\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// The unit tests' verdict compares the mutated copy with the real tree
// like for like: a test that fails in the copy for what copyModule leaves
// out (bin, data, dot directories), not for the mutation, does not make
// an unchanged copy "caught" (and so a beyond_scenarios mutant covered).
func TestUnitTests_UnchangedCopyIsNotCaught(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":       "module fixture\n\ngo 1.22\n",
		"p/p.go":       "package p\n\nfunc One() int { return 1 }\n",
		"p/p_test.go":  "package p\n\nimport (\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestOne(t *testing.T) {\n\tif _, err := os.Stat(\"../data/fixture\"); err != nil {\n\t\tt.Fatal(err)\n\t}\n\tif One() != 1 {\n\t\tt.Fatal(\"One\")\n\t}\n}\n",
		"data/fixture": "x\n",
	}
	for name, text := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := copyModule(root, src); err != nil {
		t.Fatal(err)
	}
	// No edit: the copy is the real code.
	got := unitTests(t.Context(), root, src, []string{"./p"}, map[string]bool{})
	if got == "caught" {
		t.Fatalf("unit tests of an unchanged copy: %q; want NOT caught (the copy's tests fail for a file copyModule left out, not for any mutation)", got)
	}
	r := Result{Name: "m", UnitTests: got, BeyondScenarios: "why"}
	if r.Covered() {
		t.Fatal("a beyond_scenarios mutant that changed nothing counts as covered")
	}
}
