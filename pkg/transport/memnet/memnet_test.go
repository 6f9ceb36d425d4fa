package memnet_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/transport/memnet"
)

// hangGuard bounds operations that must not block; it is not a measure of
// speed, only a way to fail instead of hanging the test binary.
const hangGuard = 5 * time.Second

// within runs f and fails the test if f has not returned after hangGuard.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s: still blocked after %s", what, hangGuard)
	}
}

// waitFor polls cond until it holds, failing with msg after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

// receive returns the next packet on tr, failing if none arrives.
func receive(t *testing.T, tr *memnet.Transport) *memberlist.Packet {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p
	case <-time.After(hangGuard):
		t.Fatalf("no packet reached %s", tr.Addr())
		return nil
	}
}

// accept returns the next stream dialled to tr, failing if none arrives.
func accept(t *testing.T, tr *memnet.Transport) net.Conn {
	t.Helper()
	select {
	case c := <-tr.StreamCh():
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(hangGuard):
		t.Fatalf("no stream reached %s", tr.Addr())
		return nil
	}
}

// assertNoPacket fails if a packet is waiting on tr. Packets are delivered
// synchronously by the sender, so no waiting is needed.
func assertNoPacket(t *testing.T, tr *memnet.Transport) {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		t.Fatalf("unexpected packet %q from %s at %s", p.Buf, p.From, tr.Addr())
	default:
	}
}

// assertRefused fails unless err is a refused TCP dial.
func assertRefused(t *testing.T, err error) {
	t.Helper()
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("dial error = %v (%T), want *net.OpError", err, err)
	}
	if op.Op != "dial" || op.Net != "tcp" {
		t.Errorf("dial error Op, Net = %q, %q, want \"dial\", \"tcp\"", op.Op, op.Net)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial error = %v, want ECONNREFUSED", err)
	}
}

// newTransports makes one transport per name and shuts them down at cleanup.
func newTransports(t *testing.T, nw *memnet.Network, names ...string) []*memnet.Transport {
	t.Helper()
	trs := make([]*memnet.Transport, len(names))
	for i, name := range names {
		trs[i] = nw.NewTransport(name)
		t.Cleanup(func() { _ = trs[i].Shutdown() })
	}
	return trs
}

func TestNetwork_NewTransport_CountsAddressesFromOne(t *testing.T) {
	var nw memnet.Network // the zero value must be usable
	trs := newTransports(t, &nw, "a", "b", "c")
	for i, tr := range trs {
		want := fmt.Sprintf("127.0.0.1:%d", i+1)
		if tr.Addr() != want {
			t.Errorf("transport %d Addr = %q, want %q", i, tr.Addr(), want)
		}
		ip, port, err := tr.FinalAdvertiseAddr("10.0.0.1", 7946)
		if err != nil {
			t.Fatalf("FinalAdvertiseAddr: %v", err)
		}
		if got := net.JoinHostPort(ip.String(), fmt.Sprint(port)); got != want {
			t.Errorf("transport %d advertises %s, want %s", i, got, want)
		}
	}
}

