package linz

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/check"
)

func TestStep_Register(t *testing.T) {
	absent, a := register{}, register{value: "a", present: true}
	b := register{value: "b", present: true}
	cases := []struct {
		name   string
		state  register
		in     input
		out    output
		ok     bool
		result register
	}{
		{"put", absent, input{kind: Put, value: "a"}, output{}, true, a},
		{"put over a value", b, input{kind: Put, value: "a"}, output{}, true, a},
		{"put unknown", absent, input{kind: Put, value: "a"}, output{unknown: true}, true, a},
		{"delete", a, input{kind: Delete}, output{}, true, absent},
		{"delete unknown", a, input{kind: Delete}, output{unknown: true}, true, absent},
		{"get the value", a, input{kind: Get}, output{value: "a"}, true, a},
		{"get another value", a, input{kind: Get}, output{value: "b"}, false, a},
		{"get absent of a value", a, input{kind: Get}, output{absent: true}, false, a},
		{"get absent", absent, input{kind: Get}, output{absent: true}, true, absent},
		{"get a value of absent", absent, input{kind: Get}, output{value: ""}, false, absent},
		{"cas that matches", a, input{kind: Cas, expect: "a", value: "b"}, output{swapped: true}, true, b},
		{"cas that matches, said it did not", a, input{kind: Cas, expect: "a", value: "b"}, output{swapped: false}, false, b},
		{"cas that does not match", b, input{kind: Cas, expect: "a", value: "b"}, output{swapped: false}, true, b},
		{"cas that does not match, said it did", b, input{kind: Cas, expect: "a", value: "x"}, output{swapped: true}, false, b},
		{"cas on absent", absent, input{kind: Cas, expect: "", value: "b"}, output{swapped: false}, true, absent},
		{"cas unknown, matching", a, input{kind: Cas, expect: "a", value: "b"}, output{unknown: true}, true, b},
		{"cas unknown, not matching", b, input{kind: Cas, expect: "a", value: "x"}, output{unknown: true}, true, b},
	}
	for _, c := range cases {
		ok, next := step(c.state, c.in, c.out)
		if ok != c.ok || (ok && next.(register) != c.result) {
			t.Errorf("%s: step(%v, %+v, %+v) = %v, %v; want %v, %v", c.name, c.state, c.in, c.out, ok, next, c.ok, c.result)
		}
	}
}

// at is an operation from ms a to ms b.
func at(op Op, client uint32, line, a, b int) Op {
	op.Client, op.Line = client, line
	op.Call, op.Return = time.Duration(a)*time.Millisecond, time.Duration(b)*time.Millisecond
	return op
}

func put(k, v string) Op { return Op{Kind: Put, Key: k, Value: v} }
func get(k, v string) Op { return Op{Kind: Get, Key: k, Value: v} }
func getAbsent(k string) Op {
	return Op{Kind: Get, Key: k, Absent: true}
}
func del(k string) Op { return Op{Kind: Delete, Key: k} }
func unknown(op Op) Op {
	op.Unknown = true
	return op
}

func TestCheck_Linearizable(t *testing.T) {
	cases := map[string][]Op{
		"empty": nil,
		"sequential": {
			at(getAbsent("k"), 5, 1, 0, 1),
			at(put("k", "a"), 5, 2, 2, 3),
			at(get("k", "a"), 6, 3, 4, 5),
			at(del("k"), 6, 4, 6, 7),
			at(getAbsent("k"), 5, 5, 8, 9),
		},
		// A read concurrent with a put may see either side of it.
		"concurrent": {
			at(put("k", "a"), 5, 1, 0, 1),
			at(put("k", "b"), 5, 2, 2, 10),
			at(get("k", "a"), 6, 3, 3, 4),
			at(get("k", "b"), 7, 4, 5, 6),
		},
		// An unacknowledged put may take effect late, or never.
		"unknown put seen later": {
			at(put("k", "a"), 5, 1, 0, 1),
			at(unknown(put("k", "b")), 5, 2, 2, 3),
			at(get("k", "a"), 6, 3, 4, 5),
			at(get("k", "b"), 6, 4, 6, 7),
		},
		"unknown put never seen": {
			at(put("k", "a"), 5, 1, 0, 1),
			at(unknown(put("k", "b")), 5, 2, 2, 3),
			at(get("k", "a"), 6, 3, 4, 5),
		},
		"unknown delete": {
			at(put("k", "a"), 5, 1, 0, 1),
			at(unknown(del("k")), 5, 2, 2, 3),
			at(getAbsent("k"), 6, 3, 4, 5),
		},
		"cas": {
			at(put("k", "a"), 5, 1, 0, 1),
			at(Op{Kind: Cas, Key: "k", Expect: "a", Value: "b", Swapped: true}, 5, 2, 2, 3),
			at(Op{Kind: Cas, Key: "k", Expect: "a", Value: "c"}, 6, 3, 4, 5),
			at(get("k", "b"), 6, 4, 6, 7),
		},
		"keys apart": {
			at(put("x", "1"), 5, 1, 0, 1),
			at(getAbsent("y"), 5, 2, 2, 3),
			at(get("x", "1"), 6, 3, 4, 5),
		},
	}
	for name, ops := range cases {
		v := Check(ops, Options{})
		if !v.OK() || len(v.Failures) != 0 || v.Ops != len(ops) {
			t.Errorf("%s: %s, failures %v", name, v.Summary(), v.Failures)
		}
		if !strings.HasPrefix(v.Summary(), "linearizable: ") {
			t.Errorf("%s: summary %q", name, v.Summary())
		}
	}
}

