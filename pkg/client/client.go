package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/rpc"
	"os"
	"sync"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/session"
)

// ErrUnknownID means the id is not a client of the config.
var ErrUnknownID = errors.New("client: id is not a client in the config")

// ErrUnknownServer means Connect named a server that the config does not
// place and gave no address for it.
var ErrUnknownServer = errors.New("client: unknown server")

// Client is the rpc receiver of service "Client".
//
// Calls may overlap (net/rpc serves each on its own goroutine), but the mutex
// is not held across the call to the server: a server that hangs must not
// stall Disconnect or Connect behind it for a whole rpc timeout. That is
// safe for the session because dependencies only grow (model.Max): two
// overlapping calls on one key both send the dependency from before either
// of them, and both replies are merged. A call that starts after another
// has returned always sees that call's outcome, which is all the master,
// issuing one command at a time, relies on.
type Client struct {
	id  uint32
	cfg *config.Config
	run string // "": any run of the cluster
	log *slog.Logger
	srv *rpcconn.Server

	// mu guards the session: the current server (conn nil when there is
	// none) and the dependencies, which outlive any one connection.
	mu       sync.Mutex
	serverID uint32
	conn     *rpcconn.Conn
	deps     session.Deps
}

// Listen serves client id of cfg on its configured rpc address until Close.
// With a run (the master that started it passes -run) the client refuses
// every other run; without one it serves any run of its cluster. logger
// carries the client's identity already (config.OpenLog's role and id).
func Listen(cfg *config.Config, id uint32, run string, logger *slog.Logger) (*Client, error) {
	cc, ok := cfg.Client(id)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownID, id)
	}
	c := &Client{
		id:  id,
		cfg: cfg,
		run: run,
		log: logger,
	}
	srv, err := rpcconn.Listen(c.identity(), cc.RPCAddr(), "Client", c)
	if err != nil {
		return nil, err
	}
	c.srv = srv
	c.log.Info("client listening", "addr", srv.Addr().String(), "pid", os.Getpid(), "cluster", cfg.Cluster, "run", run)
	return c, nil
}

// identity is the client on the control plane, with its own run if any.
func (c *Client) identity() rpcconn.Identity {
	return rpcconn.Identity{Cluster: c.cfg.Cluster, Run: c.run, Role: rpcconn.RoleClient, ID: c.id}
}

// Addr is the address the client serves on.
func (c *Client) Addr() string { return c.srv.Addr().String() }

// Close stops serving and drops the connection to the server.
func (c *Client) Close() error {
	err := c.srv.Close()
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	c.log.Info("client stopped")
	return err
}

// Ping lets the master check that the process on the client's port is this
// client.
func (c *Client) Ping(_ api.Empty, reply *api.PingReply) error {
	*reply = api.PingReply{Role: "client", ID: c.id, Pid: os.Getpid()}
	return nil
}

// Connect makes args.ServerID the client's server. It only records where to
// call: the server need not be up, and a server that is down shows as
// ERR_CONN on the next put or get. An empty Addr is looked up in the config.
// The client calls the server as a member of its own run, or else of the
// asking master's (args.Run): a server of another run refuses the calls.
func (c *Client) Connect(args api.ConnectArgs, _ *api.Empty) error {
	addr := args.Addr
	if addr == "" {
		s, ok := c.cfg.Server(args.ServerID)
		if !ok {
			return fmt.Errorf("%w %d", ErrUnknownServer, args.ServerID)
		}
		addr = s.RPCAddr()
	}
	self := c.identity()
	if self.Run == "" {
		self.Run = args.Run
	}
	conn := rpcconn.New(self, addr, c.cfg.Timing.RPCTimeout)
	c.mu.Lock()
	old := c.conn
	c.serverID, c.conn = args.ServerID, conn
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	c.log.Info("connected", "server", args.ServerID, "addr", addr, "run", self.Run)
	return nil
}

// Disconnect leaves the client with no server; its session is kept.
func (c *Client) Disconnect(_ api.Empty, _ *api.Empty) error {
	c.mu.Lock()
	old := c.conn
	c.conn = nil
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	c.log.Info("disconnected")
	return nil
}

// session returns the current server and the dependency on key, or ok false
// when the client has no server.
func (c *Client) session(key []byte) (id uint32, conn *rpcconn.Conn, dep model.Version, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return 0, nil, model.Version{}, false
	}
	return c.serverID, c.conn, c.deps.Of(key), true
}

