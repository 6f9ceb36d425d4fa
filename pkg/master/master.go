package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/check"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/script"
)

// Exit codes of Run, as the master binary exits with them.
const (
	// ExitOK: every line ran.
	ExitOK = 0
	// ExitFailed: at least one line failed (bad line or failed command).
	ExitFailed = 1
	// ExitStart: the master could not start: a watchdog or client neither
	// answered nor could be started, a port of the config is held by
	// another cluster's or run's process (or not by gossipkv at all), or
	// another master holds the data directory.
	ExitStart = 2
	// ExitInterrupted: the run was interrupted (its context was cancelled:
	// SIGINT, SIGTERM, Ctrl-C at a prompt) before its script ended; the
	// master has stopped what it started. 128 + SIGINT's number, as a shell
	// reports a command that Ctrl-C ended.
	ExitInterrupted = 130
)

// Fallbacks for timing knobs left at zero, so a hand-built Config still
// gives every call a deadline.
const (
	defaultRPCTimeout       = 5 * time.Second
	defaultStartTimeout     = 15 * time.Second
	defaultStabilizeTimeout = 30 * time.Second
	defaultStabilizePoll    = 2 * time.Millisecond
	// startPoll is how often a just-started process is pinged until it
	// answers.
	startPoll = 5 * time.Millisecond
	// stopGrace is how long a started process has to exit after SIGTERM.
	stopGrace = 2 * time.Second
)

// Options configure one run of the master.
type Options struct {
	// Config is the cluster; ConfigPath is the file it came from, passed
	// on to the processes the master starts (make it absolute: they may
	// not share the master's working directory).
	Config     *config.Config
	ConfigPath string
	// BinDir holds the watchdog and client binaries.
	BinDir string
	// Echo prints each script line as "> LINE" on Stdout before its output.
	Echo bool
	// KeepData keeps the servers' data directories from earlier runs;
	// otherwise the first start of each server in this run wipes its
	// directory.
	KeepData bool
	// Check records the run's history and judges it at the end (package
	// check): the verdict goes to Stderr, and Run returns ExitCheck if the
	// run broke the model. The stores are dumped after each stabilize.
	Check bool
	// OnVerdict, if set, is given the verdict of a Check run (shrink uses
	// it to compare failures).
	OnVerdict func(check.Verdict)
	// StatsFile, if set, gets the run's metrics as JSON at the end.
	StatsFile string
	// HistoryFile, if set (with Check), gets the recorded history at the
	// end as JSON Lines (package histfile), each stabilize with the stores
	// it dumped: what the checker judged, for reading a failed check and
	// for other checkers.
	HistoryFile string
	// HistoryHTMLFile, if set (with Check), gets porcupine's
	// visualization of the linearizability check (package linz).
	HistoryHTMLFile string
	// RequireLinearizable makes a Check run that is not linearizable fail
	// (ExitCheck). Without it the linearizability verdict is only
	// reported: an eventually consistent store does not promise it.
	RequireLinearizable bool
	// Stdout gets only what get and printStore print (and the echo; for
	// Up, its endpoints first); Stderr gets errors, progress and timings.
	Stdout, Stderr io.Writer
	// Quiet leaves only errors on Stderr: no note of the processes started
	// or of the cluster that is up, no summary, no metrics, and the check's
	// verdict only when it fails.
	Quiet bool
	// LogFormat is the format of the logs of the processes the master
	// starts (config.LogFormats): given to the watchdogs and clients it
	// starts and, in each start call, to the servers. Empty leaves it to
	// each process (text, unless its GOSSIPKV_LOG_FORMAT says otherwise).
	LogFormat config.LogFormat
	// Consistency, when set (the master's -consistency), overrides the
	// consistency of the servers' config file: each start call carries
	// it. Config.Consistency must say the same.
	Consistency string
	// Run is the run id (config.ValidName); empty draws a random one.
	// The processes this run starts belong to it and refuse every other
	// run, so two masters never drive each other's processes.
	Run string

	// isLocal decides which hosts are this machine; nil means isLocalHost.
	// Tests replace it to play a remote host on loopback.
	isLocal func(host string) bool
}

