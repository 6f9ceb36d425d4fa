package check

import (
	"fmt"
	"strings"
)

// Class is a kind of violation.
type Class int

const (
	// Diverged: live servers of one connected group hold different stores
	// after a stabilize.
	Diverged Class = iota
	// NotConverged: a stabilize failed, or a store could not be read after
	// it.
	NotConverged
	// Lost: a server lacks a write (a value or a tombstone) it, or a member
	// of its group, is known to hold: its store after a stabilize holds an
	// older write of the key or none, or it answered a get with an older
	// write or with ERR_KEY for a key it holds.
	Lost
	// Extra: a server holds or served a write that could not have reached
	// it.
	Extra
	// Phantom: a value that no put wrote, a tombstone that no delete
	// wrote, or a version carrying another write's key, value or kind.
	Phantom
	// ReadYourWrites: a client read something older than its own write
	// (put or delete).
	ReadYourWrites
	// MonotonicReads: a client read something older than an earlier read
	// (of a value or of a deletion).
	MonotonicReads
	// Causality: a put or delete was ordered below what its client had
	// already seen, or a version was issued twice.
	Causality
	// SpuriousDep: ERR_DEP from a server known to hold what the client
	// depends on.
	SpuriousDep

	numClasses
)

var classNames = [numClasses]string{
	Diverged:       "diverged",
	NotConverged:   "not-converged",
	Lost:           "lost-write",
	Extra:          "extra-write",
	Phantom:        "phantom",
	ReadYourWrites: "read-your-writes",
	MonotonicReads: "monotonic-reads",
	Causality:      "causality",
	SpuriousDep:    "spurious-err-dep",
}

func (c Class) String() string {
	if c < 0 || c >= numClasses {
		return fmt.Sprintf("Class(%d)", int(c))
	}
	return classNames[c]
}

// Violation is one thing the system did that the model forbids.
type Violation struct {
	Class Class
	// Line is the script line of the event that showed it.
	Line int
	Msg  string
}

func (v Violation) String() string { return fmt.Sprintf("line %d: %v: %s", v.Line, v.Class, v.Msg) }

// Counts are the figures of a checked run.
type Counts struct {
	// Puts acknowledged, and puts that failed (their effect unknown).
	Puts, PutsFailed int
	// Deletes acknowledged, and deletes that failed (their effect unknown).
	Deletes, DeletesFailed int
	// Gets answered by a server (a value, ERR_KEY or ERR_DEP).
	Gets int
	// ErrConn counts puts, deletes and gets that got ERR_CONN.
	ErrConn int
	// Stabilizes seen, and groups of servers judged at them.
	Stabilizes, Groups int
	// ErrDep answers, split by the judgement.
	ErrDep, ErrDepNecessary, ErrDepSpurious, ErrDepUndetermined int
	// StaleReads: reads older than the newest write acknowledged so far.
	StaleReads int
}

// maxKept bounds the violations of one class kept with their message: a
// badly broken run can produce one per operation, and the count says the
// rest.
const maxKept = 200

// Verdict is the outcome of Check.
type Verdict struct {
	// Violations in history order, at most maxKept of each class.
	Violations []Violation
	// ByClass counts every violation, kept or not.
	ByClass [numClasses]int
	Counts  Counts
}

// OK reports whether the run did nothing the model forbids.
func (v *Verdict) OK() bool { return v.Total() == 0 }

// Total is the number of violations.
func (v *Verdict) Total() int {
	n := 0
	for _, c := range v.ByClass {
		n += c
	}
	return n
}

// Classes lists the classes that occurred, in Class order.
func (v *Verdict) Classes() []Class {
	var out []Class
	for c, n := range v.ByClass {
		if n > 0 {
			out = append(out, Class(c))
		}
	}
	return out
}

func (v *Verdict) add(class Class, line int, format string, args ...any) {
	v.ByClass[class]++
	if v.ByClass[class] <= maxKept {
		v.Violations = append(v.Violations, Violation{Class: class, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// Summary is the one-line verdict: "check: ok: ..." or "check: FAIL: ...".
func (v *Verdict) Summary() string {
	c := v.Counts
	figures := fmt.Sprintf("%d puts (%d failed), %d deletes (%d failed), %d gets (%d stale), %d ERR_CONN, "+
		"%d stabilizes (%d groups judged), %d ERR_DEP (%d necessary, %d spurious, %d undetermined)",
		c.Puts, c.PutsFailed, c.Deletes, c.DeletesFailed, c.Gets, c.StaleReads, c.ErrConn, c.Stabilizes, c.Groups,
		c.ErrDep, c.ErrDepNecessary, c.ErrDepSpurious, c.ErrDepUndetermined)
	if v.OK() {
		return "check: ok: " + figures
	}
	parts := make([]string, 0, numClasses)
	for _, cl := range v.Classes() {
		parts = append(parts, fmt.Sprintf("%d %v", v.ByClass[cl], cl))
	}
	return fmt.Sprintf("check: FAIL: %d violations (%s); %s", v.Total(), strings.Join(parts, ", "), figures)
}
