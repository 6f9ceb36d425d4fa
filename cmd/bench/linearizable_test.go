package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEtcdMembers_FiveFromPorts(t *testing.T) {
	ports := []int{41001, 41002, 41003, 41004, 41005, 42001, 42002, 42003, 42004, 42005}
	ms, err := etcdMembers(5, ports)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 5 || ms[0] != (etcdMember{"m0", 41001, 42001}) || ms[4] != (etcdMember{"m4", 41005, 42005}) {
		t.Fatalf("members %+v", ms)
	}
	if _, err := etcdMembers(5, ports[:9]); err == nil {
		t.Error("9 ports for 5 members: no error")
	}
	got := etcdArgs(ms, 2, "/d/m2/data")
	want := []string{"--name", "m2", "--data-dir", "/d/m2/data",
		"--listen-client-urls", "http://127.0.0.1:41003", "--advertise-client-urls", "http://127.0.0.1:41003",
		"--listen-peer-urls", "http://127.0.0.1:42003", "--initial-advertise-peer-urls", "http://127.0.0.1:42003",
		"--initial-cluster", "m0=http://127.0.0.1:42001,m1=http://127.0.0.1:42002,m2=http://127.0.0.1:42003,m3=http://127.0.0.1:42004,m4=http://127.0.0.1:42005",
		"--initial-cluster-state", "new", "--initial-cluster-token", "bench"}
	if !slices.Equal(got, want) {
		t.Errorf("etcdArgs:\n got %q\nwant %q", got, want)
	}
	// One member: the cluster is itself.
	one, _ := etcdMembers(1, []int{41001, 42001})
	if a := etcdArgs(one, 0, "/d"); !slices.Contains(a, "m0=http://127.0.0.1:42001") {
		t.Errorf("one member: %q", a)
	}
}

func TestFreePorts_Distinct(t *testing.T) {
	ports, err := freePorts(10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Fatalf("ports %v: %d twice or not a port", ports, p)
		}
		seen[p] = true
	}
}

func TestEtcdPutRequest_GatewayFormat(t *testing.T) {
	req, err := etcdPutRequest(context.Background(), "http://127.0.0.1:1", "abc", []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:1/v3/kv/put" {
		t.Fatalf("%s %s", req.Method, req.URL)
	}
	b, _ := io.ReadAll(req.Body)
	var body map[string]string
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	k, _ := base64.StdEncoding.DecodeString(body["key"])
	v, _ := base64.StdEncoding.DecodeString(body["value"])
	if string(k) != "abc" || string(v) != "value" || len(body) != 2 {
		t.Errorf("body %s", b)
	}
}

func TestSpec3Key(t *testing.T) {
	seen := map[string]bool{}
	for i := range 1000 {
		k := spec3Key(i)
		if len(k) != 3 || strings.Trim(k, keyLetters) != "" {
			t.Fatalf("key %d = %q", i, k)
		}
		seen[k] = true
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct keys of 1000", len(seen))
	}
}

func TestCompare_MediansOfRunRatios(t *testing.T) {
	lin := []Result{{PutsPerS: 400}, {PutsPerS: 500}, {PutsPerS: 300}}
	ev := []Result{{PutsPerS: 1000}, {PutsPerS: 2000}, {PutsPerS: 1000}}
	etcd := []etcdFigures{{PutsPerS: 800}, {PutsPerS: 500}, {PutsPerS: 1000}}
	cs, m := compare(lin, ev, etcd)
	if len(cs) != 3 || cs[1].LinOverEventual != 0.25 || cs[1].LinOverEtcd != 1 {
		t.Fatalf("runs %+v", cs)
	}
	// The runs' ratios lin/ev are 0.4, 0.25, 0.3 (median 0.3), not
	// median(lin)/median(ev) = 400/1000.
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(m.LinOverEventual, 0.3) || !near(m.LinOverEtcd, 0.5) || m.LinearizablePutsPerS != 400 || m.EventualPutsPerS != 1000 || m.EtcdPutsPerS != 800 {
		t.Errorf("medians %+v", m)
	}
	var buf bytes.Buffer
	writeComparison(&buf, cs, m, 5, "head")
	if !strings.Contains(buf.String(), "etcd (5)") || !strings.Contains(buf.String(), "0.300") {
		t.Errorf("report:\n%s", buf.String())
	}
}

