package master

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/rpcconn"
)

// Ports held by another master's run (or another cluster's processes)
// stop this master before it drives anything: exit 2 and one error per
// port naming it, the process that holds it, its cluster and run.
func TestRun_PortsHeldByAnotherRun_Exit2_NamesEach(t *testing.T) {
	for _, tc := range []struct {
		name, cluster, run, want string
	}{
		{"another run", "gossipkv", "theirs", `of cluster "gossipkv", run theirs`},
		{"another cluster", "lab", "", `of cluster "lab", no run of its own`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, 2, 1)
			theirs := *cfg
			theirs.Cluster = tc.cluster
			other := startFakeClusterOfRun(t, &theirs, tc.run)
			// A server of theirs runs too, on server 1's rpc port.
			var sr api.StartReply
			if err := (&fakeWatchdog{other}).Start(api.StartArgs{ServerID: 1, Run: tc.run}, &sr); err != nil {
				t.Fatal(err)
			}
			// Their master has called their watchdog of server 0.
			w0, _ := cfg.Server(0)
			theirMaster := rpcconn.New(rpcconn.Identity{Cluster: tc.cluster, Run: tc.run, Role: rpcconn.RoleMaster}, w0.WatchdogAddr(), time.Second)
			if err := theirMaster.Call(api.WatchdogPing, api.Empty{}, &api.PingReply{}); err != nil {
				t.Fatal(err)
			}
			theirMaster.Close()

			r := runScript(t, cfg, lines("joinServer 0", "joinClient 2 0", "put 2 intruder x"), func(o *Options) { o.Run = "mine" })
			if r.code != ExitStart {
				t.Fatalf("exit %d, want %d", r.code, ExitStart)
			}
			pid := "(pid " + strconv.Itoa(os.Getpid()) + ")"
			s1, _ := cfg.Server(1)
			c2, _ := cfg.Client(2)
			for _, held := range []struct{ what, addr string }{
				{"watchdog of server 0", w0.WatchdogAddr()},
				{"watchdog of server 1", s1.WatchdogAddr()},
				{"client 2", c2.RPCAddr()},
				{"server 1", s1.RPCAddr()},
			} {
				want := held.what + ": port " + held.addr + " is held by "
				i := strings.Index(r.stderr, want)
				if i < 0 {
					t.Errorf("stderr lacks %q", want)
					continue
				}
				line := r.stderr[i : i+strings.IndexByte(r.stderr[i:], '\n')]
				for _, part := range []string{pid, tc.want, "refuses this master (run mine)"} {
					if !strings.Contains(line, part) {
						t.Errorf("%q lacks %q", line, part)
					}
				}
			}
			checkStderr(t, r.stderr, "driven by master pid "+strconv.Itoa(os.Getpid()), "what to do: ",
				"bin/master config -servers 2 -clients 1 -port ")
			if tc.run != "" {
				checkStderr(t, r.stderr, "its master, pid "+strconv.Itoa(os.Getpid())+", is still running")
			}
			if got := other.startCalls(); len(got) != 1 {
				t.Errorf("their watchdogs were asked to start %v; only the test's own start should be there", got)
			}
			if strings.Contains(r.stdout, "intruder") || r.stdout != "" {
				t.Errorf("stdout %q: the script ran", r.stdout)
			}
		})
	}
}

// A port held by something that is not gossipkv at all is named, with the
// process that listens there.
func TestRun_PortHeldByStranger_Exit2_NamesPortAndPid(t *testing.T) {
	cfg := testConfig(t, 1, 1)
	c := newFakeCluster(cfg)
	t.Cleanup(c.close)
	s0, _ := cfg.Server(0)
	if err := c.serve(s0.WatchdogAddr(), "Watchdog", &fakeWatchdog{c}); err != nil {
		t.Fatal(err)
	}
	c1, _ := cfg.Client(1)
	ln, err := net.Listen("tcp", c1.RPCAddr()) // accepts, then hangs up
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	r := runScript(t, cfg, lines("joinServer 0"), nil)
	if r.code != ExitStart {
		t.Fatalf("exit %d, want %d", r.code, ExitStart)
	}
	checkStderr(t, r.stderr,
		"client 1: port "+c1.RPCAddr()+" is held by pid "+strconv.Itoa(os.Getpid()),
		"which is not a gossipkv process of this version",
		"stop what holds the ports that are not gossipkv's")
	if got := c.startCalls(); len(got) != 0 {
		t.Errorf("the script ran: starts %v", got)
	}
}
