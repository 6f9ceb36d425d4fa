package rpcconn

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

type Echo struct{ block chan struct{} }

func (e *Echo) Say(in string, out *string) error  { *out = "echo " + in; return nil }
func (e *Echo) Fail(in string, out *string) error { return errors.New("refused: " + in) }
func (e *Echo) Hang(in string, out *string) error { <-e.block; return nil }

// ours is the identity the tests' dialers and listeners share unless they
// test identities.
var ours = Identity{Cluster: "test", Run: "run1", Role: "test"}

func serve(t *testing.T, addr string) (*Server, *Echo) {
	t.Helper()
	e := &Echo{block: make(chan struct{})}
	s, err := Listen(ours, addr, "Echo", e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-e.block:
		default:
			close(e.block)
		}
		s.Close()
	})
	return s, e
}

func TestConn_Call(t *testing.T) {
	s, _ := serve(t, "127.0.0.1:0")
	c := New(ours, s.Addr().String(), 2*time.Second)
	defer c.Close()
	var out string
	if err := c.Call("Echo.Say", "hi", &out); err != nil || out != "echo hi" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	// A method's own error comes back as it is: the link is fine.
	err := c.Call("Echo.Fail", "x", &out)
	if err == nil || !strings.Contains(err.Error(), "refused: x") || errors.Is(err, ErrUnavailable) {
		t.Fatalf("remote error = %v", err)
	}
}

func TestConn_NothingListening_Unavailable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var out string
	if err := New(ours, addr, time.Second).Call("Echo.Say", "x", &out); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestConn_HungPeer_TimesOut(t *testing.T) {
	s, _ := serve(t, "127.0.0.1:0")
	c := New(ours, s.Addr().String(), 50*time.Millisecond)
	defer c.Close()
	var out string
	if err := c.Call("Echo.Hang", "x", &out); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The connection was dropped, and the next call works on a new one.
	if err := c.Call("Echo.Say", "again", &out); err != nil || out != "echo again" {
		t.Fatalf("after a timeout: %q, %v", out, err)
	}
}

// A peer that restarted on the same address: the old connection is dead
// before the call is sent, so the call is retried on a new one.
func TestConn_PeerRestarted_RedialsTransparently(t *testing.T) {
	s, _ := serve(t, "127.0.0.1:0")
	addr := s.Addr().String()
	c := New(ours, addr, 2*time.Second)
	defer c.Close()
	var out string
	if err := c.Call("Echo.Say", "one", &out); err != nil {
		t.Fatal(err)
	}
	s.Close()
	serve(t, addr)
	// Let the client notice the closed connection, as it would between
	// two script lines.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		cl := c.client
		c.mu.Unlock()
		var probe string
		if cl == nil || errors.Is(cl.Call("Echo.Say", "probe", &probe), errShutdownForTest) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.Call("Echo.Say", "two", &out); err != nil || out != "echo two" {
		t.Fatalf("after a restart: %q, %v", out, err)
	}
}
