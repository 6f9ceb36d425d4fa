package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"gossipkv/pkg/config"
)

// A cluster that puts and deletes ever new keys for a while keeps bounded
// storage: once every server holds a delete, its tombstone is collected,
// so after the churn each server holds the live keys and no tombstone, not
// one entry per key ever deleted. A client that depends on a collected
// delete still reads ERR_KEY.
func TestDelete_ChurnedKeysCollected(t *testing.T) {
	s, cfg := startFronts(t, "HTTP", config.Server.HTTPAddr)
	const n = 400
	for i := range n {
		s.send("put 3 churn%d v%d", i, i)
		s.send("delete 3 churn%d", i)
	}
	s.send("stabilize")
	s.send("get 3 churn%d", n-1)
	s.expect(fmt.Sprintf("churn%d:ERR_KEY", n-1))
	s.sync("fromscript", "yes")

	// Collection follows the heartbeats: wait for it, within a bound far
	// above what it takes (two or three heartbeats).
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range cfg.ServerIDs() {
		srv, _ := cfg.Server(id)
		for {
			var st struct{ Keys, Tombstones int }
			resp, err := http.Get("http://" + srv.HTTPAddr() + "/v1/status")
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if st.Keys == 1 && st.Tombstones == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d holds %d keys, %d of them tombstones, after %d keys were put and deleted: the tombstones were not collected", id, st.Keys, st.Tombstones, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The last delete is collected everywhere: its client, which depends
	// on it, still reads the key as deleted, at every server.
	for id := range 3 {
		s.send("joinClient 3 %d", id)
		s.send("get 3 churn%d", n-1)
		s.expect(fmt.Sprintf("churn%d:ERR_KEY", n-1))
	}
}
