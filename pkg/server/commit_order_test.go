package server

import (
	"errors"
	"log/slog"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

// A put whose
// log append fails must be answered with the error, and neither its write
// nor an ack covering its dot may reach a neighbour, whether the server
// goes back to its disk's state (Reopen) or stops. Otherwise the origin,
// restarted, would number its next write with the same dot, which the
// neighbours would drop as a duplicate: the stores would diverge for good.
func TestServer_FailedLog_SendsNothingUndurable(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		name := map[bool]string{false: "Stops", true: "Reloads"}[reopen]
		t.Run(name, func(t *testing.T) {
			disk := storage.NewMemory()
			s := loopServer(disk)
			var crashed *storage.Memory
			if reopen {
				s.opts.Reopen = func() (storage.Backend, error) { return crashed, nil }
			}
			s.commit(nil)
			s.out.senders[1].take()

			crashed = disk.Crash() // the disk fails from now on
			reply := make(chan response, 1)
			pending := s.logOwn(s.handle(request{kind: reqPut, key: []byte("k"), value: []byte("lost"), reply: reply}, nil))
			if reopen {
				if s.broken != nil {
					t.Fatalf("server stopped although it could reload: %v", s.broken)
				}
				s.commit(pending) // run's next step
			} else {
				if s.broken == nil {
					t.Fatal("server carries on after a failed log it cannot reload from")
				}
				s.failAll(pending) // what run does once broken
			}
			if r := <-reply; r.err == nil {
				t.Fatal("put answered OK although its log append failed")
			}
			msgs, _ := s.out.senders[1].take()
			for _, m := range msgs {
				switch m := m.(type) {
				case model.Writes:
					for _, e := range m.Entries {
						t.Errorf("sent write %s=%s (dot %v) that is on no disk", e.Key, e.Value, e.Dot())
					}
				case model.Ack:
					if m.Seen.Count() > 0 {
						t.Errorf("acked %v, although nothing is durable", m.Seen)
					}
				}
			}
		})
	}
}

// loopServer is a server with one neighbour, 1, whose loop the test
// drives by hand: commit jobs wait in toCommit for the test to run them.
func loopServer(disk storage.Backend) *Server {
	node := model.NewNode(model.NodeConfig{ID: 0, Resend: 1 << 40, Heartbeat: 1 << 62, MaxDeltaBytes: 1 << 20},
		model.NewReplica(0, 0, nil, model.Meta{}))
	s := &Server{
		opts:      Options{ID: 0, Backend: disk, Now: func() int64 { return 1e9 }},
		log:       slog.New(slog.DiscardHandler),
		node:      node,
		out:       &outbox{self: 0, senders: map[uint32]*sender{1: {to: 1, signal: make(chan struct{}, 1)}}},
		stop:      make(chan struct{}),
		ownLogged: map[model.Dot]bool{},
		toCommit:  make(chan *commitJob, 1),
		committed: make(chan *commitJob, 1),
	}
	node.SetNeighbors([]uint32{1})
	node.SetLinks(1, 1, []uint32{0})
	// Hearing of server 1 made it a member, a change of the meta: count
	// it as committed, so that the test's own commits start from nothing.
	node.R.TakeDirty()
	s.loggedMembers = len(node.R.Members())
	return s
}

// A read that waited for a commit is answered as
// of that commit's snapshot, not with a peer's write applied while the
// append ran, which a crash of this server could still take back.
func TestServer_WaitingGet_SeesOnlyDurableState(t *testing.T) {
	disk := storage.NewMemory()
	s := loopServer(disk)
	older := model.Entry{Key: []byte("k"), Value: []byte("v1"), Version: model.Version{Wall: 5, Origin: 1}, Seq: 1, Src: 1}
	s.node.Step(1, model.Writes{Entries: []model.Entry{older}}, 1e9)
	reply := make(chan response, 1)
	s.commit([]request{{kind: reqGet, key: []byte("k"), reply: reply}})
	job := <-s.toCommit
	// While the append runs, the owner applies a newer write from 1.
	newer := model.Entry{Key: []byte("k"), Value: []byte("v2-not-durable"), Version: model.Version{Wall: 6, Origin: 1}, Seq: 2, Src: 1}
	s.node.Step(1, model.Writes{Entries: []model.Entry{newer}}, 1e9)
	job.err = job.backend.Log(job.entries, job.meta)
	s.finishCommit(job)
	r := <-reply
	st, err := disk.Crash().Load()
	entries := st.Entries
	if err != nil || len(entries) != 1 {
		t.Fatalf("disk after the commit: %v, %v", entries, err)
	}
	if string(r.get.Value) != string(entries[0].Value) {
		t.Errorf("get answered %q, which is not on disk (disk: %q)", r.get.Value, entries[0].Value)
	}
}

// A commit that was in flight on a backend that a
// reload has replaced must not make the server reload again (the second
// Reopen here fails, which would stop a healthy server).
func TestServer_StaleCommit_DoesNotReloadAgain(t *testing.T) {
	disk := storage.NewMemory()
	s := loopServer(disk)
	var crashed *storage.Memory
	reopens := 0
	s.opts.Reopen = func() (storage.Backend, error) {
		if reopens++; reopens > 1 {
			return nil, errors.New("transient reopen failure")
		}
		return crashed, nil
	}
	remote := model.Entry{Key: []byte("k"), Value: []byte("v1"), Version: model.Version{Wall: 5, Origin: 1}, Seq: 1, Src: 1}
	s.node.Step(1, model.Writes{Entries: []model.Entry{remote}}, 1e9)
	s.commit(nil)
	job := <-s.toCommit // in flight on disk
	crashed = disk.Crash()
	s.logOwn(s.handle(request{kind: reqPut, key: []byte("a"), value: []byte("x"), reply: make(chan response, 1)}, nil))
	if s.broken != nil || s.opts.Backend != storage.Backend(crashed) {
		t.Fatalf("first reload: broken=%v", s.broken)
	}
	job.err = job.backend.Log(job.entries, job.meta) // the old backend: ErrClosed
	s.finishCommit(job)
	if reopens != 1 || s.broken != nil {
		t.Errorf("a stale commit caused reopen #%d (server broken: %v)", reopens, s.broken)
	}
	if msgs, _ := s.out.senders[1].take(); len(msgs) > 0 {
		for _, m := range msgs {
			if a, ok := m.(model.Ack); ok && a.Seen.Contains(remote.Dot()) {
				t.Errorf("acked %v from a commit that failed", a.Seen)
			}
		}
	}
}
