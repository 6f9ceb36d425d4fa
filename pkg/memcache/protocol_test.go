package memcache

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/model"
)

func TestProtocol_Basics(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{MaxKeyBytes: 8, MaxValueBytes: 16})
	c := dial(t, s)
	for _, tt := range []struct {
		send string
		n    int // reply lines
		want string
	}{
		{"get k\r\n", 1, "END"},
		{"set k 0 0 5\r\nhello\r\n", 1, "STORED"},
		{"get k\r\n", 3, "VALUE k 0 5|hello|END"},
		{"set bin 0 0 4\r\n\x00\r\n\xff\r\n", 1, "STORED"}, // any bytes, "\r\n" inside too
		{"get k nope bin k\r\n", 8, "VALUE k 0 5|hello|VALUE bin 0 4|\x00|\xff|VALUE k 0 5|hello|END"}, // the test splits the value at its "\r\n"
		{"set e 0 0 0\r\n\r\n", 1, "STORED"},
		{"get e\r\n", 3, "VALUE e 0 0||END"},
		{"add k 0 0 1\r\nx\r\n", 1, "NOT_STORED"},
		{"add new 0 0 1\r\nx\r\n", 1, "STORED"},
		{"delete k\r\n", 1, "DELETED"},
		{"delete k\r\n", 1, "NOT_FOUND"},
		{"delete k 0\r\n", 1, "NOT_FOUND"},
		{"delete k 5\r\n", 1, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"},
		{"get k\r\n", 1, "END"},
		{"add k 0 0 2\r\nok\r\n", 1, "STORED"}, // a deleted key holds no value
		{"version\r\n", 1, "VERSION " + version},
		{"verbosity 1\r\n", 1, "OK"},
		{"nonsense a b\r\n", 1, "ERROR"},
		{"GET k\r\n", 1, "ERROR"}, // commands are lower case, as in memcached
		{"\r\n", 1, "ERROR"},
		{"get\r\n", 1, "ERROR"},
		{"set k 0 0\r\n", 1, "CLIENT_ERROR bad command line format"},
		{"set k 0 0 x\r\n", 1, "CLIENT_ERROR bad command line format"},
		{"set k 0 0 -1\r\n", 1, "CLIENT_ERROR bad command line format"},
		{"set k 0 0 1 maybe\r\n", 1, "CLIENT_ERROR bad command line format"},
		{"set k 0 0 2\r\nabc\r\n", 2, "CLIENT_ERROR bad data chunk|ERROR"}, // as memcached: the rest is read as a line
		{"set k 1 0 1\r\nx\r\n", 1, "CLIENT_ERROR flags are not supported: gossipkv stores no flags with a value (send 0)"},
		{"set k 0 60 1\r\nx\r\n", 1, "CLIENT_ERROR exptime is not supported: gossipkv has no expiry (send 0)"},
		// An item already expired: add tests whether the key holds a
		// value (memcexist asks so), set deletes it.
		{"add k 0 -1 0\r\n\r\n", 1, "NOT_STORED"},
		{"add gone 0 -1 0\r\n\r\n", 1, "STORED"},
		{"add k 0 2678400 0\r\n\r\n", 1, "NOT_STORED"}, // a Unix time in 1970: what memcexist sends
		{"set k 0 2592000 1\r\nx\r\n", 1, "CLIENT_ERROR exptime is not supported: gossipkv has no expiry (send 0)"}, // 30 days from now
		{"get gone\r\n", 1, "END"},
		{"set x 0 0 1\r\nx\r\nset x 0 -1 1\r\ny\r\nget x\r\n", 3, "STORED|STORED|END"},
		{"set k 0 0 17\r\n" + strings.Repeat("x", 17) + "\r\n", 1, "SERVER_ERROR object too large for cache: a value of 17 bytes exceeds max_value_bytes 16"},
		{"set 123456789 0 0 1\r\nx\r\n", 1, "CLIENT_ERROR key of 9 bytes is longer than 8"},
		{"get 123456789\r\n", 1, "CLIENT_ERROR key of 9 bytes is longer than 8"},
		{"set a\x01\tb 0 0 1\r\nx\r\nget a\x01\tb\r\n", 4, "STORED|VALUE a\x01\tb 0 1|x|END"}, // control bytes and tabs are a key's
		{"cas k 0 0 1 99\r\nx\r\n", 1, "CLIENT_ERROR cas is not supported by gossipkv: a compare-and-set cannot be atomic across the servers of an eventually consistent store"},
		{"append k 0 0 1\r\nx\r\n", 1, "CLIENT_ERROR append is not supported by gossipkv: it is not atomic across servers; use get then set"},
		{"incr k 1\r\n", 1, "CLIENT_ERROR incr is not supported by gossipkv: an increment cannot be atomic across the servers of an eventually consistent store"},
		{"touch k 10\r\n", 1, "CLIENT_ERROR touch is not supported by gossipkv: there is no expiry"},
		{"flush_all\r\n", 1, "CLIENT_ERROR flush_all is not supported by gossipkv: a server can only delete the keys it has received so far, one write each; use delete"},
		{"get k\r\n", 3, "VALUE k 0 2|ok|END"},                          // the refused writes wrote nothing
		{"set lf 0 0 1\nx\r\nget lf\n", 4, "STORED|VALUE lf 0 1|x|END"}, // a bare "\n" ends a line too
	} {
		if got := c.do(tt.send, tt.n); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.send, got, tt.want)
		}
	}
	// gets: a cas unique per version, which changes with the value.
	g1 := c.do("gets k\r\n", 3)
	c.do("set k 0 0 2\r\nno\r\n", 1)
	g2 := c.do("gets k\r\n", 3)
	if want := fmt.Sprintf("VALUE k 0 2 %d|ok|END", casUnique(model.Version{})); !strings.HasPrefix(g1, "VALUE k 0 2 ") || g1 == want || g1 == g2 {
		t.Errorf("gets = %q then %q", g1, g2)
	}
	if want := fmt.Sprintf("VALUE k 0 2 %d|no|END", casUnique(f.Version("k"))); g2 != want {
		t.Errorf("gets = %q, want %q", g2, want)
	}
	// stats: memcached's general figures.
	c.send("stats\r\n")
	stats := map[string]string{}
	for l := c.line(); l != "END"; l = c.line() {
		var name, value string
		if _, err := fmt.Sscanf(l, "STAT %s %s", &name, &value); err != nil {
			t.Fatalf("stats line %q", l)
		}
		stats[name] = value
	}
	if stats["curr_items"] != "6" || stats["cmd_set"] != "14" || stats["curr_connections"] != "1" || stats["version"] != version {
		t.Errorf("stats = %v", stats)
	}
	if got := c.do("stats slabs\r\n", 1); got != "CLIENT_ERROR stats slabs is not supported by gossipkv: only the general stats" {
		t.Errorf("stats slabs = %q", got)
	}
	c.send("quit\r\n")
	if _, err := c.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after quit: %v, want EOF", err)
	}
}

