package server

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"gossipkv/pkg/frame"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/transport/memnet"
	"gossipkv/pkg/wire"
)

// newClusterWithRuns is newCluster with a run per server (and, if key is
// set, one secret key for all).
func newClusterWithRuns(t *testing.T, runs []string, key []byte) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(), peers: map[uint32]string{}, servers: map[uint32]*Server{},
		disks: map[uint32]*storage.Memory{}, keys: map[uint32][]byte{}, runs: map[uint32]string{}}
	for i, r := range runs {
		c.runs[uint32(i)] = r
		if key != nil {
			c.keys[uint32(i)] = key
		}
	}
	return c.startAll(len(runs))
}

// A server of another run (another master's, on the same network and in
// the same peer list) never joins the run's servers and never gets a write
// in or out, with or without a shared secret key.
func TestCluster_OtherRun_NeverMergesNorWrites(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"no key", nil}, {"one key for both runs", []byte("0123456789abcdef")}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterWithRuns(t, []string{"a", "a", "b"}, tc.key)
			c.put(0, "ours", "a")
			c.put(2, "intruder", "x")
			if got := c.waitConverged(0, 1); got["ours"] != "a" || got["intruder"] != "" {
				t.Fatalf("run a converged on %v", got)
			}
			// memberlist drops the other run's gossip: it cannot join.
			if n, err := c.servers[2].ml.Join([]string{"0/" + c.peers[0]}); err == nil || n != 0 {
				t.Fatalf("a server of run b joined run a: n=%d err=%v", n, err)
			}
			// Nor can it push writes over a data stream: server 0 drops
			// the stream on its label, before any frame.
			msgs := []model.Message{model.Writes{Entries: []model.Entry{{Key: []byte("forged"), Value: []byte("x"),
				Version: model.Version{Wall: 1, Origin: 2}, Seq: 99, Src: 2}}}}
			buf, _ := wire.Encode(2, msgs)
			stranger := c.servers[2].data
			deadline := time.Now().Add(10 * time.Second)
			for stranger.send(0, buf) == nil {
				if time.Now().After(deadline) {
					t.Fatal("server 0 kept reading a stream of another run")
				}
				time.Sleep(5 * time.Millisecond)
			}
			got := c.waitConverged(0, 1)
			if got["forged"] != "" || got["intruder"] != "" {
				t.Fatalf("a server of another run got writes in: %v", got)
			}
			if st := c.store(2); st["ours"] != "" {
				t.Fatalf("run a's write reached run b: %v", st)
			}
			for _, id := range []uint32{0, 1} {
				for _, m := range c.servers[id].ml.Members() {
					if m.Name == "2" {
						t.Errorf("server %d counts server 2 (run b) as a member", id)
					}
				}
			}
			if names := memberNames(c.servers[2]); !slices.Equal(names, []string{"2"}) {
				t.Errorf("server 2 (run b) sees members %v", names)
			}
		})
	}
}

func memberNames(s *Server) []string {
	var names []string
	for _, m := range s.ml.Members() {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// With a secret key, the label is also the frames' additional data: a
// frame sealed for another cluster or run fails authentication even under
// the same key (a stream's label prefix alone is not authenticated).
func TestStreams_FrameOfAnotherLabel_FailsAuthentication(t *testing.T) {
	block, _ := aes.NewCipher([]byte("0123456789abcdef"))
	aead, _ := cipher.NewGCM(block)
	ours := newStreams(nil, gossipLabel("lab", "a"), time.Second, slog.New(slog.DiscardHandler))
	theirs := newStreams(nil, gossipLabel("lab", "b"), time.Second, slog.New(slog.DiscardHandler))
	ours.aead, theirs.aead = aead, aead
	frame, err := theirs.seal([]byte("a batch"))
	if err != nil {
		t.Fatal(err)
	}
	// open works in place (and GCM zeroes what fails): give it a copy.
	if _, err := ours.open(bytes.Clone(frame)); err == nil {
		t.Fatal("a frame sealed under another label opened")
	}
	if got, err := theirs.open(frame); err != nil || !bytes.Equal(got, []byte("a batch")) {
		t.Fatalf("own frame: %q, %v", got, err)
	}
}

// A data stream delivers each frame whole, and is dropped at a length
// prefix above maxFrame: garbage, whose announced size is never allocated.
func TestStreams_Serve_DeliversFramesAndDropsAnOversizedOne(t *testing.T) {
	label := gossipLabel("lab", "a")
	var log bytes.Buffer
	st := newStreams(nil, label, time.Second, slog.New(slog.NewTextHandler(&log, nil)))
	got := make(chan []byte, 4)
	st.deliver = func(b []byte) { got <- b }
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	served := make(chan struct{})
	go func() { st.serve(ours); close(served) }()
	go func() {
		theirs.Write(append([]byte{byte(len(label))}, label...))
		frame.Write(theirs, []byte("a batch"))
		theirs.Write([]byte{0xff, 0xff, 0xff, 0xff}) // 4 GiB announced
	}()
	select {
	case b := <-got:
		if string(b) != "a batch" {
			t.Fatalf("delivered %q, want the batch", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the frame was not delivered")
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not dropped at an oversized frame")
	}
	if !strings.Contains(log.String(), "frame too large") {
		t.Errorf("log %q: want the drop said", log.String())
	}
}
