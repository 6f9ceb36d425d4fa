package histfile

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/check"
	"gossipkv/pkg/model"
)

// sample has every kind of event, an unknown-outcome write, a key that is
// not UTF-8, an empty value and a tombstone.
func sample() check.History {
	v1 := model.Version{Wall: 1700000000000000001, Origin: 0}
	v2 := model.Version{Wall: 1700000000000000002, Logical: 3, Origin: 1}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return check.History{
		{Op: check.Start, Line: 1, Server: 0, Fresh: true, Call: ms(1), Return: ms(2)},
		{Op: check.Start, Line: 2, Server: 1, Fresh: true, Call: ms(2), Return: ms(3)},
		{Op: check.Cut, Line: 3, Server: 0, Peer: 1, Call: ms(3), Return: ms(4)},
		{Op: check.Put, Line: 4, Client: 5, Server: 0, Key: []byte("k"), Value: []byte("a b\n"), Status: check.OK,
			Version: v1, Call: ms(5), Return: ms(6)},
		{Op: check.Get, Line: 5, Client: 6, Server: 1, Key: []byte("k"), Status: check.NoKey, Call: ms(7), Return: ms(8)},
		{Op: check.Put, Line: 6, Client: 6, Server: 1, Key: []byte{0xff, 0x00}, Value: []byte("x"), Status: check.Unreachable,
			Call: ms(9), Return: ms(10)},
		{Op: check.Delete, Line: 7, Client: 5, Server: 0, Key: []byte("k"), Status: check.OK, Version: v2, Dep: v1,
			Call: ms(11), Return: ms(12)},
		{Op: check.Get, Line: 8, Client: 5, Server: 0, Key: []byte("k"), Status: check.NoKey, Version: v2, Dep: v2,
			Call: ms(13), Return: ms(14)},
		{Op: check.Get, Line: 9, Client: 5, Server: 0, Key: []byte("e"), Status: check.Behind, Dep: v1, Call: ms(15), Return: ms(16)},
		{Op: check.Heal, Line: 10, Server: 1, Peer: 0, Call: ms(17), Return: ms(18)},
		{Op: check.Kill, Line: 11, Server: 1, Call: ms(19), Return: ms(20)},
		{Op: check.Stabilize, Line: 12, Converged: true, Call: ms(21), Return: ms(22), Stores: map[uint32][]check.Item{
			0: {{Key: []byte("k"), Version: v2, Deleted: true}, {Key: []byte{0xff, 0x00}, Value: []byte("x"), Version: v1}},
		}},
		{Op: check.Stabilize, Line: 13, Err: "timed out", Call: ms(23), Return: ms(24), Stores: map[uint32][]check.Item{}},
		{Op: check.Get, Line: 14, Client: 6, Server: 1, Key: []byte("k"), Value: []byte("a b\n"), Status: check.OK,
			Version: v1, Call: ms(25), Return: ms(26)},
		{Op: check.Skew, Line: 15, Server: 0, Skew: -2 * time.Second, Call: ms(27), Return: ms(28)},
		{Op: check.Skew, Line: 16, Server: 0, Call: ms(29), Return: ms(30)},
		{Op: check.Pause, Line: 17, Server: 1, Call: ms(31), Return: ms(32)},
		{Op: check.Resume, Line: 18, Server: 1, Call: ms(33), Return: ms(34)},
		{Op: check.CAS, Line: 19, Client: 5, Server: 0, Key: []byte("k"), Old: []byte("a"), Value: []byte("b"),
			Status: check.OK, Version: v2, Call: ms(35), Return: ms(36)},
		{Op: check.CAS, Line: 20, Client: 5, Server: 0, Key: []byte("k"), Old: []byte("a"), Value: []byte("c"),
			Status: check.Mismatch, Version: v2, Call: ms(37), Return: ms(38)},
		{Op: check.Get, Line: 21, Client: 6, Server: 1, Key: []byte("k"), Status: check.Unavailable, Call: ms(39), Return: ms(40)},
	}
}

