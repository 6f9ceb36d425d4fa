package resp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
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

// Replies as the raw client reads them, so that tests see exactly what
// went on the wire: a simple string, an error, an integer, a bulk string
// (nil for a null bulk) or an array.
type (
	simple string
	rerr   string
	bulk   string
)

// raw is a bare RESP2 client on one connection.
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

// do sends a command and reads its reply.
func (r *raw) do(args ...string) any {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.c.SetDeadline(time.Now().Add(30 * time.Second)) // only against a hang
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		r.t.Fatalf("send %q: %v", args, err)
	}
	v, err := r.read()
	if err != nil {
		r.t.Fatalf("reply to %q: %v", args, err)
	}
	return v
}

func (r *raw) read() (any, error) {
	line, err := r.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return nil, fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return simple(body), nil
	case '-':
		return rerr(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err // null bulk: nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return nil, err
		}
		return bulk(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = r.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply %q", line)
}

// want fails the test unless got equals want (by their printed forms,
// which show the reply types).
func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", want); g != w {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
