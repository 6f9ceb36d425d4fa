package runstats

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"gossipkv/pkg/api"
)

// Every key of the record, nested ones included, is snake_case, whatever
// part of the record it belongs to (the servers' counters, the verdict).
func TestWrite_KeysAreSnakeCase(t *testing.T) {
	s := Stats{
		Stabilize: []Stabilize{{Line: 3, Seconds: 0.01, Polls: 2}},
		Servers:   map[string]Server{"0": {Pid: 1, PeakRSSKB: 2, Stats: api.StatsReply{ID: 0, DeltaEntries: 1, SendFailures: 1}}},
		Check:     &Check{OK: false, Violations: 2, Classes: []ClassCount{{Class: "lost-write", Violations: 2}}, Counts: CheckCounts{ErrDepNecessary: 1}},
	}
	path := filepath.Join(t.TempDir(), "stats.json")
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Check == nil || got.Check.Violations != 2 || got.Check.Classes[0].Class != "lost-write" || got.Check.Counts.ErrDepNecessary != 1 {
		t.Errorf("the verdict did not survive a write and a read: %+v", got.Check)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	keys := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				keys++
				if !snake.MatchString(k) {
					t.Errorf("key %q at %s is not snake_case", k, path)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
	if keys < 50 {
		t.Errorf("walked only %d keys: the record is not what this test thinks", keys)
	}
}

// Without -check the record has no verdict at all, rather than one that
// says the run was not ok.
func TestWrite_NoCheckNoVerdict(t *testing.T) {
	b, err := json.Marshal(Stats{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["check"]; ok {
		t.Errorf("a record without a check has %q: %s", "check", m["check"])
	}
}

func TestLatencyOf_NearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := LatencyOf(ds)
	if got != (Latency{P50: 50, P99: 99, Max: 100}) {
		t.Errorf("LatencyOf of 1..100 ms = %+v", got)
	}
	if got := LatencyOf([]time.Duration{1500 * time.Microsecond}); got != (Latency{P50: 1.5, P99: 1.5, Max: 1.5}) {
		t.Errorf("one sample: %+v", got)
	}
	if got := LatencyOf(nil); got != (Latency{}) {
		t.Errorf("no samples: %+v", got)
	}
}