// noreply drops the replies, errors too; the writes happen.
func TestProtocol_Noreply(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	c := dial(t, s)
	c.send("set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nset b 1 0 1 noreply\r\nx\r\nadd c 0 0 1 noreply\r\n3\r\ndelete c noreply\r\nverbosity 1 noreply\r\n")
	if got := c.do("get a b c\r\n", 3); got != "VALUE a 0 1|1|END" {
		t.Errorf("after noreply writes: %q", got)
	}
	if _, deleted := f.Value("c"); !deleted {
		t.Error("delete noreply did not delete")
	}
}

// A server behind the connection's session answers SERVER_ERROR behind,
// never an older value, and a get of several keys fails whole.
func TestSession_Behind(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	c := dial(t, s)
	c.do("set k 0 0 2\r\nv1\r\nset other 0 0 1\r\no\r\n", 2)
	f.Forget("k") // as a server that reloaded a disk that lost the write
	f.Plant("k", "old", model.Version{Wall: 0, Logical: 1, Origin: 7})
	behind := "SERVER_ERROR behind: server 3 has not yet seen a write this connection depends on for key k; retry later or at another server"
	for _, cmd := range []string{"get k\r\n", "gets other k\r\n", "delete k\r\n", "add k 0 0 1\r\nx\r\n"} {
		if got := c.do(cmd, 1); got != behind {
			t.Errorf("%q = %q, want %q", cmd, got, behind)
		}
	}
	// Another connection has no such dependency.
	if got := dial(t, s).do("get k\r\n", 3); got != "VALUE k 0 3|old|END" {
		t.Errorf("get on a new connection = %q", got)
	}
	// A set is ordered after the session's dependency, and the session
	// reads it back.
	want := f.Deps("k")
	if got := c.do("set k 0 0 2\r\nv2\r\nget k\r\n", 4); got != "STORED|VALUE k 0 2|v2|END" {
		t.Errorf("set then get = %q", got)
	}
	_ = want
	if deps := f.Deps("k"); len(deps) != 2 || deps[0].IsZero() || deps[1] != f.Version("k") {
		t.Errorf("dependencies sent = %v", deps)
	}
}

