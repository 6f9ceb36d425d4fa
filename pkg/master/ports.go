package master

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
)

// heldError is a port of the config answered by a process this master must
// not use: a gossipkv process of another cluster or run (peer), or
// something that does not answer gossipkv's handshake at all.
type heldError struct {
	what string // "watchdog of server 3"
	addr string
	peer *rpcconn.Peer // nil: not gossipkv
	// For a stranger: who holds the port, when this machine can tell
	// ("pid 123 (nc)"), and what the handshake got.
	holder string
	detail string
	// self is this master's run.
	self string
}

func (e *heldError) Error() string {
	if e.peer != nil {
		return fmt.Sprintf("%s: port %s is held by %s, which refuses this master (run %s)", e.what, e.addr, e.peer, e.self)
	}
	holder := "a process that is not"
	if e.holder != "" {
		holder = e.holder + ", which is not"
	}
	return fmt.Sprintf("%s: port %s is held by %s a gossipkv process of this version (%s)", e.what, e.addr, holder, e.detail)
}

// heldBy turns a failed ping of ep into a *heldError when the port is held
// by another cluster's or run's process or by a stranger; nil otherwise
// (nothing there, or a process of this run).
func (m *master) heldBy(ep endpoint, err error) error {
	var re *rpcconn.RefusedError
	switch {
	case errors.As(err, &re):
		peer := re.Peer
		return &heldError{what: ep.what, addr: ep.conn.Addr(), peer: &peer, self: m.self.Run}
	case errors.Is(err, rpcconn.ErrNoHandshake):
		h := &heldError{what: ep.what, addr: ep.conn.Addr(), detail: err.Error(), self: m.self.Run}
		if m.isLocal(ep.host) {
			if pid, comm, ok := listenerPid(ep.port); ok {
				h.holder = fmt.Sprintf("pid %d (%s)", pid, comm)
			}
		}
		return h
	}
	return nil
}

// portAdvice is one closing error that says what the user can do about
// the held ports among errs, once for all of them; nil when none is held.
func (m *master) portAdvice(errs []error) error {
	type run struct {
		cluster, id string
		master      int
		pids        []int
	}
	var runs []*run
	strangers := 0
	for _, err := range errs {
		var h *heldError
		if !errors.As(err, &h) {
			continue
		}
		if h.peer == nil {
			strangers++
			continue
		}
		i := slices.IndexFunc(runs, func(r *run) bool { return r.cluster == h.peer.Cluster && r.id == h.peer.Run })
		if i < 0 {
			runs = append(runs, &run{cluster: h.peer.Cluster, id: h.peer.Run})
			i = len(runs) - 1
		}
		runs[i].master = max(runs[i].master, h.peer.MasterPid)
		runs[i].pids = append(runs[i].pids, h.peer.Pid)
	}
	if len(runs) == 0 && strangers == 0 {
		return nil
	}
	var lines []string
	for _, r := range runs {
		name := fmt.Sprintf("run %s of cluster %q", r.id, r.cluster)
		if r.id == "" {
			name = fmt.Sprintf("cluster %q (processes without a run)", r.cluster)
		}
		pids := joinInts(r.pids)
		switch {
		case r.master > 0 && processAlive(r.master):
			lines = append(lines, fmt.Sprintf("%s: its master, pid %d, is still running: wait for it to finish", name, r.master))
		case r.master > 0:
			lines = append(lines, fmt.Sprintf("%s: its master (pid %d) is gone: run `bin/master cleanup -config FILE` with that run's config, or kill pids %s",
				name, r.master, pids))
		default:
			lines = append(lines, fmt.Sprintf("%s: if its master is gone, run `bin/master cleanup -config FILE` with that run's config, or kill pids %s",
				name, pids))
		}
	}
	if strangers > 0 {
		lines = append(lines, "stop what holds the ports that are not gossipkv's")
	}
	base := m.freeBase()
	lines = append(lines, fmt.Sprintf("or give this run ports and a data directory of its own: `bin/master config -servers %d -clients %d -port %d -data-dir data-%d > my.yaml`, then `bin/master -config my.yaml`",
		len(m.cfg.Servers), len(m.cfg.Clients), base, base))
	return errors.New("what to do: " + strings.Join(lines, "; "))
}

// freeBase suggests a base port for `master config` above every port of
// this config, so that the suggested layout does not overlap it.
func (m *master) freeBase() int {
	top := 0
	for _, s := range m.cfg.Servers {
		top = max(top, s.RPCPort, s.GossipPort, s.WatchdogPort, s.RESPPort, s.HTTPPort, s.MemcachePort)
	}
	for _, c := range m.cfg.Clients {
		top = max(top, c.RPCPort)
	}
	base := (top/1000 + 1) * 1000
	if base+config.LocalPortSpan-1 > 65535 {
		base = 10000
	}
	return base
}

// whyExited is what a started helper that exited said last on stderr
// (": LINE"), and, when that was a port already in use, who holds it.
func (m *master) whyExited(ep endpoint, p *proc) string {
	b, err := os.ReadFile(filepath.Join(m.launch.logDir, p.name+".stderr"))
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	line := string(b[bytes.LastIndexByte(b, '\n')+1:])
	if line == "" {
		return ""
	}
	if len(line) > 300 {
		line = line[:300] + "..."
	}
	out := ": " + line
	if strings.Contains(line, "address already in use") {
		if pid, comm, ok := listenerPid(ep.port); ok {
			out += fmt.Sprintf(" (port %d is held by pid %d, %s)", ep.port, pid, comm)
		} else {
			out += fmt.Sprintf(" (port %d was held by another process, gone since: another master starting at the same moment?)", ep.port)
		}
	}
	return out
}

// processAlive reports whether pid is a running process (of any user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}
