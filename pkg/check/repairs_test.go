package check

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// done sets the last event's call and return times, in milliseconds.
func (b *hb) done(callMs, retMs int) *hb {
	e := &b.h[len(b.h)-1]
	e.Call, e.Return = time.Duration(callMs)*time.Millisecond, time.Duration(retMs)*time.Millisecond
	return b
}

func expectRepairs(t *testing.T, h History, want []Repair) {
	t.Helper()
	if got := Repairs(h); !slices.Equal(got, want) {
		t.Errorf("Repairs = %+v, want %+v", got, want)
	}
}

// The servers' first starts are no repair, and neither is a stabilize
// with nothing reconnected since the last one; after an isolation, the
// repair runs from the first heal that joins the isolated server again to
// the stabilize's return.
func TestRepairs_FromTheHealToTheStabilize(t *testing.T) {
	b := (&hb{}).start(0).done(0, 5).start(1).done(5, 10).start(2).done(10, 15).
		stabilize(nil).done(15, 40). // line 4: first starts only
		cut(0, 1).done(40, 41).cut(0, 2).done(41, 42).
		put(5, 1, "a", "1", ver(10, 1)).done(42, 43).
		stabilize(nil).done(43, 60). // line 8: nothing reconnected
		heal(0, 2).done(100, 101).heal(0, 1).done(101, 102).
		stabilize(nil).done(102, 351) // line 11: from line 9, 250ms
	expectRepairs(t, b.h, []Repair{{Line: 11, From: 9, Took: 250 * time.Millisecond}})
}

// A heal inside a group that is connected anyway (a ring cut once) joins
// nothing: the stabilize after it had no repair to wait for. The same
// heal after 0 was isolated is one.
func TestRepairs_HealInsideAGroupIsNone(t *testing.T) {
	ring := (&hb{}).start(0, 1, 2).stabilize(nil).done(0, 10).
		cut(0, 1).done(10, 11).
		put(5, 0, "a", "1", ver(10, 0)).done(11, 12).
		heal(0, 1).done(12, 13).
		stabilize(nil).done(13, 20)
	expectRepairs(t, ring.h, nil)
	isolated := (&hb{}).start(0, 1, 2).stabilize(nil).done(0, 10).
		cut(0, 1).done(10, 11).cut(0, 2).done(11, 12).
		put(5, 0, "a", "1", ver(10, 0)).done(12, 13).
		heal(0, 1).done(13, 14).
		stabilize(nil).done(14, 21)
	expectRepairs(t, isolated.h, []Repair{{Line: 9, From: 8, Took: 7 * time.Millisecond}})
}

// A restart and a resume each bring a server back into its group; a
// stabilize that did not converge is left out, and the next one starts
// over from what reconnected after it.
func TestRepairs_RestartResumeAndNotConverged(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).stabilize(nil).done(0, 1).
		kill(2).done(1, 2).
		stabilize(nil).done(2, 3). // line 6: nothing joined, a server left
		restart(2).done(3, 50).
		stabilize(nil).done(50, 90). // line 8: from line 7, 40ms
		pause(1).done(90, 91).
		resume(1).done(200, 201).
		add(Event{Op: Stabilize, Converged: false, Err: "timeout"}).done(201, 5201). // line 11: left out
		stabilize(nil).done(5300, 5301)                                              // line 12: nothing since line 11
	expectRepairs(t, b.h, []Repair{{Line: 8, From: 7, Took: 40 * time.Millisecond}})
	// Without the failed stabilize, the resume's repair is counted.
	b.h[10].Converged = true
	if got := Repairs(b.h); len(got) != 2 || got[1] != (Repair{Line: 11, From: 10, Took: 5000 * time.Millisecond}) {
		t.Errorf("with line 11 converged, Repairs = %+v", got)
	}
}

// Client operations between the event and the stabilize are counted: the
// repair's time includes theirs. Those before the event are not.
func TestRepairs_CountTheOperationsBetween(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).stabilize(nil).done(0, 1).
		pause(1).done(1, 2).
		put(5, 0, "a", "1", ver(10, 0)).done(2, 3). // before the resume
		resume(1).done(3, 4).
		put(5, 0, "a", "2", ver(20, 0)).done(4, 2004).
		put(6, 2, "b", "1", ver(30, 2)).done(2004, 4004).
		stabilize(nil).done(4004, 4010)
	expectRepairs(t, b.h, []Repair{{Line: 10, From: 7, Took: 4006 * time.Millisecond, Ops: 2}})
	s := SummarizeRepairs(Repairs(b.h))
	if want := "(line 10, from line 7, 2 client operations between)"; !strings.Contains(s.String(), want) {
		t.Errorf("String() = %q, want it to contain %q", s.String(), want)
	}
}

// The summary: count, median (of an even count: the mean of the middle
// two) and the slowest, with its lines; a repair ten times slower than the
// others shows in the max.
func TestSummarizeRepairs(t *testing.T) {
	rs := []Repair{{Line: 5, From: 3, Took: 30 * time.Millisecond}, {Line: 9, From: 8, Took: 10 * time.Millisecond},
		{Line: 14, From: 12, Took: 20 * time.Millisecond}}
	s := SummarizeRepairs(rs)
	if !reflect.DeepEqual(s, RepairStats{Count: 3, Median: 20 * time.Millisecond, Max: 30 * time.Millisecond, MaxLine: 5, MaxFrom: 3, Each: rs}) {
		t.Errorf("SummarizeRepairs = %+v", s)
	}
	rs = append(rs, Repair{Line: 20, From: 19, Took: 300 * time.Millisecond})
	s = SummarizeRepairs(rs)
	if s.Count != 4 || s.Median != 25*time.Millisecond || s.Max != 300*time.Millisecond || s.MaxLine != 20 || s.MaxFrom != 19 {
		t.Errorf("with a slow repair, SummarizeRepairs = %+v", s)
	}
	if got, want := s.String(), "check: repairs: 4 (stabilizes after a heal, restart or resume), median 25.0ms, max 300.0ms (line 20, from line 19)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := SummarizeRepairs(nil).String(); !strings.Contains(got, "none") {
		t.Errorf("no repairs: %q", got)
	}
}