func TestNetwork_NewTransport_RestartReusesAddress(t *testing.T) {
	nw := memnet.New()
	trs := newTransports(t, nw, "a", "b")
	a, b := trs[0], trs[1]
	if err := a.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	a2 := newTransports(t, nw, "a")[0]
	if a2.Addr() != a.Addr() {
		t.Fatalf("restarted transport at %s, want its old address %s", a2.Addr(), a.Addr())
	}
	if c := newTransports(t, nw, "c")[0]; c.Addr() != "127.0.0.1:3" {
		t.Errorf("new name after a restart got %s, want 127.0.0.1:3", c.Addr())
	}

	// Peers that know the old address reach the new transport there.
	if _, err := b.WriteTo([]byte("hello"), a.Addr()); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if p := receive(t, a2); string(p.Buf) != "hello" {
		t.Errorf("restarted transport got %q, want %q", p.Buf, "hello")
	}
	conn, err := b.DialTimeout(a.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial to restarted address: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	accept(t, a2)

	// The old incarnation stays dead: it can neither send nor be reached
	// under its own identity.
	if _, err := a.WriteTo([]byte("ghost"), b.Addr()); err == nil {
		t.Errorf("WriteTo from a shut-down transport succeeded")
	}
	assertNoPacket(t, b)
	if _, err := a.DialTimeout(b.Addr(), time.Second); err == nil {
		t.Errorf("dial from a shut-down transport succeeded")
	}
}

func TestNetwork_NewTransport_LiveNamePanics(t *testing.T) {
	nw := memnet.New()
	newTransports(t, nw, "a")
	defer func() {
		if recover() == nil {
			t.Errorf("second live transport for one name did not panic")
		}
	}()
	nw.NewTransport("a")
}

func TestTransport_WriteTo_Delivers(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]

	before := time.Now()
	buf := []byte("ping")
	sent, err := a.WriteTo(buf, b.Addr())
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	copy(buf, "XXXX") // the sender may reuse its buffer at once

	p := receive(t, b)
	if string(p.Buf) != "ping" {
		t.Errorf("Buf = %q, want %q", p.Buf, "ping")
	}
	if p.From == nil || p.From.String() != a.Addr() {
		t.Errorf("From = %v, want %s", p.From, a.Addr())
	}
	if p.Timestamp.Before(before) || !p.Timestamp.Equal(sent) {
		t.Errorf("Timestamp = %v, want the send time %v", p.Timestamp, sent)
	}
}

func TestTransport_WriteToAddress_ResolvesNameBeforeAddr(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b", "c")
	a, b, c := trs[0], trs[1], trs[2]

	// A known name wins over the address.
	if _, err := a.WriteToAddress([]byte("by-name"), memberlist.Address{Name: "c", Addr: b.Addr()}); err != nil {
		t.Fatalf("WriteToAddress: %v", err)
	}
	if p := receive(t, c); string(p.Buf) != "by-name" {
		t.Errorf("c got %q, want %q", p.Buf, "by-name")
	}
	assertNoPacket(t, b)

	// An unknown name falls back to the address.
	if _, err := a.WriteToAddress([]byte("by-addr"), memberlist.Address{Name: "zz", Addr: b.Addr()}); err != nil {
		t.Fatalf("WriteToAddress: %v", err)
	}
	if p := receive(t, b); string(p.Buf) != "by-addr" {
		t.Errorf("b got %q, want %q", p.Buf, "by-addr")
	}

	conn, err := a.DialAddressTimeout(memberlist.Address{Name: "c", Addr: b.Addr()}, time.Second)
	if err != nil {
		t.Fatalf("DialAddressTimeout: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if got := accept(t, c).RemoteAddr().String(); got != a.Addr() {
		t.Errorf("stream dialled by name reached c from %s, want %s", got, a.Addr())
	}
}

func TestTransport_WriteTo_UnreachableIsSilentlyLost(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]
	if err := b.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:99", "not an address", b.Addr()} {
		within(t, "WriteTo "+addr, func() {
			if _, err := a.WriteTo([]byte("x"), addr); err != nil {
				t.Errorf("WriteTo(%q) = %v, want nil as for a lost UDP packet", addr, err)
			}
		})
	}
	assertNoPacket(t, b)
}

func TestTransport_WriteTo_FullBufferDropsWithoutBlocking(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]
	capacity := cap(b.PacketCh())
	if capacity == 0 {
		t.Fatalf("packet channel is unbuffered")
	}
	within(t, "writing past the receive buffer", func() {
		for i := range capacity + 10 {
			if _, err := a.WriteTo(fmt.Appendf(nil, "%d", i), b.Addr()); err != nil {
				t.Errorf("WriteTo #%d: %v", i, err)
				return
			}
		}
	})
	if got := len(b.PacketCh()); got != capacity {
		t.Errorf("%d packets queued, want %d", got, capacity)
	}
	// The oldest packets are kept, the overflow is lost.
	if p := receive(t, b); string(p.Buf) != "0" {
		t.Errorf("first queued packet = %q, want %q", p.Buf, "0")
	}
}

