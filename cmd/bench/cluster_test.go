package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRun_TinyCluster_CPUFigures runs the spec workload through the real
// binaries (2 servers, 2 clients, 50 puts, on loopback ports free now) and
// checks that the CPU figures are there, positive, and that the roles add
// up to no more than the whole.
func TestRun_TinyCluster_CPUFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	e := testEnv(t)
	o := options{puts: 50, seed: 1, floorPuts: 50}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := e.run(ctx, specJob(o, 2, 2, 100))
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.PutsPerS <= 0 {
		t.Fatalf("run: %d errors, %v puts/s", r.Errors, r.PutsPerS)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"cpu ms/put", r.CPUMsPerPut}, {"user ms/put", r.UserMsPerPut}, {"sys ms/put", r.SysMsPerPut},
		{"master", r.MasterCPUMsPerPut}, {"servers", r.ServersCPUMsPerPut}, {"clients", r.ClientsCPUMsPerPut},
		{"floor cpu ms/put", r.FloorCPUMsPerPut}, {"cpu ratio", r.CPURatio},
		{"fsyncs/put", r.FsyncsPerPut}, {"ctx switches/put", r.CtxswPerPut},
		{"floor in processes: puts/s", r.FloorProcsPutsPerS}, {"its ratio", r.FloorProcsRatio},
		{"its cpu ms/put", r.FloorProcsCPUMsPerPut}, {"its cpu ratio", r.FloorProcsCPURatio},
		{"floor with peers: puts/s", r.FloorPeersPutsPerS}, {"its ratio", r.FloorPeersRatio},
		{"its cpu ms/put", r.FloorPeersCPUMsPerPut}, {"its cpu ratio", r.FloorPeersCPURatio},
	} {
		if !(f.v > 0) {
			t.Errorf("%s = %v, want > 0", f.name, f.v)
		}
	}
	if sum := r.MasterCPUMsPerPut + r.ServersCPUMsPerPut + r.ClientsCPUMsPerPut; sum > r.CPUMsPerPut+1e-9 {
		t.Errorf("roles add up to %.4f ms/put, more than the total %.4f", sum, r.CPUMsPerPut)
	}
	// The master issues one put at a time, and each is an fdatasync'd log
	// append of its own at the server it goes to.
	if r.FsyncsPerPut < 1 {
		t.Errorf("fsyncs/put %.2f, want at least 1", r.FsyncsPerPut)
	}
	t.Logf("cpu %.3f ms/put (master %.3f, servers %.3f, clients %.3f), floor %.3f, ratio %.2f, fsyncs/put %.2f, ctxsw/put %.1f",
		r.CPUMsPerPut, r.MasterCPUMsPerPut, r.ServersCPUMsPerPut, r.ClientsCPUMsPerPut, r.FloorCPUMsPerPut, r.CPURatio, r.FsyncsPerPut, r.CtxswPerPut)
}

// testEnv builds the binaries bench drives into a temporary directory and
// returns an env on them, its progress on stderr with -v.
func testEnv(t *testing.T) *env {
	t.Helper()
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"gossipkv/cmd/master", "gossipkv/cmd/watchdog", "gossipkv/cmd/server", "gossipkv/cmd/client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logw := io.Writer(io.Discard)
	if testing.Verbose() {
		logw = os.Stderr
	}
	e, err := newEnv(bin, t.TempDir(), logw, true)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
