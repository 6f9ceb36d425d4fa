package rpcconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// listenAs serves an Echo as id on a free loopback port.
func listenAs(t *testing.T, id Identity) *Server {
	t.Helper()
	s, err := Listen(id, "127.0.0.1:0", "Echo", &Echo{block: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// callAs makes one Echo.Say call from id.
func callAs(id Identity, addr string) error {
	c := New(id, addr, 2*time.Second)
	defer c.Close()
	var out string
	err := c.Call("Echo.Say", "hi", &out)
	if err == nil && out != "echo hi" {
		return fmt.Errorf("reply %q", out)
	}
	return err
}

func TestHandshake_WhoIsAccepted(t *testing.T) {
	owned := Identity{Cluster: "lab", Run: "aaaa", Role: RoleWatchdog, ID: 3}
	byHand := Identity{Cluster: "lab", Role: RoleWatchdog, ID: 3} // no run
	for _, tc := range []struct {
		name     string
		listener Identity
		dialer   Identity
		accepted bool
	}{
		{"same cluster and run", owned, Identity{Cluster: "lab", Run: "aaaa", Role: RoleMaster}, true},
		{"other run", owned, Identity{Cluster: "lab", Run: "bbbb", Role: RoleMaster}, false},
		{"no run, to a listener with one", owned, Identity{Cluster: "lab", Role: "tool"}, false},
		{"other cluster, same run", owned, Identity{Cluster: "other", Run: "aaaa", Role: RoleMaster}, false},
		{"listener without run: any run of its cluster", byHand, Identity{Cluster: "lab", Run: "bbbb", Role: RoleMaster}, true},
		{"listener without run: another run too", byHand, Identity{Cluster: "lab", Run: "cccc", Role: RoleMaster}, true},
		{"listener without run: no run", byHand, Identity{Cluster: "lab", Role: "tool"}, true},
		{"listener without run: not another cluster", byHand, Identity{Cluster: "other", Run: "bbbb", Role: RoleMaster}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := listenAs(t, tc.listener)
			err := callAs(tc.dialer, s.Addr().String())
			if tc.accepted {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want a *RefusedError", err)
			}
			if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) {
				t.Errorf("a refusal reads as a missing peer: %v", err)
			}
		})
	}
}

// A refusal names the address, the listener (role, id, pid, cluster, run,
// and the master that drives it) and the caller's run.
func TestHandshake_RefusalDescribesTheListener(t *testing.T) {
	s := listenAs(t, Identity{Cluster: "lab", Run: "aaaa", Role: RoleWatchdog, ID: 3})
	addr := s.Addr().String()
	// Its own master calls first: the refusal then names that master.
	owner := Identity{Cluster: "lab", Run: "aaaa", Role: RoleMaster}
	if err := callAs(owner, addr); err != nil {
		t.Fatal(err)
	}
	err := callAs(Identity{Cluster: "lab", Run: "bbbb", Role: RoleMaster}, addr)
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RefusedError", err)
	}
	want := Peer{Identity: Identity{Cluster: "lab", Run: "aaaa", Role: RoleWatchdog, ID: 3}, Pid: os.Getpid(), MasterPid: os.Getpid()}
	if re.Peer != want || re.Addr != addr {
		t.Errorf("refusal %+v at %s, want %+v at %s", re.Peer, re.Addr, want, addr)
	}
	msg := err.Error()
	for _, part := range []string{addr, "watchdog 3", "pid " + strconv.Itoa(os.Getpid()), `cluster "lab"`,
		"run aaaa", "master pid", "this is master", "run bbbb", "another run"} {
		if !strings.Contains(msg, part) {
			t.Errorf("refusal %q lacks %q", msg, part)
		}
	}
	err = callAs(Identity{Cluster: "elsewhere", Run: "aaaa", Role: RoleMaster}, addr)
	if err == nil || !strings.Contains(err.Error(), "another cluster") {
		t.Errorf("refusal by cluster: %v", err)
	}
}

// fakeListener answers every connection with the given bytes (nil: says
// nothing) after reading what the dialer sends, and counts connections.
func fakeListener(t *testing.T, reply func(hello []byte) []byte, hold bool) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				body, _ := readFrame(c)
				if out := reply(body); out != nil {
					c.Write(out)
				}
				if hold {
					<-stop
				}
			}()
		}
	}()
	return ln.Addr().String(), &n
}

