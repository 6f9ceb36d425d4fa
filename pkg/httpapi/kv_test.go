package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/model"
)

func TestKV_PutGetDelete(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	if r := do(t, s, "GET", "/v1/kv/k", ""); r.code != 404 || r.body != "no key \"k\" at server 3\n" || r.token == "" {
		t.Errorf("GET of a missing key = %d %q, token %q", r.code, r.body, r.token)
	}
	r := do(t, s, "PUT", "/v1/kv/k", "hello\x00world")
	if r.code != 204 || r.body != "" || r.h.Get(VersionHeader) != f.Version("k").String() {
		t.Fatalf("PUT = %d %q, version %q", r.code, r.body, r.h.Get(VersionHeader))
	}
	tok := r.token
	r = do(t, s, "GET", "/v1/kv/k", "", SessionHeader+": "+tok)
	if r.code != 200 || r.body != "hello\x00world" || r.h.Get("Content-Type") != "application/octet-stream" || r.h.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET = %d %q %v", r.code, r.body, r.h)
	}
	if r := do(t, s, "HEAD", "/v1/kv/k", ""); r.code != 200 || r.body != "" || r.h.Get("Content-Length") != "11" {
		t.Errorf("HEAD = %d %q %v", r.code, r.body, r.h)
	}
	put := f.Version("k")
	r = do(t, s, "DELETE", "/v1/kv/k", "", SessionHeader+": "+r.token)
	if r.code != 204 {
		t.Fatalf("DELETE = %d %q", r.code, r.body)
	}
	if deps := f.Deps("k"); deps[len(deps)-1] != put {
		t.Errorf("DELETE sent dependency %v, want the put's %v", deps[len(deps)-1], put)
	}
	r = do(t, s, "GET", "/v1/kv/k", "", SessionHeader+": "+r.token)
	if r.code != 404 || r.body != "key \"k\" is deleted at server 3\n" || r.h.Get(VersionHeader) != f.Version("k").String() {
		t.Errorf("GET of a deleted key = %d %q %v", r.code, r.body, r.h)
	}
	// Deleting a key that holds nothing is a write all the same.
	if r := do(t, s, "DELETE", "/v1/kv/never", ""); r.code != 204 {
		t.Errorf("DELETE of a missing key = %d %q", r.code, r.body)
	}
	if r := do(t, s, "POST", "/v1/kv/k", "x"); r.code != 405 || r.h.Get("Allow") != "GET, HEAD, PUT, DELETE" {
		t.Errorf("POST = %d %q, Allow %q", r.code, r.body, r.h.Get("Allow"))
	}
	if r := do(t, s, "GET", "/v2/kv/k", ""); r.code != 404 || !strings.Contains(r.body, "no such endpoint") {
		t.Errorf("GET /v2/kv/k = %d %q", r.code, r.body)
	}
}

// Keys are the path after /v1/kv/, percent-decoded and never cleaned: any
// byte string is a key.
func TestKV_Keys_AnyBytes(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	for path, key := range map[string]string{
		"/v1/kv/a/b":           "a/b",
		"/v1/kv/a%2Fb%2F":      "a/b/",
		"/v1/kv/a//b":          "a//b",
		"/v1/kv/../x":          "../x",
		"/v1/kv/.":             ".",
		"/v1/kv/%00%FF%20+%25": "\x00\xff +%",
		"/v1/kv/%E2%82%AC":     "€",
	} {
		r := do(t, s, "PUT", path, "v:"+key)
		if r.code != 204 {
			t.Errorf("PUT %s = %d %q", path, r.code, r.body)
			continue
		}
		if got, _ := f.Value(key); string(got) != "v:"+key {
			t.Errorf("PUT %s stored %q under %q", path, got, key)
		}
		if r := do(t, s, "GET", "/v1/kv/"+url.PathEscape(key), ""); r.code != 200 || r.body != "v:"+key {
			t.Errorf("GET of %q = %d %q", key, r.code, r.body)
		}
	}
}

