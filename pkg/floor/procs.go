package floor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/runstats"
)

// The roles of Serve: the hops of the chain that run in processes of
// their own in a floor measured across processes (and RolePeer).
const (
	RoleServer = "server"
	RoleClient = "client"
)

// Serve runs one hop of the chain in this process, for a floor measured
// across processes as the cluster runs (MeasureProcesses,
// MeasureUnreplicated, MeasurePeers): the server (a bbolt database in dir,
// with durability d), the client (the relay to the server at the address
// peers gives; dir is unused) or a peer (RolePeer: a
// server with its database in dir; peers is then its index among the
// peers). Every hop belongs to run, as the real processes belong to their
// master's. It writes the address it listens on as one line to out (a
// peer: its client's, then the other peers', on one line), then serves
// until in reaches its end (the parent closed its end of the pipe, or
// died), and closes what it opened. A peer first reads one line from in:
// where every peer listens for the others, comma-separated, in the order
// of their indexes; it says "ready" on out once it has connected to them.
func Serve(role, dir, peers, run string, d Durability, in io.Reader, out io.Writer) error {
	id := rpcconn.Identity{Cluster: "floor", Run: run}
	input := bufio.NewReader(in)
	var closeAll func() error
	switch role {
	case RoleServer:
		db, err := openDB(dir)
		if err != nil {
			return err
		}
		id.Role = rpcconn.RoleServer
		svc := newServerService(db, d, 1)
		srv, err := rpcconn.Listen(id, "127.0.0.1:0", "FloorServer", svc)
		if err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), db.Close())
		}
		closeAll = func() error { return errors.Join(srv.Close(), svc.stop(), db.Close()) }
		if _, err := fmt.Fprintln(out, srv.Addr()); err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), closeAll())
		}
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
		closeAll = func() error { err := srv.Close(); toServer.Close(); return err }
		if _, err := fmt.Fprintln(out, srv.Addr()); err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), closeAll())
		}
	case RolePeer:
		index, err := strconv.Atoi(peers)
		if err != nil || index < 0 {
			return fmt.Errorf("floor: peer index %q: want a number from 0", peers)
		}
		id.Role, id.ID = rpcconn.RoleServer, uint32(index)+1
		p, err := startPeer(dir, id)
		if err != nil {
			return err
		}
		closeAll = p.close
		if _, err := fmt.Fprintln(out, p.rpc.Addr(), p.repl.Addr()); err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), closeAll())
		}
		line, err := input.ReadString('\n')
		all := strings.Split(strings.TrimSpace(line), ",")
		if err != nil || index >= len(all) {
			return errors.Join(fmt.Errorf("floor: peer %d: want the peers' addresses on stdin, got %q (%v)", index, line, err), closeAll())
		}
		others := append(all[:index:index], all[index+1:]...)
		if err := p.connect(others); err != nil {
			return errors.Join(err, closeAll())
		}
		if _, err := fmt.Fprintln(out, "ready"); err != nil {
			return errors.Join(fmt.Errorf("floor: %w", err), closeAll())
		}
	default:
		return fmt.Errorf("floor: role %q: want %s, %s or %s", role, RoleServer, RoleClient, RolePeer)
	}
	_, _ = io.Copy(io.Discard, input)
	return closeAll()
}

// PartCommand returns the command that runs role (Serve, with its peers
// and durability d) in a process of its own; MeasureProcesses sets its
// stdin, stdout and stderr.
type PartCommand func(role, dir, peers, run string, d Durability) *exec.Cmd

// MeasureProcesses is MeasureDurability with the chain in three processes,
// as the cluster runs it: the caller plays the master, and part starts the
// client and the server (its database in dir). It returns puts/s and the
// CPU seconds of all three: the children's from their rusage once they
// exit, the caller's from its own across the call (so the caller must do
// nothing else meanwhile).
func MeasureProcesses(n, valueSize int, dir string, d Durability, part PartCommand) (putsPerSec, cpuS float64, err error) {
	return measureAcross(n, valueSize, func(run string, g *group) ([]string, error) {
		return startServers(g, run, []string{dir}, 1, d, part)
	})
}

// MeasureUnreplicated is MeasurePeers without the copies: servers servers
// of the chain (RoleServer, durability d, each with its database in a
// directory of its own under dir), each holding only its own clients'
// puts, and clients client processes, client i on server i mod servers,
// taking the puts in turn. What it costs over MeasureProcesses is the
// layout's alone: more processes, and every put through a client and a
// server that have waited their turn. What MeasurePeers costs over it is
// the copies.
func MeasureUnreplicated(n, valueSize int, dir string, servers, clients int, d Durability, part PartCommand) (putsPerSec, cpuS float64, err error) {
	if servers < 1 || clients < 1 {
		return 0, 0, fmt.Errorf("floor: %d servers, %d clients: need at least one of each", servers, clients)
	}
	dirs := make([]string, servers)
	for i := range dirs {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("server-%d", i))
	}
	return measureAcross(n, valueSize, func(run string, g *group) ([]string, error) {
		return startServers(g, run, dirs, clients, d, part)
	})
}

// startServers starts a server of the chain in each of dirs, then clients
// clients, client i on server i mod len(dirs), clients in a later stage
// than the servers; it returns the clients' addresses.
func startServers(g *group, run string, dirs []string, clients int, d Durability, part PartCommand) ([]string, error) {
	var servers []string
	for _, dir := range dirs {
		s, err := g.start(part(RoleServer, dir, "", run, d))
		if err != nil {
			return nil, err
		}
		servers = append(servers, s.addr)
	}
	g.stage()
	return startClients(g, run, servers, clients, d, part)
}