// Run starts the local watchdogs and clients that are not already
// answering, runs the script read from stdin line by line, stops what it
// started and returns an exit code (ExitOK, ExitFailed, ExitStart). A
// cancelled ctx (SIGINT, SIGTERM) stops the script between lines, and
// stabilize while it polls: the run then stops what it started and returns
// ExitInterrupted.
//
// When a master that is up (Up) holds the config's data directory, Run
// runs the script on that cluster instead, as Attach does, and says so on
// stderr: the cluster is there already, and a second one could not start
// on its ports and data directory anyway.
func Run(ctx context.Context, opts Options, stdin io.Reader) int {
	if opts.Run != "" {
		if err := config.ValidName(opts.Run); err != nil {
			fmt.Fprintf(opts.Stderr, "master: run id: %v\n", err)
			return ExitStart
		}
	}
	if c, err := dialControl(opts.Config.DataDir); err == nil {
		return attach(ctx, opts, c, stdin)
	}
	m := newMaster(opts)
	defer m.closeConns()
	t0 := time.Now()
	lock, err := lockDataDir(m.cfg.DataDir, Owner{Pid: os.Getpid(), Command: "run", Run: m.self.Run, Started: t0, Config: opts.ConfigPath})
	if err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) && inUse.Owner.Command == "up" {
			// It took the lock a moment ago and is opening its socket.
			if c, err := waitForControl(ctx, m.cfg.DataDir, inUse.Owner, m.startTimeout); err == nil {
				return attach(ctx, opts, c, stdin)
			}
		}
		if errors.As(err, &inUse) {
			base := m.freeBase()
			err = fmt.Errorf("%w: wait for it to finish, or give this run a data directory and ports of its own: `bin/master config -servers %d -clients %d -port %d -data-dir data-%d > my.yaml`, then `bin/master -config my.yaml`",
				err, len(m.cfg.Servers), len(m.cfg.Clients), base, base)
		}
		m.errf("%v", err)
		return ExitStart
	}
	defer lock.release()
	if !m.start(ctx, t0) {
		if ctx.Err() != nil {
			m.interrupted(ctx)
			return ExitInterrupted
		}
		return ExitStart
	}
	t1 := time.Now()
	code := m.runScript(ctx, stdin)
	elapsed := time.Since(t1)
	m.collectStats(m.view.ActiveIDs())
	m.shutdown()
	m.summary(elapsed)
	return m.finish(ctx, code, elapsed)
}

// start makes every helper process of the config answer (see startup)
// and says how many it started, since t0; on failure it says why, stops
// what it started and returns false.
func (m *master) start(ctx context.Context, t0 time.Time) bool {
	if err := m.startup(ctx); err != nil {
		m.errf("%v", err)
		m.shutdown()
		return false
	}
	if n := m.launch.count(); n > 0 {
		// The run id names this master in other masters' errors.
		m.notef("started %d processes in %.3f s (run %s of cluster %s, master pid %d)",
			n, time.Since(t0).Seconds(), m.self.Run, m.cfg.Cluster, os.Getpid())
	}
	return true
}

// master is the state of one run. Only Run's goroutine touches it; the
// fan-outs of a command (both ends of a cut, stabilize's polls) use only the
// Conns, which are safe for concurrent use.
type master struct {
	opts    Options
	cfg     *config.Config
	cfgName string // for "id 12 is not in config.yaml"
	out     *bufio.Writer
	launch  *launcher
	isLocal func(string) bool
	// self is the master on the control plane.
	self rpcconn.Identity

	rpcTimeout, startTimeout     time.Duration
	stabilizeTimeout, stabilPoll time.Duration

	// One Conn per process, made up front: the maps never change after
	// newMaster, so fan-out goroutines may read them.
	watchdogs map[uint32]*rpcconn.Conn // by server id
	servers   map[uint32]*rpcconn.Conn
	clients   map[uint32]*rpcconn.Conn

	view *linkView
	// started records the servers already started once in this run: only
	// their first start is fresh.
	started map[uint32]bool
	// The Raft group (linearizable mode, see raftGroupFor): its name, and
	// whether a server was started to begin it; raftMarkerChecked, that
	// the run has read or reset DATA_DIR/raft.group.
	raftGroupID       string
	raftGroupStarted  bool
	raftMarkerChecked bool
	// joined maps a client that has joined to the server it was last
	// pointed at; connected says whether that link is up.
	joined    map[uint32]uint32
	connected map[uint32]bool
	// skews is the clock skew the script gave each server (skewClock),
	// kept across restarts; deferred, what a paused server is to be told
	// when it resumes.
	skews    map[uint32]time.Duration
	deferred map[uint32]*deferredCalls

	tally

	// line is the script line being run, since lineStart; polls counts
	// the Status rounds of the current stabilize.
	line, polls int
	lineStart   time.Time
	met         *metrics
	hist        *history // nil without Options.Check
}

