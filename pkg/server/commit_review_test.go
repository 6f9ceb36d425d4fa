package server

import (
	"log/slog"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

// From a correctness review; it fails on the code it was written against.
//
// After a failed commit, commit starts Shutdown in a goroutine and returns
// without calling Ready, so the forwarded write and the ack due stay queued
// in the Node. run's next iteration can still happen (the Shutdown goroutine
// may not have closed stop yet, and select picks at random among ready
// cases even once it has). In that iteration nothing is dirty any more
// (TakeDirty already handed the failed batch out), so commit skips the
// backend and calls Ready: the write that never reached the disk goes out
// to the neighbours, with an Ack promising it is durable. After the restart
// the origin numbers its next write with the same dot, which the neighbours
// then drop as a duplicate: the stores diverge for good.
func TestReview_Commit_AfterFailedCommit_SendsNothingUncommitted(t *testing.T) {
	disk := storage.NewMemory()
	node := model.NewNode(model.NodeConfig{ID: 0, Resend: 1 << 40, Heartbeat: 1 << 62, MaxDeltaBytes: 1 << 20},
		model.NewReplica(0, nil, model.Meta{}))
	s := &Server{
		opts: Options{ID: 0, Backend: disk, Now: func() int64 { return 1e9 }},
		log:  slog.New(slog.DiscardHandler),
		node: node,
		out:  &outbox{self: 0, senders: map[uint32]*sender{1: {to: 1, signal: make(chan struct{}, 1)}}},
		stop: make(chan struct{}),
	}
	s.once.Do(func() {}) // the Shutdown that commit starts is not under test here
	node.SetNeighbors([]uint32{1})
	node.SetLinks(1, 1, []uint32{0})
	s.commit(nil)
	s.out.senders[1].take()

	disk.Close() // the disk fails from now on
	reply := make(chan response, 1)
	s.commit(s.handle(request{kind: reqPut, key: []byte("k"), value: []byte("lost"), reply: reply}, nil))
	if r := <-reply; r.err == nil {
		t.Fatal("put answered OK although its commit failed")
	}

	s.commit(nil) // run's next iteration, before it sees stop
	msgs, _ := s.out.senders[1].take()
	for _, m := range msgs {
		switch m := m.(type) {
		case model.Writes:
			for _, e := range m.Entries {
				t.Errorf("sent write %s=%s (dot %v) that is on no disk", e.Key, e.Value, e.Dot())
			}
		case model.Ack:
			if m.Seen.Contains(model.Dot{Origin: 0, Seq: 1}) {
				t.Errorf("acked %v, which includes the uncommitted dot 0:1", m.Seen)
			}
		}
	}
}
