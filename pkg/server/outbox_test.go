package server

import (
	"testing"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/wire"
)

// sentKeys starts an outbox from server 0 to server 1 whose sends report
// the keys of the writes they carry.
func sentKeys(t *testing.T, flush time.Duration) (*outbox, <-chan []string) {
	t.Helper()
	got := make(chan []string, 16)
	o := newOutbox(0, []uint32{0, 1}, flush, func(to uint32, buf []byte) error {
		_, msgs, err := wire.Decode(buf)
		if err != nil {
			t.Errorf("send to %d: %v", to, err)
		}
		var keys []string
		for _, m := range msgs {
			if w, ok := m.(model.Writes); ok {
				for _, e := range w.Entries {
					keys = append(keys, string(e.Key))
				}
			}
		}
		got <- keys
		return nil
	}, func(to uint32, err error) { t.Errorf("send to %d failed: %v", to, err) })
	t.Cleanup(o.close)
	return o, got
}

func putFor(o *outbox, key string) {
	e := model.Entry{Key: []byte(key), Value: []byte("v"), Version: model.Version{Wall: 1, Origin: 0}, Seq: 1, Src: 7}
	o.enqueue([]model.Outgoing{{To: 1, Msg: model.Writes{Entries: []model.Entry{e}, Src: 7}}})
}

func wantSend(t *testing.T, got <-chan []string, key string) {
	t.Helper()
	select {
	case keys := <-got:
		if len(keys) != 1 || keys[0] != key {
			t.Fatalf("sent %q, want [%s]", keys, key)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not sent", key)
	}
}

// wantHeld checks that nothing is sent for a while: the sender waits out
// its flush interval, an hour here.
func wantHeld(t *testing.T, got <-chan []string) {
	t.Helper()
	select {
	case keys := <-got:
		t.Fatalf("sent %q during the flush interval", keys)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestOutbox_HurrySendsAtOnceForItsWindow(t *testing.T) {
	o, got := sentKeys(t, time.Hour)
	putFor(o, "a")
	wantSend(t, got, "a") // an idle link sends at once
	putFor(o, "b")
	wantHeld(t, got)

	o.hurry(time.Hour)
	wantSend(t, got, "b") // woken from its wait
	putFor(o, "c")
	wantSend(t, got, "c") // no wait between sends while hurried
	putFor(o, "d")
	wantSend(t, got, "d")
}

func TestOutbox_AfterTheHurryTheFlushIntervalHoldsAgain(t *testing.T) {
	o, got := sentKeys(t, time.Hour)
	o.hurry(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if o.hurrying() {
		t.Fatal("still hurrying after the window")
	}
	putFor(o, "a")
	wantSend(t, got, "a")
	putFor(o, "b")
	wantHeld(t, got)
	// A stale wake-up (the window has ended) does not end the wait.
	o.hurry(-time.Second)
	wantHeld(t, got)
}