func TestCompare_CPUAgainstEtcdAndTheFloor(t *testing.T) {
	lin := []Result{{CPUMsPerPut: 3}, {CPUMsPerPut: 4}, {CPUMsPerPut: 2}}
	ev := []Result{{CPUMsPerPut: 1, FloorCPUMsPerPut: 0.5}, {CPUMsPerPut: 1.5, FloorCPUMsPerPut: 0.25}, {CPUMsPerPut: 1, FloorCPUMsPerPut: 1}}
	etcd := []etcdFigures{{CPUMsPerPut: 2}, {CPUMsPerPut: 3}, {CPUMsPerPut: 4}}
	cs, m := compare(lin, ev, etcd)
	// Run by run: lin/etcd 1.5, 1.333, 0.5; ev/etcd 0.5, 0.5, 0.25;
	// etcd/floor 4, 12, 4.
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(cs[1].LinCPUOverEtcd, 4.0/3) || !near(cs[2].EventualCPUOverEtcd, 0.25) || !near(cs[1].EtcdCPUOverFloor, 12) {
		t.Fatalf("runs %+v", cs)
	}
	if !near(m.LinCPUOverEtcd, 4.0/3) || !near(m.EventualCPUOverEtcd, 0.5) || !near(m.EtcdCPUOverFloor, 4) ||
		m.EtcdCPUMsPerPut != 3 || m.FloorCPUMsPerPut != 0.5 || m.EventualCPUMsPerPut != 1 || m.LinearizableCPUMsPerPut != 3 {
		t.Errorf("medians %+v", m)
	}
	var buf bytes.Buffer
	writeComparison(&buf, cs, m, 5, "head")
	if !strings.Contains(buf.String(), "etcd/floor") || !strings.Contains(buf.String(), "12.000") {
		t.Errorf("report:\n%s", buf.String())
	}
}

func TestWriteReport_SaysMode(t *testing.T) {
	var buf bytes.Buffer
	WriteReport(&buf, []Result{{Workload: "spec", Hosts: "single", Consistency: "linearizable", Runs: 1, PutsPerS: 1}})
	if !strings.Contains(buf.String(), "linearizable mode") {
		t.Errorf("report does not name the mode:\n%s", buf.String())
	}
	buf.Reset()
	WriteReport(&buf, []Result{{Workload: "spec", Hosts: "single", Runs: 1, PutsPerS: 1}})
	if !strings.Contains(buf.String(), "eventual mode") {
		t.Errorf("report does not name the default mode:\n%s", buf.String())
	}
}

// captureStderr runs f with os.Stderr going to a buffer.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = old }()
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	f()
	w.Close()
	return <-done
}

func TestRun_Linearizable_NoEtcd_Exits2(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var code int
	msg := captureStderr(t, func() {
		code = run([]string{"single", "-consistency", "linearizable", "-data", t.TempDir(), "-bin", t.TempDir()})
	})
	if code != 2 || !strings.Contains(msg, "etcd-server") {
		t.Errorf("exit %d, stderr %q: want 2 and a message naming etcd-server", code, msg)
	}
}

func TestRun_BadConsistency_Exits2(t *testing.T) {
	var code int
	msg := captureStderr(t, func() {
		code = run([]string{"single", "-consistency", "strong", "-data", t.TempDir(), "-bin", t.TempDir()})
	})
	if code != 2 || !strings.Contains(msg, "linearizable") {
		t.Errorf("exit %d, stderr %q", code, msg)
	}
}

// TestEtcdCluster_ThreeMembers starts a real 3-member etcd, makes
// sequential puts through it, and checks that stop ends every member.
func TestEtcdCluster_ThreeMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd")
	}
	e, err := newEnv(t.TempDir(), t.TempDir(), io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms, stop, err := e.startEtcdCluster(ctx, bin, "etcd-cluster", 3)
	if err != nil {
		t.Fatal(err)
	}
	x, client, err := etcdSequentialPuts(ctx, ms, 30, 1024)
	members := stop()
	if err != nil || x <= 0 {
		t.Fatalf("%v puts/s, %v", x, err)
	}
	// Every member ran (Procs counts the rusages added) and worked.
	if members.Procs != 3 || members.CPUS() <= 0 || client.CPUS() <= 0 {
		t.Errorf("members' usage %+v, the client's %+v", members, client)
	}
	for _, m := range ms {
		if etcdHealthy(m.clientURL()) == nil {
			t.Errorf("%s still answers after stop", m.name)
		}
	}
}
