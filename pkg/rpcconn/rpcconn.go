package rpcconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrUnavailable means the peer could not be reached or the connection broke
// during the call: nothing answered.
var ErrUnavailable = errors.New("rpcconn: peer unavailable")

// ErrTimeout means the peer did not answer within the deadline. The call may
// or may not have taken effect.
var ErrTimeout = errors.New("rpcconn: call timed out")

// Conn is a client of one address. It is safe for concurrent use.
type Conn struct {
	self    Identity
	addr    string
	timeout time.Duration

	// mu guards client: nil until dialed and after a failure.
	mu     sync.Mutex
	client *rpc.Client
}

// New returns a Conn from self to addr whose calls last at most timeout. It
// does not dial until the first call; each dial begins with the handshake,
// and a listener of another cluster or run refuses it (*RefusedError).
func New(self Identity, addr string, timeout time.Duration) *Conn {
	return &Conn{self: self, addr: addr, timeout: timeout}
}

// Addr is the address the Conn calls.
func (c *Conn) Addr() string { return c.addr }

func (c *Conn) get(deadline time.Time) (*rpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, time.Until(deadline))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, c.addr, err)
	}
	if err := handshake(nc, c.self, c.addr, deadline); err != nil {
		nc.Close()
		return nil, err
	}
	c.client = rpc.NewClient(nc)
	return c.client, nil
}

// handshake is the dialer's side: send our hello, read the answer, all
// before deadline. A refusal is a *RefusedError; it is not retried, since
// the same process would refuse again.
func handshake(nc net.Conn, id Identity, addr string, deadline time.Time) error {
	nc.SetDeadline(deadline)
	if err := writeFrame(nc, self(id)); err != nil {
		return noAnswer(addr, err)
	}
	body, err := readFrame(nc)
	if err != nil {
		return noAnswer(addr, err)
	}
	a, err := decodeAnswer(body)
	if err != nil {
		return noAnswer(addr, err)
	}
	if !a.Accept {
		return &RefusedError{Addr: addr, Peer: a.Peer, Self: id}
	}
	nc.SetDeadline(time.Time{})
	return nil
}

// noAnswer describes why a handshake got no valid answer.
func noAnswer(addr string, err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return &handshakeError{addr: addr, kind: ErrTimeout, detail: "no answer before the call's deadline"}
	case errors.Is(err, errNotHandshake):
		return &handshakeError{addr: addr, kind: ErrUnavailable,
			detail: fmt.Sprintf("it answered with something else (%v)", err)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return &handshakeError{addr: addr, kind: ErrUnavailable,
			detail: "it closed the connection"}
	}
	return &handshakeError{addr: addr, kind: ErrUnavailable, detail: err.Error()}
}

// drop forgets client if it is still the current one, so the next call
// redials.
func (c *Conn) drop(client *rpc.Client) {
	c.mu.Lock()
	if c.client == client {
		c.client = nil
	}
	c.mu.Unlock()
	client.Close()
}

// Call invokes method with the Conn's deadline.
func (c *Conn) Call(method string, args, reply any) error {
	return c.CallTimeout(method, args, reply, c.timeout)
}

// CallTimeout invokes method with the given deadline. Errors returned by the
// remote method come back as they are (net/rpc turns them into strings);
// failures to reach the peer wrap ErrUnavailable or ErrTimeout.
func (c *Conn) CallTimeout(method string, args, reply any, timeout time.Duration) error {
	err := c.callOnce(method, args, reply, timeout)
	if errors.Is(err, rpc.ErrShutdown) {
		// The connection was already known dead (its peer restarted
		// since the last call), so the request never left: redialing and
		// sending it again cannot apply it twice.
		err = c.callOnce(method, args, reply, timeout)
	}
	return err
}

func (c *Conn) callOnce(method string, args, reply any, timeout time.Duration) error {
	// One deadline for the dial, the handshake and the call.
	deadline := time.Now().Add(timeout)
	client, err := c.get(deadline)
	if err != nil {
		return err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	call := client.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		var se rpc.ServerError
		if call.Error == nil || errors.As(call.Error, &se) {
			return call.Error
		}
		// The connection broke (rpc.ErrShutdown, io.EOF, ...).
		c.drop(client)
		return fmt.Errorf("%w: %s %s: %w", ErrUnavailable, c.addr, method, call.Error)
	case <-timer.C:
		// The reply may still come, on a connection we no longer trust to
		// be in step; drop it so the next call starts clean.
		c.drop(client)
		return fmt.Errorf("%w: %s %s after %v", ErrTimeout, c.addr, method, timeout)
	}
}

// Close drops the connection, if any.
func (c *Conn) Close() error {
	c.mu.Lock()
	client := c.client
	c.client = nil
	c.mu.Unlock()
	if client != nil {
		return client.Close()
	}
	return nil
}

// helloTimeout is how long a listener waits for a dialer's hello: a
// dialer sends it at once, so this only bounds what garbage or silence can
// hold.
const helloTimeout = 5 * time.Second

// Server serves one receiver under a name on a listener, to the dialers its
// identity accepts.
type Server struct {
	self         Identity
	ln           net.Listener
	rpc          *rpc.Server
	done         chan struct{}
	helloTimeout time.Duration
	// masterPid is the pid of the last master accepted: told to refused
	// dialers, so that a user knows which master holds the process.
	masterPid atomic.Int64

	// mu guards conns, so Close can cut every open connection.
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen registers rcvr as name and serves it on addr until Close. Every
// connection starts with the handshake: a dialer of another cluster, or of
// another run when self has a Run, is refused before any call.
func Listen(self Identity, addr, name string, rcvr any) (*Server, error) {
	return listen(self, addr, name, rcvr, helloTimeout)
}

func listen(self Identity, addr, name string, rcvr any, hello time.Duration) (*Server, error) {
	rs := rpc.NewServer()
	if err := rs.RegisterName(name, rcvr); err != nil {
		return nil, fmt.Errorf("rpcconn: register %s: %w", name, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rpcconn: listen on %s: %w", addr, err)
	}
	s := &Server{self: self, ln: ln, rpc: rs, done: make(chan struct{}), helloTimeout: hello, conns: map[net.Conn]struct{}{}}
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

func (s *Server) accept() {
	defer close(s.done)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		go func() {
			if s.handshake(nc) {
				s.rpc.ServeConn(nc)
			}
			nc.Close()
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

// handshake is the listener's side: read the hello, answer it, and say
// whether net/rpc may serve the connection. A malformed or late hello gets
// no answer at all.
func (s *Server) handshake(nc net.Conn) bool {
	nc.SetDeadline(time.Now().Add(s.helloTimeout))
	body, err := readFrame(nc)
	if err != nil {
		return false
	}
	from, err := decodeHello(body)
	if err != nil {
		return false
	}
	ok := s.self.accepts(from.Identity)
	if ok && from.Role == RoleMaster && from.Pid > 0 {
		s.masterPid.Store(int64(from.Pid))
	}
	me := self(s.self)
	me.MasterPid = int(s.masterPid.Load())
	if err := writeFrame(nc, answer{Accept: ok, Peer: me}); err != nil || !ok {
		return false
	}
	nc.SetDeadline(time.Time{})
	return true
}

// Close stops accepting, closes every open connection and waits for the
// accept loop to end.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	<-s.done
	return err
}
