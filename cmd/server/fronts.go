package main

import (
	"errors"
	"fmt"
	"log/slog"

	"gossipkv/pkg/config"
	"gossipkv/pkg/httpapi"
	"gossipkv/pkg/memcache"
	"gossipkv/pkg/resp"
	"gossipkv/pkg/server"
)

// fronts are a server's listeners for standard clients, each optional:
// Redis on resp_port, HTTP on http_port, memcache on memcache_port.
type fronts struct {
	closers []func() error
}

// openFronts opens the fronts config.yaml gives server id, all bound to
// its host. On an error, those already open are closed.
func openFronts(cfg *config.Config, id uint32, run string, s *server.Server, logger *slog.Logger) (*fronts, error) {
	srv, _ := cfg.Server(id)
	f := &fronts{}
	fail := func(field string, err error) (*fronts, error) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if addr := srv.RESPAddr(); addr != "" {
		r, err := resp.Listen(addr, s, resp.Config{
			ID: id, Cluster: cfg.Cluster, Run: run, Peers: len(cfg.Servers) - 1,
			MaxKeyBytes: cfg.Limits.MaxKeyBytes, MaxValueBytes: cfg.Limits.MaxValueBytes,
			Fsync: cfg.Durability.Fsync, Logger: logger,
		})
		if err != nil {
			return fail("resp_port", err)
		}
		f.closers = append(f.closers, r.Close)
	}
	if addr := srv.HTTPAddr(); addr != "" {
		key, err := cfg.Security.Key()
		if err != nil {
			return fail("security.secret_key", err)
		}
		h, err := httpapi.Listen(addr, s, httpapi.Config{
			ID: id, Cluster: cfg.Cluster, Run: run, Servers: cfg.ServerIDs(), SecretKey: key,
			MaxKeyBytes: cfg.Limits.MaxKeyBytes, MaxValueBytes: cfg.Limits.MaxValueBytes, Logger: logger,
		})
		if err != nil {
			return fail("http_port", err)
		}
		f.closers = append(f.closers, h.Close)
	}
	if addr := srv.MemcacheAddr(); addr != "" {
		m, err := memcache.Listen(addr, s, memcache.Config{
			ID: id, MaxKeyBytes: cfg.Limits.MaxKeyBytes, MaxValueBytes: cfg.Limits.MaxValueBytes, Logger: logger,
		})
		if err != nil {
			return fail("memcache_port", err)
		}
		f.closers = append(f.closers, m.Close)
	}
	return f, nil
}

// Close closes every front, each once its commands in flight are done.
func (f *fronts) Close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c())
	}
	f.closers = nil
	return errors.Join(errs...)
}
