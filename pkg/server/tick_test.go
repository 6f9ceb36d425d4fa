package server

import (
	"testing"
	"time"

	"gossipkv/pkg/model"
)

// The owner loop polls the repair watches every tick while a neighbour
// may lack something, and otherwise sleeps until the next heartbeat or
// the expiry of a link that only traffic kept, never longer than a
// heartbeat interval.
func TestSleepFor(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := loopTimingServer()
	now := int64(1e12)
	s.node.Tick(now) // a heartbeat: the next is at now+200ms

	if got, want := s.sleepFor(now+3*ms, now, false), 7*time.Millisecond; got != want {
		t.Errorf("unsettled, 3 ms after a tick: sleep %v, want %v (the rest of a 10 ms tick)", got, want)
	}
	if got := s.sleepFor(now+30*ms, now, false); got != 0 {
		t.Errorf("unsettled, a tick overdue: sleep %v, want 0", got)
	}
	if got, want := s.sleepFor(now+50*ms, now+50*ms, true), 150*time.Millisecond; got != want {
		t.Errorf("settled: sleep %v, want %v (until the next heartbeat)", got, want)
	}
	s.heard[3] = time.Now().Add(-350 * time.Millisecond) // expires in 50 ms (2 heartbeats after)
	if got := s.sleepFor(now+50*ms, now+50*ms, true); got > 50*time.Millisecond || got < 40*time.Millisecond {
		t.Errorf("settled, a heard link expiring in 50 ms: sleep %v, want about 50 ms", got)
	}
	delete(s.heard, 3)
	// A log not yet folded: the checkpoint is due 100 ms from now.
	s.logged, s.lastCheckpoint = 4096, time.Now().Add(-400*time.Millisecond)
	if got := s.sleepFor(now+50*ms, now+50*ms, true); got > 100*time.Millisecond || got < 90*time.Millisecond {
		t.Errorf("settled, a checkpoint due in 100 ms: sleep %v, want about 100 ms", got)
	}
	s.checkpointing = true // one is running: its end wakes the loop
	if got, want := s.sleepFor(now+50*ms, now+50*ms, true), 150*time.Millisecond; got != want {
		t.Errorf("settled, a checkpoint running: sleep %v, want %v", got, want)
	}
	s.logged, s.checkpointing = 0, false
	// A wall clock that stepped back must not put the loop to sleep for
	// longer than a heartbeat.
	if got, want := s.sleepFor(now-5000*ms, now-5000*ms, true), 200*time.Millisecond; got != want {
		t.Errorf("clock went back 5 s: sleep %v, want %v", got, want)
	}
}

// While a neighbour may lack something (not settled), the loop sleeps at
// most a tick, and never longer than a heartbeat interval, even when the
// clock Tick reads (Options.Now, the wall clock by default) has stepped
// back since the last tick.
func TestSleepFor_UnsettledAfterClockStepBack_AtMostAHeartbeat(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := loopTimingServer()
	lastTick := int64(1e12)
	s.node.Tick(lastTick)
	if hb := s.opts.Timing.Heartbeat; s.sleepFor(lastTick-5000*ms, lastTick, false) > hb {
		t.Errorf("unsettled, clock 5 s behind the last tick: sleep %v, want at most a heartbeat (%v)", s.sleepFor(lastTick-5000*ms, lastTick, false), hb)
	}
}

// loopTimingServer is just enough of a server for sleepFor: its timing (a
// 10 ms tick, 200 ms heartbeats, checkpoints every 500 ms) and a node
// that has no neighbour.
func loopTimingServer() *Server {
	timing := Timing{Resend: 40 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Checkpoint: 500 * time.Millisecond}
	s := &Server{opts: Options{Timing: timing}, heard: map[uint32]time.Time{}}
	s.node = model.NewNode(model.NodeConfig{ID: 0, Resend: int64(timing.Resend), Heartbeat: int64(timing.Heartbeat)},
		model.NewReplica(0, model.NewSrc(1), nil, model.Meta{}))
	return s
}
