package master

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"gossipkv/pkg/config"
)

// Up starts the cluster of the config as a run would (the local watchdogs
// and clients that are not answering), joins every server, points client
// number i (in id order) at server number i mod n, waits until they
// converge, prints every server's endpoints on Stdout, and keeps the
// cluster up until ctx is done, when it stops everything it started. While
// up, it runs scripts that other masters send it (Attach, or Run on the
// same data directory), one script at a time, each in full, in its own
// state: the processes it started and the cluster's history since. Lines
// from local (a terminal's prompt; nil for none) run one at a time between
// them; the end of local stops the cluster as ctx does.
//
// It returns ExitOK once it has stopped the cluster, whatever stopped it:
// a signal is how it is meant to end. ExitFailed means a server could not
// be stopped (its error line says which); ExitStart that the cluster did
// not come up, or that another master holds the data directory. Failed
// lines at the prompt do not change it.
func Up(ctx context.Context, opts Options, local io.Reader) int {
	if opts.Run != "" {
		if err := config.ValidName(opts.Run); err != nil {
			fmt.Fprintf(opts.Stderr, "master: run id: %v\n", err)
			return ExitStart
		}
	}
	m := newMaster(opts)
	defer m.closeConns()
	t0 := time.Now()
	lock, err := lockDataDir(m.cfg.DataDir, Owner{Pid: os.Getpid(), Command: "up", Run: m.self.Run, Started: t0, Config: opts.ConfigPath})
	if err != nil {
		var inUse *InUseError
		if errors.As(err, &inUse) {
			base := m.freeBase()
			err = fmt.Errorf("%w: stop it first, or give this cluster ports and a data directory of its own: `bin/master config -servers %d -clients %d -port %d -data-dir data-%d > my.yaml`, then `bin/master up -config my.yaml`",
				err, len(m.cfg.Servers), len(m.cfg.Clients), base, base)
		}
		m.errf("%v", err)
		return ExitStart
	}
	defer lock.release()
	// The socket opens before the cluster starts: a script sent while it
	// starts waits for it instead of finding nothing there.
	cs, err := listenControl(ctx, m.cfg.DataDir, answer{
		Version: controlVersion, Cluster: m.cfg.Cluster, Run: m.self.Run, Pid: os.Getpid(), Config: opts.ConfigPath,
		Consistency: m.cfg.Consistency,
	})
	if err != nil {
		m.errf("%v", err)
		return ExitStart
	}
	defer cs.close()
	if !m.start(ctx, t0) {
		return ExitStart
	}
	if err := m.bringUp(ctx); err != nil {
		m.errf("the cluster did not come up: %v", err)
		m.shutdown()
		return ExitStart
	}
	m.errf("up in %.3f s", time.Since(t0).Seconds())
	m.printEndpoints()
	if err := m.out.Flush(); err != nil {
		m.errf("writing stdout: %v", err)
	}
	cs.setReady()

	why := m.serveUp(ctx, cs, local)
	m.errf("stopping the cluster: %s", why)
	if !m.shutdown() {
		return ExitFailed
	}
	m.errf("stopped after %.1f s up (attached scripts run: %d)", time.Since(t0).Seconds(), cs.sessions())
	return ExitOK
}

// bringUp joins every server, then every client (client number i to server
// number i mod n), then waits until the servers converge.
func (m *master) bringUp(ctx context.Context) error {
	sids := m.cfg.ServerIDs()
	for _, id := range sids {
		if err := m.joinServer(id); err != nil {
			return fmt.Errorf("joinServer %d: %w", id, err)
		}
	}
	for i, cid := range m.cfg.ClientIDs() {
		sid := sids[i%len(sids)]
		if err := m.joinClient(cid, sid); err != nil {
			return fmt.Errorf("joinClient %d %d: %w", cid, sid, err)
		}
	}
	if err := m.stabilize(ctx); err != nil {
		return fmt.Errorf("stabilize: %w", err)
	}
	return nil
}

