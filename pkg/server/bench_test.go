package server

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
)

// BenchmarkServer_Put measures a put through the whole server (owner loop,
// group commit with fsync on bbolt, replication to its peers over an
// in-memory network), without net/rpc or processes: what a put costs the
// server itself. With 5 servers puts take turns across them, as the
// assignment's clients do, one at a time.
func BenchmarkServer_Put(b *testing.B) {
	for _, n := range []int{1, 5} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			servers := benchCluster(b, n)
			value := make([]byte, 1024)
			b.SetBytes(int64(len(value)))
			i := 0
			for b.Loop() {
				key := []byte{'a' + byte(i/100%10), 'a' + byte(i/10%10), 'a' + byte(i%10)}
				if r := servers[i%n].Put(key, value, model.Version{}); r.Status != api.OK {
					b.Fatalf("put %d: %v %s", i, r.Status, r.Reason)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// benchCluster starts n servers on bbolt with the default config's timing
// and waits until each sees every other as a direct link, so that the timed
// loop does not include the cluster forming.
func benchCluster(b *testing.B, n int) []*Server {
	b.Helper()
	nw := memnet.New()
	trs := make([]*memnet.Transport, n)
	peers := map[uint32]string{}
	for i := range trs {
		trs[i] = nw.NewTransport(strconv.Itoa(i))
		peers[uint32(i)] = trs[i].Addr()
	}
	cfg := config.Local(n, 0, 7000)
	servers := make([]*Server, n)
	for i := range servers {
		opts, err := OptionsFromConfig(cfg, uint32(i))
		if err != nil {
			b.Fatal(err)
		}
		db, err := storage.OpenBolt(filepath.Join(b.TempDir(), "state.db"), storage.BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		opts.Peers, opts.Backend, opts.Transport = peers, db, trs[i]
		s, err := New(opts)
		if err != nil {
			db.Close()
			b.Fatal(err)
		}
		servers[i] = s
		b.Cleanup(func() { s.Shutdown() })
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range servers {
		for {
			st, err := s.Status()
			if err != nil {
				b.Fatal(err)
			}
			if len(st.Links) == n-1 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("server %d: links %v after 20s, want %d peers", st.ID, st.Links, n-1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return servers
}
