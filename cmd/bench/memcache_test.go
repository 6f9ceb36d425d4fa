package main

import (
	"math"
	"os"
	"strings"
	"testing"
)

// The files in testdata are memaslap's real output (-S 1s, so a table a
// second), against gossipkv's memcache front and memcached.
func TestParseMemaslap(t *testing.T) {
	for _, c := range []struct {
		file, test string
		tps, avg   float64
	}{
		// The last Global row of the test's table, not an earlier one
		// nor the Total table's.
		{"memaslap-gossipkv-set-c1.txt", "SET", 2216, 0.449},
		{"memaslap-gossipkv-get-c50.txt", "GET", 74068, 0.674},
		{"memaslap-memcached-set-c1.txt", "SET", 101357, 0.009},
		{"memaslap-memcached-get-c50.txt", "GET", 138434, 0.360},
	} {
		out, err := os.ReadFile("testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseMemaslap(out, c.test)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if f.rps != c.tps || math.Abs(f.lat-c.avg) > 1e-9 {
			t.Errorf("%s: parsed %+v, want %.0f ops/s, avg %.3f ms", c.file, f, c.tps, c.avg)
		}
	}
}

func TestParseMemaslapRefuses(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// memcached with too little memory evicted keys memaslap had set.
	if _, err := parseMemaslap(read("memaslap-memcached-get-evicted-c50.txt"), "GET"); err == nil || !strings.Contains(err.Error(), "242458 of 434822 gets missed") {
		t.Fatalf("gets that missed: %v, want an error naming them", err)
	}
	// A set-only run has no Get Statistics table.
	if _, err := parseMemaslap(read("memaslap-gossipkv-set-c1.txt"), "GET"); err == nil {
		t.Fatal("a GET figure parsed from a set-only run")
	}
	// Without -S memaslap prints only its summary.
	if _, err := parseMemaslap([]byte("Run time: 3.0s Ops: 159250 TPS: 52606 Net_rate: 53.4M/s\n"), "SET"); err == nil {
		t.Fatal("a figure parsed from a run without statistics")
	}
	if _, err := parseMemaslap(read("memaslap-gossipkv-set-c1.txt"), "DELETE"); err == nil {
		t.Fatal("an unknown test parsed")
	}
}
