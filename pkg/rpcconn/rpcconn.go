package rpcconn

import (
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"
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
	addr    string
	timeout time.Duration

	// mu guards client: nil until dialed and after a failure.
	mu     sync.Mutex
	client *rpc.Client
}

// New returns a Conn to addr whose calls last at most timeout. It does not
// dial until the first call.
func New(addr string, timeout time.Duration) *Conn {
	return &Conn{addr: addr, timeout: timeout}
}

// Addr is the address the Conn calls.
func (c *Conn) Addr() string { return c.addr }

func (c *Conn) get(timeout time.Duration) (*rpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, c.addr, err)
	}
	c.client = rpc.NewClient(nc)
	return c.client, nil
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
	client, err := c.get(timeout)
	if err != nil {
		return err
	}
	timer := time.NewTimer(timeout)
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

// Server serves one receiver under a name on a listener.
type Server struct {
	ln   net.Listener
	rpc  *rpc.Server
	done chan struct{}

	// mu guards conns, so Close can cut every open connection.
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen registers rcvr as name and serves it on addr until Close.
func Listen(addr, name string, rcvr any) (*Server, error) {
	rs := rpc.NewServer()
	if err := rs.RegisterName(name, rcvr); err != nil {
		return nil, fmt.Errorf("rpcconn: register %s: %w", name, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rpcconn: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, rpc: rs, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
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
			s.rpc.ServeConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
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
