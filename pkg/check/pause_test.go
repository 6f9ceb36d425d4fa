package check

import (
	"testing"
	"time"

	"gossipkv/pkg/model"
)

func (b *hb) pause(id uint32) *hb  { return b.add(Event{Op: Pause, Server: id}) }
func (b *hb) resume(id uint32) *hb { return b.add(Event{Op: Resume, Server: id}) }
func (b *hb) skew(id uint32, d time.Duration) *hb {
	return b.add(Event{Op: Skew, Server: id, Skew: d})
}

// stabilize leaves a paused server out: its missing store is no
// violation, and the others converge without it.
func TestCheck_Pause_LeftOutOfStabilize(t *testing.T) {
	b := (&hb{}).start(0, 1, 2).pause(2).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1))
	expect(t, Check(b.h), nil)
}

// A paused server receives nothing: a write made meanwhile that it
// serves came through a link that should have been down.
func TestCheck_Pause_NothingReachesAPausedServer(t *testing.T) {
	b := (&hb{}).start(0, 1).pause(1).
		put(5, 0, "a", "1", ver(10, 0)).
		get(6, 1, "a", "1", ver(10, 0), model.Version{})
	expect(t, Check(b.h), []Class{Extra}, "server 1 paused at line 3")
}

// Once resumed it is a member like any other: it must catch up on what
// its group wrote while it was paused.
func TestCheck_Pause_AfterResumeTheWriteIsRequired(t *testing.T) {
	b := (&hb{}).start(0, 1).pause(1).
		put(5, 0, "a", "1", ver(10, 0)).
		resume(1).
		stabilize(map[uint32][]Item{0: {item("a", "1", ver(10, 0))}, 1: nil})
	expect(t, Check(b.h), []Class{Diverged, Lost}, `"a"="1"`)
}

// A put through a paused server that timed out (ERR_CONN) may take
// effect once it resumes, and then spreads: no extra write.
func TestCheck_Pause_TimedOutPutMayLandAfterResume(t *testing.T) {
	b := (&hb{}).start(0, 1).pause(1).
		putFailed(6, 1, "a", "late").
		resume(1).
		stabilize(same([]Item{item("a", "late", ver(10, 1))}, 0, 1))
	expect(t, Check(b.h), nil)
}

// A kill of a paused server ends the pause: it restarts as a member.
func TestCheck_Pause_KillEndsIt(t *testing.T) {
	b := (&hb{}).start(0, 1).pause(1).kill(1).restart(1).
		put(5, 0, "a", "1", ver(10, 0)).
		stabilize(same([]Item{item("a", "1", ver(10, 0))}, 0, 1))
	expect(t, Check(b.h), nil)
}

// Under skew, a later write in script order may have the lower version
// and lose: that is no violation (the checker does not judge by script
// order), but a client's write below what that client read is, whatever
// the clocks.
func TestCheck_Skew_JudgesCausalityNotScriptOrder(t *testing.T) {
	base := (&hb{}).start(0, 1).skew(1, -2*time.Second).
		put(5, 0, "a", "first", ver(3000, 0))
	// Another client's later put through the skewed server is older:
	// it loses everywhere, and that is allowed.
	ok := base.fork().put(6, 1, "a", "second", ver(1000, 1)).
		stabilize(same([]Item{item("a", "first", ver(3000, 0))}, 0, 1))
	expect(t, Check(ok.h), nil)
	// The same put by a client that had read "first" must be above it.
	bad := base.fork().get(6, 0, "a", "first", ver(3000, 0), model.Version{}).
		put(6, 1, "a", "second", ver(1000, 1))
	expect(t, Check(bad.h), []Class{Causality}, `client 6's put of "a"="second" got v1000.0@1, not above "first" (v3000.0@0) that it read at line 5`)
}