func frame(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeFrame(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A refused dial is not retried: the same process would refuse again.
func TestConn_Refused_NotRetried(t *testing.T) {
	refusal := frame(t, answer{Accept: false, Peer: Peer{Identity: Identity{Cluster: "lab", Run: "x", Role: RoleClient, ID: 7}, Pid: 42}})
	addr, conns := fakeListener(t, func([]byte) []byte { return refusal }, false)
	err := callAs(ours, addr)
	var re *RefusedError
	if !errors.As(err, &re) || re.Peer.Pid != 42 || re.Peer.Name() != "client 7" {
		t.Fatalf("err = %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for one refused call, want 1", n)
	}
}

// Whatever answers the hello (garbage, nothing, a close), the dialer
// returns within its deadline with ErrNoHandshake, never a hang or a
// refusal.
func TestConn_ListenerWithoutHandshake(t *testing.T) {
	valid := frame(t, answer{Accept: true, Peer: Peer{Identity: Identity{Cluster: "test", Role: "x"}, Pid: 1}})
	for _, tc := range []struct {
		name  string
		reply []byte
		hold  bool
		want  error
	}{
		{"closes at once", nil, false, ErrUnavailable},
		{"says nothing", nil, true, ErrTimeout},
		{"speaks HTTP", []byte("HTTP/1.0 400 Bad Request\r\n\r\n"), true, ErrUnavailable},
		{"huge length", append(append([]byte{}, magic[:]...), 0xff, 0xff), true, ErrUnavailable},
		{"half a frame", valid[:len(valid)-3], false, ErrUnavailable},
		{"bad JSON", append(append(append([]byte{}, magic[:]...), 0, 3), "{x}"...), true, ErrUnavailable},
		{"bad names", frame(t, answer{Accept: false, Peer: Peer{Identity: Identity{Cluster: "a\nb", Role: "x"}}}), true, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := fakeListener(t, func([]byte) []byte { return tc.reply }, tc.hold)
			c := New(ours, addr, 300*time.Millisecond)
			defer c.Close()
			t0 := time.Now()
			var out string
			err := c.Call("Echo.Say", "x", &out)
			if !errors.Is(err, ErrNoHandshake) || !errors.Is(err, tc.want) || errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrNoHandshake and %v", err, tc.want)
			}
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("took %v with a 300ms deadline", d)
			}
		})
	}
}

// A listener drops a connection whose hello is malformed or late, without
// answering, and goes on serving everyone else meanwhile.
func TestServer_BadHello_Dropped_OthersServed(t *testing.T) {
	s, err := listenWithHelloTimeout(ours, "127.0.0.1:0", "Echo", &Echo{block: make(chan struct{})}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Addr().String()
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"silence", nil},
		{"gob, as an old net/rpc client sends", []byte{0x2a, 0xff, 0x81, 0x03, 0x01, 0x01, 0x07}},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"magic and a huge length", append(append([]byte{}, magic[:]...), 0xff, 0xff)},
		{"magic and a zero length", append(append([]byte{}, magic[:]...), 0, 0)},
		{"magic and less than announced", append(append([]byte{}, magic[:]...), 0, 200, '{')},
		{"not JSON", append(append(append([]byte{}, magic[:]...), 0, 4), "nope"...)},
		{"JSON without a cluster", frame(t, Peer{Identity: Identity{Role: "x"}})},
		{"JSON with a bad run", frame(t, Peer{Identity: Identity{Cluster: "test", Run: strings.Repeat("r", 65), Role: "x"}})},
		{"negative pid", frame(t, Peer{Identity: Identity{Cluster: "test", Role: "x"}, Pid: -1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if len(tc.send) > 0 {
				if _, err := nc.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			// Meanwhile a proper dialer is served.
			if err := callAs(ours, addr); err != nil {
				t.Fatalf("a good call while a bad hello waits: %v", err)
			}
			// The bad one is closed unanswered, within the hello timeout
			// (reset, when it closed with our bytes unread).
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(nc)
			if errors.Is(err, syscall.ECONNRESET) {
				err = nil
			}
			if err != nil || len(got) != 0 {
				t.Fatalf("read %q, %v; want the listener to close without a word", got, err)
			}
		})
	}
}

// FuzzDecodeHello: whatever bytes a dialer sends, the listener's decoder
// returns without panicking, and a hello it accepts survives a round trip.
func FuzzDecodeHello(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, Peer{Identity: Identity{Cluster: "gossipkv", Run: "0123456789abcdef", Role: RoleMaster}, Pid: 7})
	f.Add(b.Bytes())
	f.Add([]byte("GKV\x01\x00\x02{}"))
	f.Add([]byte("GKV\x01\xff\xff"))
	f.Add([]byte(`GKV` + "\x01\x00\x1c" + `{"cluster":"a","role":"b"}  `))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := readFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(body) > maxFrame {
			t.Fatalf("frame of %d bytes", len(body))
		}
		p, err := decodeHello(body)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := writeFrame(&again, p); err != nil {
			t.Fatalf("re-encode %+v: %v", p, err)
		}
		body2, err := readFrame(&again)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodeHello(body2)
		if err != nil || q != p {
			t.Fatalf("round trip %+v -> %+v, %v", p, q, err)
		}
	})
}
