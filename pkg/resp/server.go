package resp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"gossipkv/pkg/front"
	"gossipkv/pkg/session"
)

// Config describes the server behind the front, for INFO and for errors.
type Config struct {
	// ID is the server's id; Cluster and Run its cluster's name and the
	// master run it belongs to ("" when started by hand).
	ID           uint32
	Cluster, Run string
	// Peers is how many other servers the cluster config lists.
	Peers int
	// MaxKeyBytes and MaxValueBytes bound keys and values (0: no bound
	// here; the store may still refuse).
	MaxKeyBytes, MaxValueBytes int
	// Fsync says whether the store syncs each write to disk before it
	// answers (CONFIG GET appendfsync).
	Fsync bool
	// MaxClients bounds the open connections (0: 10000, as Redis).
	MaxClients int
	Logger     *slog.Logger
}

// Server is the Redis front of one store: a listener and one goroutine
// per connection (redcon's), each a client session.
type Server struct {
	store   front.Store
	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	rc      *redcon.Server
	cursors *cursors
	started time.Time

	clients  atomic.Int64 // open connections
	clientID atomic.Int64 // the last CLIENT ID handed out

	// conns counts the connection goroutines, served the one that accepts
	// them: Close waits for both.
	conns     sync.WaitGroup
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// client is one connection's state. Its goroutine alone touches it.
type client struct {
	id   int64
	name string
	// deps is the connection's session, as a script client's.
	deps session.Deps
}

// Listen binds addr and serves the Redis protocol on it for store until
// Close.
func Listen(addr string, store front.Store, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10000
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resp: %w", err)
	}
	s := &Server{
		store:   store,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "resp"),
		ln:      ln,
		cursors: newCursors(),
		started: time.Now(),
		served:  make(chan struct{}),
	}
	s.rc = redcon.NewServerNetwork("tcp", addr, s.serve, s.accept, s.closed)
	go func() {
		defer close(s.served)
		// Serve returns once ln is closed, after closing every
		// connection it accepted.
		if err := s.rc.Serve(ln); err != nil {
			s.log.Error("serve", "err", err)
		}
	}()
	s.log.Info("serving the Redis protocol", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the front listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and returns once every
// connection's goroutine has finished its command. Safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Closing the listener itself (not redcon's Close, which fails
		// before Serve has started) makes Serve return, and on its way
		// out it closes the connections.
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("resp: %w", err)
		}
		<-s.served
		s.conns.Wait()
	})
	return s.closeErr
}

// accept runs in the accepting goroutine before a connection's goroutine
// starts, so conns.Add happens before Serve can return.
func (s *Server) accept(c redcon.Conn) bool {
	if s.clients.Load() >= int64(s.cfg.MaxClients) {
		c.WriteError("ERR max number of clients reached")
		return false
	}
	s.clients.Add(1)
	s.conns.Add(1)
	c.SetContext(&client{id: s.clientID.Add(1)})
	return true
}

// closed runs once a connection's goroutine is done with it.
func (s *Server) closed(c redcon.Conn, err error) {
	if err != nil {
		s.log.Debug("connection closed", "remote", c.RemoteAddr(), "err", err)
	}
	s.clients.Add(-1)
	s.conns.Done()
}

// serve runs one command of a connection, on its goroutine.
func (s *Server) serve(c redcon.Conn, cmd redcon.Command) {
	ss := c.Context().(*client)
	name := cmd.Args[0]
	var buf [24]byte
	var def *command
	if len(name) <= len(buf) {
		n := copy(buf[:], name)
		for i := range n {
			if 'A' <= buf[i] && buf[i] <= 'Z' {
				buf[i] += 'a' - 'A'
			}
		}
		def = commands[string(buf[:n])]
	}
	if def == nil {
		c.WriteError(unknownCommand(cmd.Args))
		return
	}
	if n := len(cmd.Args); (def.arity > 0 && n != def.arity) || (def.arity < 0 && n < -def.arity) {
		c.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", def.name))
		return
	}
	def.run(s, c, ss, cmd.Args)
}
