package linz

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"gossipkv/pkg/check"
)

// Op is one client operation.
type Op struct {
	Kind Kind
	Key  string
	// Value: for a put or cas, the value written; for a get, the value
	// read, unless Absent.
	Value string
	// Expect: for a cas, the value the key must hold for the swap.
	Expect string
	// Absent: a get found the key missing or deleted.
	Absent bool
	// Swapped: a cas made its swap.
	Swapped bool
	// Unknown: a write that was not acknowledged, which may or may not
	// have taken effect (its Return does not bound it).
	Unknown bool

	// Client, Server and Line say who did it where, for messages.
	Client, Server uint32
	Line           int
	// Call and Return bracket the operation in real time.
	Call, Return time.Duration
}

func (o Op) String() string {
	return fmt.Sprintf("line %d: client %d at server %d: %s", o.Line, o.Client, o.Server, describe(o.input(), o.output()))
}

func (o Op) input() input {
	return input{kind: o.Kind, key: o.Key, value: o.Value, expect: o.Expect}
}

func (o Op) output() output {
	return output{value: o.Value, absent: o.Absent, swapped: o.Swapped, unknown: o.Unknown}
}

// FromHistory is the client operations of h that say something about the
// registers: every put and delete (Unknown unless acknowledged), and every
// get answered with a value or ERR_KEY (absent). Gets that read nothing
// (ERR_DEP, ERR_CONN, ERR_FAILED) are left out.
func FromHistory(h check.History) []Op {
	var ops []Op
	for _, e := range h {
		op := Op{Key: string(e.Key), Client: e.Client, Server: e.Server, Line: e.Line, Call: e.Call, Return: e.Return}
		switch e.Op {
		case check.Put:
			op.Kind, op.Value, op.Unknown = Put, string(e.Value), e.OutcomeUnknown()
		case check.Delete:
			op.Kind, op.Unknown = Delete, e.OutcomeUnknown()
		case check.CAS:
			op.Kind, op.Value, op.Expect = Cas, string(e.Value), string(e.Old)
			op.Swapped, op.Unknown = e.Status == check.OK, e.OutcomeUnknown()
		case check.Get:
			switch e.Status {
			case check.OK:
				op.Kind, op.Value = Get, string(e.Value)
			case check.NoKey:
				op.Kind, op.Absent = Get, true
			default:
				continue
			}
		default:
			continue
		}
		ops = append(ops, op)
	}
	return ops
}

// Options tune Check.
type Options struct {
	// Timeout bounds the search; zero means none.
	Timeout time.Duration
}

// Result is the outcome of a check.
type Result int

const (
	// Linearizable: an order exists that explains every answer.
	Linearizable Result = iota
	// NotLinearizable: for some key, no order does (Verdict.Failures).
	NotLinearizable
	// Undetermined: the search ran out of time.
	Undetermined
)

