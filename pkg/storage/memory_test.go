package storage

import (
	"errors"
	"sync"
	"testing"

	"gossipkv/pkg/model"
)

func TestMemory_Contract(t *testing.T) {
	testBackend(t, func(t *testing.T) (Backend, func() Backend) {
		cur := NewMemory()
		return cur, func() Backend {
			cur = cur.Crash()
			return cur
		}
	})
}

func TestMemory_Crash_OldInstanceStopsCommitting(t *testing.T) {
	m := NewMemory()
	before := []model.Entry{entry("a", "1", 1, 1, 1)}
	if err := m.Commit(before, metaAt(1, 1, 1)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	restarted := m.Crash()
	// The dead server's late commit must fail, not vanish silently.
	if err := m.Commit([]model.Entry{entry("b", "2", 2, 1, 2)}, metaAt(2, 1, 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit on crashed Memory = %v, want ErrClosed", err)
	}
	checkLoad(t, restarted, before, metaAt(1, 1, 1))

	// The restarted instance is independent of the crashed one's memory.
	after := entry("c", "3", 3, 1, 2)
	if err := restarted.Commit([]model.Entry{after}, metaAt(3, 1, 2)); err != nil {
		t.Fatalf("Commit on restarted Memory: %v", err)
	}
	checkLoad(t, m.Crash(), before, metaAt(1, 1, 1))
	checkLoad(t, restarted.Crash(), append(before, after), metaAt(3, 1, 2))
}

func TestMemory_CloseDuringCommits(t *testing.T) {
	m := NewMemory()
	var wg sync.WaitGroup
	wg.Add(1)
	committed := 0
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			if err := m.Commit([]model.Entry{entry("k", "v", int64(i), 1, i)}, metaAt(int64(i), 1, i)); err != nil {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Commit %d: %v", i, err)
				}
				return
			}
			committed++
		}
	}()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	_, meta := load(t, m.Crash())
	if got := meta.Seen.Prefix.Get(1); got != uint64(committed) {
		t.Fatalf("after Close, meta says %d commits, the writer saw %d succeed", got, committed)
	}
}