func TestKV_Limits(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{MaxKeyBytes: 8, MaxValueBytes: 16})
	if r := do(t, s, "PUT", "/v1/kv/123456789", "v"); r.code != 400 || r.body != "key of 9 bytes exceeds max_key_bytes 8\n" {
		t.Errorf("long key = %d %q", r.code, r.body)
	}
	if r := do(t, s, "GET", "/v1/kv/123456789", ""); r.code != 400 {
		t.Errorf("GET of a long key = %d %q", r.code, r.body)
	}
	if r := do(t, s, "PUT", "/v1/kv/k", strings.Repeat("x", 17)); r.code != 413 || r.body != "value of 17 bytes exceeds max_value_bytes 16\n" {
		t.Errorf("long value = %d %q", r.code, r.body)
	}
	// Without a declared length (chunked), refused once it passes the bound.
	req, _ := http.NewRequest("PUT", "http://"+s.Addr().String()+"/v1/kv/k", struct{ *strings.Reader }{strings.NewReader(strings.Repeat("x", 1000))})
	req.ContentLength = -1
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked long value = %d", resp.StatusCode)
	}
	if r := do(t, s, "PUT", "/v1/kv/k", strings.Repeat("x", 16)); r.code != 204 {
		t.Errorf("value at the bound = %d %q", r.code, r.body)
	}
	if r := do(t, s, "PUT", "/v1/kv/k", ""); r.code != 204 {
		t.Errorf("empty value = %d %q", r.code, r.body)
	}
}

func TestKV_IfNoneMatch(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	if r := do(t, s, "PUT", "/v1/kv/lock", "me", "If-None-Match: *"); r.code != 204 {
		t.Fatalf("first conditional PUT = %d %q", r.code, r.body)
	}
	r := do(t, s, "PUT", "/v1/kv/lock", "you", "If-None-Match: *")
	if r.code != 412 || r.body != "key \"lock\" holds a value at server 3 (If-None-Match: *)\n" || r.h.Get(VersionHeader) != f.Version("lock").String() {
		t.Errorf("second conditional PUT = %d %q %v", r.code, r.body, r.h)
	}
	if v, _ := f.Value("lock"); string(v) != "me" {
		t.Errorf("value = %q, want me", v)
	}
	for _, h := range []string{`If-Match: "x"`, `If-None-Match: "abc"`, "If-Unmodified-Since: Mon, 01 Jan 2024 00:00:00 GMT"} {
		if r := do(t, s, "PUT", "/v1/kv/lock", "x", h); r.code != 400 || !strings.Contains(r.body, "no compare-and-set") {
			t.Errorf("PUT with %s = %d %q", h, r.code, r.body)
		}
	}
}

// A store that fails (a server that cannot reach its disk) answers 500
// saying why, and the session goes on once it is back.
func TestKV_StoreFails(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	tok := do(t, s, "PUT", "/v1/kv/k", "v").token
	f.Fail(errors.New("disk gone"))
	for _, tt := range []struct{ method, path, body, want string }{
		{"PUT", "/v1/kv/k", "v2", "server 3: put failed: disk gone\n"},
		{"GET", "/v1/kv/k", "", "server 3: get failed: disk gone\n"},
		{"DELETE", "/v1/kv/k", "", "server 3: delete failed: disk gone\n"},
		{"GET", "/v1/kv/", "", "server 3: listing failed: disk gone\n"},
		{"GET", "/v1/status", "", "server 3: status: disk gone\n"},
		{"GET", "/metrics", "", "server 3: status: disk gone\n"},
	} {
		if r := do(t, s, tt.method, tt.path, tt.body, SessionHeader+": "+tok); r.code != 500 || r.body != tt.want {
			t.Errorf("%s %s = %d %q, want 500 %q", tt.method, tt.path, r.code, r.body, tt.want)
		}
	}
	if r := do(t, s, "PUT", "/v1/kv/n", "x", "If-None-Match: *"); r.code != 500 || r.body != "server 3: put failed: disk gone\n" {
		t.Errorf("PUT If-None-Match: * = %d %q", r.code, r.body)
	}
	f.Fail(nil)
	if r := do(t, s, "GET", "/v1/kv/k", "", SessionHeader+": "+tok); r.code != 200 || r.body != "v" {
		t.Errorf("GET once the store is back = %d %q", r.code, r.body)
	}
}

