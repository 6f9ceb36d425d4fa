package floor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/runstats"
)

// The roles of Serve: the hops of the chain that run in processes of
// their own in a floor measured across processes.
const (
	RoleServer = "server"
	RoleClient = "client"
)

// Serve runs one hop of the chain in this process, for a floor measured
// across processes as the cluster runs (MeasureProcesses): the server (a
// bbolt database in dir, with durability d, sending a copy of every put to
// the replicas whose addresses peers lists, comma-separated), the client
// (the relay to the server at the address peers gives) or a replica (its
// own database in dir; see RoleReplica). Server and client belong to run,
// as the real processes belong to their master's. It writes the address
// it listens on as one line to out, then serves until in reaches its end
// (the parent closed its end of the pipe, or died), and closes what it
// opened.
func Serve(role, dir, peers, run string, d Durability, in io.Reader, out io.Writer) error {
	id := rpcconn.Identity{Cluster: "floor", Run: run}
	var addr net.Addr
	var closeAll func() error
	switch role {
	case RoleServer:
		db, err := openDB(dir)
		if err != nil {
			return err
		}
		svc := &serverService{db: db, durability: d}
		closeReplicas := func() error {
			var errs []error
			for _, f := range svc.replicas {
				errs = append(errs, f.close())
			}
			return errors.Join(errs...)
		}
		for _, a := range strings.Split(peers, ",") {
			if a == "" {
				continue
			}
			f, err := dialForwarder(a)
			if err != nil {
				return errors.Join(err, closeReplicas(), db.Close())
			}
			svc.replicas = append(svc.replicas, f)
		}
		id.Role = rpcconn.RoleServer
		srv, err := rpcconn.Listen(id, "127.0.0.1:0", "FloorServer", svc)
		if err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), closeReplicas(), db.Close())
		}
		addr = srv.Addr()
		closeAll = func() error { return errors.Join(srv.Close(), closeReplicas(), db.Close()) }
	case RoleClient:
		if peers == "" {
			return errors.New("floor: the client hop needs the server's address")
		}
		id.Role, id.ID = rpcconn.RoleClient, 1
		toServer := rpcconn.New(id, peers, rpcTimeout)
		srv, err := rpcconn.Listen(id, "127.0.0.1:0", "FloorClient", &clientService{server: toServer})
		if err != nil {
			toServer.Close()
			return fmt.Errorf("floor: %w", err)
		}
		addr = srv.Addr()
		closeAll = func() error { err := srv.Close(); toServer.Close(); return err }
	case RoleReplica:
		db, err := openDB(dir)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), db.Close())
		}
		addr = ln.Addr()
		served := make(chan error, 1)
		go func() { served <- serveReplica(ln, db) }()
		closeAll = func() error {
			// The server has closed its connection by now (it stops
			// first), which ends serveReplica; closing ln ends it if the
			// server never connected.
			err := ln.Close()
			return errors.Join(<-served, db.Close(), ignoreClosed(err))
		}
	default:
		return fmt.Errorf("floor: role %q: want %s, %s or %s", role, RoleServer, RoleClient, RoleReplica)
	}
	if _, err := fmt.Fprintln(out, addr.String()); err != nil {
		return errors.Join(fmt.Errorf("floor: %w", err), closeAll())
	}
	_, _ = io.Copy(io.Discard, in)
	return closeAll()
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// PartCommand returns the command that runs role (Serve, with its peers
// and durability d) in a process of its own; MeasureProcesses sets its
// stdin, stdout and stderr.
type PartCommand func(role, dir, peers, run string, d Durability) *exec.Cmd

// MeasureProcesses is MeasureDurability with the chain in processes of
// its own, as the cluster runs it: the caller plays the master, and part
// starts the client, the server and its replicas (each replica in a
// directory of its own under dir). It returns puts/s and the CPU seconds
// of all of them: the children's from their rusage once they exit, the
// caller's from its own across the call (so the caller must do nothing
// else meanwhile).
func MeasureProcesses(n, valueSize int, dir string, d Durability, replicas int, part PartCommand) (putsPerSec, cpuS float64, err error) {
	if n <= 0 {
		return 0, 0, fmt.Errorf("floor: %d puts: need at least one", n)
	}
	if replicas > 0 && d != Log {
		return 0, 0, fmt.Errorf("floor: replicas need durability %s: a server logs its puts before it sends them", Log)
	}
	before, _ := runstats.SelfUsage()
	run := rpcconn.NewRun()
	var parts []*child
	defer func() {
		// The client first, then the server, then its replicas: each
		// stops after what sends to it.
		for i := len(parts) - 1; i >= 0; i-- {
			u, werr := parts[i].stop()
			err = errors.Join(err, werr)
			cpuS += u.CPUS()
		}
		after, _ := runstats.SelfUsage()
		cpuS += after.Sub(before).CPUS()
	}()
	var addrs []string
	for i := range replicas {
		r, err := startChild(part(RoleReplica, filepath.Join(dir, fmt.Sprintf("replica-%d", i+1)), "", run, Log))
		if err != nil {
			return 0, 0, err
		}
		parts = append(parts, r)
		addrs = append(addrs, r.addr)
	}
	server, err := startChild(part(RoleServer, dir, strings.Join(addrs, ","), run, d))
	if err != nil {
		return 0, 0, err
	}
	parts = append(parts, server)
	client, err := startChild(part(RoleClient, dir, server.addr, run, d))
	if err != nil {
		return 0, 0, err
	}
	parts = append(parts, client)
	toClient := rpcconn.New(rpcconn.Identity{Cluster: "floor", Run: run, Role: rpcconn.RoleMaster}, client.addr, rpcTimeout)
	defer toClient.Close()
	c := &chain{toClient: toClient}
	putsPerSec, err = c.measure(n, valueSize)
	return putsPerSec, 0, err
}

// child is a hop of the chain in a process of its own.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	errb  *strings.Builder
}

// startupTimeout bounds how long a hop may take to say where it listens.
const startupTimeout = 10 * time.Second

func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, errb: &strings.Builder{}}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	cmd.Stderr = c.errb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("floor: start %s: %w", cmd.Path, err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case c.addr = <-line:
	case <-time.After(startupTimeout):
	}
	if c.addr == "" {
		_, werr := c.stop()
		return nil, errors.Join(fmt.Errorf("floor: %s said no address within %v", strings.Join(cmd.Args, " "), startupTimeout), werr)
	}
	return c, nil
}

// stop closes the hop's stdin, which ends it, and waits for it: killed
// (by its pid) if it has not exited in a few seconds. It returns the
// process's rusage.
func (c *child) stop() (runstats.Usage, error) {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		err = errors.Join(errors.New("did not exit when its stdin closed: killed"), <-done)
	}
	if err != nil {
		err = fmt.Errorf("floor: %s: %w: %s", strings.Join(c.cmd.Args, " "), err, strings.TrimSpace(c.errb.String()))
	}
	u, _ := runstats.ProcessUsage(c.cmd.ProcessState)
	return u, err
}