// serverColumns are the endpoints of a server in the table Up prints, one
// column each: a new front of the server is one more line here.
var serverColumns = []struct {
	name string
	port func(config.Server) int
}{
	{"rpc", func(s config.Server) int { return s.RPCPort }},
	{"redis", func(s config.Server) int { return s.RESPPort }},
	{"http", func(s config.Server) int { return s.HTTPPort }},
	{"memcache", func(s config.Server) int { return s.MemcachePort }},
}

// printEndpoints writes what a user of the cluster needs: who runs it,
// where each server and client answers, how to send a script and how to
// stop it.
func (m *master) printEndpoints() {
	dataDir, _ := filepath.Abs(m.cfg.DataDir)
	fmt.Fprintf(m.out, "cluster %q is up: run %s, master pid %d\n", m.cfg.Cluster, m.self.Run, os.Getpid())
	fmt.Fprintf(m.out, "data directory %s, config %s\n\n", dataDir, m.opts.ConfigPath)
	tw := tabwriter.NewWriter(m.out, 0, 0, 2, ' ', 0)
	head := []string{"server"}
	for _, c := range serverColumns {
		head = append(head, c.name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, id := range m.cfg.ServerIDs() {
		s, _ := m.cfg.Server(id)
		row := []string{strconv.FormatUint(uint64(id), 10)}
		for _, c := range serverColumns {
			row = append(row, hostPort(s.Host, c.port(s)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if cids := m.cfg.ClientIDs(); len(cids) > 0 {
		fmt.Fprintln(m.out)
		fmt.Fprintln(tw, "client\trpc\tserver")
		for _, id := range cids {
			c, _ := m.cfg.Client(id)
			fmt.Fprintf(tw, "%d\t%s\t%d\n", id, hostPort(c.Host, c.RPCPort), m.joined[id])
		}
		tw.Flush()
	}
	self, err := os.Executable()
	if err != nil {
		self = filepath.Join(m.opts.BinDir, "master")
	}
	run := fmt.Sprintf("%s -config %s", self, m.opts.ConfigPath)
	fmt.Fprintf(m.out, "\nrun a script:  %s < SCRIPT\n", run)
	fmt.Fprintf(m.out, "or type one:   %s (at a terminal)\n", run)
	fmt.Fprintf(m.out, "stop:          Ctrl-C here, or kill -INT %d\n", os.Getpid())
}

// hostPort is host:port, or "-" for a port that is off (0).
func hostPort(host string, port int) string {
	if port == 0 {
		return "-"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// serveUp runs attached scripts and the lines of local until ctx is done
// or local ends, and says which ended it.
func (m *master) serveUp(ctx context.Context, cs *controlServer, local io.Reader) string {
	var items <-chan item
	var lr *lineReader
	if local != nil {
		lr = readLines(local)
		defer lr.close()
		lr.next()
		items = lr.items
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx).Error()
		case s := <-cs.queue:
			cs.setRunning(s)
			m.runAttached(ctx, s)
			cs.setRunning(nil)
		case it := <-items:
			_, end := m.step(ctx, it)
			if ctx.Err() != nil {
				return context.Cause(ctx).Error()
			}
			if end {
				return "end of input"
			}
			lr.next()
		}
	}
}

// runAttached runs the script of an attached master with its output sent
// back to it, and tells it the exit code.
func (m *master) runAttached(upCtx context.Context, s *attachSession) {
	t0 := time.Now()
	saved := m.redirect(stream{s.fw, frameStdout}, stream{s.fw, frameStderr}, s.hello.Echo)
	outer := m.tally
	m.tally = tally{}
	code := m.runScript(s.ctx, s)
	if upCtx.Err() != nil {
		m.errf("the master that is up is stopping the cluster")
	}
	if code == ExitInterrupted {
		// Neither the attacher's signal (it exits on its own) nor the
		// cluster's end: a script cut short failed.
		code = ExitFailed
	}
	elapsed := time.Since(t0)
	if !s.hello.Quiet {
		m.summary(elapsed)
	}
	m.out.Flush()
	ran := m.tally
	m.tally = outer
	m.restore(saved)
	_ = s.fw.send(frameExit, []byte{byte(code)})
	close(s.done)
	m.errf("ran the script of pid %d: %d commands, %d errors, %.3f s, exit %d",
		s.hello.Pid, ran.commands, ran.failures, elapsed.Seconds(), code)
}

// outputs are where a script's output goes.
type outputs struct {
	out    *bufio.Writer
	stderr io.Writer
	echo   bool
}

// redirect sends the output of the commands run from now on to stdout and
// stderr, and returns what restore puts back.
func (m *master) redirect(stdout, stderr io.Writer, echo bool) outputs {
	saved := outputs{m.out, m.opts.Stderr, m.opts.Echo}
	m.out, m.opts.Stderr, m.opts.Echo = bufio.NewWriter(stdout), stderr, echo
	return saved
}

func (m *master) restore(o outputs) { m.out, m.opts.Stderr, m.opts.Echo = o.out, o.stderr, o.echo }

// controlServer takes attached masters on the control socket: it answers
// each hello and hands the accepted ones to Up's loop, one at a time.
type controlServer struct {
	ln   net.Listener
	ctx  context.Context // Up's: a script's context derives from it
	self answer
	// queue hands a session to Up's loop; closing is closed when Up
	// stops taking them.
	queue   chan *attachSession
	closing chan struct{}
	wg      sync.WaitGroup

	// mu guards the fields below.
	mu      sync.Mutex
	conns   map[net.Conn]bool
	ready   bool           // the cluster is up
	running *attachSession // the script Up's loop is running
	count   int            // scripts run
}

// maxSocketPath is what a unix socket's path may hold (sun_path less its
// terminating NUL, on Linux).
const maxSocketPath = 107

// listenControl opens the control socket of dataDir, replacing one a
// master that died left behind (the caller holds the data directory's
// lock, so no live master uses it).
func listenControl(ctx context.Context, dataDir string, self answer) (*controlServer, error) {
	path := ControlPath(dataDir)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: the path is longer than a unix socket's %d bytes: give the config a shorter data_dir", path, maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cs := &controlServer{
		ln: ln, ctx: ctx, self: self,
		queue: make(chan *attachSession), closing: make(chan struct{}),
		conns: map[net.Conn]bool{},
	}
	cs.wg.Add(1)
	go cs.accept()
	return cs, nil
}

func (cs *controlServer) accept() {
	defer cs.wg.Done()
	for {
		c, err := cs.ln.Accept()
		if err != nil {
			return // closed
		}
		cs.mu.Lock()
		cs.conns[c] = true
		cs.mu.Unlock()
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			cs.handle(c)
			cs.mu.Lock()
			delete(cs.conns, c)
			cs.mu.Unlock()
			c.Close()
		}()
	}
}

// handle answers one attacher and waits until Up's loop has run its
// script, or it went away, or Up stopped.
func (cs *controlServer) handle(c net.Conn) {
	c.SetDeadline(time.Now().Add(controlHelloTimeout))
	kind, body, err := readFrame(c)
	if err != nil || kind != frameHello {
		return // not an attacher: nothing to answer
	}
	var h hello
	ans := cs.self
	switch {
	case json.Unmarshal(body, &h) != nil:
		return
	case h.Version != controlVersion:
		ans.Error = fmt.Sprintf("it speaks version %d of the attach protocol, this master %d: use masters built from the same source", controlVersion, h.Version)
	case h.Cluster != cs.self.Cluster:
		ans.Error = fmt.Sprintf("it runs cluster %q, and this master's config names cluster %q", cs.self.Cluster, h.Cluster)
	case h.Consistency != "" && h.Consistency != cs.self.Consistency:
		ans.Error = fmt.Sprintf("it runs consistency %s, and this master asks for %s: leave -consistency out to run the script there, or stop that master and start one with -consistency %s", cs.self.Consistency, h.Consistency, h.Consistency)
	}
	select {
	case <-cs.closing:
		ans.Error = "it is stopping the cluster"
	default:
	}
	if err := writeJSONFrame(c, frameAnswer, ans); err != nil || ans.Error != "" {
		return
	}
	c.SetDeadline(time.Time{})
	s := newAttachSession(cs.ctx, c, h)
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		s.readFrames(c)
	}()
	select {
	case cs.queue <- s:
	default:
		if !h.Quiet {
			_, _ = stream{s.fw, frameStderr}.Write([]byte("master: " + cs.waitingFor() + "\n"))
		}
		select {
		case cs.queue <- s:
		case <-s.gone:
			return
		case <-cs.closing:
			_, _ = stream{s.fw, frameStderr}.Write([]byte("master: the master that is up stopped the cluster before this script ran\n"))
			_ = s.fw.send(frameExit, []byte{ExitStart})
			return
		}
	}
	<-s.done
}

// waitingFor says, to an attacher that must wait, what for.
func (cs *controlServer) waitingFor() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case !cs.ready:
		return "waiting for the cluster to come up"
	case cs.running != nil:
		return fmt.Sprintf("waiting for the script of pid %d to finish (scripts run one at a time)", cs.running.hello.Pid)
	}
	return "waiting for the line typed at the prompt of the master that is up to finish"
}

func (cs *controlServer) setReady() {
	cs.mu.Lock()
	cs.ready = true
	cs.mu.Unlock()
}

func (cs *controlServer) setRunning(s *attachSession) {
	cs.mu.Lock()
	cs.running = s
	if s != nil {
		cs.count++
	}
	cs.mu.Unlock()
}

func (cs *controlServer) sessions() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.count
}

