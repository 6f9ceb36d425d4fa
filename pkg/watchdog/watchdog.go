package watchdog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
)

// ErrUnknownID means the id is not a server of the config.
var ErrUnknownID = errors.New("watchdog: id is not a server in the config")

// ErrClosed means the watchdog is shutting down and starts nothing more.
var ErrClosed = errors.New("watchdog: closed")

// pollInterval is how often Start pings a starting server: short, because
// joinServer blocks on it and a server is up within milliseconds.
const pollInterval = 5 * time.Millisecond

// tailLines and tailBytes bound how much of a failed server's stderr an
// error carries: enough for a panic's first frames, not a whole log.
const (
	tailLines = 20
	tailBytes = 8 << 10
)

// Options says how to run the server.
type Options struct {
	// ServerBin is the server executable.
	ServerBin string
	// ConfigPath is the config file the server is told to read. It is made
	// absolute, so the server does not depend on the watchdog's directory.
	ConfigPath string
	// Run, when set, is the master run this watchdog belongs to (the
	// master that started it passes -run): it refuses every other run.
	// Without it (a watchdog started by hand) it serves any run of its
	// cluster, and each server it starts belongs to the run that asked.
	Run string
	// LogFormat is the format of the logs of the servers it starts (-log-format),
	// unless the master asks for another in its start call; empty leaves
	// it to the server (text, or its GOSSIPKV_LOG_FORMAT).
	LogFormat config.LogFormat
	// ServerArgs, when set, replaces the server's arguments (by default
	// "-config ConfigPath -id ID -run RUN -log-format FORMAT"); tests use
	// it to run a fake server.
	ServerArgs func(id uint32, run string) []string
	// Logger receives the watchdog's own log; nil discards it. It carries
	// the watchdog's identity already (config.OpenLog's role and id).
	Logger *slog.Logger
}

// Watchdog is the rpc receiver of service "Watchdog" for one server id.
//
// Start, Kill and Close hold the mutex for their whole run, waits included:
// they change the one process, and the master issues them one at a time, so
// serializing them costs nothing and rules out two starts racing. Ping does
// not take it, so a watchdog busy starting still answers.
type Watchdog struct {
	id      uint32
	cfg     *config.Config
	run     string // "": any run of the cluster
	addr    string // the server's rpc address
	bin     string
	args    func(run string, format config.LogFormat) []string
	logPath string
	log     *slog.Logger
	srv     *rpcconn.Server

	// mu guards proc (nil before the first start; kept after it exits so
	// that errors can say how it ended) and closed.
	mu     sync.Mutex
	proc   *process
	closed bool
}

// process is one run of the server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // what cmd.Wait said; read only after done
	// paused: it was sent SIGSTOP and not SIGCONT since (guarded by the
	// watchdog's mutex).
	paused bool
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and returns once the process is reaped, so that the
// caller knows it is gone (its ports and file locks released).
func (p *process) kill() error {
	// os.Process refers to the process by pidfd: once reaped, this is
	// ErrProcessDone and never hits a reused pid.
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		// The signal did not go out: waiting would hang.
		return fmt.Errorf("kill pid %d: %w", p.cmd.Process.Pid, err)
	}
	// SIGKILL ends a stopped process too; SIGCONT as well leaves nothing
	// to chance (a kernel delivers it to a process being killed
	// harmlessly).
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	<-p.done
	p.paused = false
	return nil
}

// exit describes how the process ended.
func (p *process) exit() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// Listen serves the watchdog of server id on its configured watchdog address
// until Close.
func Listen(cfg *config.Config, id uint32, opts Options) (*Watchdog, error) {
	s, ok := cfg.Server(id)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownID, id)
	}
	if opts.ServerBin == "" {
		return nil, errors.New("watchdog: no server binary")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	args := func(run string, _ config.LogFormat) []string { return opts.ServerArgs(id, run) }
	if opts.ServerArgs == nil {
		if opts.ConfigPath == "" {
			return nil, errors.New("watchdog: no config path to give the server")
		}
		path, err := filepath.Abs(opts.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("watchdog: %w", err)
		}
		args = func(run string, format config.LogFormat) []string {
			a := []string{"-config", path, "-id", strconv.FormatUint(uint64(id), 10)}
			if run != "" {
				a = append(a, "-run", run)
			}
			if format == "" {
				format = opts.LogFormat
			}
			if format != "" {
				a = append(a, "-log-format", string(format))
			}
			return a
		}
	}
	w := &Watchdog{
		id:      id,
		cfg:     cfg,
		run:     opts.Run,
		addr:    s.RPCAddr(),
		bin:     opts.ServerBin,
		args:    args,
		logPath: filepath.Join(cfg.LogDir(), fmt.Sprintf("server-%d.stderr", id)),
		log:     logger,
	}
	srv, err := rpcconn.Listen(w.identity(), s.WatchdogAddr(), "Watchdog", w)
	if err != nil {
		return nil, err
	}
	w.srv = srv
	w.log.Info("watchdog listening", "addr", srv.Addr().String(), "pid", os.Getpid(), "server_bin", w.bin,
		"cluster", cfg.Cluster, "run", w.run)
	return w, nil
}