func TestTransport_Dial_ConnectsWithNetworkAddresses(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]

	dialed, err := a.DialTimeout(b.Addr(), time.Second)
	if err != nil {
		t.Fatalf("DialTimeout: %v", err)
	}
	t.Cleanup(func() { _ = dialed.Close() })
	accepted := accept(t, b)

	for _, c := range []struct {
		what      string
		got, want string
	}{
		{"dialled LocalAddr", dialed.LocalAddr().String(), a.Addr()},
		{"dialled RemoteAddr", dialed.RemoteAddr().String(), b.Addr()},
		{"accepted LocalAddr", accepted.LocalAddr().String(), b.Addr()},
		{"accepted RemoteAddr", accepted.RemoteAddr().String(), a.Addr()},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}

	// Bytes flow both ways, and deadlines work as memberlist needs.
	go func() {
		buf := make([]byte, 4)
		if _, err := io.ReadFull(accepted, buf); err == nil {
			_, _ = accepted.Write(buf)
		}
	}()
	if err := dialed.SetDeadline(time.Now().Add(hangGuard)); err != nil {
		t.Fatalf("SetDeadline: %v", err)
	}
	if _, err := dialed.Write([]byte("echo")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(dialed, buf); err != nil || string(buf) != "echo" {
		t.Fatalf("echo = %q, %v; want %q", buf, err, "echo")
	}
}

func TestTransport_Dial_UnreachableIsRefused(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]
	if err := b.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:99", b.Addr()} {
		within(t, "dial "+addr, func() {
			conn, err := a.DialTimeout(addr, time.Hour)
			if err == nil {
				_ = conn.Close()
				t.Errorf("dial %s succeeded", addr)
				return
			}
			assertRefused(t, err)
		})
	}
	within(t, "dial by dead name", func() {
		_, err := a.DialAddressTimeout(memberlist.Address{Name: "b", Addr: "127.0.0.1:99"}, time.Hour)
		assertRefused(t, err)
	})
}

// fillBacklog dials to until its stream backlog is full.
func fillBacklog(t *testing.T, from, to *memnet.Transport) {
	t.Helper()
	for range cap(to.StreamCh()) {
		conn, err := from.DialTimeout(to.Addr(), time.Second)
		if err != nil {
			t.Fatalf("dial while filling the backlog: %v", err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	}
}

func TestTransport_Dial_FullBacklogTimesOut(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]
	fillBacklog(t, a, b)

	within(t, "dial to a full backlog", func() {
		conn, err := a.DialTimeout(b.Addr(), 20*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			t.Errorf("dial to a full backlog succeeded")
			return
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("dial error = %v, want a timeout", err)
		}
	})
}

func TestTransport_Dial_UnblocksWhenEitherEndShutsDown(t *testing.T) {
	for _, target := range []bool{true, false} {
		t.Run(fmt.Sprintf("target=%v", target), func(t *testing.T) {
			trs := newTransports(t, memnet.New(), "a", "b")
			a, b := trs[0], trs[1]
			fillBacklog(t, a, b)

			errc := make(chan error, 1)
			go func() {
				conn, err := a.DialTimeout(b.Addr(), 0) // no timeout of its own
				if conn != nil {
					_ = conn.Close()
				}
				errc <- err
			}()
			victim := a
			if target {
				victim = b
			}
			if err := victim.Shutdown(); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			select {
			case err := <-errc:
				if err == nil {
					t.Errorf("dial succeeded across a shutdown")
				} else if target {
					assertRefused(t, err)
				}
			case <-time.After(hangGuard):
				t.Fatalf("dial still blocked %s after shutdown", hangGuard)
			}
		})
	}
}

func TestTransport_Shutdown_ClosesItsStreams(t *testing.T) {
	trs := newTransports(t, memnet.New(), "a", "b")
	a, b := trs[0], trs[1]

	established, err := a.DialTimeout(b.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = established.Close() })
	accept(t, b)
	queued, err := a.DialTimeout(b.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = queued.Close() })

	// A peer blocked reading from the dying host must be released.
	readErr := make(chan error, 1)
	go func() {
		_, err := established.Read(make([]byte, 1))
		readErr <- err
	}()

	within(t, "Shutdown", func() {
		for range 2 { // idempotent
			if err := b.Shutdown(); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}
	})
	select {
	case err := <-readErr:
		if err == nil {
			t.Errorf("read from a stream to a shut-down host succeeded")
		}
	case <-time.After(hangGuard):
		t.Fatalf("read still blocked %s after the peer shut down", hangGuard)
	}
	within(t, "write to a stream still queued at shutdown", func() {
		if _, err := queued.Write([]byte("x")); err == nil {
			t.Errorf("write to a stream queued at a shut-down host succeeded")
		}
	})
	if n := len(b.StreamCh()); n != 0 {
		t.Errorf("%d streams left queued after Shutdown", n)
	}
}