// close stops taking scripts: those waiting are told they did not run,
// and every connection is gone when it returns. Up's loop must have
// stopped running scripts.
func (cs *controlServer) close() {
	close(cs.closing)
	cs.ln.Close()
	cs.wg.Wait()
}

// errAttacherGone ends the script of an attacher that went away.
var errAttacherGone = errors.New("the attached master went away")

// attachSession is one attached script, as Up's loop reads it: an
// io.Reader of the script that asks the attacher for more (frameReady)
// whenever it has run everything it was sent.
type attachSession struct {
	hello hello
	fw    *frameWriter
	// ctx ends when Up's does or the attacher goes away.
	ctx    context.Context
	cancel context.CancelFunc
	in     chan []byte   // script bytes; closed at the script's end
	gone   chan struct{} // closed when the connection ends
	done   chan struct{} // closed by Up's loop once the script has run

	// Read's state, only touched by the script reader.
	buf []byte
	eof bool
}

func newAttachSession(ctx context.Context, c net.Conn, h hello) *attachSession {
	sctx, cancel := context.WithCancel(ctx)
	return &attachSession{
		hello: h, fw: &frameWriter{c: c}, ctx: sctx, cancel: cancel,
		in: make(chan []byte), gone: make(chan struct{}), done: make(chan struct{}),
	}
}

// readFrames reads what the attacher sends until the connection ends,
// which cancels the script if it is still running.
func (s *attachSession) readFrames(c net.Conn) {
	defer s.cancel()
	defer close(s.gone)
	ended := false
	for {
		kind, body, err := readFrame(c)
		if err != nil {
			return
		}
		switch {
		case kind == frameData && !ended:
			select {
			case s.in <- body:
			case <-s.ctx.Done():
				return
			}
		case kind == frameEnd && !ended:
			ended = true
			close(s.in)
		default:
			return // out of protocol: drop it
		}
	}
}

func (s *attachSession) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.eof {
			return 0, io.EOF
		}
		if err := s.fw.send(frameReady, nil); err != nil {
			return 0, err
		}
		select {
		case b, ok := <-s.in:
			if !ok {
				s.eof = true
			}
			s.buf = b
		case <-s.gone:
			return 0, errAttacherGone
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
