package server

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
	"gossipkv/pkg/wire"
)

// fullDisk is a backend whose commits, log appends and checkpoints fail
// while full is set, as they do when the disk has no space left.
type fullDisk struct {
	*storage.Memory
	full atomic.Bool
}

func (d *fullDisk) Commit(entries []model.Entry, meta model.Meta) error {
	if d.full.Load() {
		return &errorWithErrno{syscall.ENOSPC}
	}
	return d.Memory.Commit(entries, meta)
}

func (d *fullDisk) Log(entries []model.Entry, meta model.Meta) error {
	if d.full.Load() {
		return &errorWithErrno{syscall.ENOSPC}
	}
	return d.Memory.Log(entries, meta)
}

func (d *fullDisk) Checkpoint() error {
	if d.full.Load() {
		return &errorWithErrno{syscall.ENOSPC}
	}
	return d.Memory.Checkpoint()
}

func (d *fullDisk) Close() error { return nil } // reopened below: keep the data

type errorWithErrno struct{ errno syscall.Errno }

func (e *errorWithErrno) Error() string { return "write store.db: " + e.errno.Error() }
func (e *errorWithErrno) Unwrap() error { return e.errno }

func TestServer_FullDisk_PutFailsClearly_ReadsGoOn(t *testing.T) {
	c := newCluster(t, 2)
	c.waitConverged(0, 1)
	disk := &fullDisk{Memory: storage.NewMemory()}
	// Restart server 0 on the disk that can fill up.
	c.servers[0].Shutdown()
	delete(c.servers, 0)
	c.startWith(0, disk, func() (storage.Backend, error) { return disk, nil })
	c.put(0, "before", "kept")
	c.waitConverged(0, 1)

	disk.full.Store(true)
	r := c.servers[0].Put([]byte("during"), []byte("lost"), model.Version{})
	if r.Status != api.ErrFailed || !strings.Contains(r.Reason, "no space left on device") {
		t.Fatalf("put on a full disk: %v %q, want ErrFailed naming the cause", r.Status, r.Reason)
	}
	// The server is up, reads what it had, and never spread the failed put.
	g, err := c.servers[0].Get([]byte("before"), model.Version{})
	if err != nil || g.Status != api.OK || string(g.Value) != "kept" {
		t.Fatalf("read on a full disk: %+v %v", g, err)
	}
	if g, _ := c.servers[0].Get([]byte("during"), model.Version{}); g.Status != api.ErrKey {
		t.Fatalf("failed put is visible: %+v", g)
	}
	c.put(1, "elsewhere", "fine") // the other server is unaffected

	disk.full.Store(false) // space freed: puts work again
	c.put(0, "after", "ok")
	got := c.waitConverged(0, 1)
	if got["during"] != "" || got["after"] != "ok" || got["elsewhere"] != "fine" || got["before"] != "kept" {
		t.Fatalf("store after the disk came back: %v", got)
	}
}

func TestServer_Limits_AtAndOverTheLimit(t *testing.T) {
	c := newCluster(t, 1)
	s := c.servers[0]
	s.opts.MaxKeyBytes, s.opts.MaxValueBytes = 8, 16
	if r := s.Put([]byte("12345678"), []byte("0123456789abcdef"), model.Version{}); r.Status != api.OK {
		t.Fatalf("put at the limits: %v %s", r.Status, r.Reason)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"123456789", "v", "key of 9 bytes exceeds max_key_bytes 8"},
		{"k", "0123456789abcdefX", "value of 17 bytes exceeds max_value_bytes 16"},
		{"", "v", "empty key"},
	} {
		r := s.Put([]byte(tc.key), []byte(tc.value), model.Version{})
		if r.Status != api.ErrFailed || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("put %q=%q: %v %q, want ErrFailed %q", tc.key, tc.value, r.Status, r.Reason, tc.want)
		}
	}
	if _, err := s.Get([]byte("123456789"), model.Version{}); err == nil || !strings.Contains(err.Error(), "max_key_bytes") {
		t.Errorf("get of an over-long key: %v", err)
	}
}

func TestCluster_SecretKey_StrangerCannotJoinOrWrite(t *testing.T) {
	key := []byte("0123456789abcdef")
	other := []byte("fedcba9876543210")
	c := newClusterWithKeys(t, [][]byte{key, key, other})
	c.put(0, "shared", "secret")
	if got := c.waitConverged(0, 1); got["shared"] != "secret" {
		t.Fatalf("servers with the key did not converge over encrypted links: %v", got)
	}
	// The stranger cannot join: memberlist refuses what it cannot decrypt.
	if n, err := c.servers[2].ml.Join([]string{"0/" + c.peers[0]}); err == nil || n != 0 {
		t.Fatalf("server without the key joined: n=%d err=%v", n, err)
	}
	// Nor can it inject writes over a data stream: a frame that fails
	// authentication closes the stream unread.
	c.put(2, "injected", "x")
	msgs := []model.Message{model.Writes{Entries: []model.Entry{{Key: []byte("forged"), Value: []byte("x"),
		Version: model.Version{Wall: 1, Origin: 2}, Seq: 99, Src: 2}}}}
	buf, _ := wire.Encode(2, msgs)
	stranger := c.servers[2].data
	if err := stranger.send(0, buf); err != nil {
		t.Fatalf("dial and write to server 0: %v", err)
	}
	// Server 0 closes the stream: the next frames fail to write, soon.
	deadline := time.Now().Add(10 * time.Second)
	for stranger.send(0, buf) == nil {
		if time.Now().After(deadline) {
			t.Fatal("server 0 kept reading a stream that fails authentication")
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := c.waitConverged(0, 1)
	if got["forged"] != "" || got["injected"] != "" {
		t.Fatalf("a server without the key got writes in: %v", got)
	}
}
