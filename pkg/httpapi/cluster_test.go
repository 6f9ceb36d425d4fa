package httpapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/metrics"
	"gossipkv/pkg/server"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// cluster is n servers in this process over an in-memory network, each
// with its HTTP front on a loopback port.
type cluster struct {
	t       *testing.T
	servers []*server.Server
	fronts  []*Server
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	net := memnet.New()
	peers := map[uint32]string{}
	var ids []uint32
	for i := range n {
		peers[uint32(i)] = fmt.Sprintf("127.0.0.1:%d", i+1) // memnet hands addresses out in order
		ids = append(ids, uint32(i))
	}
	c := &cluster{t: t}
	for i := range n {
		id := uint32(i)
		s, err := server.New(server.Options{
			ID: id, Cluster: "test", Peers: peers, Backend: storage.NewMemory(),
			Transport: net.NewTransport(strconv.Itoa(i)),
			Timing: server.Timing{
				Gossip: 20 * time.Millisecond, Probe: 50 * time.Millisecond, ProbeTimeout: 25 * time.Millisecond,
				PushPull: 500 * time.Millisecond, SuspicionMult: 2, Flush: time.Millisecond,
				Resend: 20 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Rejoin: 100 * time.Millisecond,
			},
			MaxKeyBytes: 4096, MaxValueBytes: 1 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown() })
		c.servers = append(c.servers, s)
		c.fronts = append(c.fronts, listen(t, s, Config{ID: id, Cluster: "test", Servers: ids, MaxKeyBytes: 4096, MaxValueBytes: 1 << 20}))
	}
	return c
}

func (c *cluster) cut(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if err := c.servers[p[0]].Cut(p[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *cluster) heal(a, b uint32) {
	c.t.Helper()
	for _, p := range [][2]uint32{{a, b}, {b, a}} {
		if err := c.servers[p[0]].Heal(p[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// waitConverged polls until every server holds the same writes and store
// (what stabilize waits for).
func (c *cluster) waitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first, err := c.servers[0].Status()
		if err != nil {
			c.t.Fatal(err)
		}
		same := true
		for _, s := range c.servers[1:] {
			st, err := s.Status()
			if err != nil {
				c.t.Fatal(err)
			}
			same = same && st.Seen.Equal(first.Seen) && st.StoreDigest == first.StoreDigest
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("the servers did not converge")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A write through one server's HTTP front reads back through another's;
// the session token carried from the first makes the second answer 503
// while it lacks the write (the link between them cut), and the value
// once it has it: never the older value it held.
func TestCluster_HTTP_SessionAcrossServers(t *testing.T) {
	c := newCluster(t, 2)
	s0, s1 := c.fronts[0], c.fronts[1]
	if r := do(t, s0, "PUT", "/v1/kv/greeting", "hello"); r.code != 204 {
		t.Fatalf("PUT at 0 = %d %q", r.code, r.body)
	}
	c.waitConverged()
	if r := do(t, s1, "GET", "/v1/kv/greeting", ""); r.code != 200 || r.body != "hello" {
		t.Fatalf("GET at 1 after convergence = %d %q", r.code, r.body)
	}

	c.cut(0, 1)
	r := do(t, s0, "PUT", "/v1/kv/greeting", "hello again")
	if r.code != 204 {
		t.Fatalf("PUT at 0 = %d %q", r.code, r.body)
	}
	tok := r.token
	r = do(t, s1, "GET", "/v1/kv/greeting", "", SessionHeader+": "+tok)
	if r.code != 503 || r.h.Get("Retry-After") != "1" || !strings.Contains(r.body, "server 1 has not yet seen a write this session depends on") {
		t.Fatalf("GET at 1 with the session, cut off = %d %q", r.code, r.body)
	}
	// Without the session, server 1 may answer what it has.
	if r := do(t, s1, "GET", "/v1/kv/greeting", ""); r.code != 200 || r.body != "hello" {
		t.Errorf("GET at 1 without the session = %d %q", r.code, r.body)
	}
	// Its status says it is not linked to 0, whose writes it lacks.
	var st statusDoc
	if err := json.Unmarshal([]byte(do(t, s0, "GET", "/v1/status", "").body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Links) != 0 || len(st.Lag.Peers) != 1 || st.Lag.Peers[0].Linked || st.Lag.Peers[0].Unacked == 0 {
		t.Errorf("status of 0 while cut: %+v", st)
	}

	c.heal(0, 1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = do(t, s1, "GET", "/v1/kv/greeting", "", SessionHeader+": "+tok)
		if r.code == 200 {
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("GET at 1 with the session after the heal = %d %q", r.code, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r.body != "hello again" {
		t.Fatalf("GET at 1 with the session = %q, want the session's write", r.body)
	}

	// A delete through 1 with that session; 0 then answers 404 with it.
	r = do(t, s1, "DELETE", "/v1/kv/greeting", "", SessionHeader+": "+r.token)
	c.waitConverged()
	if r := do(t, s0, "GET", "/v1/kv/greeting", "", SessionHeader+": "+r.token); r.code != 404 {
		t.Errorf("GET at 0 of the deleted key = %d %q", r.code, r.body)
	}
	var l listing
	if err := json.Unmarshal([]byte(do(t, s0, "GET", "/v1/kv/", "").body), &l); err != nil || len(l.Keys) != 0 {
		t.Errorf("listing after the delete = %+v, %v", l, err)
	}

	// The metrics of a real server parse, and count what happened.
	m := do(t, s0, "GET", "/metrics", "")
	fams, err := metrics.Parse(strings.NewReader(m.body))
	if err != nil {
		t.Fatalf("%v\n%s", err, m.body)
	}
	for _, f := range fams {
		if f.Name == "gossipkv_puts_total" && f.Samples[0].Value != 2 {
			t.Errorf("server 0 counts %v puts, want 2", f.Samples[0].Value)
		}
	}
}
