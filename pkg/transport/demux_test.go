package transport

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// loopInner is a transport whose dials arrive as its own incoming streams:
// one demux talks to itself.
type loopInner struct {
	*fakeInner
}

func (l loopInner) DialAddressTimeout(a memberlist.Address, _ time.Duration) (net.Conn, error) {
	c1, c2 := net.Pipe()
	go func() { l.streamCh <- c2 }()
	return c1, nil
}

// received waits for one connection on ch and reads n bytes from it.
func received(t *testing.T, ch <-chan net.Conn, n int) string {
	t.Helper()
	select {
	case c := <-ch:
		defer c.Close()
		buf := make([]byte, n)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(buf)
	case <-time.After(5 * time.Second):
		t.Fatal("no stream arrived")
	}
	return ""
}

func TestDemux_RoutesByFirstByte(t *testing.T) {
	inner := loopInner{newFakeInner()}
	data, raft := make(chan net.Conn, 1), make(chan net.Conn, 1)
	d := NewDemux(inner, func(c net.Conn) { data <- c })
	t.Cleanup(func() { d.Shutdown() })
	d.Route(RaftMagic, func(c net.Conn) { raft <- c })
	peer := memberlist.Address{Addr: "127.0.0.1:7101", Name: Names(1)}

	write := func(c net.Conn, err error, msg string) {
		t.Helper()
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		go func() { c.Write([]byte(msg)); c.Close() }()
	}
	c, err := d.Dial(RaftMagic, peer, time.Second)
	write(c, err, "raft")
	if got := received(t, raft, 4); got != "raft" {
		t.Errorf("raft route got %q, want %q (magic byte stripped)", got, "raft")
	}
	c, err = d.DialStream(peer, time.Second)
	write(c, err, "data")
	if got := received(t, data, 4); got != "data" {
		t.Errorf("data route got %q, want %q", got, "data")
	}
	// Anything else is memberlist's, first byte included.
	c, err = inner.DialAddressTimeout(peer, time.Second)
	write(c, err, "\x01ml")
	if got := received(t, d.StreamCh(), 3); got != "\x01ml" {
		t.Errorf("memberlist got %q, want %q", got, "\x01ml")
	}
	if len(raft) > 0 || len(data) > 0 {
		t.Error("a stream went to two routes")
	}
}

func TestDemux_UnroutedMagicGoesToMemberlist(t *testing.T) {
	inner := loopInner{newFakeInner()}
	d := NewDemux(inner, func(c net.Conn) { c.Close() })
	t.Cleanup(func() { d.Shutdown() })
	c, err := d.Dial(RaftMagic, memberlist.Address{Addr: "127.0.0.1:7101"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.Write([]byte("x")); c.Close() }()
	if got := received(t, d.StreamCh(), 2); got != "\xe8x" {
		t.Errorf("memberlist got %q, want the whole stream", got)
	}
}

func TestDemux_Dial_CutPeerRefused(t *testing.T) {
	cut := New(loopInner{newFakeInner()}, testPeers())
	d := NewDemux(cut, func(c net.Conn) { c.Close() })
	t.Cleanup(func() { d.Shutdown() })
	cut.Cut(1)
	_, err := d.Dial(RaftMagic, memberlist.Address{Addr: "127.0.0.1:7101", Name: Names(1)}, time.Second)
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("dial to a cut peer: %v, want a *net.OpError", err)
	}
	cut.Heal(1)
	c, err := d.Dial(RaftMagic, memberlist.Address{Addr: "127.0.0.1:7101", Name: Names(1)}, time.Second)
	if err != nil {
		t.Fatalf("dial after heal: %v", err)
	}
	c.Close()
}