// TestTransport_ConcurrentTrafficAndShutdown is for the race detector: it
// mixes every operation while transports die and come back.
func TestTransport_ConcurrentTrafficAndShutdown(t *testing.T) {
	nw := memnet.New()
	names := []string{"a", "b", "c"}
	var mu sync.Mutex
	current := newTransports(t, nw, names...)
	get := func(i int) *memnet.Transport {
		mu.Lock()
		defer mu.Unlock()
		return current[i]
	}

	var received atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(2)
		go func() { // traffic from node i to node i+1
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				from, to := get(i), get((i+1)%len(names))
				_, _ = from.WriteTo([]byte("p"), to.Addr())
				if conn, err := from.DialTimeout(to.Addr(), 10*time.Millisecond); err == nil {
					_ = conn.SetDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = conn.Write([]byte("s"))
					_ = conn.Close()
				}
			}
		}()
		go func() { // node i's listener
			defer wg.Done()
			for {
				tr := get(i)
				select {
				case <-stop:
					return
				case <-tr.PacketCh():
					received.Add(1)
				case conn := <-tr.StreamCh():
					_ = conn.SetDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = conn.Read(make([]byte, 1))
					_ = conn.Close()
				case <-time.After(5 * time.Millisecond): // pick up a restart
				}
			}
		}()
	}
	for round := range 30 {
		i := round % len(names)
		old := get(i)
		_ = old.Shutdown()
		tr := nw.NewTransport(names[i])
		t.Cleanup(func() { _ = tr.Shutdown() })
		if tr.Addr() != old.Addr() {
			t.Errorf("restart of %s moved it from %s to %s", names[i], old.Addr(), tr.Addr())
		}
		mu.Lock()
		current[i] = tr
		mu.Unlock()
		// Let traffic run against the new membership before the next death.
		seen := received.Load()
		waitFor(t, hangGuard, func() bool { return received.Load() > seen+10 }, "traffic after a restart")
	}
	close(stop)
	within(t, "stopping traffic", wg.Wait)
}

// recorder is a memberlist delegate that keeps the user messages it gets.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

var _ memberlist.Delegate = (*recorder)(nil)

func (r *recorder) NotifyMsg(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(b)) // string() copies, as memberlist requires
}

func (r *recorder) got(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs, msg)
}

func (*recorder) NodeMeta(int) []byte                 { return nil }
func (*recorder) GetBroadcasts(int, int) [][]byte     { return nil }
func (*recorder) LocalState(bool) []byte              { return nil }
func (*recorder) MergeRemoteState(buf []byte, _ bool) {}

// member is one memberlist instance on the in-process network.
type member struct {
	ml  *memberlist.Memberlist
	tr  *memnet.Transport
	rec *recorder
}

// startMember creates a fast-ticking memberlist for name on nw and shuts it
// down at cleanup, failing rather than hanging if that blocks.
func startMember(t *testing.T, nw *memnet.Network, name string) *member {
	t.Helper()
	m := &member{tr: nw.NewTransport(name), rec: &recorder{}}
	cfg := memberlist.DefaultLocalConfig()
	cfg.Name = name
	cfg.Transport = m.tr
	cfg.Delegate = m.rec
	cfg.Logger = log.New(io.Discard, "", 0)
	cfg.ProbeInterval = 50 * time.Millisecond
	cfg.ProbeTimeout = 25 * time.Millisecond
	cfg.GossipInterval = 20 * time.Millisecond
	cfg.SuspicionMult = 2
	cfg.PushPullInterval = 500 * time.Millisecond
	ml, err := memberlist.Create(cfg)
	if err != nil {
		_ = m.tr.Shutdown()
		t.Fatalf("memberlist.Create(%s): %v", name, err)
	}
	m.ml = ml
	t.Cleanup(func() { within(t, "shutting down "+name, func() { _ = ml.Shutdown() }) })
	return m
}