// A server behind the session answers 503 with Retry-After, never an
// older value, and gives the session back unchanged.
func TestSession_Behind(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	r := do(t, s, "PUT", "/v1/kv/k", "v1")
	tok := r.token
	f.Forget("k") // as a server that reloaded a disk that lost the write
	f.Plant("k", "older", model.Version{Wall: 1, Origin: 3})
	r = do(t, s, "GET", "/v1/kv/k", "", SessionHeader+": "+tok)
	if r.code != 503 || r.h.Get("Retry-After") != "1" || r.token != tok ||
		r.body != "server 3 has not yet seen a write this session depends on for key \"k\": retry later, or at another server\n" {
		t.Errorf("GET behind = %d %q, Retry-After %q, token changed: %v", r.code, r.body, r.h.Get("Retry-After"), r.token != tok)
	}
	// Without the session, the older value is what there is.
	if r := do(t, s, "GET", "/v1/kv/k", ""); r.code != 200 || r.body != "older" {
		t.Errorf("GET without the session = %d %q", r.code, r.body)
	}
	if r := do(t, s, "PUT", "/v1/kv/k", "x", SessionHeader+": "+tok, "If-None-Match: *"); r.code != 412 && r.code != 503 {
		t.Errorf("conditional PUT behind = %d %q", r.code, r.body)
	}
}

// A token carries the session from one server to another: the second
// passes the first's versions to its store.
func TestSession_TokenAcrossServers(t *testing.T) {
	f0, f1 := fronttest.NewStore(), fronttest.NewStore()
	s0, s1 := listen(t, f0, Config{}), listen(t, f1, Config{ID: 4})
	r := do(t, s0, "PUT", "/v1/kv/a", "1")
	r = do(t, s0, "PUT", "/v1/kv/b", "2", SessionHeader+": "+r.token)
	va, vb := f0.Version("a"), f0.Version("b")
	r = do(t, s1, "GET", "/v1/kv/a", "", SessionHeader+": "+r.token)
	if r.code != 503 {
		t.Fatalf("GET a at the server without it = %d %q", r.code, r.body)
	}
	do(t, s1, "GET", "/v1/kv/b", "", SessionHeader+": "+r.token)
	do(t, s1, "GET", "/v1/kv/c", "", SessionHeader+": "+r.token)
	if got := f1.Deps("a"); len(got) != 1 || got[0] != va {
		t.Errorf("dependency sent for a = %v, want [%v]", got, va)
	}
	do(t, s1, "GET", "/v1/kv/b", "", SessionHeader+": "+r.token)
	if got := f1.Deps("b"); len(got) != 1 || got[0] != vb {
		t.Errorf("dependency sent for b = %v, want [%v]", got, vb)
	}
	do(t, s1, "GET", "/v1/kv/c", "", SessionHeader+": "+r.token)
	if got := f1.Deps("c"); len(got) != 1 || !got[0].IsZero() {
		t.Errorf("dependency sent for c = %v, want none", got)
	}
}

