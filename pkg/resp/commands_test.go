package resp

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/model"
)

func TestCommands_Basics(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{MaxKeyBytes: 8, MaxValueBytes: 16, Fsync: true})
	c := dial(t, s)
	for _, tt := range []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, simple("PONG")},
		{[]string{"ping", "hi"}, bulk("hi")},
		{[]string{"PING", "a", "b"}, rerr("ERR wrong number of arguments for 'ping' command")},
		{[]string{"ECHO", "a\r\nb"}, bulk("a\r\nb")},
		{[]string{"GET", "k"}, nil},
		{[]string{"SET", "k", "v\x00\r\n"}, simple("OK")},
		{[]string{"GET", "k"}, bulk("v\x00\r\n")},
		{[]string{"SET", "\x00\xff", ""}, simple("OK")}, // binary key, empty value
		{[]string{"GET", "\x00\xff"}, bulk("")},
		{[]string{"TYPE", "k"}, simple("string")},
		{[]string{"TYPE", "nope"}, simple("none")},
		{[]string{"EXISTS", "k", "nope", "k"}, int64(2)},
		{[]string{"MGET", "k", "nope", "\x00\xff"}, []any{bulk("v\x00\r\n"), nil, bulk("")}},
		{[]string{"MSET", "a", "1", "b", "2"}, simple("OK")},
		{[]string{"MSET", "a", "1", "b"}, rerr("ERR wrong number of arguments for 'mset' command")},
		{[]string{"DBSIZE"}, int64(4)},
		{[]string{"DEL", "a", "nope", "b", "a"}, int64(2)},
		{[]string{"GET", "a"}, nil},
		{[]string{"DBSIZE"}, int64(2)},
		{[]string{"get"}, rerr("ERR wrong number of arguments for 'get' command")},
		{[]string{"SET", "", "v"}, rerr("ERR empty key: gossipkv does not store the empty key")},
		{[]string{"GET", ""}, nil},
		{[]string{"SET", "123456789", "v"}, rerr("ERR key of 9 bytes exceeds max_key_bytes 8")},
		{[]string{"GET", "123456789"}, rerr("ERR key of 9 bytes exceeds max_key_bytes 8")},
		{[]string{"SET", "k", strings.Repeat("x", 17)}, rerr("ERR value of 17 bytes exceeds max_value_bytes 16")},
		{[]string{"MSET", "x", "1", "y", strings.Repeat("x", 17)}, rerr("ERR value of 17 bytes exceeds max_value_bytes 16")},
		{[]string{"GET", "x"}, nil}, // a refused MSET wrote nothing
		{[]string{"SELECT", "0"}, simple("OK")},
		{[]string{"SELECT", "1"}, rerr("ERR DB index is out of range (gossipkv has one database, 0)")},
		{[]string{"SELECT", "x"}, rerr("ERR value is not an integer or out of range")},
		{[]string{"INCR", "k", "by\nthis"}, rerr("ERR unknown command 'INCR', with args beginning with: 'k' 'by this' ")},
		{[]string{"FLUSHALL"}, rerr("ERR FLUSHALL is not supported by gossipkv: a server can only delete the keys it has received so far, one write each; delete keys with DEL")},
		{[]string{"flushdb"}, rerr("ERR FLUSHDB is not supported by gossipkv: a server can only delete the keys it has received so far, one write each; delete keys with DEL")},
		{[]string{"CLIENT", "GETNAME"}, nil},
		{[]string{"CLIENT", "SETNAME", "bench-1"}, simple("OK")},
		{[]string{"CLIENT", "GETNAME"}, bulk("bench-1")},
		{[]string{"CLIENT", "SETNAME", "a b"}, rerr("ERR Client names cannot contain spaces, newlines or special characters.")},
		{[]string{"CLIENT", "ID"}, int64(1)},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "x"}, simple("OK")},
		{[]string{"CLIENT", "KILL", "x"}, rerr("ERR unknown subcommand 'KILL'. Try CLIENT HELP.")},
		{[]string{"HELLO", "3"}, rerr("NOPROTO sorry, this protocol version is not supported: gossipkv speaks RESP2 only")},
		{[]string{"HELLO", "2"}, []any{bulk("server"), bulk("redis"), bulk("version"), bulk(redisVersion), bulk("proto"), int64(2),
			bulk("id"), int64(1), bulk("mode"), bulk("standalone"), bulk("role"), bulk("master"), bulk("modules"), []any{}}},
		{[]string{"AUTH", "secret"}, rerr("ERR gossipkv's Redis port has no authentication: it takes no password (keep it on a host and network only trusted users reach)")},
		{[]string{"CONFIG", "GET", "save"}, []any{bulk("save"), bulk("")}},
		{[]string{"CONFIG", "GET", "appendonly", "APPENDFSYNC"}, []any{bulk("appendonly"), bulk("yes"), bulk("appendfsync"), bulk("always")}},
		{[]string{"CONFIG", "GET", "nothing-like-this"}, []any{}},
		{[]string{"CONFIG", "SET", "save", ""}, rerr("ERR CONFIG SET is not supported by gossipkv: its settings come from config.yaml")},
		{[]string{"COMMAND", "COUNT"}, int64(len(listedCommands()))},
		{[]string{"COMMAND", "INFO", "get", "nope"}, []any{[]any{bulk("get"), int64(2), []any{simple("readonly"), simple("fast")},
			int64(1), int64(1), int64(1), []any{simple("@read"), simple("@string"), simple("@fast")}, []any{}, []any{}, []any{}}, nil}},
		{[]string{"COMMAND", "DOCS", "echo"}, []any{bulk("echo"), []any{bulk("summary"), bulk("Returns the given string."), bulk("since"), bulk("1.0.0"),
			bulk("group"), bulk("connection"), bulk("arguments"), []any{[]any{bulk("name"), bulk("message"), bulk("type"), bulk("string")}}}}},
	} {
		want(t, fmt.Sprintf("%q", tt.args), c.do(tt.args...), tt.want)
	}

	// COMMAND lists every command it answers but the refused ones.
	all, _ := c.do("COMMAND").([]any)
	var names []string
	for _, e := range all {
		names = append(names, string(e.([]any)[0].(bulk)))
	}
	if !slices.Contains(names, "scan") || slices.Contains(names, "flushall") || len(names) != len(listedCommands()) {
		t.Errorf("COMMAND lists %v", names)
	}
	if docs, _ := c.do("COMMAND", "DOCS").([]any); len(docs) != 2*len(listedCommands()) {
		t.Errorf("COMMAND DOCS has %d entries, want a name and a map per command", len(docs))
	}

	// QUIT answers, then the connection ends.
	want(t, "QUIT", c.do("QUIT"), simple("OK"))
	if _, err := c.read(); !errors.Is(err, io.EOF) {
		t.Errorf("after QUIT, read gave %v, want EOF", err)
	}
}

