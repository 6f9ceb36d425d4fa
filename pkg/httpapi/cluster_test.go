package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/metrics"
)

// newCluster puts an HTTP front on each of n servers.
func newCluster(t *testing.T, n int) (*fronttest.Cluster, []*Server) {
	t.Helper()
	c := fronttest.NewCluster(t, n)
	var fronts []*Server
	for i, s := range c.Servers {
		fronts = append(fronts, listen(t, s, Config{ID: uint32(i), Cluster: "test", Servers: c.IDs(),
			MaxKeyBytes: fronttest.MaxKeyBytes, MaxValueBytes: fronttest.MaxValueBytes}))
	}
	return c, fronts
}

// A write through one server's HTTP front reads back through another's;
// the session token carried from the first makes the second answer 503
// while it lacks the write (the link between them cut), and the value
// once it has it: never the older value it held.
func TestCluster_HTTP_SessionAcrossServers(t *testing.T) {
	c, fronts := newCluster(t, 2)
	s0, s1 := fronts[0], fronts[1]
	if r := do(t, s0, "PUT", "/v1/kv/greeting", "hello"); r.code != 204 {
		t.Fatalf("PUT at 0 = %d %q", r.code, r.body)
	}
	c.WaitConverged()
	if r := do(t, s1, "GET", "/v1/kv/greeting", ""); r.code != 200 || r.body != "hello" {
		t.Fatalf("GET at 1 after convergence = %d %q", r.code, r.body)
	}

	c.Cut(0, 1)
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

	c.Heal(0, 1)
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
	c.WaitConverged()
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