// The session cookie does the same for clients with a cookie jar: a jar
// ignores ports, so it carries the session between servers of one host.
func TestSession_CookieJar(t *testing.T) {
	f0, f1 := fronttest.NewStore(), fronttest.NewStore()
	s0, s1 := listen(t, f0, Config{}), listen(t, f1, Config{ID: 4})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	send := func(s *Server, method, key, body string) int {
		req, _ := http.NewRequest(method, "http://"+s.Addr().String()+"/v1/kv/"+key, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(s0, "PUT", "k", "v"); code != 204 {
		t.Fatalf("PUT = %d", code)
	}
	if code := send(s1, "GET", "k", ""); code != 503 {
		t.Errorf("GET at the server without the write, with the jar = %d, want 503", code)
	}
	if got := f1.Deps("k"); len(got) != 1 || got[0] != f0.Version("k") {
		t.Errorf("dependency from the cookie = %v, want [%v]", got, f0.Version("k"))
	}
	// A header wins over the cookie.
	req, _ := http.NewRequest("GET", "http://"+s1.Addr().String()+"/v1/kv/k", nil)
	req.Header.Set(SessionHeader, newTokens("test", nil, nil, time.Now).encode(&session{}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET with an empty session in the header = %d, want 404", resp.StatusCode)
	}
}

func TestSession_BadToken(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{})
	good := do(t, s, "PUT", "/v1/kv/k", "v").token
	altered := []byte(good)
	altered[5] ^= 1
	if altered[5] == '-' || altered[5] == '_' || altered[5] > 'z' {
		altered[5] = 'A'
	}
	other := newTokens("another", nil, nil, time.Now).encode(&session{})
	for name, tok := range map[string]string{
		"garbage":       "not a token!",
		"altered":       string(altered),
		"truncated":     good[:len(good)-3],
		"empty payload": "AA",
		"other cluster": other,
		"very long":     strings.Repeat("A", 10000),
		"padding":       good + "==",
	} {
		for _, how := range []string{"header", "cookie"} {
			h := SessionHeader + ": " + tok
			if how == "cookie" {
				h = "Cookie: " + SessionCookie + "=" + tok
			}
			r := do(t, s, "GET", "/v1/kv/k", "", h)
			if r.code != 400 || !strings.HasPrefix(r.body, "bad session token: ") || !strings.Contains(r.body, how) || !strings.Contains(r.body, "drop it to start a new session") {
				t.Errorf("%s token in the %s: %d %q", name, how, r.code, r.body)
			}
		}
	}
}

// A token names only servers of the cluster, and no write far in the
// future, whatever its MAC.
func TestTokens_RefuseImplausibleVersions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := newTokens("test", nil, []uint32{0, 1}, func() time.Time { return now })
	for _, tt := range []struct {
		v    model.Version
		want string
	}{
		{model.Version{Wall: now.UnixNano(), Origin: 7}, "server 7, which is not a server of this cluster"},
		{model.Version{Wall: now.Add(2 * time.Hour).UnixNano(), Origin: 1}, "2h0m0s ahead of this server's clock (at most 1h0m0s)"},
	} {
		ss := &session{}
		ss.observe([]byte("k"), tt.v)
		if _, err := tk.decode(tk.encode(ss)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decode of %v = %v, want %q", tt.v, err, tt.want)
		}
	}
	ss := &session{}
	ss.observe([]byte("k"), model.Version{Wall: now.Add(30 * time.Minute).UnixNano(), Logical: 5, Origin: 1})
	if got, err := tk.decode(tk.encode(ss)); err != nil || len(got.deps) != 1 || got.deps[0] != ss.deps[0] {
		t.Errorf("decode of a version half an hour ahead = %+v, %v", got, err)
	}
}

// A session keeps the 64 keys it used last; its token stays a few KB.
func TestSession_KeepsNewestKeys(t *testing.T) {
	tk := newTokens("test", []byte("0123456789abcdef"), nil, time.Now)
	ss := &session{}
	base := time.Now().UnixNano()
	for i := range 100 {
		ss.observe([]byte(fmt.Sprint("key", i)), model.Version{Wall: base - int64(i)*int64(time.Hour), Logical: uint32(i), Origin: 4})
	}
	// Kept: key36..key99. An older version of key36 keeps the newer one,
	// and makes it the key used last; a new key then pushes out key37.
	ss.observe([]byte("key36"), model.Version{Wall: 1, Origin: 4})
	ss.observe([]byte("new"), model.Version{Wall: base, Origin: 4})
	tok := tk.encode(ss)
	got, err := tk.decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.deps) != maxSessionKeys || len(tok) > 2000 {
		t.Errorf("%d keys in a token of %d characters", len(got.deps), len(tok))
	}
	if v := got.get([]byte("key99")); v.Logical != 99 {
		t.Errorf("key99 = %v", v)
	}
	if v := got.get([]byte("key36")); v.Logical != 36 {
		t.Errorf("key36 = %v, want its newest version kept", v)
	}
	for _, k := range []string{"key35", "key37"} {
		if v := got.get([]byte(k)); !v.IsZero() {
			t.Errorf("%s = %v, want dropped (used least recently)", k, v)
		}
	}
	// Another secret key refuses it.
	if _, err := newTokens("test", []byte("fedcba9876543210"), nil, time.Now).decode(tok); err == nil {
		t.Error("a token made with another secret key was accepted")
	}
}

