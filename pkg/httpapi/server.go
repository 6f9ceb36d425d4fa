package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"gossipkv/pkg/front"
)

// Config describes the server behind the front.
type Config struct {
	// ID is the server's id; Cluster and Run its cluster's name and the
	// master run it belongs to ("" when started by hand).
	ID           uint32
	Cluster, Run string
	// Servers lists every server id of the cluster, this one included: a
	// session token naming a write of any other is refused. Nil: any.
	Servers []uint32
	// SecretKey is the cluster's secret key, if it has one: session
	// tokens are then authenticated with it (see tokens).
	SecretKey []byte
	// MaxKeyBytes and MaxValueBytes bound keys and values (0: no bound
	// here; the store may still refuse).
	MaxKeyBytes, MaxValueBytes int
	Logger                     *slog.Logger
	// Now is the clock session tokens are checked against (default
	// time.Now).
	Now func() time.Time
}

// Server is the HTTP front of one store.
type Server struct {
	store   front.Store
	cfg     Config
	log     *slog.Logger
	tokens  *tokens
	ln      net.Listener
	http    *http.Server
	started time.Time

	// served is closed once the serving goroutine has returned.
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Timeouts of the front's connections: a client that stops sending in
// the middle of a request or leaves a connection idle does not hold it
// for ever.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	idleTimeout       = 2 * time.Minute
	// maxHeaderBytes leaves room for a session token (a few KB) and a
	// key of max_key_bytes percent-encoded (three bytes each).
	maxHeaderBytes = 64 << 10
	// closeTimeout bounds how long Close waits for requests in flight.
	closeTimeout = 5 * time.Second
)

// Listen binds addr and serves HTTP on it for store until Close.
func Listen(addr string, store front.Store, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	s := &Server{
		store:   store,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "http"),
		tokens:  newTokens(cfg.Cluster, cfg.SecretKey, cfg.Servers, cfg.Now),
		ln:      ln,
		started: time.Now(),
		served:  make(chan struct{}),
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	s.log.Info("serving HTTP", "addr", ln.Addr().String())
	return s, nil
}

// Addr is the address the front listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, lets requests in flight finish (for up to a few
// seconds; then their connections are closed) and returns once the
// serving goroutine has. Safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
		<-s.served
	})
	return s.closeErr
}

// ServeHTTP routes a request. It does not use http.ServeMux, which cleans
// paths (a key "a//b" or "../x" would be redirected to another key).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, kvPrefix):
		if key := p[len(kvPrefix):]; key != "" {
			s.serveKey(w, r, []byte(key))
		} else {
			s.serveList(w, r)
		}
	case p == "/v1/kv":
		s.serveList(w, r)
	case p == "/v1/status":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.serveStatus(w, r)
		}
	case p == "/metrics":
		if allow(w, r, http.MethodGet, http.MethodHead) {
			s.serveMetrics(w, r)
		}
	default:
		plain(w, http.StatusNotFound, "no such endpoint: gossipkv answers /v1/kv/KEY, /v1/kv/?prefix=P, /v1/status and /metrics")
	}
}

const kvPrefix = "/v1/kv/"

// allow answers 405 unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	plain(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed here: use %s", r.Method, strings.Join(methods, ", ")))
	return false
}

// plain writes a one-line text answer.
func plain(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