// Every SET option Redis has is refused by name, nothing is written, and
// an option Redis does not have is a syntax error as in Redis.
func TestSet_OptionsRefused(t *testing.T) {
	f := fronttest.NewStore()
	c := dial(t, listen(t, f, Config{}))
	for _, opts := range [][]string{{"EX", "10"}, {"px", "100"}, {"EXAT", "1"}, {"PXAT", "1"}, {"NX"}, {"XX"}, {"KEEPTTL"}, {"GET"}, {"NX", "GET"}} {
		args := append([]string{"SET", "k", "v"}, opts...)
		w := rerr(fmt.Sprintf("ERR SET option '%s' is not supported by gossipkv: only SET key value (no expiry, no conditional writes, no GET)", opts[0]))
		want(t, fmt.Sprintf("%q", args), c.do(args...), w)
	}
	want(t, "SET k v BOGUS", c.do("SET", "k", "v", "BOGUS"), rerr("ERR syntax error"))
	want(t, "GET k", c.do("GET", "k"), nil)
	if d := f.Deps("k"); len(d) != 1 {
		t.Errorf("the store saw %d calls on k, want only the GET's", len(d))
	}
}

// A connection is a session: what it wrote or read of a key (a value or a
// deletion) is the dependency of its next call on that key, and a server
// that has lost the write answers TRYAGAIN, never an older value or nil.
func TestSession_DependencyGrows_TryAgainWhenBehind(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	a, b := dial(t, s), dial(t, s)
	zero := model.Version{}

	want(t, "a: SET k v1", a.do("SET", "k", "v1"), simple("OK"))
	v1 := f.Version("k")
	want(t, "a: GET k", a.do("GET", "k"), bulk("v1"))
	want(t, "deps of a on k", f.Deps("k"), []model.Version{zero, v1})

	// b has no dependency on k; its write is newer, and a reads it next.
	want(t, "b: SET k v2", b.do("SET", "k", "v2"), simple("OK"))
	v2 := f.Version("k")
	want(t, "a: GET k", a.do("GET", "k"), bulk("v2"))
	want(t, "a: SET k v3", a.do("SET", "k", "v3"), simple("OK"))
	v3 := f.Version("k")
	want(t, "deps on k", f.Deps("k"), []model.Version{zero, v1, v2})

	// Reading a deletion is a read: b deletes, a reads nil, and a's next
	// call depends on the tombstone.
	want(t, "b: DEL k", b.do("DEL", "k"), int64(1))
	del := f.Version("k")
	want(t, "a: GET k", a.do("GET", "k"), nil)
	want(t, "a: EXISTS k", a.do("EXISTS", "k"), int64(0))
	if d := f.Deps("k"); len(d) != 4 || d[2] != v3 || d[3] != del {
		t.Errorf("deps on k = %v; want a's reads of the deletion to depend on %v, then on the tombstone %v", d, v3, del)
	}

	// The server reloads a disk that lost k: every read of k through a
	// answers TRYAGAIN; b, which depends on the deletion too, as well;
	// a fresh connection sees no k.
	f.Forget("k")
	try := rerr(`TRYAGAIN server 3 has not yet seen a write this connection depends on for key "k"`)
	want(t, "a: GET k", a.do("GET", "k"), try)
	want(t, "a: MGET x k", a.do("MGET", "x", "k"), try)
	want(t, "a: EXISTS k", a.do("EXISTS", "k"), try)
	want(t, "a: TYPE k", a.do("TYPE", "k"), try)
	want(t, "a: DEL k", a.do("DEL", "k"), try)
	want(t, "b: GET k", b.do("GET", "k"), try)
	want(t, "new: GET k", dial(t, s).do("GET", "k"), nil)
	if d := f.Deps("k"); slices.Contains(d[:len(d)-1], zero) || d[len(d)-1] != zero {
		t.Errorf("deps on k = %v; want the deletion's version from a and b, none from the new connection", d)
	}

	// A write is ordered after the dependency even at a server behind
	// it, and then satisfies the session again.
	want(t, "a: SET k v4", a.do("SET", "k", "v4"), simple("OK"))
	if v4 := f.Version("k"); !del.Less(v4) {
		t.Errorf("write after the deletion %v got version %v", del, v4)
	}
	want(t, "a: GET k", a.do("GET", "k"), bulk("v4"))
	if d := f.Deps("k"); d[0] != del {
		t.Errorf("SET after TRYAGAIN sent dependency %v, want the deletion's %v", d[0], del)
	}
}

// A store that fails (a server that cannot reach its disk) answers an
// error saying why, and the connection goes on once the store is back.
func TestCommands_StoreFails(t *testing.T) {
	f := fronttest.NewStore()
	c := dial(t, listen(t, f, Config{}))
	want(t, "SET k v", c.do("SET", "k", "v"), simple("OK"))
	f.Fail(errors.New("disk\r\ngone"))
	for _, args := range [][]string{{"SET", "k", "v2"}, {"GET", "k"}, {"MGET", "k"}, {"DEL", "k"}, {"EXISTS", "k"},
		{"MSET", "a", "1"}, {"DBSIZE"}, {"KEYS", "*"}, {"SCAN", "0"}, {"INFO"}} {
		want(t, fmt.Sprintf("%q", args), c.do(args...), rerr("ERR disk  gone"))
	}
	f.Fail(nil)
	want(t, "GET k", c.do("GET", "k"), bulk("v"))
}
