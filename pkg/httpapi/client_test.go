package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/front"
	"gossipkv/pkg/front/fronttest"
)

// listen starts a front for store on a free loopback port until the test
// ends.
func listen(t *testing.T, store front.Store, cfg Config) *Server {
	t.Helper()
	if cfg.ID == 0 {
		cfg.ID = fronttest.ID
	}
	if cfg.Cluster == "" {
		cfg.Cluster = "test"
	}
	if cfg.Servers == nil {
		cfg.Servers = []uint32{1, 3, 4}
	}
	return fronttest.Listen(t, func(addr string) (*Server, error) { return Listen(addr, store, cfg) })
}

// reply is an answer as a test looks at it.
type reply struct {
	code  int
	body  string
	token string
	h     http.Header
}

// do sends method path (already percent-encoded) with body and headers
// ("Name: value") to s.
func do(t *testing.T, s *Server, method, path, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.Addr().String()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{code: resp.StatusCode, body: string(b), token: resp.Header.Get(SessionHeader), h: resp.Header}
}

// client has a deadline only against a hang.
var client = &http.Client{Timeout: 30 * time.Second}