func newMaster(opts Options) *master {
	cfg := opts.Config
	name := filepath.Base(opts.ConfigPath)
	if opts.ConfigPath == "" {
		name = "config"
	}
	run := opts.Run
	if run == "" {
		run = rpcconn.NewRun()
	}
	m := &master{
		opts:      opts,
		cfg:       cfg,
		cfgName:   name,
		out:       bufio.NewWriter(opts.Stdout),
		launch:    &launcher{binDir: opts.BinDir, cfgPath: opts.ConfigPath, run: run, logFormat: opts.LogFormat, logDir: cfg.LogDir(), pids: pidFiles{PidDir(cfg.DataDir)}},
		isLocal:   opts.isLocal,
		self:      rpcconn.Identity{Cluster: cfg.Cluster, Run: run, Role: rpcconn.RoleMaster},
		watchdogs: map[uint32]*rpcconn.Conn{},
		servers:   map[uint32]*rpcconn.Conn{},
		clients:   map[uint32]*rpcconn.Conn{},
		view:      newLinkView(),
		started:   map[uint32]bool{},
		joined:    map[uint32]uint32{},
		connected: map[uint32]bool{},
		skews:     map[uint32]time.Duration{},
		deferred:  map[uint32]*deferredCalls{},
		met:       newMetrics(),
	}
	if opts.Check {
		m.hist = &history{start: time.Now()}
	}
	if m.isLocal == nil {
		m.isLocal = isLocalHost
	}
	t := cfg.Timing
	m.rpcTimeout = orDefault(t.RPCTimeout, defaultRPCTimeout)
	m.startTimeout = orDefault(t.StartTimeout, defaultStartTimeout)
	m.stabilizeTimeout = orDefault(t.StabilizeTimeout, defaultStabilizeTimeout)
	m.stabilPoll = orDefault(t.StabilizePoll, defaultStabilizePoll)

	// Servers sharing a watchdog (one per host) share its Conn.
	byAddr := map[string]*rpcconn.Conn{}
	for _, id := range cfg.ServerIDs() {
		s, _ := cfg.Server(id)
		addr := s.WatchdogAddr()
		if byAddr[addr] == nil {
			byAddr[addr] = rpcconn.New(m.self, addr, m.rpcTimeout)
		}
		m.watchdogs[id] = byAddr[addr]
		m.servers[id] = rpcconn.New(m.self, s.RPCAddr(), m.rpcTimeout)
	}
	// A client's own call to its server times out after rpc_timeout
	// (a paused server): the master waits longer, so that the client's
	// ERR_CONN, not the master's timeout, is the answer.
	for _, id := range cfg.ClientIDs() {
		c, _ := cfg.Client(id)
		m.clients[id] = rpcconn.New(m.self, c.RPCAddr(), m.rpcTimeout+clientMargin(m.rpcTimeout))
	}
	return m
}

// clientMargin is how much longer the master waits for a client than the
// client waits for its server.
func clientMargin(rpc time.Duration) time.Duration { return max(rpc/2, 500*time.Millisecond) }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// errf writes one "master: ..." line on stderr.
func (m *master) errf(format string, args ...any) {
	fmt.Fprintf(m.opts.Stderr, "master: "+format+"\n", args...)
}

// notef writes a line that is not an error (progress, a summary, a
// figure), which Quiet leaves out.
func (m *master) notef(format string, args ...any) {
	if !m.opts.Quiet {
		m.errf(format, args...)
	}
}

// lineError reports a script line that failed, after whatever the line
// printed (its `> LINE` echo above all), so that on a terminal showing both
// streams the error follows the line it belongs to.
func (m *master) lineError(err error) {
	_ = m.out.Flush() // a failed flush is reported at the end of the line
	m.errf("%v", err)
}

// endpoint is a port of the config that the master checks before the
// script starts: a helper process (watchdog, client) it needs answering,
// or a server's rpc port, which must not be held by another run.
type endpoint struct {
	binary string // "watchdog", "client" or "server": its role and its binary's name
	id     uint32
	host   string
	port   int
	conn   *rpcconn.Conn
	what   string // "watchdog of server 3", "client 7"
}

