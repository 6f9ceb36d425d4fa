package server

import "sync"

// queue is an unbounded multi-producer queue that never blocks its
// producers: memberlist's callbacks must not block, and dropping what a peer
// sent reliably would only cost a resend. The owner waits on signal, then
// drains.
type queue[T any] struct {
	signal chan struct{}

	// mu guards items.
	mu    sync.Mutex
	items []T
}

func newQueue[T any]() *queue[T] { return &queue[T]{signal: make(chan struct{}, 1)} }

func (q *queue[T]) push(x T) {
	q.mu.Lock()
	q.items = append(q.items, x)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue[T]) drain() []T {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	return items
}