// identity is the watchdog on the control plane, as a member of run (its
// own, when it has one).
func (w *Watchdog) identity() rpcconn.Identity {
	return rpcconn.Identity{Cluster: w.cfg.Cluster, Run: w.run, Role: rpcconn.RoleWatchdog, ID: w.id}
}

// runFor is the run a server started for args belongs to: the watchdog's
// own, or else the asking master's.
func (w *Watchdog) runFor(args api.StartArgs) (string, error) {
	if w.run == "" {
		return args.Run, nil
	}
	if args.Run != "" && args.Run != w.run {
		// The handshake already refuses other runs; this only guards a
		// caller that claims one run and asks for another.
		return "", fmt.Errorf("watchdog of server %d belongs to run %s, not %s", w.id, w.run, args.Run)
	}
	return w.run, nil
}

// Addr is the address the watchdog serves on.
func (w *Watchdog) Addr() string { return w.srv.Addr().String() }

// Close kills the server, if it runs, and stops serving. The watchdog starts
// nothing after Close.
func (w *Watchdog) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	var err error
	if w.proc != nil && w.proc.running() {
		err = w.proc.kill()
	}
	w.mu.Unlock()
	return errors.Join(err, w.srv.Close())
}

// Ping lets the master check that the process on the watchdog's port is
// this watchdog.
func (w *Watchdog) Ping(_ api.Empty, reply *api.PingReply) error {
	*reply = api.PingReply{Role: "watchdog", ID: w.id, Pid: os.Getpid()}
	return nil
}

func (w *Watchdog) checkID(id uint32) error {
	if id != w.id {
		return fmt.Errorf("watchdog of server %d cannot handle server %d", w.id, id)
	}
	return nil
}