// A store that fails (a server that cannot reach its disk) answers
// SERVER_ERROR saying why, and the connection goes on once it is back.
func TestProtocol_StoreFails(t *testing.T) {
	f := fronttest.NewStore()
	c := dial(t, listen(t, f, Config{}))
	c.do("set k 0 0 1\r\nv\r\n", 1)
	f.Fail(errors.New("disk\r\ngone"))
	for _, cmd := range []string{"set k 0 0 2\r\nv2\r\n", "add n 0 0 1\r\nx\r\n", "get k\r\n", "gets k\r\n", "delete k\r\n", "stats\r\n"} {
		if got := c.do(cmd, 1); got != "SERVER_ERROR disk  gone" {
			t.Errorf("%q = %q", cmd, got)
		}
	}
	f.Fail(nil)
	if got := c.do("get k\r\n", 3); got != "VALUE k 0 1|v|END" {
		t.Errorf("get once the store is back = %q", got)
	}
}

// A line longer than the reader's buffer closes the connection after
// saying why; a value's data is read whole whatever its length.
func TestProtocol_LongLines(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{})
	c := dial(t, s)
	if got := c.do("set k 0 0 100000\r\n"+strings.Repeat("x", 100000)+"\r\n", 1); got != "STORED" {
		t.Fatalf("set of 100000 bytes = %q", got)
	}
	c.send("get " + strings.Repeat("k ", maxLine) + "\r\n")
	if got := c.line(); got != "CLIENT_ERROR line too long" {
		t.Errorf("long line = %q", got)
	}
	if _, err := c.r.ReadByte(); err == nil {
		t.Error("the connection stays open after a line too long")
	}
	// A huge declared length is refused and swallowed, not held.
	c = dial(t, s)
	c.send(fmt.Sprintf("set k 0 0 %d\r\n", 3<<20))
	c.send(strings.Repeat("y", 3<<20) + "\r\n")
	if got := c.line(); !strings.HasPrefix(got, "SERVER_ERROR object too large for cache") {
		t.Errorf("set of 3 MiB = %q", got)
	}
	if got := c.do("get k\r\n", 1); !strings.HasPrefix(got, "VALUE k 0 100000") {
		t.Errorf("after the refused set: %q", got)
	}
}

func TestServer_MaxClients(t *testing.T) {
	s := listen(t, fronttest.NewStore(), Config{MaxClients: 1})
	a := dial(t, s)
	if got := a.do("version\r\n", 1); got != "VERSION "+version {
		t.Fatal(got)
	}
	b := dial(t, s)
	b.c.SetDeadline(time.Now().Add(30 * time.Second))
	if got := b.line(); got != "SERVER_ERROR too many open connections" {
		t.Errorf("second connection = %q", got)
	}
	a.c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.stats.current.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted")
		}
		time.Sleep(time.Millisecond)
	}
	if got := dial(t, s).do("version\r\n", 1); got != "VERSION "+version {
		t.Errorf("third connection = %q", got)
	}
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
	idle.do("version\r\n", 1)
	busy := dial(t, s)
	busy.send("set k 0 0 1\r\nv\r\n")
	f.WaitHeld(t)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := s.stats.current.Load(); n != 0 {
		t.Errorf("%d connections still counted after Close", n)
	}
	idle.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := idle.r.ReadByte(); err == nil {
		t.Error("an idle connection is still open after Close")
	}
	fronttest.CheckClosed(t, s.Addr(), s.Close)
}

// unavailableGets is a store whose gets cannot reach a quorum
// (linearizable mode, cut off).
type unavailableGets struct{ *fronttest.Store }

func (unavailableGets) Get([]byte, model.Version) (api.GetReply, error) {
	return api.GetReply{Status: api.ErrUnavailable}, nil
}

// An add of an expired item asks whether the key holds a value; a server
// that cannot tell says so, rather than answer STORED (no value).
func TestProtocol_ExpiredAdd_UnavailableIsAnError(t *testing.T) {
	s := listen(t, unavailableGets{fronttest.NewStore()}, Config{})
	c := dial(t, s)
	if got, want := c.do("add k 0 -1 0\r\n\r\n", 1), "SERVER_ERROR get: "+api.ErrUnavailable.String(); got != want {
		t.Errorf("add of an expired item = %q, want %q", got, want)
	}
}