// normalize makes empty and nil the same, as the format does.
func normalize(h check.History) check.History {
	out := make(check.History, len(h))
	for i, e := range h {
		if len(e.Key) == 0 {
			e.Key = nil
		}
		if len(e.Value) == 0 {
			e.Value = nil
		}
		if len(e.Old) == 0 {
			e.Old = nil
		}
		if len(e.Stores) == 0 {
			e.Stores = nil
		}
		for id, items := range e.Stores {
			for j := range items {
				if len(items[j].Value) == 0 {
					items[j].Value = nil
				}
			}
			e.Stores[id] = items
		}
		out[i] = e
	}
	return out
}

func TestWriteRead_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	want := sample()
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want = normalize(want)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestWrite_Fields pins the field names and shapes the package doc
// promises, since other tools read them.
func TestWrite_Fields(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(sample()) {
		t.Fatalf("%d lines for %d events", len(lines), len(sample()))
	}
	want := map[int]string{
		2:  `{"line":3,"op":"cut","call_ns":3000000,"return_ns":4000000,"server":0,"peer":1}`,
		3:  `{"line":4,"op":"put","call_ns":5000000,"return_ns":6000000,"client":5,"server":0,"key":"k","input":{"value":"a b\n"},"output":{"status":"OK","version":{"wall":1700000000000000001,"origin":0}}}`,
		4:  `{"line":5,"op":"get","call_ns":7000000,"return_ns":8000000,"client":6,"server":1,"key":"k","input":{},"output":{"status":"ERR_KEY"}}`,
		5:  `{"line":6,"op":"put","call_ns":9000000,"return_ns":10000000,"client":6,"server":1,"key":{"base64":"/wA="},"input":{"value":"x"},"output":{"status":"ERR_CONN"},"unknown":true}`,
		14: `{"line":15,"op":"skew","call_ns":27000000,"return_ns":28000000,"server":0,"skew_ns":-2000000000}`,
		15: `{"line":16,"op":"skew","call_ns":29000000,"return_ns":30000000,"server":0,"skew_ns":0}`,
		16: `{"line":17,"op":"pause","call_ns":31000000,"return_ns":32000000,"server":1}`,
		17: `{"line":18,"op":"resume","call_ns":33000000,"return_ns":34000000,"server":1}`,
		13: `{"line":14,"op":"get","call_ns":25000000,"return_ns":26000000,"client":6,"server":1,"key":"k","input":{},"output":{"status":"OK","value":"a b\n","version":{"wall":1700000000000000001,"origin":0}}}`,
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], w)
		}
	}
	// Every line is one JSON object with the common fields.
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, f := range []string{"line", "op", "call_ns", "return_ns"} {
			if _, ok := m[f]; !ok {
				t.Errorf("line %d lacks %q: %s", i+1, f, l)
			}
		}
	}
	if !strings.Contains(lines[11], `"stores":{"0":[{"key":"k","value":"","version":{"wall":1700000000000000002,"logical":3,"origin":1},"deleted":true},`) {
		t.Errorf("stabilize line: %s", lines[11])
	}
}

func TestRead_Errors(t *testing.T) {
	for _, in := range []string{
		`{"line":1,"op":"put"`,
		`{"line":1,"op":"frobnicate"}`,
		`{"line":1,"op":"get","key":"k","output":{"status":"MAYBE"}}`,
		`{"line":1,"op":"get","key":{"hex":"00"}}`,
		`{"line":1,"op":"swap","key":"k","input":{"expect":"a","value":"b"}}`,
	} {
		if _, err := Read(strings.NewReader(in + "\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%s: err %v, want one naming line 1", in, err)
		}
	}
	h, err := Read(strings.NewReader("\n" + `{"line":3,"op":"kill","server":2,"call_ns":1,"return_ns":2,"later":"ignored"}` + "\n\n"))
	if err != nil || len(h) != 1 || h[0].Op != check.Kill || h[0].Server != 2 || h[0].Line != 3 {
		t.Errorf("read %+v, %v", h, err)
	}
}
