package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/script"
)

func TestConcurrent_Setup_PlacesClientsAndAsksReady(t *testing.T) {
	for _, tc := range []struct {
		placement string
		want      []uint32 // server of each client
	}{
		{Spread, []uint32{0, 1, 2, 0, 1}},
		{OneServer, []uint32{0, 0, 0, 0, 0}},
	} {
		c := Concurrent{Servers: 3, Clients: 5, Puts: 20, ValueSize: 10, Placement: tc.placement}
		var buf bytes.Buffer
		if err := c.WriteSetup(&buf); err != nil {
			t.Fatal(err)
		}
		cmds := parse(t, buf.Bytes())
		if want := c.Servers + c.Clients + 1; len(cmds) != want {
			t.Fatalf("%s: %d commands, want %d", tc.placement, len(cmds), want)
		}
		for i := range c.Clients {
			cmd := cmds[c.Servers+i]
			if cmd.Kind != script.JoinClient || cmd.IDs[0] != uint32(c.Servers+i) || cmd.IDs[1] != tc.want[i] {
				t.Errorf("%s: %q, want joinClient %d %d", tc.placement, cmd.Text, c.Servers+i, tc.want[i])
			}
		}
		last := cmds[len(cmds)-1]
		if last.Kind != script.Get || last.IDs[0] != uint32(c.Servers) || string(last.Key) != readyKey {
			t.Errorf("%s: last line %q, want get %d %s", tc.placement, last.Text, c.Servers, readyKey)
		}
	}
}

