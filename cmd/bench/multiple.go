package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/netns"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/runstats"
)

// Ports of every host in the namespace layout: each host has its own
// address, so all can use the repository's default ports.
const (
	nsRPCPort      = 7000
	nsGossipPort   = 7100
	nsWatchdogPort = 7200
	nsClientPort   = 7300
)

// runMultiple is the spec benchmark with every server and client on a host
// of its own: network namespaces made here, or real hosts listed in
// -hosts-config. The namespaces are removed at the end, also on failure or
// a signal.
func runMultiple(ctx context.Context, e *env, o options) (_ []Result, err error) {
	tmpl := Result{Workload: "spec", Hosts: "multiple", Servers: o.servers, Clients: o.clients, Puts: o.puts, ValueSize: o.size}
	script := Spec{Servers: o.servers, Clients: o.clients, Puts: o.puts, ValueSize: o.size, Seed: o.seed}.Write
	if o.hostsConfig != "" {
		path, err := filepath.Abs(o.hostsConfig)
		if err != nil {
			return nil, err
		}
		cfg, err := config.Load(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if len(cfg.Servers) != o.servers || len(cfg.Clients) != o.clients {
			return nil, fmt.Errorf("%w: %s lists %d servers and %d clients; pass -servers %d -clients %d",
				errUsage, path, len(cfg.Servers), len(cfg.Clients), len(cfg.Servers), len(cfg.Clients))
		}
		return e.repeat(ctx, o.runs, job{tmpl: tmpl, script: script, floorPuts: o.floorPuts, floorSize: o.size,
			cluster: func(context.Context, *env) (string, stopFunc, error) { return path, noStop, nil }})
	}

	plan, err := netns.NewPlan(o.servers+o.clients, o.delay)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := plan.Check(); err != nil {
		return nil, fmt.Errorf("its hosts are network namespaces, which cannot be made here: %w", err)
	}
	e.logf("making %d hosts: network namespaces %sh0..%sh%d on %v, bridge %s in %s, delay %v",
		len(plan.Hosts), netns.Prefix, netns.Prefix, len(plan.Hosts)-1, netns.Subnet, netns.BridgeName, netns.LANName, o.delay)
	defer func() {
		// The run's ctx may be cancelled (a signal): cleaning up must
		// still happen.
		if terr := netns.Teardown(context.WithoutCancel(ctx)); terr != nil {
			e.logf("removing the namespaces: %v (run `ip netns list` and delete the %s* ones)", terr, netns.Prefix)
			return
		}
		e.logf("namespaces removed")
	}()
	if err := netns.Setup(ctx, plan); err != nil {
		return nil, err
	}
	cfg := hostsConfig(plan, o.servers, o.clients, e.path("cluster"))
	return e.repeat(ctx, o.runs, job{tmpl: tmpl, script: script, floorPuts: o.floorPuts, floorSize: o.size,
		cluster: namespaceCluster(plan, cfg)})
}

// hostsConfig places server i on host i and client i on host i (ids are
// unique across both roles), every process on the default ports of its
// host's address.
func hostsConfig(plan netns.Plan, servers, clients int, dataDir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	for i := range servers {
		cfg.Servers = append(cfg.Servers, config.Server{ID: uint32(i), Host: plan.Hosts[i].Addr.String(),
			RPCPort: nsRPCPort, GossipPort: nsGossipPort, WatchdogPort: nsWatchdogPort})
	}
	for i := servers; i < servers+clients; i++ {
		cfg.Clients = append(cfg.Clients, config.Client{ID: uint32(i), Host: plan.Hosts[i].Addr.String(), RPCPort: nsClientPort})
	}
	return cfg
}

// namespaceCluster starts each server's watchdog and each client inside
// its host's namespace and waits until all answer; the master, outside,
// then finds them running, as on real hosts.
func namespaceCluster(plan netns.Plan, cfg *config.Config) func(context.Context, *env) (string, stopFunc, error) {
	return func(ctx context.Context, e *env) (string, stopFunc, error) {
		path, err := e.writeConfig(cfg)
		if err != nil {
			return "", nil, err
		}
		var procs []*started
		// The master cannot read the RSS of servers on other hosts; here
		// they share the machine, so bench watches them itself.
		rss := watchRSS(100 * time.Millisecond)
		stop := func() stopped {
			peaks := rss.stop()
			return stopped{peaks: peaks, cpu: stopAll(procs)}
		}
		start := func(binary string, id uint32, addr, ping string) error {
			p, err := startIn(plan.Hosts[id], filepath.Join(e.binDir, binary), path, id, cfg.LogDir())
			if err != nil {
				return err
			}
			procs = append(procs, p)
			return p.waitAnswer(ctx, rpcconn.Identity{Cluster: cfg.Cluster, Role: "bench"}, addr, ping)
		}
		for _, s := range cfg.Servers {
			if err := start("watchdog", s.ID, s.WatchdogAddr(), api.WatchdogPing); err != nil {
				stop()
				return "", nil, err
			}
			rss.watch(procs[len(procs)-1].cmd.Process.Pid, s.ID)
		}
		for _, c := range cfg.Clients {
			if err := start("client", c.ID, c.RPCAddr(), api.ClientPing); err != nil {
				stop()
				return "", nil, err
			}
		}
		return path, stop, nil
	}
}

// started is a process started inside a namespace; done closes when it
// has been reaped.
type started struct {
	name   string
	binary string // "watchdog" or "client"
	cmd    *exec.Cmd
	done   chan struct{}
}

// startIn starts bin as id inside host h's namespace. ip netns exec execs
// the binary in place, so the process's pid is the watchdog's or client's
// own.
func startIn(h netns.Host, bin, cfgPath string, id uint32, logDir string) (*started, error) {
	return startWith(h.Command, "in "+h.NS, bin, cfgPath, id, logDir)
}

// startWith starts bin as id of the config at cfgPath through command
// (exec.Command, or a namespace's), its output in logDir; where says
// where, for errors. If bench dies, so does the process.
func startWith(command func(string, ...string) *exec.Cmd, where, bin, cfgPath string, id uint32, logDir string) (*started, error) {
	name := fmt.Sprintf("%s-%d", filepath.Base(bin), id)
	logf, err := os.Create(filepath.Join(logDir, name+".bench.stderr"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := command(bin, "-config", cfgPath, "-id", strconv.FormatUint(uint64(id), 10))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", name, where, err)
	}
	p := &started{name: name, binary: filepath.Base(bin), cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitAnswer pings the process until it answers, it exits, or 15 s pass.
// The processes bench starts have no run of their own (no -run), so they
// accept bench's calls and then the master's.
func (p *started) waitAnswer(ctx context.Context, self rpcconn.Identity, addr, method string) error {
	conn := rpcconn.New(self, addr, time.Second)
	defer conn.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var reply api.PingReply
		err := conn.Call(method, api.Empty{}, &reply)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited at start: %v (see its log in the data directory's logs/)", p.name, p.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s: not answering after 15 s: %v", p.name, addr, err)
		}
	}
}

// stopAll sends SIGTERM to every process (a watchdog then kills its
// server), waits up to 5 s, and SIGKILLs what is left. It returns their
// rusage by role (a watchdog's with the servers it reaped).
func stopAll(procs []*started) (cpu runstats.CPU) {
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			for _, q := range procs {
				q.cmd.Process.Kill()
			}
			<-p.done
		}
	}
	for _, p := range procs {
		<-p.done
		u, _ := runstats.ProcessUsage(p.cmd.ProcessState)
		if p.binary == "watchdog" {
			cpu.Servers.Add(u)
		} else {
			cpu.Clients.Add(u)
		}
	}
	return cpu
}
