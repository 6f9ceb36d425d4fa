package raftkv

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// waitFor bounds every wait for a condition: generous, since the machine
// may be loaded; a healthy run meets each condition in well under a second.
const waitFor = 30 * time.Second

// testLogger discards the nodes' lines, or with GOSSIPKV_TEST_LOG set
// writes them to stderr at debug level.
func testLogger() *slog.Logger {
	if os.Getenv("GOSSIPKV_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// pipePair wires two layers together: each one's dial hands the far end
// of a net.Pipe to the other's handle.
func pipePair(t *testing.T, labelA, labelB string) (a, b *layer) {
	t.Helper()
	log := testLogger()
	var la, lb *layer
	dialTo := func(to **layer) DialFunc {
		return func(string, time.Duration) (net.Conn, error) {
			near, far := net.Pipe()
			go (*to).handle(far)
			return near, nil
		}
	}
	la = newLayer("a", labelA, dialTo(&lb), log)
	lb = newLayer("b", labelB, dialTo(&la), log)
	forwarded := func(c net.Conn) { c.Close() }
	la.forward, lb.forward = forwarded, forwarded
	t.Cleanup(func() { la.shutdown(); lb.shutdown() })
	return la, lb
}

// accept waits for b's next raft stream.
func accept(t *testing.T, l *layer) net.Conn {
	t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	select {
	case c, ok := <-got:
		if !ok {
			t.Fatal("Accept failed")
		}
		return c
	case <-time.After(waitFor):
		t.Fatal("no stream accepted")
	}
	return nil
}

// closed reports whether c's far end is gone: a read returns an error
// rather than waiting.
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(waitFor))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestLayer_StreamCarriesBytesAndPeer(t *testing.T) {
	a, b := pipePair(t, "x", "x")
	out, err := a.Dial("b", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	in := accept(t, b)
	if p := in.(*trackedConn).peer; p != "a" {
		t.Errorf("accepted stream's peer %q, want a", p)
	}
	go out.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if b.Addr().String() != "b" {
		t.Errorf("Addr %q, want b", b.Addr())
	}
}

func TestLayer_ForeignLabelDropped(t *testing.T) {
	a, b := pipePair(t, "x", "y")
	out, err := a.Dial("b", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !closed(out) {
		t.Error("a stream with a foreign label was kept")
	}
	b.mu.Lock()
	n := len(b.conns)
	b.mu.Unlock()
	if n != 0 {
		t.Errorf("b tracks %d streams, want 0", n)
	}
}

// TestLayer_CutClosesStreams: a cut ends the streams already open in both
// directions, and refuses new ones, dialed or accepted, until the heal.
func TestLayer_CutClosesStreams(t *testing.T) {
	a, b := pipePair(t, "x", "x")
	out, err := a.Dial("b", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	in := accept(t, b)
	back, err := b.Dial("a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	backIn := accept(t, a)

	a.cutPeer("b")
	for name, c := range map[string]net.Conn{"a's dialed": out, "b's accepted": in, "b's dialed": back, "a's accepted": backIn} {
		if !closed(c) {
			t.Errorf("%s stream survived the cut", name)
		}
	}
	if _, err := a.Dial("b", time.Second); !errors.Is(err, ErrLinkCut) {
		t.Errorf("dial across the cut: %v, want ErrLinkCut", err)
	}
	// b is not cut (a one-sided cut): its dial gets through its own end,
	// and a drops the stream.
	leak, err := b.Dial("a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !closed(leak) {
		t.Error("a accepted a stream from a peer it cut")
	}

	a.healPeer("b")
	if _, err := a.Dial("b", time.Second); err != nil {
		t.Errorf("dial after the heal: %v", err)
	}
	accept(t, b)
}

func TestLayer_ShutdownEndsAccept(t *testing.T) {
	a, _ := pipePair(t, "x", "x")
	a.shutdown()
	if _, err := a.Accept(); !errors.Is(err, errLayerClosed) {
		t.Errorf("Accept after shutdown: %v", err)
	}
	if _, err := a.Dial("b", time.Second); err == nil {
		t.Error("dial after shutdown succeeded")
	}
}