func TestConcurrent_End(t *testing.T) {
	var buf bytes.Buffer
	if err := (Concurrent{Servers: 2}).WriteEnd(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "stabilize\n" {
		t.Errorf("end %q, want a stabilize", buf.String())
	}
	buf.Reset()
	if err := (Concurrent{Servers: 2, Verify: true}).WriteEnd(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "stabilize\nprintStore 0\nprintStore 1\n" {
		t.Errorf("end to verify %q", buf.String())
	}
}

func TestConcurrent_SharesAddUpAndKeysAreDistinct(t *testing.T) {
	c := Concurrent{Servers: 2, Clients: 7, Puts: 40, ValueSize: 16, Placement: Spread, Seed: 3}
	total := 0
	keys := map[string]bool{}
	for i := range c.Clients {
		n := c.share(i)
		if n < c.Puts/c.Clients || n > c.Puts/c.Clients+1 {
			t.Errorf("client %d: %d puts, want %d or %d", i, n, c.Puts/c.Clients, c.Puts/c.Clients+1)
		}
		total += n
		vs := c.values(i)
		if len(vs) != n {
			t.Fatalf("client %d: %d values for %d puts", i, len(vs), n)
		}
		for j, v := range vs {
			if len(v) != c.ValueSize || strings.Trim(string(v), valueLetters) != "" {
				t.Fatalf("client %d put %d: value %q", i, j, v)
			}
			k := string(concurrentKey(i, j))
			if keys[k] || strings.ContainsAny(k, ": ") {
				t.Fatalf("key %q twice, or not printable as KEY:VALUE", k)
			}
			keys[k] = true
		}
	}
	if total != c.Puts {
		t.Errorf("shares add up to %d, want %d", total, c.Puts)
	}
	if !bytes.Equal(c.values(2)[0], c.values(2)[0]) || bytes.Equal(c.values(2)[0], c.values(3)[0]) {
		t.Error("values must follow the seed and differ between clients")
	}
}

func TestConcurrent_BadParameters(t *testing.T) {
	good := Concurrent{Servers: 2, Clients: 2, Puts: 2, ValueSize: 1, Placement: Spread}
	for _, mod := range []func(*Concurrent){
		func(c *Concurrent) { c.Servers = 0 },
		func(c *Concurrent) { c.Clients = 0 },
		func(c *Concurrent) { c.ValueSize = 0 },
		func(c *Concurrent) { c.Placement = "all" },
	} {
		c := good
		mod(&c)
		if err := c.WriteSetup(io.Discard); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := good.WriteSetup(io.Discard); err != nil {
		t.Fatal(err)
	}
}

// feed sends lines as the master's transcript would come.
func feed(lines ...string) <-chan string {
	ch := make(chan string, len(lines))
	for _, l := range lines {
		ch <- l
	}
	close(ch)
	return ch
}

func TestWaitReady(t *testing.T) {
	ctx := context.Background()
	if err := waitReady(ctx, feed("> joinServer 0", "> get 1 bench-ready", "bench-ready:ERR_KEY")); err != nil {
		t.Errorf("ready: %v", err)
	}
	if err := waitReady(ctx, feed("> get 1 bench-ready", "bench-ready:ERR_CONN")); err == nil || !strings.Contains(err.Error(), "ERR_CONN") {
		t.Errorf("a client without its server: %v", err)
	}
	if err := waitReady(ctx, feed("> joinServer 0")); err == nil {
		t.Error("a master that ended: no error")
	}
}

func TestConcurrent_Verify(t *testing.T) {
	c := Concurrent{Servers: 2, Clients: 2, Puts: 3, ValueSize: 4, Placement: Spread}
	results := []clientResult{
		{values: [][]byte{[]byte("aaaa"), []byte("bbbb")}, acked: []bool{true, false}},
		{values: [][]byte{[]byte("cccc")}, acked: []bool{true}},
	}
	whole := func(s int) []string {
		return []string{fmt.Sprintf("> printStore %d", s), "c0-0:aaaa", "c1-0:cccc"}
	}
	ok := append(append([]string{"> stabilize"}, whole(0)...), append(whole(1), "c0-1:bbbb")...)
	if err := c.verify(feed(ok...), results); err != nil {
		t.Errorf("every acknowledged put everywhere (and a failed one that landed): %v", err)
	}
	bad := append(append([]string{"> stabilize"}, whole(0)...), "> printStore 1", "c0-0:aaab", "zz:y")
	err := c.verify(feed(bad...), results)
	if err == nil || !strings.Contains(err.Error(), "server 1: of 2 acknowledged puts 1 missing and 1 with another value; 1 keys never put") {
		t.Errorf("server 1 short: %v", err)
	}
	if err := c.verify(feed(append([]string{"> stabilize"}, whole(0)...)...), results); err == nil || !strings.Contains(err.Error(), "server 1: no printStore") {
		t.Errorf("a store not printed: %v", err)
	}
}

func TestDriven_Fill_PerPutFromTheServers(t *testing.T) {
	d := &driven{acked: 100, failed: 2, span: 2 * time.Second}
	for i := 1; i <= 100; i++ {
		d.latency = append(d.latency, time.Duration(i)*time.Millisecond)
	}
	s := &Stats{Errors: 1, Servers: map[string]ServerStats{
		"0": {Stats: api.StatsReply{Puts: 70, Fsyncs: 40, Batches: 30, Bytes: 70000, Writes: 80, Acks: 10}},
		"1": {Stats: api.StatsReply{Puts: 32, Fsyncs: 30, Batches: 20, Bytes: 40000, Writes: 20, Acks: 10, Deltas: 5}},
	}}
	r := resultOf(s)
	d.fill(&r, s)
	if r.PutsPerS != 50 || r.PutP50Ms != 50 || r.PutP99Ms != 99 {
		t.Errorf("rate and latency: %v puts/s, p50 %v, p99 %v", r.PutsPerS, r.PutP50Ms, r.PutP99Ms)
	}
	if r.Errors != 3 || r.ServerPuts != 102 {
		t.Errorf("errors %d (want the master's 1 and 2 failed puts), server puts %d", r.Errors, r.ServerPuts)
	}
	if r.FsyncsPerPut != 0.7 || r.MsgsPerPut != 0.5 || r.WritesPerPut != 1 || r.AcksPerPut != 0.2 || r.DeltasPerPut != 0.05 || r.BytesPerPut != 1100 {
		t.Errorf("per put: %+v", r)
	}
}

func TestWriteConcurrentTable(t *testing.T) {
	var buf bytes.Buffer
	WriteConcurrentTable(&buf, []Result{
		{Clients: 8, Placement: Spread, PutsPerS: 2100, PutP50Ms: 3.5, PutP99Ms: 20, StabilizeS: 0.0081, CPUMsPerPut: 0.9,
			MasterCPUMsPerPut: 0.1, ServersCPUMsPerPut: 0.5, ClientsCPUMsPerPut: 0.25, FsyncsPerPut: 0.6,
			FloorPutsPerS: 2400, FloorCPUMsPerPut: 0.25, CPURatio: 3.6, FloorProcsCPURatio: 1.5, FloorPeersCPURatio: 1.2},
	})
	out := buf.String()
	want := "      8 spread     2100    3.50   20.00      8.1    0.900   0.100   0.500   0.250    0.60    2400   0.250    3.60    1.50    1.20      0"
	if !strings.Contains(out, want) {
		t.Errorf("table lacks\n%s\n:\n%s", want, out)
	}
}

func TestWriteReport_SaysPlacement(t *testing.T) {
	var buf bytes.Buffer
	WriteReport(&buf, []Result{{Workload: "concurrent", Hosts: "single", Placement: OneServer, Servers: 5, Clients: 64, Puts: 4000, ValueSize: 1024}})
	if want := "5 servers, 64 clients (all on server 0), 4000 puts"; !strings.Contains(buf.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, buf.String())
	}
}

func TestRun_Concurrent_BadFlags_Exit2(t *testing.T) {
	for _, args := range [][]string{
		{"concurrent", "-clients", "8"},
		{"concurrent", "-clients-list", "1,8", "-puts", "4"},
		{"concurrent", "-placements", "spread,all"},
	} {
		var code int
		msg := captureStderr(t, func() { code = run(append(args, "-data", t.TempDir(), "-bin", t.TempDir())) })
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, msg)
		}
	}
}