// startup pings every watchdog and client of the config at once and starts
// the local ones that do not answer. A port answered by a process of
// another cluster or run, or by something that is not gossipkv, fails it:
// this master must not drive (or be mistaken for) another's processes.
func (m *master) startup(ctx context.Context) error {
	var eps []endpoint
	seen := map[*rpcconn.Conn]bool{}
	for _, id := range m.cfg.ServerIDs() {
		c := m.watchdogs[id]
		if seen[c] {
			continue
		}
		seen[c] = true
		s, _ := m.cfg.Server(id)
		eps = append(eps, endpoint{"watchdog", id, s.Host, s.WatchdogPort, c, fmt.Sprintf("watchdog of server %d", id)})
	}
	for _, id := range m.cfg.ClientIDs() {
		c, _ := m.cfg.Client(id)
		eps = append(eps, endpoint{"client", id, c.Host, c.RPCPort, m.clients[id], fmt.Sprintf("client %d", id)})
	}
	// No server of this run runs yet; a local server port that answers
	// belongs to someone else. (Remote ones are not probed: a host that
	// drops packets would hold the start for a whole rpc timeout.)
	for _, id := range m.cfg.ServerIDs() {
		if s, _ := m.cfg.Server(id); m.isLocal(s.Host) {
			eps = append(eps, endpoint{"server", id, s.Host, s.RPCPort, m.servers[id], fmt.Sprintf("server %d", id)})
		}
	}
	errs := make([]error, len(eps))
	var wg sync.WaitGroup
	for i := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if eps[i].binary == "server" {
				errs[i] = m.probe(eps[i])
			} else {
				errs[i] = m.ensure(ctx, eps[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, m.portAdvice(errs))...)
}

// pingMethod is the Ping of an endpoint's role.
func pingMethod(binary string) string {
	switch binary {
	case "client":
		return api.ClientPing
	case "server":
		return api.ServerPing
	}
	return api.WatchdogPing
}

// probe checks a server port that nothing of this run holds yet: only
// another run's process or a stranger there is an error.
func (m *master) probe(ep endpoint) error {
	var reply api.PingReply
	err := ep.conn.Call(pingMethod(ep.binary), api.Empty{}, &reply)
	if held := m.heldBy(ep, err); held != nil {
		return held
	}
	return nil
}

// ensure makes ep answer: it is left alone if it already does, started if
// it is local, and an error otherwise.
func (m *master) ensure(ctx context.Context, ep endpoint) error {
	method := pingMethod(ep.binary)
	var reply api.PingReply
	err := ep.conn.Call(method, api.Empty{}, &reply)
	if err == nil {
		if reply.Role != ep.binary {
			return fmt.Errorf("%s at %s: a %q process answers there", ep.what, ep.conn.Addr(), reply.Role)
		}
		return nil
	}
	if held := m.heldBy(ep, err); held != nil {
		return held
	}
	if !m.isLocal(ep.host) {
		return fmt.Errorf("%s at %s is not answering, and host %s is not this machine: start it there (%v)",
			ep.what, ep.conn.Addr(), ep.host, err)
	}
	p, err := m.launch.start(ep.binary, ep.id)
	if err != nil {
		return fmt.Errorf("%s: %w", ep.what, err)
	}
	deadline := time.Now().Add(m.startTimeout)
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	for {
		err = ep.conn.CallTimeout(method, api.Empty{}, &reply, m.rpcTimeout)
		if err == nil {
			return nil
		}
		var re *rpcconn.RefusedError
		if errors.As(err, &re) {
			// Another master's process took the port first (two masters
			// starting at once); ours cannot bind it.
			return m.heldBy(ep, err)
		}
		if p.exited() {
			// Another master's process may have bound the port first
			// (two masters starting at once): who answers there now
			// says more than how ours ended.
			err = ep.conn.CallTimeout(method, api.Empty{}, &reply, m.rpcTimeout)
			if err == nil {
				return nil
			}
			if held := m.heldBy(ep, err); held != nil {
				return held
			}
			return fmt.Errorf("%s: %w%s (see %s)", ep.what, p.exitError(), m.whyExited(ep, p),
				filepath.Join(m.launch.logDir, p.name+".stderr"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s at %s: not answering %v after it was started: %v", ep.what, ep.conn.Addr(), m.startTimeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", ep.what, ctx.Err())
		case <-tick.C:
		}
	}
}

// shutdown kills the servers this run started, through their watchdogs,
// then stops the watchdogs and clients it started. It reports whether
// every server was killed (each one that was not has an error line).
func (m *master) shutdown() bool {
	live := m.view.LiveIDs()
	errs := make([]error, len(live))
	var wg sync.WaitGroup
	for i, id := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.watchdogs[id].CallTimeout(api.WatchdogKill, api.KillArgs{ServerID: id}, &api.Empty{}, m.startTimeout)
		}()
	}
	wg.Wait()
	ok := true
	for i, err := range errs {
		if err != nil {
			ok = false
			m.errf("at exit: kill server %d: %v", live[i], err)
		} else {
			m.view.Kill(live[i])
			m.launch.pids.remove(fmt.Sprintf("server-%d", live[i]))
		}
	}
	m.launch.stopAll(stopGrace)
	return ok
}

func (m *master) closeConns() {
	for _, set := range []map[uint32]*rpcconn.Conn{m.watchdogs, m.servers, m.clients} {
		for _, c := range set {
			c.Close()
		}
	}
}

