package resp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gossipkv/pkg/front/fronttest"
)

// scanPage runs one SCAN and returns the next cursor and the keys.
func scanPage(t *testing.T, c *raw, args ...string) (string, []string) {
	t.Helper()
	reply, ok := c.do(append([]string{"SCAN"}, args...)...).([]any)
	if !ok || len(reply) != 2 {
		t.Fatalf("SCAN %q = %#v", args, reply)
	}
	var keys []string
	for _, k := range reply[1].([]any) {
		keys = append(keys, string(k.(bulk)))
	}
	return string(reply[0].(bulk)), keys
}

// A scan walked page by page while other connections add and delete keys
// returns every key that stayed the whole time exactly once, never any
// key twice, and may go on from any connection to the server.
func TestScan_ChangingKeyspace_StableKeysExactlyOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	w := dial(t, s)
	scanners := []*raw{dial(t, s), dial(t, s), dial(t, s)}
	var stable []string
	volatile := map[string]bool{}
	for i := range 300 {
		k := fmt.Sprintf("k%04d", rng.IntN(10000))
		if i%2 == 0 {
			if slices.Contains(stable, k) || volatile[k] {
				continue // a key the test may delete is not stable
			}
			stable = append(stable, k)
			w.do("SET", k, "stays")
		} else if !slices.Contains(stable, k) {
			volatile[k] = true
			w.do("SET", k, "goes")
		}
	}
	seen := map[string]int{}
	cursor := "0"
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("the scan does not end")
		}
		var keys []string
		cursor, keys = scanPage(t, scanners[page%len(scanners)], cursor, "COUNT", strconv.Itoa(1+rng.IntN(7)))
		for _, k := range keys {
			seen[k]++
		}
		if cursor == "0" {
			break
		}
		// Between pages: new keys anywhere, volatile ones deleted or
		// rewritten, in places the scan has and has not passed yet.
		for range 3 {
			k := fmt.Sprintf("k%04d", rng.IntN(10000))
			if !slices.Contains(stable, k) {
				volatile[k] = true
				w.do("SET", k, "new")
			}
			for v := range volatile {
				if rng.IntN(2) == 0 {
					w.do("DEL", v)
				} else {
					w.do("SET", v, "again")
				}
				break
			}
		}
	}
	for _, k := range stable {
		if seen[k] != 1 {
			t.Errorf("stable key %s returned %d times, want once", k, seen[k])
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("key %s returned %d times", k, n)
		}
		if !slices.Contains(stable, k) && !volatile[k] {
			t.Errorf("key %s was never written", k)
		}
	}
}

func TestScan_MatchCountTypeAndCursors(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{})
	c := dial(t, s)
	for _, k := range []string{"user:1", "user:2", "user:3", "user:10", "order:1", "a", "zz"} {
		c.do("SET", k, "v")
	}
	walk := func(args ...string) []string {
		var all []string
		cursor := "0"
		for range 100 {
			var keys []string
			cursor, keys = scanPage(t, c, append([]string{cursor}, args...)...)
			all = append(all, keys...)
			if cursor == "0" {
				return all
			}
		}
		t.Fatalf("SCAN %q does not end", args)
		return nil
	}
	want(t, "all keys", walk(), []string{"a", "order:1", "user:1", "user:10", "user:2", "user:3", "zz"})
	want(t, "MATCH user:?", walk("MATCH", "user:?", "COUNT", "2"), []string{"user:1", "user:2", "user:3"})
	want(t, "MATCH *:1*", walk("MATCH", "*:1*", "COUNT", "1"), []string{"order:1", "user:1", "user:10"})
	want(t, "TYPE string", walk("TYPE", "string"), []string{"a", "order:1", "user:1", "user:10", "user:2", "user:3", "zz"})
	want(t, "TYPE hash", walk("TYPE", "hash"), []string(nil))

	// A page with a pattern that has a literal prefix starts at it and
	// ends the scan past it.
	cursor, keys := scanPage(t, c, "0", "MATCH", "user:*", "COUNT", "100")
	want(t, "SCAN 0 MATCH user:*", []any{cursor, keys}, []any{"0", []string{"user:1", "user:10", "user:2", "user:3"}})

	for _, tt := range []struct {
		args []string
		want any
	}{
		{[]string{"SCAN", "x"}, rerr("ERR invalid cursor")},
		{[]string{"SCAN", "-1"}, rerr("ERR invalid cursor")},
		{[]string{"SCAN", "12345"}, rerr("ERR invalid cursor: 12345 is not a cursor of server 3, or one of its 4096 newest (start the scan again from 0)")},
		{[]string{"SCAN", "0", "COUNT", "0"}, rerr("ERR syntax error")},
		{[]string{"SCAN", "0", "COUNT", "x"}, rerr("ERR value is not an integer or out of range")},
		{[]string{"SCAN", "0", "MATCH"}, rerr("ERR syntax error")},
		{[]string{"SCAN", "0", "LIMIT", "3"}, rerr("ERR syntax error")},
		{[]string{"KEYS", "user:1*"}, []any{bulk("user:1"), bulk("user:10")}},
		{[]string{"KEYS", "*1"}, []any{bulk("order:1"), bulk("user:1")}},
		{[]string{"KEYS", "nothing*"}, []any{}},
	} {
		want(t, fmt.Sprintf("%q", tt.args), c.do(tt.args...), tt.want)
	}
}

