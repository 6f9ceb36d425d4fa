package server

import (
	"log/slog"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/storage"
)

// From a correctness review, adapted to the write-ahead log: a put whose
// log append fails must be answered with the error, and neither its write
// nor an ack covering its dot may reach a neighbour, whether the server
// goes back to its disk's state (Reopen) or stops. Otherwise the origin,
// restarted, would number its next write with the same dot, which the
// neighbours would drop as a duplicate: the stores would diverge for good.
func TestReview_FailedLog_SendsNothingUndurable(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		name := map[bool]string{false: "Stops", true: "Reloads"}[reopen]
		t.Run(name, func(t *testing.T) {
			disk := storage.NewMemory()
			node := model.NewNode(model.NodeConfig{ID: 0, Resend: 1 << 40, Heartbeat: 1 << 62, MaxDeltaBytes: 1 << 20},
				model.NewReplica(0, nil, model.Meta{}))
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
			var crashed *storage.Memory
			if reopen {
				s.opts.Reopen = func() (storage.Backend, error) { return crashed, nil }
			}
			node.SetNeighbors([]uint32{1})
			node.SetLinks(1, 1, []uint32{0})
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