// tally counts the lines of one script, for its summary.
type tally struct {
	commands, failures int
	stabilizes         []time.Duration
}

// item is what the script reader hands the run loop.
type item struct {
	cmd script.Command
	err error
}

// lineReader reads a script in a goroutine, one command when asked: the
// next line is read only once the last has run, so that a terminal's
// prompt (or an attached master's) appears when the master is ready for
// it. Reading stdin may block forever (a terminal); the goroutine lets a
// signal end the run between lines all the same.
type lineReader struct {
	items chan item
	want  chan struct{}
	stop  chan struct{}
}

func readLines(r io.Reader) *lineReader {
	lr := &lineReader{items: make(chan item), want: make(chan struct{}, 1), stop: make(chan struct{})}
	go func() {
		sr := script.NewReader(r)
		for {
			select {
			case <-lr.want:
			case <-lr.stop:
				return
			}
			c, err := sr.Next()
			select {
			case lr.items <- item{c, err}:
			case <-lr.stop:
				return
			}
			var se *script.Error
			if err != nil && !errors.As(err, &se) {
				return
			}
		}
	}()
	return lr
}

// next asks for one more command; it is a no-op while one is asked for.
func (lr *lineReader) next() {
	select {
	case lr.want <- struct{}{}:
	default:
	}
}

// close lets the goroutine go, unless it is blocked in a read.
func (lr *lineReader) close() { close(lr.stop) }

// runScript runs every line of stdin and returns ExitOK or ExitFailed.
func (m *master) runScript(ctx context.Context, stdin io.Reader) int {
	lr := readLines(stdin)
	defer lr.close()
	code := ExitOK
	for {
		// A line that an interrupt cut short is the last.
		if ctx.Err() != nil {
			m.interrupted(ctx)
			return ExitInterrupted
		}
		lr.next()
		var it item
		select {
		case <-ctx.Done():
			m.interrupted(ctx)
			return ExitInterrupted
		case it = <-lr.items:
		}
		failed, end := m.step(ctx, it)
		if failed {
			code = ExitFailed
		}
		if end {
			if it.err != io.EOF && ctx.Err() != nil {
				return ExitInterrupted // the read was cut short, and step said so
			}
			return code
		}
	}
}

// interrupted says that ctx ended the script, and why.
func (m *master) interrupted(ctx context.Context) {
	m.errf("interrupted: %v", context.Cause(ctx))
}

// step runs one item of a script: it reports whether the line failed and
// whether the script ends here (its end, or a read or write error).
func (m *master) step(ctx context.Context, it item) (failed, end bool) {
	if it.err == io.EOF {
		return false, true
	}
	var se *script.Error
	switch {
	case errors.As(it.err, &se):
		m.commands++
		m.failures++
		failed = true
		if m.opts.Echo {
			m.echo(se.Text)
		}
		m.lineError(se)
	case it.err != nil && ctx.Err() != nil:
		// The read was cut short by the interrupt itself (Ctrl-C at a
		// prompt).
		m.interrupted(ctx)
		return true, true
	case it.err != nil:
		m.errf("reading the script: %v", it.err)
		return true, true
	default:
		m.commands++
		if m.opts.Echo {
			m.echo(it.cmd.Text)
		}
		if err := m.exec(ctx, it.cmd); err != nil {
			m.failures++
			failed = true
			// script.Error's format clips a line carrying a huge value.
			m.lineError(&script.Error{Line: it.cmd.Line, Text: it.cmd.Text, Msg: err.Error()})
		}
	}
	// Flushing per line keeps the transcript whole up to the last line
	// run even if the master is killed.
	if err := m.out.Flush(); err != nil {
		m.errf("writing stdout: %v", err)
		return true, true
	}
	return failed, false
}

func (m *master) echo(text string) {
	m.out.WriteString("> ")
	m.out.WriteString(text)
	m.out.WriteByte('\n')
}

// summary prints the run's counts and timings on stderr.
func (m *master) summary(elapsed time.Duration) {
	secs := elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(m.commands) / secs
	}
	m.notef("%d commands, %d errors, %.3f s, %.1f commands/s", m.commands, m.failures, secs, rate)
	if n := len(m.stabilizes); n > 0 {
		ds := append([]time.Duration(nil), m.stabilizes...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		var total time.Duration
		for _, d := range ds {
			total += d
		}
		m.notef("%d stabilize: total %.3f s, median %.3f s, max %.3f s",
			n, total.Seconds(), ds[n/2].Seconds(), ds[n-1].Seconds())
	}
}
