package resp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"gossipkv/pkg/front/fronttest"
)

// newCluster puts a Redis front on each of n servers, with a go-redis
// client to each.
func newCluster(t *testing.T, n int) (*fronttest.Cluster, []*redis.Client) {
	t.Helper()
	c := fronttest.NewCluster(t, n)
	var clients []*redis.Client
	for i, s := range c.Servers {
		front := listen(t, s, Config{ID: uint32(i), Cluster: "test", Peers: n - 1,
			MaxKeyBytes: fronttest.MaxKeyBytes, MaxValueBytes: fronttest.MaxValueBytes})
		// Defaults on purpose: go-redis first asks for RESP3 (HELLO 3)
		// and must fall back to RESP2.
		rc := redis.NewClient(&redis.Options{Addr: front.Addr().String()})
		t.Cleanup(func() { rc.Close() })
		clients = append(clients, rc)
	}
	return c, clients
}

func TestCluster_GoRedis_WriteHereReadThere(t *testing.T) {
	c, clients := newCluster(t, 3)
	ctx := context.Background()
	r0, r1, r2 := clients[0], clients[1], clients[2]

	if err := r0.Set(ctx, "greeting", "hello \x00 world", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r0.MSet(ctx, "user:1", "ann", "user:2", "bob", "user:10", "cy", "order:1", "x").Err(); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	if v, err := r1.Get(ctx, "greeting").Result(); err != nil || v != "hello \x00 world" {
		t.Fatalf("GET greeting at server 1 = %q, %v", v, err)
	}
	vals, err := r2.MGet(ctx, "user:1", "nope", "user:2").Result()
	if err != nil || fmt.Sprint(vals) != "[ann <nil> bob]" {
		t.Fatalf("MGET at server 2 = %v, %v", vals, err)
	}

	// SCAN with MATCH through another server, with go-redis's iterator
	// (which may continue on any connection of its pool).
	var keys []string
	it := r2.Scan(ctx, 0, "user:*", 1).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[user:1 user:10 user:2]" {
		t.Errorf("SCAN MATCH user:* at server 2 = %v", keys)
	}
	if n, err := r1.DBSize(ctx).Result(); err != nil || n != 5 {
		t.Errorf("DBSIZE at server 1 = %d, %v; want 5", n, err)
	}

	// DEL through one server, then nil through another.
	if n, err := r0.Del(ctx, "greeting", "never").Result(); err != nil || n != 1 {
		t.Fatalf("DEL = %d, %v; want 1", n, err)
	}
	c.WaitConverged()
	if v, err := r1.Get(ctx, "greeting").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of the deleted key at server 1 = %q, %v; want nil", v, err)
	}
	if n, err := r2.Exists(ctx, "greeting", "user:1").Result(); err != nil || n != 1 {
		t.Errorf("EXISTS at server 2 = %d, %v; want 1", n, err)
	}
	all, err := r1.Keys(ctx, "*").Result()
	if err != nil || !slices.Equal(all, []string{"order:1", "user:1", "user:10", "user:2"}) {
		t.Errorf("KEYS * at server 1 = %v, %v", all, err)
	}

	// Refusals reach go-redis as errors it can show.
	if err := r0.Set(ctx, "k", "v", time.Minute).Err(); err == nil || err.Error() != "ERR SET option 'ex' is not supported by gossipkv: only SET key value (no expiry, no conditional writes, no GET)" {
		t.Errorf("SET with an expiry: %v", err)
	}
	info, err := r1.Info(ctx, "replication").Result()
	if err != nil || !regexpMatch(`gossipkv_connected_peers:2\r\n`, info) {
		t.Errorf("INFO replication at server 1 = %q, %v", info, err)
	}
}

// A go-redis connection is a session too: a write through one server,
// read back at once through the same connection, is never older.
func TestCluster_GoRedis_ReadYourWrites(t *testing.T) {
	_, clients := newCluster(t, 2)
	ctx := context.Background()
	conn := clients[0].Conn()
	defer conn.Close()
	for i := range 50 {
		v := strconv.Itoa(i)
		if err := conn.Set(ctx, "k", v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := conn.Get(ctx, "k").Result(); err != nil || got != v {
			t.Fatalf("GET after SET %s = %q, %v", v, got, err)
		}
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