// Start execs the server and returns once it answers Server.Ping.
func (w *Watchdog) Start(args api.StartArgs, reply *api.StartReply) error {
	if err := w.checkID(args.ServerID); err != nil {
		return err
	}
	run, err := w.runFor(args)
	if err != nil {
		return err
	}
	if args.LogFormat != "" {
		if err := config.CheckLogFormat(args.LogFormat); err != nil {
			return fmt.Errorf("server %d: %w", w.id, err)
		}
	}
	switch args.Consistency {
	case "", config.ConsistencyEventual, config.ConsistencyLinearizable:
	default:
		return fmt.Errorf("server %d: consistency %q is not one of %s, %s", w.id, args.Consistency, config.ConsistencyEventual, config.ConsistencyLinearizable)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.proc != nil && w.proc.running() {
		return fmt.Errorf("server %d is already running (pid %d)", w.id, w.proc.cmd.Process.Pid)
	}
	if args.Fresh {
		if err := os.RemoveAll(w.cfg.ServerDir(w.id)); err != nil {
			return fmt.Errorf("server %d: wipe data: %w", w.id, err)
		}
	}
	p, offset, err := w.spawn(run, args)
	if err != nil {
		return err
	}
	w.proc = p
	pid := p.cmd.Process.Pid
	if err := w.awaitReady(p, run); err != nil {
		err = errors.Join(err, p.kill())
		w.log.Warn("server failed to start", "pid", pid, "err", err)
		return fmt.Errorf("server %d (pid %d) did not start: %w; its stderr (%s) ends:\n%s",
			w.id, pid, err, w.logPath, tail(w.logPath, offset))
	}
	w.log.Info("server started", "pid", pid, "fresh", args.Fresh, "run", run)
	reply.Pid = pid
	return nil
}

// spawn execs the server with its output appended to the stderr log, and
// returns the log's offset where this run's output begins.
func (w *Watchdog) spawn(run string, args api.StartArgs) (*process, int64, error) {
	if err := os.MkdirAll(filepath.Dir(w.logPath), 0o755); err != nil {
		return nil, 0, fmt.Errorf("server %d: %w", w.id, err)
	}
	f, err := os.OpenFile(w.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("server %d: %w", w.id, err)
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "--- watchdog: start server %d at %s (fresh=%v, run %s)\n", w.id, time.Now().Format(time.RFC3339Nano), args.Fresh, run)
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, fmt.Errorf("server %d: %w", w.id, err)
	}
	a := w.args(run, config.LogFormat(args.LogFormat))
	if args.Consistency != "" {
		a = append(a, "-consistency", args.Consistency)
	}
	if args.RaftBootstrap {
		a = append(a, "-raft-bootstrap")
	}
	if args.RaftGroup != "" {
		a = append(a, "-raft-group", args.RaftGroup)
	}
	cmd := exec.Command(w.bin, a...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("server %d: %w", w.id, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		w.log.Info("server exited", "pid", cmd.Process.Pid, "exit", p.exit())
		close(p.done)
	}()
	return p, offset, nil
}

// awaitReady polls the server's rpc address until the server answers with
// its own pid, which tells it from a stray process on the same port. It
// calls as a member of the server's run.
func (w *Watchdog) awaitReady(p *process, run string) error {
	timeout := w.cfg.Timing.StartTimeout
	deadline := time.Now().Add(timeout)
	self := w.identity()
	self.Run = run
	conn := rpcconn.New(self, w.addr, w.cfg.Timing.RPCTimeout)
	defer conn.Close()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited during start-up: %s", p.exit())
		default:
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("no answer within %v (last: %v)", timeout, last)
		}
		var r api.PingReply
		err := conn.CallTimeout(api.ServerPing, api.Empty{}, &r, min(left, w.cfg.Timing.RPCTimeout))
		switch {
		case err != nil:
			last = err
		case r.Role != "server" || r.ID != w.id || r.Pid != p.cmd.Process.Pid:
			last = fmt.Errorf("%s is answered by %s %d (pid %d)", w.addr, r.Role, r.ID, r.Pid)
		default:
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited during start-up: %s", p.exit())
		case <-ticker.C:
		}
	}
}

// Kill SIGKILLs the server and returns once the process is gone.
func (w *Watchdog) Kill(args api.KillArgs, _ *api.Empty) error {
	if err := w.checkID(args.ServerID); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil {
		return fmt.Errorf("server %d is not running", w.id)
	}
	if !w.proc.running() {
		return fmt.Errorf("server %d is not running (pid %d ended: %s)", w.id, w.proc.cmd.Process.Pid, w.proc.exit())
	}
	if err := w.proc.kill(); err != nil {
		return fmt.Errorf("server %d: %w", w.id, err)
	}
	w.log.Info("server killed", "pid", w.proc.cmd.Process.Pid)
	return nil
}

// Pause sends SIGSTOP to the server: it keeps its memory, sockets and
// disk, and does nothing at all (no gossip, no replies) until Resume. The
// signal goes to the process the watchdog started, by its pidfd, never by
// name.
func (w *Watchdog) Pause(args api.KillArgs, _ *api.Empty) error {
	return w.signal(args.ServerID, syscall.SIGSTOP, true)
}

// Resume sends SIGCONT to a paused server.
func (w *Watchdog) Resume(args api.KillArgs, _ *api.Empty) error {
	return w.signal(args.ServerID, syscall.SIGCONT, false)
}

func (w *Watchdog) signal(id uint32, sig syscall.Signal, pause bool) error {
	if err := w.checkID(id); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil || !w.proc.running() {
		return fmt.Errorf("server %d is not running", w.id)
	}
	if w.proc.paused == pause {
		if pause {
			return fmt.Errorf("server %d is already paused", w.id)
		}
		return fmt.Errorf("server %d is not paused", w.id)
	}
	if err := w.proc.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("server %d: %v: %w", w.id, sig, err)
	}
	w.proc.paused = pause
	w.log.Info("server "+map[bool]string{true: "paused", false: "resumed"}[pause], "pid", w.proc.cmd.Process.Pid)
	return nil
}

// tail returns the last lines written to path from offset on.
func tail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > tailBytes {
		offset = fi.Size() - tailBytes
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	out := string(bytes.Join(lines, []byte("\n")))
	if out == "" {
		return "(nothing)"
	}
	return out
}
