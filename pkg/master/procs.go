package master

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/runstats"
)

// launcher starts the local helper processes (watchdogs, clients) that were
// not already answering, and stops them at exit. It remembers only what it
// started: processes somebody else runs are never signalled.
type launcher struct {
	binDir  string
	cfgPath string
	run     string // given to every started process: it belongs to this run
	// logFormat, when set, is given to every started process (-log-format).
	logFormat config.LogFormat
	logDir    string
	pids      pidFiles

	// mu guards procs, appended to by concurrent starts, and usage.
	mu    sync.Mutex
	procs []*proc
	// usage adds up the rusage of every started process reaped, by
	// binary ("watchdog", "client"): a watchdog's includes the servers it
	// reaped.
	usage map[string]runstats.Usage
}

// proc is one started process; done is closed once it has been reaped.
type proc struct {
	name string // "watchdog-3"
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the Wait result, set before done is closed
}

// exited reports whether the process has ended, without blocking.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs `<binary> -config <cfg> -id <id> -run <run>`, the binary
// found by config.FindBinary in binDir, with its stderr in
// <logDir>/<binary>-<id>.stderr.
func (l *launcher) start(binary string, id uint32) (*proc, error) {
	name := fmt.Sprintf("%s-%d", binary, id)
	path, err := config.FindBinary(l.binDir, binary)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := os.MkdirAll(l.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logf, err := os.Create(filepath.Join(l.logDir, name+".stderr"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	args := []string{"-config", l.cfgPath, "-id", strconv.FormatUint(uint64(id), 10), "-run", l.run}
	if l.logFormat != "" {
		args = append(args, "-log-format", string(l.logFormat))
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// The child holds its own copy of the descriptor.
	logf.Close()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	l.pids.write(name, cmd.Process.Pid, path)
	go func() {
		p.err = cmd.Wait()
		l.pids.remove(name)
		if u, ok := runstats.ProcessUsage(cmd.ProcessState); ok {
			l.mu.Lock()
			if l.usage == nil {
				l.usage = map[string]runstats.Usage{}
			}
			sum := l.usage[binary]
			sum.Add(u)
			l.usage[binary] = sum
			l.mu.Unlock()
		}
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// reapedUsage is the rusage of the processes of binary reaped so far.
func (l *launcher) reapedUsage(binary string) runstats.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usage[binary]
}

// count is how many processes were started.
func (l *launcher) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.procs)
}

// stopAll sends SIGTERM to every started process, waits for them, and
// SIGKILLs those still alive after grace.
func (l *launcher) stopAll(grace time.Duration) {
	l.mu.Lock()
	procs := append([]*proc(nil), l.procs...)
	l.procs = nil
	l.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-timer.C:
			// Grace is over: kill this one and every other still running.
			for _, q := range procs {
				if !q.exited() {
					_ = q.cmd.Process.Kill()
				}
			}
			<-p.done
		}
	}
	for _, p := range procs {
		<-p.done
	}
}

// exitError describes how a started process ended, for a startup error.
func (p *proc) exitError() error {
	if p.err == nil {
		return fmt.Errorf("%s exited", p.name)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return fmt.Errorf("%s exited: %v", p.name, ee.ProcessState)
	}
	return fmt.Errorf("%s: %w", p.name, p.err)
}

// isLocalHost reports whether host names this machine: a loopback address,
// "localhost", this machine's host name, or an address of one of its
// interfaces. Names are not resolved, so deciding sends no DNS query.
func isLocalHost(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		name, err := os.Hostname()
		return err == nil && name == host
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