// TestRun_Concurrent_Tiny runs the mode through the real binaries: 2
// servers, 1 and then 4 clients putting at once in both placements, 40
// puts each time, and checks every figure is there, every put was
// acknowledged and counted by the servers, and every server holds every
// key afterwards.
func TestRun_Concurrent_Tiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	e := testEnv(t)
	o := options{servers: 2, puts: 40, size: 100, seed: 1, floorPuts: 50, verify: true}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range []int{1, 4} {
		for _, pl := range []string{Spread, OneServer} {
			r, err := e.run(ctx, concurrentJob(o, n, pl))
			if err != nil {
				t.Fatalf("%d clients, %s: %v", n, pl, err)
			}
			if r.Errors != 0 || r.ServerPuts != o.puts || r.Clients != n || r.Placement != pl {
				t.Errorf("%d clients, %s: %d errors, the servers counted %d puts of %d; result says %d clients, %q",
					n, pl, r.Errors, r.ServerPuts, o.puts, r.Clients, r.Placement)
			}
			for _, f := range []struct {
				name string
				v    float64
			}{
				{"puts/s", r.PutsPerS}, {"p50", r.PutP50Ms}, {"p99", r.PutP99Ms}, {"stabilize", r.StabilizeS},
				{"cpu ms/put", r.CPUMsPerPut}, {"master", r.MasterCPUMsPerPut}, {"servers", r.ServersCPUMsPerPut},
				{"clients", r.ClientsCPUMsPerPut}, {"fsyncs/put", r.FsyncsPerPut},
				{"floor puts/s", r.FloorPutsPerS}, {"floor cpu ms/put", r.FloorCPUMsPerPut},
			} {
				if !(f.v > 0) {
					t.Errorf("%d clients, %s: %s = %v, want > 0", n, pl, f.name, f.v)
				}
			}
			if r.PutP99Ms < r.PutP50Ms {
				t.Errorf("%d clients, %s: p99 %v below p50 %v", n, pl, r.PutP99Ms, r.PutP50Ms)
			}
			if sum := r.MasterCPUMsPerPut + r.ServersCPUMsPerPut + r.ClientsCPUMsPerPut; sum > r.CPUMsPerPut+1e-9 {
				t.Errorf("%d clients, %s: roles add up to %.4f ms/put, more than the total %.4f", n, pl, sum, r.CPUMsPerPut)
			}
			t.Logf("%d clients, %s: %.0f puts/s, p50 %.2f ms, cpu %.3f ms/put, fsyncs/put %.2f",
				n, pl, r.PutsPerS, r.PutP50Ms, r.CPUMsPerPut, r.FsyncsPerPut)
		}
	}
}
