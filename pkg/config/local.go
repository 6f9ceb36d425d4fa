package config

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Port offsets of Local: one block of 100 ports per role, so that id N's
// ports are easy to find (7000+N, 7100+N, ...) and at most 100 ids fit.
const (
	gossipOffset    = 100
	watchdogOffset  = 200
	clientRPCOffset = 300
	respOffset      = 400
	httpOffset      = 500
	memcacheOffset  = 600
	maxLocalIDs     = 100
	// LocalPortSpan is how many ports from the base port Local may use.
	LocalPortSpan = memcacheOffset + maxLocalIDs
)

// Local returns the default knobs with nServers servers (ids 0..nServers-1)
// and nClients clients (the ids after them), all on 127.0.0.1. Server id N
// serves RPC on basePort+N, gossips on basePort+100+N and has its watchdog
// on basePort+200+N, speaks the Redis protocol on basePort+400+N, HTTP on
// basePort+500+N and the memcache protocol on basePort+600+N; client id N
// serves RPC on basePort+300+N. The repository's config.yaml
// is Local(5, 5, 7000).
//
// It panics when the layout cannot exist (more than 100 ids, negative
// counts, ports outside 1..65535): its callers pass constants.
func Local(nServers, nClients int, basePort int) *Config {
	if nServers < 0 || nClients < 0 || nServers+nClients > maxLocalIDs {
		panic(fmt.Sprintf("config.Local(%d, %d): need 0 to %d ids in all", nServers, nClients, maxLocalIDs))
	}
	if basePort < 1 || basePort+LocalPortSpan-1 > 65535 {
		panic(fmt.Sprintf("config.Local: base port %d puts ports outside 1..65535", basePort))
	}
	c := localLayout(nServers, nClients)
	for i := range c.Servers {
		s := &c.Servers[i]
		s.RPCPort = basePort + int(s.ID)
		s.GossipPort = basePort + gossipOffset + int(s.ID)
		s.WatchdogPort = basePort + watchdogOffset + int(s.ID)
		s.RESPPort = basePort + respOffset + int(s.ID)
		s.HTTPPort = basePort + httpOffset + int(s.ID)
		s.MemcachePort = basePort + memcacheOffset + int(s.ID)
	}
	for i := range c.Clients {
		c.Clients[i].RPCPort = basePort + clientRPCOffset + int(c.Clients[i].ID)
	}
	return c
}

// localLayout is the default knobs with servers 0..nServers-1 and the
// clients after them on 127.0.0.1, ports not yet chosen.
func localLayout(nServers, nClients int) *Config {
	c := Default()
	for i := range nServers {
		c.Servers = append(c.Servers, Server{ID: uint32(i), Host: "127.0.0.1"})
	}
	for i := nServers; i < nServers+nClients; i++ {
		c.Clients = append(c.Clients, Client{ID: uint32(i), Host: "127.0.0.1"})
	}
	return c
}

// LocalFreePorts is Local with ports that are free right now and DataDir
// set to dataDir, so that tests and benchmarks running side by side do not
// collide. It has no limit of 100 ids. Gossip ports are free for both TCP
// and UDP, since memberlist binds both.
//
// The ports are drawn at random from below the kernel's ephemeral range
// (freePortRange): a port the kernel hands out for "port 0" may be taken a
// moment later as the local end of any outgoing connection, and a server
// that is killed and started again must find its port free again. Another
// process can still take one between this call and its use; at random
// among twenty thousand, that is rare.
func LocalFreePorts(nServers, nClients int, dataDir string) (*Config, error) {
	if nServers < 0 || nClients < 0 {
		return nil, fmt.Errorf("config: LocalFreePorts(%d, %d): negative count", nServers, nClients)
	}
	c := localLayout(nServers, nClients)
	c.DataDir = dataDir

	// Every probe listener stays open until all ports are chosen, so the OS
	// cannot hand out one port twice.
	var open []interface{ Close() error }
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	lo, hi := freePortRange()
	tcp := func() (int, error) {
		var err error
		for range 200 {
			port := lo + rand.IntN(hi-lo+1)
			var l net.Listener
			if l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				open = append(open, l)
				return port, nil
			}
		}
		return 0, fmt.Errorf("config: finding a free port in %d-%d: %w", lo, hi, err)
	}
	tcpUDP := func() (int, error) {
		var errs []error
		for range 20 {
			port, err := tcp()
			if err != nil {
				return 0, err
			}
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				errs = append(errs, err)
				continue // taken for UDP: try another TCP port
			}
			open = append(open, u)
			return port, nil
		}
		return 0, fmt.Errorf("config: finding a port free for TCP and UDP: %w", errors.Join(errs...))
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		var err error
		if s.RPCPort, err = tcp(); err != nil {
			return nil, err
		}
		if s.GossipPort, err = tcpUDP(); err != nil {
			return nil, err
		}
		if s.WatchdogPort, err = tcp(); err != nil {
			return nil, err
		}
		if s.RESPPort, err = tcp(); err != nil {
			return nil, err
		}
		if s.HTTPPort, err = tcp(); err != nil {
			return nil, err
		}
		if s.MemcachePort, err = tcp(); err != nil {
			return nil, err
		}
	}
	for i := range c.Clients {
		var err error
		if c.Clients[i].RPCPort, err = tcp(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// freePortRange is where LocalFreePorts draws ports: from 10000 up to just
// below the ephemeral range of /proc/sys/net/ipv4/ip_local_port_range
// (Linux's default starts at 32768; elsewhere 32767 is below the usual
// ranges too).
func freePortRange() (lo, hi int) {
	lo, hi = 10000, 32767
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	if f := strings.Fields(string(b)); len(f) == 2 {
		if start, err := strconv.Atoi(f[0]); err == nil && start-1 > lo+1000 {
			hi = min(hi, start-1)
		}
	}
	return lo, hi
}
