package linz

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// Kind is the kind of a client operation.
type Kind uint8

const (
	// Put stores Value at Key.
	Put Kind = iota
	// Get reads Key: Value, or Absent.
	Get
	// Delete makes Key absent.
	Delete
	// Cas stores Value at Key if it holds Expect, and says whether it did
	// (Swapped).
	Cas
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Get:
		return "get"
	case Delete:
		return "delete"
	case Cas:
		return "cas"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// input is what porcupine sees as an operation's input.
type input struct {
	kind   Kind
	key    string
	value  string // put, cas: the value written
	expect string // cas
}

// output is what porcupine sees as an operation's output.
type output struct {
	value   string // get, unless absent
	absent  bool   // get
	swapped bool   // cas
	unknown bool   // a write that may or may not have taken effect
}

// register is the state of one key.
type register struct {
	value   string
	present bool
}

func (r register) String() string {
	if !r.present {
		return "absent"
	}
	return strconv.Quote(r.value)
}

// step is the sequential specification of one key.
func step(state, in, out any) (bool, any) {
	st, i, o := state.(register), in.(input), out.(output)
	switch i.kind {
	case Put:
		return true, register{value: i.value, present: true}
	case Delete:
		return true, register{}
	case Get:
		if o.unknown {
			return true, st
		}
		if o.absent {
			return !st.present, st
		}
		return st.present && st.value == o.value, st
	case Cas:
		match := st.present && st.value == i.expect
		next := st
		if match {
			next = register{value: i.value, present: true}
		}
		if o.unknown {
			return true, next
		}
		return match == o.swapped, next
	}
	return false, st
}

// partition splits a history by key, keys in byte order, so that a
// partition's index names its key (see keysOf).
func partition(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(input).key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// Model is the per-key register model, partitioned by key, with the
// descriptions the visualization shows.
var Model = porcupine.Model{
	Partition: partition,
	Init:      func() any { return register{} },
	Step:      step,
	Hash: func(state any) uint64 {
		r := state.(register)
		h := fnv.New64a()
		if r.present {
			h.Write([]byte{1})
			h.Write([]byte(r.value))
		}
		return h.Sum64()
	},
	DescribeOperation: func(in, out any) string { return describe(in.(input), out.(output)) },
	DescribeState:     func(state any) string { return state.(register).String() },
	DescribeOperationMetadata: func(m any) string {
		if m == nil {
			return ""
		}
		return fmt.Sprint(m)
	},
}

// describe is an operation as the verdict and the visualization show it:
// `put("k", "v")`, `get("k") -> absent`, `cas("k", "a", "b") -> true`.
func describe(i input, o output) string {
	q := quote
	var call, result string
	switch i.kind {
	case Put:
		call = fmt.Sprintf("put(%s, %s)", q(i.key), q(i.value))
	case Delete:
		call = fmt.Sprintf("delete(%s)", q(i.key))
	case Get:
		call = fmt.Sprintf("get(%s)", q(i.key))
		result = q(o.value)
		if o.absent {
			result = "absent"
		}
	case Cas:
		call = fmt.Sprintf("cas(%s, %s, %s)", q(i.key), q(i.expect), q(i.value))
		result = strconv.FormatBool(o.swapped)
	}
	switch {
	case o.unknown:
		return call + " -> unknown"
	case result == "":
		return call
	}
	return call + " -> " + result
}

// quote quotes a key or value for a description, clipped so that a large
// value does not flood it.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
