package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// curlReply is what curl saw of one request.
type curlReply struct {
	code  int
	body  string
	token string // the X-Gossipkv-Session header
	retry string // the Retry-After header
}

// The real curl writes, reads, lists and deletes through the HTTP ports of
// a cluster the master runs; what it writes through one server reads back
// through another after a stabilize. Its cookie jar (and, by hand, the
// session header) carries the session from server to server: a server cut
// off from the session's write answers 503, never the older value, until
// the links heal.
func TestCurl_SessionAcrossServers(t *testing.T) {
	curlPath := tool(t, "curl", "curl")
	s, cfg := startFronts(t, "HTTP", config.Server.HTTPAddr)
	dir := t.TempDir()
	jar := filepath.Join(dir, "cookies.txt")
	body := filepath.Join(dir, "body")
	curl := func(id uint32, args ...string) curlReply {
		t.Helper()
		srv, _ := cfg.Server(id)
		base := "http://" + srv.HTTPAddr()
		args = slices.Clone(args)
		for i, a := range args {
			if strings.HasPrefix(a, "/v1/") || a == "/metrics" {
				args[i] = base + a
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args = append([]string{"-sS", "-o", body, "-w", `%{http_code} %header{x-gossipkv-session} %header{retry-after}`}, args...)
		out, err := exec.CommandContext(ctx, curlPath, args...).Output()
		if err != nil {
			t.Fatalf("curl %q: %v", args, err)
		}
		f := strings.SplitN(string(out), " ", 3)
		code, _ := strconv.Atoi(f[0])
		b, _ := os.ReadFile(body)
		return curlReply{code: code, body: string(b), token: f[1], retry: strings.TrimSpace(f[2])}
	}
	want := func(what string, got curlReply, code int, body string) {
		t.Helper()
		if got.code != code || got.body != body {
			t.Errorf("%s = %d %q, want %d %q", what, got.code, got.body, code, body)
		}
	}

	want("GET fromscript at 0", curl(0, "/v1/kv/fromscript"), 200, "yes")
	want("PUT greeting at 0", curl(0, "-b", jar, "-c", jar, "-X", "PUT", "--data-binary", "hello world", "/v1/kv/greeting"), 204, "")
	want("PUT user:1 at 0", curl(0, "-X", "PUT", "--data-binary", "ann", "/v1/kv/user:1"), 204, "")
	want("PUT user:2 at 0", curl(0, "-X", "PUT", "--data-binary", "bob", "/v1/kv/user:2"), 204, "")
	want("PUT a binary key at 0", curl(0, "-X", "PUT", "--data-binary", "bin", "/v1/kv/user%2F%00%FF"), 204, "")
	want("GET greeting at 0", curl(0, "-b", jar, "-c", jar, "/v1/kv/greeting"), 200, "hello world")
	s.send("stabilize")
	s.sync("greeting", "hello world")

	want("GET greeting at 1", curl(1, "/v1/kv/greeting"), 200, "hello world")
	want("GET a missing key at 2", curl(2, "/v1/kv/nope"), 404, "no key \"nope\" at server 2\n")
	list := curl(2, "-G", "--data-urlencode", "prefix=user", "/v1/kv/")
	var l struct{ Keys []string }
	if err := json.Unmarshal([]byte(list.body), &l); err != nil || strings.Join(l.Keys, " ") != "user%2F%00%FF user:1 user:2" {
		t.Errorf("listing at 2 = %d %q (%v)", list.code, list.body, err)
	}

	// Cut server 1 off; the session writes through 0, then reads at 1.
	s.send("breakConnection 0 1")
	s.send("breakConnection 1 2")
	s.sync("greeting", "hello world")
	put := curl(0, "-b", jar, "-c", jar, "-X", "PUT", "--data-binary", "hello again", "/v1/kv/greeting")
	want("PUT greeting at 0, 1 cut off", put, 204, "")
	got := curl(1, "-b", jar, "-c", jar, "/v1/kv/greeting")
	if got.code != 503 || got.retry != "1" || !strings.Contains(got.body, "server 1 has not yet seen a write this session depends on for key \"greeting\"") {
		t.Errorf("GET greeting at 1 with the cookie jar, cut off = %d %q, Retry-After %q; want 503", got.code, got.body, got.retry)
	}
	got = curl(1, "-H", "X-Gossipkv-Session: "+put.token, "/v1/kv/greeting")
	if got.code != 503 {
		t.Errorf("GET greeting at 1 with the session header, cut off = %d %q; want 503", got.code, got.body)
	}
	want("GET greeting at 1 without a session", curl(1, "/v1/kv/greeting"), 200, "hello world")
	damaged := []byte(put.token) // one character changed in the middle
	if i := len(damaged) / 2; damaged[i] == 'A' {
		damaged[i] = 'B'
	} else {
		damaged[i] = 'A'
	}
	want("GET with a damaged token", curl(1, "-H", "X-Gossipkv-Session: "+string(damaged), "/v1/kv/greeting"), 400,
		"bad session token: it fails its check: damaged or altered, or made by a server of another cluster (or with another secret key) (in the header X-Gossipkv-Session); drop it to start a new session, which loses the old one's guarantees\n")

	s.send("createConnection 0 1")
	s.send("createConnection 1 2")
	s.send("stabilize")
	s.sync("greeting", "hello again")
	want("GET greeting at 1 with the cookie jar, healed", curl(1, "-b", jar, "-c", jar, "/v1/kv/greeting"), 200, "hello again")

	want("DELETE greeting at 1", curl(1, "-b", jar, "-c", jar, "-X", "DELETE", "/v1/kv/greeting"), 204, "")
	s.send("stabilize")
	s.sync("greeting", "ERR_KEY")
	want("GET the deleted key at 2", curl(2, "-b", jar, "-c", jar, "/v1/kv/greeting"), 404, "key \"greeting\" is deleted at server 2\n")

	st := curl(2, "/v1/status")
	var doc struct {
		ID    uint32
		Links []uint32
		Keys  int
	}
	if err := json.Unmarshal([]byte(st.body), &doc); err != nil || doc.ID != 2 || len(doc.Links) != 2 || doc.Keys != 4 {
		t.Errorf("status of 2 = %d %q (%v)", st.code, st.body, err)
	}
	if m := curl(2, "/metrics"); m.code != 200 || !strings.Contains(m.body, "\ngossipkv_keys{state=\"live\"} 4\n") {
		t.Errorf("metrics of 2 = %d %q", m.code, m.body)
	}
}