// join makes m join via seed, by name and address as the servers will.
func (m *member) join(t *testing.T, seed *member) {
	t.Helper()
	if _, err := m.ml.Join([]string{seed.ml.LocalNode().Name + "/" + seed.tr.Addr()}); err != nil {
		t.Fatalf("%s joining %s: %v", m.ml.LocalNode().Name, seed.ml.LocalNode().Name, err)
	}
}

// waitAlive waits until every member in ms sees exactly n live members.
func waitAlive(t *testing.T, n int, ms ...*member) {
	t.Helper()
	waitFor(t, hangGuard, func() bool {
		for _, m := range ms {
			if m.ml.NumMembers() != n {
				return false
			}
		}
		return true
	}, fmt.Sprintf("every member to see %d alive", n))
}

// startCluster starts members "0".."n-1" and joins them through "0".
func startCluster(t *testing.T, nw *memnet.Network, n int) []*member {
	t.Helper()
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = startMember(t, nw, fmt.Sprint(i))
		if i > 0 {
			ms[i].join(t, ms[0])
		}
	}
	waitAlive(t, n, ms...)
	return ms
}

// nodeOf returns the Node that from knows for name.
func nodeOf(t *testing.T, from *member, name string) *memberlist.Node {
	t.Helper()
	for _, n := range from.ml.Members() {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("%s does not know %s", from.ml.LocalNode().Name, name)
	return nil
}

// sendReliable sends msg from one member to node and returns the error,
// failing if the send blocks.
func sendReliable(t *testing.T, from *member, to *memberlist.Node, msg string) error {
	t.Helper()
	var err error
	within(t, "SendReliable to "+to.Name, func() { err = from.ml.SendReliable(to, []byte(msg)) })
	return err
}

func TestMemberlist_CrashAndRestart(t *testing.T) {
	nw := memnet.New()
	ms := startCluster(t, nw, 3)

	if err := sendReliable(t, ms[0], nodeOf(t, ms[0], "1"), "hello 1"); err != nil {
		t.Fatalf("SendReliable 0->1: %v", err)
	}
	waitFor(t, hangGuard, func() bool { return ms[1].rec.got("hello 1") }, "1 to get the message")

	// Crash 2: the others must declare it dead, and talking to it must fail
	// rather than hang.
	node2 := nodeOf(t, ms[0], "2")
	oldAddr := ms[2].tr.Addr()
	within(t, "shutting down 2", func() { _ = ms[2].ml.Shutdown() })
	waitAlive(t, 2, ms[0], ms[1])
	err := sendReliable(t, ms[0], node2, "to the dead")
	if err == nil {
		t.Fatalf("SendReliable to a dead node succeeded")
	}
	assertRefused(t, err)

	// Restart 2 at its old address; it rejoins and is reachable again.
	ms[2] = startMember(t, nw, "2")
	if ms[2].tr.Addr() != oldAddr {
		t.Fatalf("restarted node at %s, want %s", ms[2].tr.Addr(), oldAddr)
	}
	ms[2].join(t, ms[0])
	waitAlive(t, 3, ms...)
	if err := sendReliable(t, ms[1], nodeOf(t, ms[1], "2"), "welcome back"); err != nil {
		t.Fatalf("SendReliable 1->2 after restart: %v", err)
	}
	waitFor(t, hangGuard, func() bool { return ms[2].rec.got("welcome back") }, "2 to get the message")
}

func TestMemberlist_ShutdownInAnyOrder(t *testing.T) {
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, order := range orders {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			ms := startCluster(t, memnet.New(), 3)
			for _, i := range order {
				within(t, fmt.Sprintf("shutting down %d", i), func() { _ = ms[i].ml.Shutdown() })
			}
		})
	}
}