func (r Result) String() string {
	switch r {
	case Linearizable:
		return "linearizable"
	case NotLinearizable:
		return "not linearizable"
	case Undetermined:
		return "undetermined"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Failure is one key whose operations cannot be ordered.
type Failure struct {
	Key string
	// Ops is how many operations the key had.
	Ops int
	// Ordered is the longest order of the key's operations that respects
	// real time and the register; Stuck is the first operation (by call
	// time) left out of it: nothing the register allows places it next.
	Ordered []Op
	Stuck   Op
}

func (f Failure) String() string {
	const shown = 3
	var b strings.Builder
	fmt.Fprintf(&b, "key %s: no order of its %d operations explains every answer: ", quote(f.Key), f.Ops)
	if len(f.Ordered) == 0 {
		fmt.Fprintf(&b, "%v cannot come first", f.Stuck)
		return b.String()
	}
	b.WriteString("after ")
	if len(f.Ordered) > shown {
		fmt.Fprintf(&b, "%d others, ", len(f.Ordered)-shown)
	}
	tail := f.Ordered[max(0, len(f.Ordered)-shown):]
	for i, o := range tail {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.String())
	}
	fmt.Fprintf(&b, "; %v cannot come next", f.Stuck)
	return b.String()
}

// Verdict is the outcome of Check.
type Verdict struct {
	Result Result
	// Ops and Keys count the operations judged and their keys.
	Ops, Keys int
	// Failures has one entry per key that is not linearizable, in the
	// order their stuck operations were called.
	Failures []Failure
	// Timeout is the bound the search ran out of (Undetermined).
	Timeout time.Duration

	info porcupine.LinearizationInfo
}

// OK reports whether the history was found linearizable.
func (v *Verdict) OK() bool { return v.Result == Linearizable }

// Summary is the verdict in one line: "linearizable: N operations on K
// keys", "NOT linearizable: ..." naming the first key and operation that
// broke it, or "undetermined: ...".
func (v *Verdict) Summary() string {
	figures := fmt.Sprintf("%d operations on %d keys", v.Ops, v.Keys)
	switch v.Result {
	case Linearizable:
		return "linearizable: " + figures
	case NotLinearizable:
		if len(v.Failures) == 0 {
			return "NOT linearizable: " + figures
		}
		return fmt.Sprintf("NOT linearizable (%d of %d keys): %v", len(v.Failures), v.Keys, v.Failures[0])
	}
	return fmt.Sprintf("undetermined: the search gave up after %v (%s)", v.Timeout, figures)
}

// WriteHTML writes porcupine's visualization of the checked history: per
// key, its operations in time and the longest order found, with the
// annotations added by CheckHistory.
func (v *Verdict) WriteHTML(w io.Writer) error { return porcupine.Visualize(Model, v.info, w) }

// CheckHistory judges the client operations of h (FromHistory), and marks
// the cluster's events (starts, kills, cuts, heals, stabilizes, skews,
// pauses and resumes) on the
// visualization's timeline.
func CheckHistory(h check.History, opts Options) Verdict {
	v := Check(FromHistory(h), opts)
	var notes []porcupine.Annotation
	for _, e := range h {
		var what string
		switch e.Op {
		case check.Start:
			what = fmt.Sprintf("start %d", e.Server)
		case check.Kill:
			what = fmt.Sprintf("kill %d", e.Server)
		case check.Cut, check.Heal:
			what = fmt.Sprintf("%v %d-%d", e.Op, e.Server, e.Peer)
		case check.Stabilize:
			what = "stabilize"
		case check.Skew:
			what = fmt.Sprintf("skew %d %v", e.Server, e.Skew)
		case check.Pause, check.Resume:
			what = fmt.Sprintf("%v %d", e.Op, e.Server)
		default:
			continue
		}
		notes = append(notes, porcupine.Annotation{Tag: "cluster", Start: int64(e.Call), End: int64(e.Return),
			Description: what, Details: e.String()})
	}
	v.info.AddAnnotations(notes)
	return v
}

// Check judges ops against the register model.
func Check(ops []Op, opts Options) Verdict {
	pops := porcupineOps(ops)
	res, info := porcupine.CheckOperationsVerbose(Model, pops, opts.Timeout)
	parts := partition(pops)
	v := Verdict{Ops: len(ops), Keys: len(parts), info: info, Timeout: opts.Timeout}
	switch res {
	case porcupine.Ok:
		v.Result = Linearizable
		return v
	case porcupine.Unknown:
		v.Result = Undetermined
		return v
	}
	v.Result = NotLinearizable
	partials := info.PartialLinearizations()
	for p, part := range parts {
		f, ok := failure(part, partials[p])
		if !ok {
			continue
		}
		// A search cut short by the timeout leaves short partial orders
		// behind in keys it did not finish: report a key only once it is
		// known to fail on its own.
		alone := Model
		alone.Partition = nil
		if porcupine.CheckOperationsTimeout(alone, part, opts.Timeout) != porcupine.Illegal {
			continue
		}
		v.Failures = append(v.Failures, f)
	}
	slices.SortStableFunc(v.Failures, func(a, b Failure) int {
		if a.Stuck.Call != b.Stuck.Call {
			return compare(a.Stuck.Call, b.Stuck.Call)
		}
		return a.Stuck.Line - b.Stuck.Line
	})
	return v
}

func compare(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// failure reads a key's failure from its partial orders (indices into
// part): the longest one, and the first operation it leaves out.
func failure(part []porcupine.Operation, partials [][]int) (Failure, bool) {
	var longest []int
	for _, p := range partials {
		if len(p) > len(longest) || len(p) == len(longest) && slices.Compare(p, longest) < 0 {
			longest = p
		}
	}
	if len(longest) == len(part) {
		return Failure{}, false
	}
	in := make([]bool, len(part))
	f := Failure{Ops: len(part), Key: part[0].Input.(input).key}
	for _, i := range longest {
		in[i] = true
		f.Ordered = append(f.Ordered, part[i].Metadata.(meta).op)
	}
	stuck := -1
	for i, op := range part {
		if !in[i] && (stuck < 0 || op.Call < part[stuck].Call) {
			stuck = i
		}
	}
	f.Stuck = part[stuck].Metadata.(meta).op
	return f, true
}

// meta rides along with each porcupine operation: the visualization shows
// its String, and a failure gives back the Op.
type meta struct {
	op Op
}

func (m meta) String() string {
	return fmt.Sprintf("line %d, client %d, server %d", m.op.Line, m.op.Client, m.op.Server)
}

// porcupineOps turns ops into porcupine's operations. An unknown write
// returns at infinity with an unknown output. Each client is a row of the
// visualization, numbered from 0; after an unknown write, which never
// returns, the client's later operations move to a new row, so that rows
// never hold overlapping operations.
func porcupineOps(ops []Op) []porcupine.Operation {
	rows := map[uint32]int{}
	next := 0
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		row, ok := rows[op.Client]
		if !ok {
			row = next
			next++
			rows[op.Client] = row
		}
		ret := int64(op.Return)
		if op.Unknown {
			ret = math.MaxInt64
			rows[op.Client] = next
			next++
		}
		out[i] = porcupine.Operation{ClientId: row, Input: op.input(), Call: int64(op.Call), Output: op.output(),
			Return: ret, Metadata: meta{op}}
	}
	return out
}