// KEYS walks the store in pages of maxPage and still lists every match.
func TestKeys_ManyPages(t *testing.T) {
	f := fronttest.NewStore()
	c := dial(t, listen(t, f, Config{}))
	n := 2*maxPage + 10
	args := []string{"MSET"}
	for i := range n {
		args = append(args, fmt.Sprintf("key:%05d", i), "v")
	}
	c.do(args...)
	got, _ := c.do("KEYS", "key:*").([]any)
	if len(got) != n || got[0] != bulk("key:00000") || got[n-1] != bulk(fmt.Sprintf("key:%05d", n-1)) {
		t.Fatalf("KEYS listed %d keys, want %d in order", len(got), n)
	}
	want(t, "DBSIZE", c.do("DBSIZE"), int64(n))
}

func TestCursors_KeepTheNewest(t *testing.T) {
	cs := newCursors()
	first := cs.add([]byte("a"))
	if from, ok := cs.get(first); !ok || string(from) != "a" {
		t.Fatalf("get(first) = %q, %v", from, ok)
	}
	ids := map[uint64]bool{first: true}
	var last uint64
	for i := range maxCursors {
		last = cs.add([]byte(strconv.Itoa(i)))
		if last == 0 || ids[last] {
			t.Fatalf("cursor %d handed out twice (or 0)", last)
		}
		ids[last] = true
	}
	if _, ok := cs.get(first); ok {
		t.Error("the oldest cursor is still known after maxCursors newer ones")
	}
	if from, ok := cs.get(last); !ok || string(from) != strconv.Itoa(maxCursors-1) {
		t.Errorf("newest cursor gives %q, %v", from, ok)
	}
	if len(cs.from) != maxCursors {
		t.Errorf("%d cursors kept, want %d", len(cs.from), maxCursors)
	}
}

func TestInfo_Sections(t *testing.T) {
	f := fronttest.NewStore()
	s := listen(t, f, Config{ID: 3, Cluster: "lab", Run: "r1", Peers: 4})
	c := dial(t, s)
	c.do("MSET", "a", "1", "b", "2")
	c.do("DEL", "b")
	info := string(c.do("INFO").(bulk))
	for _, line := range []string{"# Server\r\n", "redis_version:" + redisVersion + "\r\n", "gossipkv_server_id:3\r\n",
		"gossipkv_cluster:lab\r\n", "gossipkv_run:r1\r\n", "uptime_in_seconds:", "process_id:", "gossipkv_version:",
		"# Clients\r\n", "connected_clients:1\r\n",
		"# Replication\r\n", "role:master\r\n", "gossipkv_peers:4\r\n", "gossipkv_connected_peers:2\r\n", "gossipkv_links:1,4\r\n", "gossipkv_held_writes:",
		"# Keyspace\r\n", "db0:keys=1,expires=0,avg_ttl=0\r\n"} {
		if !strings.Contains(info, line) {
			t.Errorf("INFO lacks %q:\n%s", line, info)
		}
	}
	one := string(c.do("INFO", "KEYSPACE").(bulk))
	want(t, "INFO keyspace", one, "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
	two := string(c.do("info", "replication", "server").(bulk))
	if !strings.HasPrefix(two, "# Replication\r\n") || !strings.Contains(two, "\r\n\r\n# Server\r\n") || strings.Contains(two, "Keyspace") {
		t.Errorf("INFO replication server =\n%s", two)
	}
	want(t, "INFO nothing", c.do("INFO", "nothing"), bulk(""))
}
