package master

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/check"
	"gossipkv/pkg/runstats"
)

// TestFinish_Repairs: the time from a heal to the stabilize after it is
// in the -stats file (check.repairs) and on one stderr line, and -q
// leaves the line out.
func TestFinish_Repairs(t *testing.T) {
	ms := time.Millisecond
	h := check.History{
		{Op: check.Start, Line: 1, Server: 0, Fresh: true, Call: 0, Return: ms},
		{Op: check.Start, Line: 2, Server: 1, Fresh: true, Call: ms, Return: 2 * ms},
		{Op: check.Stabilize, Line: 3, Converged: true, Stores: map[uint32][]check.Item{0: nil, 1: nil}, Call: 2 * ms, Return: 12 * ms}, // first starts: no repair
		{Op: check.Cut, Line: 4, Server: 0, Peer: 1, Call: 12 * ms, Return: 13 * ms},
		{Op: check.Heal, Line: 5, Server: 0, Peer: 1, Call: 20 * ms, Return: 21 * ms},
		{Op: check.Stabilize, Line: 6, Converged: true, Stores: map[uint32][]check.Item{0: nil, 1: nil}, Call: 21 * ms, Return: 321 * ms}, // 300ms from line 5
	}
	for _, quiet := range []bool{false, true} {
		var stderr bytes.Buffer
		stats := filepath.Join(t.TempDir(), "stats.json")
		m := newMaster(Options{Config: testConfig(t, 2, 1), Check: true, Quiet: quiet, StatsFile: stats,
			Stdout: &bytes.Buffer{}, Stderr: &stderr})
		m.hist.events = h
		if code := m.finish(context.Background(), ExitOK, time.Second); code != ExitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
		}
		st, err := runstats.Read(stats)
		if err != nil {
			t.Fatal(err)
		}
		want := runstats.Repairs{Count: 1, MedianMs: 300, MaxMs: 300, MaxLine: 6, MaxFrom: 5,
			Each: []runstats.RepairTime{{Line: 6, From: 5, Ms: 300}}}
		if st.Check == nil || st.Check.Repairs == nil || !reflect.DeepEqual(*st.Check.Repairs, want) {
			t.Errorf("quiet=%v: stats check %+v, want repairs %+v", quiet, st.Check, want)
		}
		line := "check: repairs: 1 (stabilizes after a heal, restart or resume), median 300.0ms, max 300.0ms (line 6, from line 5)"
		if got := strings.Contains(stderr.String(), line+"\n"); got == quiet {
			t.Errorf("quiet=%v: repairs line shown %v; stderr:\n%s", quiet, got, stderr.String())
		}
	}
}

// The client operations a repair spans reach the -stats file with it.
func TestRepairStats_CarriesTheOperationsBetween(t *testing.T) {
	r := check.SummarizeRepairs([]check.Repair{{Line: 9, From: 4, Took: 2 * time.Second, Ops: 3}})
	got := repairStats(r)
	want := runstats.Repairs{Count: 1, MedianMs: 2000, MaxMs: 2000, MaxLine: 9, MaxFrom: 4,
		Each: []runstats.RepairTime{{Line: 9, From: 4, Ms: 2000, Ops: 3}}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("repairStats = %+v, want %+v", *got, want)
	}
}
