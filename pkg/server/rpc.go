package server

import (
	"os"

	"gossipkv/pkg/api"
	"gossipkv/pkg/rpcconn"
)

// Service is the server's net/rpc face ("Server.*" in package api).
type Service struct{ s *Server }

// ServeRPC serves s on addr until the returned listener is closed, to the
// callers of its cluster and run.
func ServeRPC(s *Server, addr string) (*rpcconn.Server, error) {
	id := rpcconn.Identity{Cluster: s.opts.Cluster, Run: s.opts.Run, Role: rpcconn.RoleServer, ID: s.opts.ID}
	return rpcconn.Listen(id, addr, "Server", &Service{s: s})
}

// Ping answers who this is.
func (r *Service) Ping(_ api.Empty, reply *api.PingReply) error {
	*reply = api.PingReply{Role: "server", ID: r.s.opts.ID, Pid: os.Getpid()}
	return nil
}

// Put writes durably before it answers.
func (r *Service) Put(args api.PutArgs, reply *api.PutReply) error {
	*reply = r.s.Put(args.Key, args.Value, args.Dep)
	return nil
}

// Delete writes a tombstone durably before it answers.
func (r *Service) Delete(args api.DeleteArgs, reply *api.PutReply) error {
	*reply = r.s.Delete(args.Key, args.Dep)
	return nil
}

// CAS sets a key to a new value if it holds the old one (linearizable
// mode only).
func (r *Service) CAS(args api.CASArgs, reply *api.PutReply) error {
	*reply = r.s.CAS(args.Key, args.Old, args.Value)
	return nil
}

// Get reads for a client session.
func (r *Service) Get(args api.GetArgs, reply *api.GetReply) error {
	var err error
	*reply, err = r.s.Get(args.Key, args.Dep)
	return err
}

// Cut breaks the link to a peer server.
func (r *Service) Cut(args api.LinkArgs, _ *api.Empty) error { return r.s.Cut(args.Peer) }

// Heal restores the link to a peer server.
func (r *Service) Heal(args api.LinkArgs, _ *api.Empty) error { return r.s.Heal(args.Peer) }

// SkewClock shifts the clock the server's versions read (a fault the
// harness injects).
func (r *Service) SkewClock(args api.SkewArgs, _ *api.Empty) error {
	r.s.SkewClock(args.Skew)
	return nil
}

// Status reports what stabilize compares; the master calls it only to
// watch for convergence, so it hurries the server's sends.
func (r *Service) Status(_ api.Empty, reply *api.StatusReply) error {
	var err error
	*reply, err = r.s.StabilizeStatus()
	return err
}

// Dump returns the whole store sorted by key.
func (r *Service) Dump(_ api.Empty, reply *api.DumpReply) error {
	var err error
	*reply, err = r.s.Dump()
	return err
}

// Stats reports the server's counters.
func (r *Service) Stats(_ api.Empty, reply *api.StatsReply) error {
	*reply = r.s.Stats()
	return nil
}
