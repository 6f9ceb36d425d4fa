package memcache

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gossipkv/pkg/front"
	"gossipkv/pkg/session"
)

// Config describes the server behind the front.
type Config struct {
	// ID is the server's id, for errors.
	ID uint32
	// MaxKeyBytes and MaxValueBytes bound keys and values (0: the
	// protocol's 250 bytes for a key, and memcached's default 1 MiB for
	// a value).
	MaxKeyBytes, MaxValueBytes int
	// MaxClients bounds the open connections (0: 1024, as memcached's
	// default).
	MaxClients int
	Logger     *slog.Logger
}

// Server is the memcache front of one store: a listener and one goroutine
// per connection, each a client session.
type Server struct {
	store   front.Store
	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	started time.Time

	// mu guards conns and closing.
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool

	// wg counts the accepting goroutine and the connections' goroutines.
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	stats counters
}

// counters are what "stats" reports, memcached's names in comments.
type counters struct {
	current, total           atomic.Int64  // curr_connections, total_connections
	gets, sets, deletes      atomic.Uint64 // cmd_get (keys), cmd_set, delete_*
	getHits, getMisses       atomic.Uint64
	deleteHits, deleteMisses atomic.Uint64
	rejected                 atomic.Uint64 // rejected_connections
	bytesRead, bytesWritten  atomic.Uint64
	behind                   atomic.Uint64 // gossipkv_behind: answers "SERVER_ERROR behind"
}

// Listen binds addr and serves the memcache text protocol on it for
// store until Close.
func Listen(addr string, store front.Store, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 1024
	}
	if cfg.MaxValueBytes <= 0 {
		cfg.MaxValueBytes = 1 << 20
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("memcache: %w", err)
	}
	s := &Server{
		store:   store,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "memcache"),
		ln:      ln,
		started: time.Now(),
		conns:   map[net.Conn]struct{}{},
	}
	s.wg.Add(1)
	go s.accept()
	s.log.Info("serving the memcache protocol", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the front listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and returns once every
// connection's goroutine has finished its command. Safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("memcache: %w", err)
		}
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("accept", "err", err)
			}
			return
		}
		s.mu.Lock()
		switch {
		case s.closing:
			c.Close()
		case len(s.conns) >= s.cfg.MaxClients:
			s.stats.rejected.Add(1)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("SERVER_ERROR too many open connections\r\n"))
			c.Close()
		default:
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			go s.serveConn(c)
		}
		s.mu.Unlock()
	}
}

// serveConn runs one connection until the client quits or goes, or Close.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
		s.stats.current.Add(-1)
	}()
	s.stats.current.Add(1)
	s.stats.total.Add(1)
	r := bufio.NewReaderSize(countReader{c, &s.stats.bytesRead}, maxLine)
	w := bufio.NewWriter(countWriter{c, &s.stats.bytesWritten})
	if err := s.serve(&session.Deps{}, r, w); err != nil {
		s.log.Debug("connection closed", "remote", c.RemoteAddr(), "err", err)
	}
}

type countReader struct {
	c net.Conn
	n *atomic.Uint64
}

func (r countReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	r.n.Add(uint64(n))
	return n, err
}

type countWriter struct {
	c net.Conn
	n *atomic.Uint64
}

func (w countWriter) Write(p []byte) (int, error) {
	n, err := w.c.Write(p)
	w.n.Add(uint64(n))
	return n, err
}
