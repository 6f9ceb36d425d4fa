package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/metrics"
)

func TestStatus(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{Run: "r1"})
	do(t, s, "PUT", "/v1/kv/a", "1")
	do(t, s, "PUT", "/v1/kv/b", "2")
	do(t, s, "DELETE", "/v1/kv/b", "")
	r := do(t, s, "GET", "/v1/status", "")
	if r.code != 200 || r.h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/status = %d %q", r.code, r.body)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"id": "3", "cluster": `"test"`, "run": `"r1"`, "peers": "[1,4]", "links": "[1,4]",
		"topology":    `{"1":[3],"3":[1,4],"4":[3]}`,
		"held_writes": `{"count":5,"set":"{77:5}"}`,
		"keys":        "1", "tombstones": "1",
		"lag": `{"behind":2,"peers":[{"id":1,"linked":true,"missing":2,"unacked":0},{"id":4,"linked":false,"missing":0,"unacked":7}]}`,
	}
	for k, w := range want {
		b, _ := json.Marshal(doc[k])
		if string(b) != w {
			t.Errorf("%s = %s, want %s", k, b, w)
		}
	}
	if _, ok := doc["uptime_seconds"].(float64); !ok {
		t.Errorf("uptime_seconds = %v", doc["uptime_seconds"])
	}
	if r := do(t, s, "PUT", "/v1/status", "x"); r.code != 405 {
		t.Errorf("PUT /v1/status = %d", r.code)
	}
}

// /metrics is valid Prometheus text (checked by metrics.Parse, strictly)
// and has the figures the server gives.
func TestMetrics_Format(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{Cluster: `odd"name`})
	do(t, s, "PUT", "/v1/kv/a", "1")
	r := do(t, s, "GET", "/metrics", "")
	if r.code != 200 || r.h.Get("Content-Type") != metrics.ContentType {
		t.Fatalf("GET /metrics = %d %v", r.code, r.h)
	}
	fams, err := metrics.Parse(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	byName := map[string]metrics.Family{}
	for _, f := range fams {
		byName[f.Name] = f
	}
	value := func(family, sample string, labels map[string]string) float64 {
		t.Helper()
		f, ok := byName[family]
		if !ok {
			t.Fatalf("no family %s in\n%s", family, r.body)
		}
	next:
		for _, s := range f.Samples {
			if s.Name != sample {
				continue
			}
			for k, v := range labels {
				if s.Labels[k] != v {
					continue next
				}
			}
			return s.Value
		}
		t.Fatalf("no sample %s%v", sample, labels)
		return 0
	}
	for _, tt := range []struct {
		family, sample string
		labels         map[string]string
		want           float64
	}{
		{"gossipkv_info", "gossipkv_info", map[string]string{"cluster": `odd"name`, "id": "3"}, 1},
		{"gossipkv_puts_total", "gossipkv_puts_total", nil, 10},
		{"gossipkv_gets_total", "gossipkv_gets_total", nil, 20},
		{"gossipkv_deletes_total", "gossipkv_deletes_total", nil, 3},
		{"gossipkv_request_duration_seconds", "gossipkv_request_duration_seconds_count", map[string]string{"op": "put"}, 2},
		{"gossipkv_request_duration_seconds", "gossipkv_request_duration_seconds_bucket", map[string]string{"op": "put", "le": "0.0005"}, 1},
		{"gossipkv_request_duration_seconds", "gossipkv_request_duration_seconds_count", map[string]string{"op": "get"}, 0},
		{"gossipkv_commits_total", "gossipkv_commits_total", nil, 4},
		{"gossipkv_checkpoints_total", "gossipkv_checkpoints_total", nil, 1},
		{"gossipkv_sent_batches_total", "gossipkv_sent_batches_total", nil, 9},
		{"gossipkv_sent_messages_total", "gossipkv_sent_messages_total", map[string]string{"kind": "ack"}, 6},
		{"gossipkv_sent_writes_total", "gossipkv_sent_writes_total", map[string]string{"origin": "own"}, 7},
		{"gossipkv_sent_writes_total", "gossipkv_sent_writes_total", map[string]string{"origin": "relayed"}, 5},
		{"gossipkv_keys", "gossipkv_keys", map[string]string{"state": "live"}, 1},
		{"gossipkv_held_writes", "gossipkv_held_writes", nil, 5},
		{"gossipkv_links", "gossipkv_links", nil, 2},
		{"gossipkv_behind_writes", "gossipkv_behind_writes", nil, 2},
		{"gossipkv_peer_unacked_writes", "gossipkv_peer_unacked_writes", map[string]string{"peer": "4"}, 7},
	} {
		if got := value(tt.family, tt.sample, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.sample, tt.labels, got, tt.want)
		}
	}
	for _, f := range fams {
		if f.Help == "" {
			t.Errorf("%s has no help", f.Name)
		}
	}
}

// Close lets a request in flight finish, then the port is closed.
func TestServer_Close_WaitsForRequests(t *testing.T) {
	f := fronttest.NewStore()
	release := f.Hold()
	s, err := Listen("127.0.0.1:0", f, Config{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PUT", "http://"+s.Addr().String()+"/v1/kv/k", strings.NewReader("v"))
		resp, err := client.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	f.WaitHeld(t) // the PUT has reached the store, where it waits
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 204 {
		t.Errorf("the PUT in flight = %d", code)
	}
	fronttest.CheckClosed(t, s.Addr(), s.Close)
}