// FuzzTokens_Decode feeds decode payloads with a valid MAC (a forger's
// view, or a bug in encode): whatever they hold, decode refuses or
// accepts without a panic, and what it accepts encodes to a token that
// decodes to the same session.
func FuzzTokens_Decode(f *testing.F) {
	tk := newTokens("test", nil, []uint32{0, 1, 2}, time.Now)
	payload := func(ss *session) []byte {
		b, _ := base64.RawURLEncoding.DecodeString(tk.encode(ss))
		return b[:len(b)-macBytes]
	}
	ss := &session{}
	for i := range 3 {
		ss.observe([]byte{byte(i)}, model.Version{Wall: time.Now().UnixNano() - int64(i), Logical: uint32(i), Origin: uint32(i)})
	}
	f.Add(payload(ss))
	f.Add(payload(&session{}))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		tok := base64.RawURLEncoding.EncodeToString(append(p, tk.mac(p)...))
		got, err := tk.decode(tok)
		if err != nil {
			if !errors.Is(err, errToken) {
				t.Errorf("decode error %v is not errToken", err)
			}
			return
		}
		again, err := tk.decode(tk.encode(got))
		if err != nil || !slices.Equal(again.deps, got.deps) {
			t.Errorf("decode(%q) = %+v, which encodes to %+v, %v", tok, got, again, err)
		}
	})
}

func TestList(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	for _, k := range []string{"user:1", "user:2", "user:10", "order:1", "user:3", "user/x y", "\xff"} {
		do(t, s, "PUT", "/v1/kv/"+url.PathEscape(k), "v")
	}
	do(t, s, "DELETE", "/v1/kv/user:3", "")
	list := func(query string) (listing, reply) {
		t.Helper()
		r := do(t, s, "GET", "/v1/kv/"+query, "")
		var l listing
		if r.code == 200 {
			if err := json.Unmarshal([]byte(r.body), &l); err != nil {
				t.Fatalf("%s: %v in %q", query, err, r.body)
			}
		}
		return l, r
	}
	if l, r := list(""); r.code != 200 || fmt.Sprint(l.Keys) != "[order:1 user%2Fx%20y user:1 user:10 user:2 %FF]" || l.Next != "" {
		t.Errorf("all keys = %d %+v", r.code, l)
	}
	if l, _ := list("?prefix=user:"); fmt.Sprint(l.Keys) != "[user:1 user:10 user:2]" || l.Next != "" {
		t.Errorf("prefix user: = %+v", l)
	}
	// Pages of two, following next.
	var all []string
	q := "?prefix=user&limit=2"
	for pages := 0; ; pages++ {
		l, r := list(q)
		if r.code != 200 || pages > 3 {
			t.Fatalf("page %d: %d %q", pages, r.code, r.body)
		}
		all = append(all, l.Keys...)
		if l.Next == "" {
			break
		}
		q = "?prefix=user&limit=2&cursor=" + l.Next
	}
	if fmt.Sprint(all) != "[user%2Fx%20y user:1 user:10 user:2]" {
		t.Errorf("paged = %v", all)
	}
	if l, _ := list("?prefix=nothing"); l.Keys == nil || len(l.Keys) != 0 {
		t.Errorf("no match = %#v, want an empty array", l)
	}
	if _, r := list(""); !strings.Contains(r.body, `"keys": [`) {
		t.Errorf("body = %q", r.body)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?cursor=***", "?prefx=a"} {
		if _, r := list(q); r.code != 400 {
			t.Errorf("%s = %d %q", q, r.code, r.body)
		}
	}
	if r := do(t, s, "GET", "/v1/kv", ""); r.code != 200 {
		t.Errorf("GET /v1/kv = %d", r.code)
	}
	if r := do(t, s, "DELETE", "/v1/kv/", ""); r.code != 405 {
		t.Errorf("DELETE /v1/kv/ = %d", r.code)
	}
}