// startClients starts clients clients, client i relaying to servers[i mod
// len(servers)], and returns their addresses. A client keeps no data: its
// directory is empty.
func startClients(g *group, run string, servers []string, clients int, d Durability, part PartCommand) ([]string, error) {
	var addrs []string
	for i := range clients {
		c, err := g.start(part(RoleClient, "", servers[i%len(servers)], run, d))
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, c.addr)
	}
	return addrs, nil
}

// MeasurePeers is MeasureProcesses with the puts replicated: servers peers
// (RolePeer, each with its database in a directory of its own under dir)
// and clients client processes, client i on peer i mod servers; the
// caller issues the puts to the clients in turn, as the benchmark's
// script does.
func MeasurePeers(n, valueSize int, dir string, servers, clients int, part PartCommand) (putsPerSec, cpuS float64, err error) {
	if servers < 1 || clients < 1 {
		return 0, 0, fmt.Errorf("floor: %d peers, %d clients: need at least one of each", servers, clients)
	}
	return measureAcross(n, valueSize, func(run string, g *group) ([]string, error) {
		var peers []*child
		var rpcAddrs, replAddrs []string
		for i := range servers {
			p, err := g.start(part(RolePeer, filepath.Join(dir, fmt.Sprintf("peer-%d", i)), strconv.Itoa(i), run, Log))
			if err != nil {
				return nil, err
			}
			f := strings.Fields(p.addr)
			if len(f) != 2 {
				return nil, fmt.Errorf("floor: peer %d said %q, want two addresses", i, p.addr)
			}
			peers = append(peers, p)
			rpcAddrs, replAddrs = append(rpcAddrs, f[0]), append(replAddrs, f[1])
		}
		for _, p := range peers {
			if _, err := fmt.Fprintln(p.stdin, strings.Join(replAddrs, ",")); err != nil {
				return nil, fmt.Errorf("floor: %w", err)
			}
		}
		for i, p := range peers {
			if line := p.next(); line != "ready" {
				return nil, fmt.Errorf("floor: peer %d said %q, want ready", i, line)
			}
		}
		g.stage() // clients stop before the peers
		return startClients(g, run, rpcAddrs, clients, Log, part)
	})
}

// measureAcross starts the processes of a floor (start returns the
// clients' addresses), runs n puts through the clients in turn, then
// stops them, and returns puts/s and the CPU of them all.
func measureAcross(n, valueSize int, start func(run string, g *group) ([]string, error)) (putsPerSec, cpuS float64, err error) {
	if n <= 0 {
		return 0, 0, fmt.Errorf("floor: %d puts: need at least one", n)
	}
	before, _ := runstats.SelfUsage()
	g := &group{}
	defer func() {
		u, serr := g.stop()
		err = errors.Join(err, serr)
		after, _ := runstats.SelfUsage()
		cpuS = u + after.Sub(before).CPUS()
	}()
	run := rpcconn.NewRun()
	addrs, err := start(run, g)
	if err != nil {
		return 0, 0, err
	}
	c := &chain{}
	for _, a := range addrs {
		c.toClients = append(c.toClients, rpcconn.New(rpcconn.Identity{Cluster: "floor", Run: run, Role: rpcconn.RoleMaster}, a, rpcTimeout))
	}
	defer c.close()
	putsPerSec, err = c.measure(n, valueSize)
	return putsPerSec, 0, err
}

// group is the processes of a floor, in stages: a later stage's stop
// before an earlier's, and within a stage every process is told to stop
// before any is waited for (peers wait for each other's last batches).
type group struct {
	stages [][]*child
}

func (g *group) stage() { g.stages = append(g.stages, nil) }

func (g *group) start(cmd *exec.Cmd) (*child, error) {
	c, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	if len(g.stages) == 0 {
		g.stage()
	}
	last := len(g.stages) - 1
	g.stages[last] = append(g.stages[last], c)
	return c, nil
}

// stop stops every process, and returns the CPU seconds they used.
func (g *group) stop() (cpuS float64, err error) {
	for i := len(g.stages) - 1; i >= 0; i-- {
		for _, c := range g.stages[i] {
			c.stdin.Close()
		}
		for _, c := range g.stages[i] {
			u, werr := c.wait()
			err = errors.Join(err, werr)
			cpuS += u.CPUS()
		}
	}
	return cpuS, err
}

// child is a hop of the chain in a process of its own.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string      // the first line it wrote
	lines chan string // the lines after it
	errb  *strings.Builder
}

// startupTimeout bounds how long a hop may take to say where it listens,
// or that it is ready.
const startupTimeout = 10 * time.Second

func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, errb: &strings.Builder{}, lines: make(chan string, 4)}
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
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- strings.TrimSpace(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if c.addr = c.next(); c.addr == "" {
		c.stdin.Close()
		_, werr := c.wait()
		return nil, errors.Join(fmt.Errorf("floor: %s said no address within %v", strings.Join(cmd.Args, " "), startupTimeout), werr)
	}
	return c, nil
}

// next is the next line the hop writes, or "" if it writes none within
// startupTimeout.
func (c *child) next() string {
	select {
	case l := <-c.lines:
		return l
	case <-time.After(startupTimeout):
		return ""
	}
}

// wait waits for the hop to exit once its stdin is closed (which ends
// it): killed (by its pid) if it has not exited in a few seconds. It
// returns the process's rusage.
func (c *child) wait() (runstats.Usage, error) {
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
