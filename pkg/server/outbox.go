package server

import (
	"sync"
	"sync/atomic"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/wire"
)

// sendFunc delivers one encoded batch to a peer (memberlist's SendReliable).
type sendFunc func(to uint32, buf []byte) error

// outbox batches messages per peer. Each peer has a sender goroutine that
// sends at once when idle and then at most once per flush interval, so a
// quiet cluster has no added latency and a busy one sends few, large
// messages (every SendReliable dials a new TCP connection).
type outbox struct {
	self  uint32
	flush time.Duration
	// hurryUntil ends a window in which senders send at once, without
	// waiting out the flush interval (see hurry): nanoseconds since
	// epoch, on the monotonic clock, so a step of the wall clock neither
	// stretches nor ends it.
	hurryUntil atomic.Int64
	epoch      time.Time
	send       sendFunc
	failed     func(to uint32, err error)
	stop       chan struct{}
	wg         sync.WaitGroup
	senders    map[uint32]*sender // fixed at construction: every configured peer
	stats      sendStats
}

// sendStats counts what left, by kind (see api.StatsReply).
type sendStats struct {
	batches, bytes, writes, relayed, acks, deltas, deltaEntries, failures atomic.Uint64
}

func (st *sendStats) count(self uint32, msgs []model.Message, size int) {
	st.batches.Add(1)
	st.bytes.Add(uint64(size))
	for _, m := range msgs {
		switch m := m.(type) {
		case model.Writes:
			st.writes.Add(uint64(len(m.Entries)))
			for _, e := range m.Entries {
				if e.Version.Origin != self {
					st.relayed.Add(1)
				}
			}
		case model.Ack:
			st.acks.Add(1)
		case model.Delta:
			st.deltas.Add(1)
			st.deltaEntries.Add(uint64(len(m.Entries)))
		}
	}
}

// sender holds what waits for one peer.
type sender struct {
	to     uint32
	signal chan struct{}
	// urgent wakes the sender from its wait between two sends (hurry).
	urgent chan struct{}

	// mu guards the pending messages.
	mu     sync.Mutex
	writes []model.Entry
	// writesSrc is the replica id the writes were sent under: writes of an
	// earlier one (before a reload) are dropped, not sent under the new
	// one, whose peers would credit it with them.
	writesSrc uint64
	ack       *model.Ack // only the newest matters: acks are cumulative
	deltas    []model.Delta
}

func newOutbox(self uint32, peers []uint32, flush time.Duration, send sendFunc, failed func(uint32, error)) *outbox {
	o := &outbox{self: self, flush: flush, send: send, failed: failed, stop: make(chan struct{}), senders: map[uint32]*sender{}, epoch: time.Now()}
	for _, p := range peers {
		if p == self {
			continue
		}
		s := &sender{to: p, signal: make(chan struct{}, 1), urgent: make(chan struct{}, 1)}
		o.senders[p] = s
		o.wg.Add(1)
		go o.loop(s)
	}
	return o
}

// enqueue hands messages to their peers' senders; it never blocks.
func (o *outbox) enqueue(msgs []model.Outgoing) {
	for _, m := range msgs {
		s := o.senders[m.To]
		if s == nil {
			continue
		}
		s.mu.Lock()
		switch msg := m.Msg.(type) {
		case model.Writes:
			if msg.Src != s.writesSrc {
				s.writes, s.writesSrc = nil, msg.Src
			}
			s.writes = append(s.writes, msg.Entries...)
		case model.Ack:
			s.ack = &msg
		case model.Delta:
			s.deltas = append(s.deltas, msg)
		}
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

// discard drops whatever waits for peer to (its link was cut).
func (o *outbox) discard(to uint32) {
	if s := o.senders[to]; s != nil {
		s.mu.Lock()
		s.writes, s.ack, s.deltas = nil, nil, nil
		s.mu.Unlock()
	}
}

// maxBatchBytes bounds one batch (roughly: keys and values); what does
// not fit waits for the next send. A peer back from a long partition may
// have megabytes waiting, and a frame has to be read whole.
const maxBatchBytes = 16 << 20

// take removes a batch from the queue; more reports whether some is left.
func (s *sender) take() (msgs []model.Message, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	size := 0
	n := 0
	for n < len(s.writes) && (n == 0 || size < maxBatchBytes) {
		size += s.writes[n].Size()
		n++
	}
	if n > 0 {
		msgs = append(msgs, model.Writes{Entries: s.writes[:n:n], Src: s.writesSrc})
		s.writes = s.writes[n:]
	}
	d := 0
	for d < len(s.deltas) && (len(msgs) == 0 || size < maxBatchBytes) {
		for _, e := range s.deltas[d].Entries {
			size += e.Size()
		}
		msgs = append(msgs, s.deltas[d])
		d++
	}
	s.deltas = s.deltas[d:]
	more = len(s.writes) > 0 || len(s.deltas) > 0
	// The ack goes last, once the queue is empty: the receiver then sees
	// our newest set after the writes it covers.
	if s.ack != nil && !more {
		msgs = append(msgs, *s.ack)
		s.ack = nil
	}
	if len(s.writes) == 0 {
		s.writes = nil
	}
	return msgs, more
}

func (o *outbox) loop(s *sender) {
	defer o.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-s.signal:
		}
		msgs, more := s.take()
		if more {
			select {
			case s.signal <- struct{}{}:
			default:
			}
		}
		if len(msgs) > 0 {
			buf, err := wire.Encode(o.self, msgs)
			if err == nil {
				err = o.send(s.to, buf)
			}
			if err != nil {
				o.stats.failures.Add(1)
				o.failed(s.to, err)
			} else {
				o.stats.count(o.self, msgs, len(buf))
			}
		}
		// Rate-limit rather than delay: the next send waits out the flush
		// interval, gathering what arrives meanwhile into one batch;
		// unless somebody waits for the cluster to converge.
		if !o.hurrying() && !o.wait(s, timer) {
			return
		}
	}
}

// wait waits out the flush interval after a send, or until a hurry; it
// reports false when the outbox stops.
func (o *outbox) wait(s *sender, timer *time.Timer) bool {
	timer.Reset(o.flush)
	for {
		select {
		case <-o.stop:
			return false
		case <-timer.C:
			return true
		case <-s.urgent:
			if o.hurrying() {
				timer.Stop()
				return true
			}
		}
	}
}

// hurry makes every sender send at once, and go on sending without
// waiting between sends, for the next d. Stabilize's status queries call
// it (Server.StabilizeStatus): convergence would otherwise wait out a
// flush interval at every hop of the last writes and of their acks.
func (o *outbox) hurry(d time.Duration) {
	o.hurryUntil.Store(int64(time.Since(o.epoch) + d))
	for _, s := range o.senders {
		select {
		case s.urgent <- struct{}{}:
		default:
		}
	}
}

func (o *outbox) hurrying() bool { return int64(time.Since(o.epoch)) < o.hurryUntil.Load() }

func (o *outbox) close() {
	close(o.stop)
	o.wg.Wait()
}
