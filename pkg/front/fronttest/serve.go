package fronttest

import (
	"net"
	"testing"
	"time"
)

// Listen starts a front with listen on a free loopback port, and closes
// it when the test ends (a failed Close fails the test).
func Listen[S interface{ Close() error }](t *testing.T, listen func(addr string) (S, error)) S {
	t.Helper()
	s, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Dial connects to a front at addr, until the test ends.
func Dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// CheckClosed fails the test if a front that close has closed still
// accepts at addr, or if closing it again fails.
func CheckClosed(t *testing.T, addr net.Addr, close func() error) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Close")
	}
	if err := close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