func TestCheck_NotLinearizable(t *testing.T) {
	cases := []struct {
		name      string
		ops       []Op
		key       string
		stuckLine int
		ordered   []int // lines of the longest order
	}{
		{"stale read after an acknowledged put", []Op{
			at(put("k", "a"), 5, 7, 0, 1),
			at(getAbsent("k"), 6, 9, 2, 3),
		}, "k", 9, []int{7}},
		{"older value after a newer one", []Op{
			at(put("k", "a"), 5, 1, 0, 1),
			at(put("k", "b"), 5, 2, 2, 3),
			at(get("k", "a"), 6, 3, 4, 5),
		}, "k", 3, []int{1, 2}},
		{"value back after a delete", []Op{
			at(put("k", "a"), 5, 1, 0, 1),
			at(del("k"), 5, 2, 2, 3),
			at(get("k", "a"), 6, 3, 4, 5),
		}, "k", 3, []int{1, 2}},
		// Once an unknown put shows, it cannot be undone by time.
		{"unknown put seen, then unseen", []Op{
			at(put("k", "a"), 5, 1, 0, 1),
			at(unknown(put("k", "b")), 5, 2, 2, 3),
			at(get("k", "b"), 6, 3, 4, 5),
			at(get("k", "a"), 6, 4, 6, 7),
		}, "k", 4, []int{1, 2, 3}},
		{"cas that swapped on a value it did not hold", []Op{
			at(put("k", "a"), 5, 1, 0, 1),
			at(put("k", "b"), 5, 2, 2, 3),
			at(Op{Kind: Cas, Key: "k", Expect: "a", Value: "c", Swapped: true}, 6, 3, 4, 5),
		}, "k", 3, []int{1, 2}},
		{"only one key of two", []Op{
			at(put("x", "1"), 5, 1, 0, 1),
			at(put("y", "1"), 5, 2, 2, 3),
			at(get("x", "1"), 6, 3, 4, 5),
			at(getAbsent("y"), 6, 4, 6, 7),
		}, "y", 4, []int{2}},
	}
	for _, c := range cases {
		v := Check(c.ops, Options{})
		if v.Result != NotLinearizable || len(v.Failures) != 1 {
			t.Errorf("%s: %s, failures %v", c.name, v.Summary(), v.Failures)
			continue
		}
		f := v.Failures[0]
		var lines []int
		for _, o := range f.Ordered {
			lines = append(lines, o.Line)
		}
		if f.Key != c.key || f.Stuck.Line != c.stuckLine || !equal(lines, c.ordered) {
			t.Errorf("%s: failure key %q stuck at line %d after lines %v; want %q, %d, %v",
				c.name, f.Key, f.Stuck.Line, lines, c.key, c.stuckLine, c.ordered)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCheck_StaleRead_Summary: the verdict line names the key and both
// operations, the one that cannot be ordered and what precedes it.
func TestCheck_StaleRead_Summary(t *testing.T) {
	v := Check([]Op{
		at(Op{Kind: Put, Key: "k", Value: "v", Server: 0}, 5, 6, 0, 1),
		at(Op{Kind: Get, Key: "k", Absent: true, Server: 1}, 6, 7, 2, 3),
		at(put("other", "x"), 5, 8, 4, 5),
	}, Options{})
	want := `NOT linearizable (1 of 2 keys): key "k": no order of its 2 operations explains every answer: ` +
		`after line 6: client 5 at server 0: put("k", "v"); line 7: client 6 at server 1: get("k") -> absent cannot come next`
	if got := v.Summary(); got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
}

// TestCheck_FirstFailureFirst: of two keys that fail, the one whose stuck
// operation was called first comes first.
func TestCheck_FirstFailureFirst(t *testing.T) {
	v := Check([]Op{
		at(put("a", "1"), 5, 1, 0, 1),
		at(put("b", "1"), 5, 2, 2, 3),
		at(getAbsent("b"), 6, 3, 4, 5),
		at(getAbsent("a"), 6, 4, 6, 7),
	}, Options{})
	if len(v.Failures) != 2 || v.Failures[0].Key != "b" || v.Failures[1].Key != "a" {
		t.Fatalf("failures %v", v.Failures)
	}
}

func TestFromHistory(t *testing.T) {
	ms := time.Millisecond
	h := check.History{
		{Op: check.Start, Line: 1, Server: 0},
		{Op: check.Put, Line: 2, Client: 5, Server: 0, Key: []byte("k"), Value: []byte("v"), Status: check.OK, Call: 1 * ms, Return: 2 * ms},
		{Op: check.Put, Line: 3, Client: 5, Server: 0, Key: []byte("k"), Value: []byte("w"), Status: check.Unreachable, Call: 3 * ms, Return: 4 * ms},
		{Op: check.Delete, Line: 4, Client: 5, Server: 0, Key: []byte("k"), Status: check.Failed, Call: 5 * ms, Return: 6 * ms},
		{Op: check.Get, Line: 5, Client: 6, Server: 1, Key: []byte("k"), Status: check.Behind},
		{Op: check.Get, Line: 6, Client: 6, Server: 1, Key: []byte("k"), Status: check.Unreachable},
		{Op: check.Get, Line: 7, Client: 6, Server: 1, Key: []byte("k"), Status: check.NoKey, Call: 7 * ms, Return: 8 * ms},
		{Op: check.Get, Line: 8, Client: 6, Server: 1, Key: []byte("k"), Value: []byte("v"), Status: check.OK, Call: 9 * ms, Return: 10 * ms},
	}
	got := FromHistory(h)
	want := []Op{
		{Kind: Put, Key: "k", Value: "v", Client: 5, Line: 2, Call: 1 * ms, Return: 2 * ms},
		{Kind: Put, Key: "k", Value: "w", Unknown: true, Client: 5, Line: 3, Call: 3 * ms, Return: 4 * ms},
		{Kind: Delete, Key: "k", Unknown: true, Client: 5, Line: 4, Call: 5 * ms, Return: 6 * ms},
		{Kind: Get, Key: "k", Absent: true, Client: 6, Server: 1, Line: 7, Call: 7 * ms, Return: 8 * ms},
		{Kind: Get, Key: "k", Value: "v", Client: 6, Server: 1, Line: 8, Call: 9 * ms, Return: 10 * ms},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("op %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// Only the unknown delete explains the absent read at line 7, so it
	// took effect before line 7 returned; nothing after it writes "v"
	// (the unknown put writes "w"), so the read of "v" at line 8 fails.
	if v := Check(got, Options{}); v.OK() || v.Failures[0].Stuck.Line != 8 {
		t.Errorf("%s", v.Summary())
	}
}

func TestCheckHistory_HTML(t *testing.T) {
	ms := time.Millisecond
	h := check.History{
		{Op: check.Start, Line: 1, Server: 0, Call: 0, Return: 1 * ms},
		{Op: check.Cut, Line: 2, Server: 0, Peer: 1, Call: 1 * ms, Return: 2 * ms},
		{Op: check.Put, Line: 3, Client: 5, Key: []byte("k"), Value: []byte("v"), Status: check.OK, Call: 3 * ms, Return: 4 * ms},
		{Op: check.Get, Line: 4, Client: 6, Server: 1, Key: []byte("k"), Status: check.NoKey, Call: 5 * ms, Return: 6 * ms},
	}
	v := CheckHistory(h, Options{Timeout: 10 * time.Second})
	if v.Result != NotLinearizable || v.Failures[0].Key != "k" {
		t.Fatalf("%s", v.Summary())
	}
	var buf bytes.Buffer
	if err := v.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, w := range []string{"<html", `get(\"k\") -\u003e absent`, "cut 0-1", "line 4, client 6, server 1"} {
		if !strings.Contains(html, w) {
			t.Errorf("the visualization lacks %q", w)
		}
	}
}
