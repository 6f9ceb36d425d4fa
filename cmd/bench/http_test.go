package main

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
)

// The files in testdata are wrk's real output with wrk.lua, against
// gossipkv's HTTP front and etcd's gateway.
func TestParseWrk(t *testing.T) {
	for _, c := range []struct {
		file     string
		rps, p50 float64
	}{
		{"wrk-gossipkv-put-c1.txt", 4479 / 2.100301, 0.390},
		{"wrk-etcd-put-c1.txt", 5148 / 3.000387, 0.539},
		{"wrk-etcd-get-c50.txt", 19158 / 3.004448, 7.041},
	} {
		out, err := os.ReadFile("testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseWrk(out)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if math.Abs(f.rps-c.rps) > 0.01 || math.Abs(f.lat-c.p50) > 1e-9 {
			t.Errorf("%s: parsed %+v, want rps %.2f, p50 %.3f ms", c.file, f, c.rps, c.p50)
		}
	}
}

func TestParseWrkRefusesFailedRequests(t *testing.T) {
	// GETs of keys never written: gossipkv answers 404, which wrk counts
	// as status errors.
	out, err := os.ReadFile("testdata/wrk-gossipkv-get-missing-c50.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseWrk(out); err == nil || !strings.Contains(err.Error(), "92650 status") {
		t.Fatalf("parseWrk of 404s: %v, want an error naming 92650 status errors", err)
	}
	for _, bad := range []string{
		"Running 2s test\n",                     // no result line (the script was not wrk.lua)
		"wrk-result requests=x duration_us=1\n", // not a number
		"wrk-result duration_us=1 p50_us=1\n",   // a field missing
		"wrk-result requests=0 duration_us=1000000 p50_us=0 connect=0 read=0 write=0 status=0 timeout=0\n",
		"wrk-result requests=9 duration_us=1000000 p50_us=5 connect=0 read=0 write=0 status=0 timeout=3\n",
	} {
		if f, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("parseWrk(%q) = %+v, want an error", bad, f)
		}
	}
}

// The keys that bench loads are those wrk.lua asks for.
func TestWrkKeysMatchLoad(t *testing.T) {
	if httpKey(7) != "key:000007" {
		t.Fatalf("httpKey(7) = %q", httpKey(7))
	}
	if !bytes.Contains(wrkScript, []byte(`string.format("key:%06d", i)`)) {
		t.Fatal(`wrk.lua does not make its keys as httpKey does`)
	}
}
