package resp

import (
	"errors"
	"io"
	"testing"
	"time"

	"gossipkv/pkg/front/fronttest"
)

func TestServer_MaxClients(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{MaxClients: 1})
	a := dial(t, s)
	want(t, "first: PING", a.do("PING"), simple("PONG"))
	b := dial(t, s)
	b.c.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := b.read()
	want(t, "second connection", got, rerr("ERR max number of clients reached"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.read(); !errors.Is(err, io.EOF) {
		t.Errorf("the refused connection stays open: %v", err)
	}
	// Once the first leaves, there is room again.
	a.c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.clients.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted")
		}
		time.Sleep(time.Millisecond)
	}
	want(t, "third: PING", dial(t, s).do("PING"), simple("PONG"))
}

// Close ends every connection and returns only after each connection's
// goroutine is done, including one waiting on the store.
func TestServer_Close_WaitsForConnections(t *testing.T) {
	f := fronttest.NewStore()
	release := f.Hold()
	s, err := Listen("127.0.0.1:0", f, Config{})
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, s)
	want(t, "PING", idle.do("PING"), simple("PONG"))
	busy := dial(t, s)
	if _, err := io.WriteString(busy.c, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"); err != nil {
		t.Fatal(err)
	}
	f.WaitHeld(t) // the SET has reached the store, where it waits
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !f.Returned() {
		t.Error("Close returned while a connection was still in the store")
	}
	if s.clients.Load() != 0 {
		t.Errorf("%d connections still counted after Close", s.clients.Load())
	}
	idle.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := idle.read(); err == nil {
		t.Error("an idle connection is still open after Close")
	}
	fronttest.CheckClosed(t, s.Addr(), s.Close)
}
