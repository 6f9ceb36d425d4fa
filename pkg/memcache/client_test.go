package memcache

import (
	"bufio"
	"io"
	"net"
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
	return fronttest.Listen(t, func(addr string) (*Server, error) { return Listen(addr, store, cfg) })
}

// raw is a bare text-protocol client on one connection.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, s *Server) *raw {
	t.Helper()
	c := fronttest.Dial(t, s.Addr())
	return &raw{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes text as it is.
func (r *raw) send(text string) {
	r.t.Helper()
	r.c.SetDeadline(time.Now().Add(30 * time.Second)) // only against a hang
	if _, err := io.WriteString(r.c, text); err != nil {
		r.t.Fatalf("send %q: %v", text, err)
	}
}

// line reads one reply line, without its "\r\n".
func (r *raw) line() string {
	r.t.Helper()
	l, err := r.r.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (after %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		r.t.Fatalf("reply line %q does not end in \\r\\n", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// do sends text and reads n reply lines, joined by "|".
func (r *raw) do(text string, n int) string {
	r.t.Helper()
	r.send(text)
	var out []string
	for range n {
		out = append(out, r.line())
	}
	return strings.Join(out, "|")
}