// observe merges a version the client wrote or read into its session.
func (c *Client) observe(key []byte, v model.Version) {
	c.mu.Lock()
	c.deps.Observe(key, v)
	c.mu.Unlock()
}

// Put writes through the client's server, ordered after everything the
// client has seen of the key.
func (c *Client) Put(args api.ClientPutArgs, reply *api.ClientReply) error {
	*reply = c.write("put", args.Key, func(conn *rpcconn.Conn, dep model.Version, pr *api.PutReply) error {
		return conn.Call(api.ServerPut, api.PutArgs{Key: args.Key, Value: args.Value, Dep: dep}, pr)
	})
	return nil
}

// Delete deletes through the client's server, ordered after everything the
// client has seen of the key; the client then depends on the delete.
func (c *Client) Delete(args api.ClientDeleteArgs, reply *api.ClientReply) error {
	*reply = c.write("delete", args.Key, func(conn *rpcconn.Conn, dep model.Version, pr *api.PutReply) error {
		return conn.Call(api.ServerDelete, api.DeleteArgs{Key: args.Key, Dep: dep}, pr)
	})
	return nil
}

// CAS sets a key through the client's server if it holds the expected
// value (linearizable mode; a server in eventual mode refuses it).
func (c *Client) CAS(args api.ClientCASArgs, reply *api.ClientReply) error {
	*reply = c.write("cas", args.Key, func(conn *rpcconn.Conn, _ model.Version, pr *api.PutReply) error {
		return conn.Call(api.ServerCAS, api.CASArgs{Key: args.Key, Old: args.Old, Value: args.Value}, pr)
	})
	return nil
}

// write runs a put, delete or cas (call) with the session's dependency on key,
// and keeps the write's version as the new one.
func (c *Client) write(what string, key []byte, call func(*rpcconn.Conn, model.Version, *api.PutReply) error) api.ClientReply {
	id, conn, dep, ok := c.session(key)
	if !ok {
		return api.ClientReply{Status: api.ErrConn, Reason: "not connected to a server"}
	}
	var pr api.PutReply
	if err := call(conn, dep, &pr); err != nil {
		c.log.Debug(what+" failed", "key", key, "server", id, "err", err)
		return failure(id, err)
	}
	if pr.Status == api.OK {
		c.observe(key, pr.Version)
	}
	c.log.Debug(what, "key", key, "server", id, "dep", dep, "status", pr.Status, "version", pr.Version)
	return api.ClientReply{Status: pr.Status, Reason: pr.Reason, Version: pr.Version, Dep: dep, Server: id}
}

// Get reads through the client's server; the server answers ERR_DEP rather
// than anything older than the client's dependency on the key.
func (c *Client) Get(args api.ClientGetArgs, reply *api.ClientReply) error {
	id, conn, dep, ok := c.session(args.Key)
	if !ok {
		*reply = api.ClientReply{Status: api.ErrConn, Reason: "not connected to a server"}
		return nil
	}
	var gr api.GetReply
	err := conn.Call(api.ServerGet, api.GetArgs{Key: args.Key, Dep: dep}, &gr)
	if err != nil {
		*reply = failure(id, err)
		c.log.Debug("get failed", "key", args.Key, "server", id, "err", err)
		return nil
	}
	if gr.Status == api.OK || gr.Status == api.ErrKey {
		c.observe(args.Key, gr.Version) // zero for ERR_KEY of a key never written
	}
	*reply = api.ClientReply{Status: gr.Status, Value: gr.Value, Version: gr.Version, Dep: dep, Server: id, Stable: gr.Stable}
	c.log.Debug("get", "key", args.Key, "server", id, "dep", dep, "status", gr.Status, "version", gr.Version)
	return nil
}

// failure turns a failed call to the server into a reply. A server that
// answered with an error (a request it rejects) is not a lost link, so only
// an unreachable, broken or silent server is ERR_CONN.
func failure(server uint32, err error) api.ClientReply {
	var se rpc.ServerError
	if errors.As(err, &se) {
		return api.ClientReply{Status: api.ErrFailed, Reason: fmt.Sprintf("server %d: %v", server, err)}
	}
	return api.ClientReply{Status: api.ErrConn, Reason: fmt.Sprintf("server %d: %v", server, err)}
}
