package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/config"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/runstats"
)

// The master runs its script one line at a time, so a script cannot have
// two clients putting at once. In bench concurrent the master still starts
// the servers, joins the clients to them, runs the stabilize and collects
// the servers' counters, but bench issues the puts itself: it starts the
// client processes (without a run of their own they serve any run of the
// cluster, so both the master and bench may call them), and one goroutine
// per client calls that client's Client.Put over net/rpc, as the master
// does for a script's put, one put after another. Every put takes the
// path of a script's put: bench → client process → its server → the
// server's fdatasync'd log append → the answer back.

// Placements of the clients of bench concurrent.
const (
	// Spread: client i on server i mod the number of servers.
	Spread = "spread"
	// OneServer: every client on server 0.
	OneServer = "one"
)

// Concurrent is one point of bench concurrent: Servers servers, Clients
// clients placed as Placement says, issuing Puts puts of ValueSize-byte
// values between them, all clients at once, each its share one after
// another; then one stabilize.
//
// The total is fixed, not the puts per client, so that every point moves
// the same data and its stabilize has the same to converge. Every put
// writes a key of its own (client and sequence number): each is then a
// write of its own in every server's log and in every replication batch,
// so what group commit gains comes from concurrent writes alone, never
// from overwrites of one key superseding each other, and every
// acknowledged put can be looked for afterwards.
type Concurrent struct {
	Servers, Clients, Puts, ValueSize int
	Placement                         string
	Seed                              uint64
	// Verify: after the stabilize, every server's store must hold every
	// acknowledged put (printStore of each server; its cost is in the
	// run's CPU figures, so benchmarks leave it off).
	Verify bool
}

// readyKey is what the master is asked for once every client has joined:
// its answer on stdout says that the lines before it have run.
const readyKey = "bench-ready"

func (c Concurrent) check() error {
	if err := checkLayout(c.Servers, c.Clients, c.Puts); err != nil {
		return err
	}
	if c.ValueSize < 1 {
		return fmt.Errorf("value size %d: need at least 1 byte", c.ValueSize)
	}
	if c.Placement != Spread && c.Placement != OneServer {
		return fmt.Errorf("placement %q: want %s or %s", c.Placement, Spread, OneServer)
	}
	return nil
}

// serverOf is the server client i (0-based) is joined to.
func (c Concurrent) serverOf(i int) int {
	if c.Placement == OneServer {
		return 0
	}
	return i % c.Servers
}

// share is how many of the puts client i issues: as even as can be, the
// first clients one more.
func (c Concurrent) share(i int) int {
	n := c.Puts / c.Clients
	if i < c.Puts%c.Clients {
		n++
	}
	return n
}

// key is the key of client i's j-th put.
func concurrentKey(i, j int) []byte { return fmt.Appendf(nil, "c%d-%d", i, j) }

// values draws client i's values, one per put, before the clock starts.
func (c Concurrent) values(i int) [][]byte {
	rng := rand.New(rand.NewPCG(c.Seed, uint64(i)))
	vs := make([][]byte, c.share(i))
	for j := range vs {
		v := make([]byte, c.ValueSize)
		for k := range v {
			v[k] = valueLetters[rng.IntN(len(valueLetters))]
		}
		vs[j] = v
	}
	return vs
}

// WriteSetup prints the lines the master runs before the puts: the servers
// start, every client joins its server, and the first client asks for
// readyKey.
func (c Concurrent) WriteSetup(w io.Writer) error {
	if err := c.check(); err != nil {
		return err
	}
	g := newGen(w, c.Seed)
	g.joinOn(c.Servers, c.Clients, c.serverOf)
	g.line("get %d %s", c.Servers, readyKey)
	return g.w.Flush()
}

// WriteEnd prints the lines after the puts: the stabilize and, to verify,
// every server's store.
func (c Concurrent) WriteEnd(w io.Writer) error {
	g := newGen(w, c.Seed)
	g.line("stabilize")
	if c.Verify {
		for s := range c.Servers {
			g.line("printStore %d", s)
		}
	}
	return g.w.Flush()
}

// driver runs a workload that a script cannot express: it writes the
// master's stdin (the master reads the config at cfgPath) and reads its
// transcript, and returns what it measured of the puts it issued itself.
// Closing stdin ends the master's script.
type driver func(ctx context.Context, cfgPath string, stdin io.WriteCloser, stdout io.Reader) (*driven, error)

// driven is what a driver measured of the puts it issued.
type driven struct {
	acked, failed int
	// span is from the first put issued to the last one answered.
	span time.Duration
	// latency has one sample per acknowledged put.
	latency []time.Duration
	// cpu is bench's own rusage while it issued the puts.
	cpu Usage
	// errs has the first failure of each client that had one.
	errs []error
}

// fill puts what the driver measured into r, whose other figures are the
// master's s: the master issued no put, so the per-put figures come from
// the servers' counters over the driver's acknowledged puts.
func (d *driven) fill(r *Result, s *Stats) {
	r.PutsPerS = 0
	if d.span > 0 {
		r.PutsPerS = float64(d.acked) / d.span.Seconds()
	}
	lat := runstats.LatencyOf(d.latency)
	r.PutP50Ms, r.PutP99Ms = lat.P50, lat.P99
	r.Errors += d.failed
	var t api.StatsReply
	for _, sv := range s.Servers {
		t.Puts += sv.Stats.Puts
		t.Fsyncs += sv.Stats.Fsyncs
		t.Batches += sv.Stats.Batches
		t.Bytes += sv.Stats.Bytes
		t.Writes += sv.Stats.Writes
		t.Acks += sv.Stats.Acks
		t.Deltas += sv.Stats.Deltas
	}
	r.ServerPuts = int(t.Puts)
	if d.acked <= 0 {
		return
	}
	n := float64(d.acked)
	r.MsgsPerPut, r.WritesPerPut = float64(t.Batches)/n, float64(t.Writes)/n
	r.AcksPerPut, r.DeltasPerPut = float64(t.Acks)/n, float64(t.Deltas)/n
	r.BytesPerPut, r.FsyncsPerPut = float64(t.Bytes)/n, float64(t.Fsyncs)/n
}

// drive is c's driver: the setup lines, the puts once the master has run
// them, then the end lines.
func (c Concurrent) drive(ctx context.Context, cfgPath string, stdin io.WriteCloser, stdout io.Reader) (*driven, error) {
	defer stdin.Close()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	// The setup lines name client i Servers+i, the id the layout gives it.
	if len(cfg.Clients) != c.Clients || len(cfg.Servers) != c.Servers || cfg.Clients[0].ID != uint32(c.Servers) {
		return nil, fmt.Errorf("%s does not lay out %d servers and clients %d-%d", cfgPath, c.Servers, c.Servers, c.Servers+c.Clients-1)
	}
	lines, stop := transcript(stdout, c.ValueSize)
	defer stop()
	if err := c.WriteSetup(stdin); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, lines); err != nil {
		return nil, err
	}
	d, results, err := c.put(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.WriteEnd(stdin); err != nil {
		return nil, err
	}
	if !c.Verify {
		return d, nil
	}
	stdin.Close()
	return d, c.verify(lines, results)
}

// transcript delivers the master's stdout line by line until its end (a
// line may hold a whole value); stop lets the rest be read and dropped.
func transcript(r io.Reader, valueSize int) (<-chan string, func()) {
	lines := make(chan string)
	done := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), valueSize+(1<<20))
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				io.Copy(io.Discard, r)
				return
			}
		}
	}()
	var once sync.Once
	return lines, func() { once.Do(func() { close(done) }) }
}

// readyTimeout bounds the wait for the servers to start and every client
// to join; a joinClient that failed leaves the ready line unanswered.
const readyTimeout = 2 * time.Minute

// waitReady reads the transcript until the answer to readyKey.
func waitReady(ctx context.Context, lines <-chan string) error {
	timeout := time.After(readyTimeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return errors.New("the master ended before every client had joined")
			}
			if v, ok := strings.CutPrefix(l, readyKey+":"); ok {
				if v != api.ErrKey.String() {
					return fmt.Errorf("the first client's get of %s answered %s, want %s", readyKey, v, api.ErrKey)
				}
				return nil
			}
		case <-timeout:
			return fmt.Errorf("no answer to the get of %s after %v: a join failed (see master.stderr in the data directory)", readyKey, readyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// clientResult is what one client's goroutine did.
type clientResult struct {
	values      [][]byte
	acked       []bool
	latency     []time.Duration
	first, last time.Time
	failed      int
	err         error // the first failure, for the log
}

// put runs every client's share at once and returns what was measured.
func (c Concurrent) put(ctx context.Context, cfg *config.Config) (*driven, []clientResult, error) {
	self := rpcconn.Identity{Cluster: cfg.Cluster, Role: "bench"}
	// A client waits up to the rpc timeout for its server; bench waits
	// longer, so that it gets the client's answer rather than its own
	// timeout.
	timeout := 2 * cfg.Timing.RPCTimeout
	conns := make([]*rpcconn.Conn, c.Clients)
	results := make([]clientResult, c.Clients)
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
	}()
	for i := range c.Clients {
		conns[i] = rpcconn.New(self, cfg.Clients[i].RPCAddr(), timeout)
		// The dial and the handshake happen here, before the clock starts,
		// as the master's happen at its start.
		var reply api.PingReply
		if err := conns[i].Call(api.ClientPing, api.Empty{}, &reply); err != nil {
			return nil, nil, fmt.Errorf("client %d: %w", cfg.Clients[i].ID, err)
		}
		results[i] = clientResult{values: c.values(i), acked: make([]bool, c.share(i))}
		results[i].latency = make([]time.Duration, 0, c.share(i))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res := &results[i]
			for j, v := range res.values {
				if ctx.Err() != nil {
					res.failed += len(res.values) - j
					return
				}
				var reply api.ClientReply
				t0 := time.Now()
				err := conns[i].Call(api.ClientPut, api.ClientPutArgs{Key: concurrentKey(i, j), Value: v}, &reply)
				t1 := time.Now()
				if j == 0 {
					res.first = t0
				}
				res.last = t1
				if err == nil && reply.Status != api.OK {
					err = fmt.Errorf("%s: %s", reply.Status, reply.Reason)
				}
				if err != nil {
					res.failed++
					if res.err == nil {
						res.err = fmt.Errorf("client %d, put %d: %w", cfg.Clients[i].ID, j, err)
					}
					continue
				}
				res.acked[j] = true
				res.latency = append(res.latency, t1.Sub(t0))
			}
		}()
	}
	before, _ := runstats.SelfUsage()
	close(start)
	wg.Wait()
	after, _ := runstats.SelfUsage()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}

	d := &driven{cpu: after.Sub(before)}
	var first, last time.Time
	for _, res := range results {
		if res.err != nil {
			d.errs = append(d.errs, fmt.Errorf("%d failed puts, the first: %w", res.failed, res.err))
		}
		if len(res.values) == 0 {
			continue
		}
		if first.IsZero() || res.first.Before(first) {
			first = res.first
		}
		if res.last.After(last) {
			last = res.last
		}
		d.acked += len(res.latency)
		d.failed += res.failed
		d.latency = append(d.latency, res.latency...)
	}
	d.span = last.Sub(first)
	return d, results, nil
}

// verify reads the transcript of the end lines to its end: every server's
// store must hold every acknowledged put's value, and no key that was never
// put. A failed put may or may not have taken effect.
func (c Concurrent) verify(lines <-chan string, results []clientResult) error {
	want := map[string]string{}
	issued := map[string]bool{}
	for i, res := range results {
		for j, v := range res.values {
			k := string(concurrentKey(i, j))
			issued[k] = true
			if res.acked[j] {
				want[k] = string(v)
			}
		}
	}
	stores := map[string]map[string]string{}
	var cur map[string]string
	for l := range lines {
		if rest, ok := strings.CutPrefix(l, "> printStore "); ok {
			cur = map[string]string{}
			stores[rest] = cur
			continue
		}
		if strings.HasPrefix(l, "> ") {
			cur = nil
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok && cur != nil {
			cur[k] = v
		}
	}
	var errs []error
	for s := range c.Servers {
		id := fmt.Sprint(s)
		store, ok := stores[id]
		if !ok {
			errs = append(errs, fmt.Errorf("server %s: no printStore in the transcript", id))
			continue
		}
		missing, wrong, stray := 0, 0, 0
		for k, v := range want {
			got, ok := store[k]
			switch {
			case !ok:
				missing++
			case got != v:
				wrong++
			}
		}
		for k := range store {
			if !issued[k] {
				stray++
			}
		}
		if missing+wrong+stray > 0 {
			errs = append(errs, fmt.Errorf("server %s: of %d acknowledged puts %d missing and %d with another value; %d keys never put",
				id, len(want), missing, wrong, stray))
		}
	}
	return errors.Join(errs...)
}

// concurrentCluster lays the servers and clients out on loopback, on ports
// free right now, and starts the clients, which the master then finds
// running; bench stops them, and reaps them, after the master's run.
func concurrentCluster(servers, clients int) func(context.Context, *env) (string, stopFunc, error) {
	return func(ctx context.Context, e *env) (string, stopFunc, error) {
		cfg, err := config.LocalFreePorts(servers, clients, e.path("cluster"))
		if err != nil {
			return "", nil, err
		}
		path, err := e.writeConfig(cfg)
		if err != nil {
			return "", nil, err
		}
		var procs []*started
		stop := func() stopped { return stopped{cpu: stopAll(procs)} }
		bin := filepath.Join(e.binDir, "client")
		for _, cl := range cfg.Clients {
			p, err := startWith(exec.Command, "here", bin, path, cl.ID, cfg.LogDir())
			if err != nil {
				stop()
				return "", nil, err
			}
			procs = append(procs, p)
		}
		self := rpcconn.Identity{Cluster: cfg.Cluster, Role: "bench"}
		for i, cl := range cfg.Clients {
			if err := procs[i].waitAnswer(ctx, self, cl.RPCAddr(), api.ClientPing); err != nil {
				stop()
				return "", nil, err
			}
		}
		return path, stop, nil
	}
}

// concurrentJob is one point of bench concurrent.
func concurrentJob(o options, clients int, placement string) job {
	c := Concurrent{Servers: o.servers, Clients: clients, Puts: o.puts, ValueSize: o.size, Placement: placement, Seed: o.seed, Verify: o.verify}
	return job{
		tmpl: Result{Workload: "concurrent", Hosts: "single", Placement: placement,
			Servers: o.servers, Clients: clients, Puts: o.puts, ValueSize: o.size},
		drive:     c.drive,
		floorPuts: o.floorPuts, floorSize: o.size,
		cluster: concurrentCluster(o.servers, clients),
	}
}

// runConcurrent runs every point, clients by placement, o.runs times each,
// printing each point's report, then a table of the medians.
func runConcurrent(ctx context.Context, e *env, o options) (runs, medians []Result, err error) {
	loadStart := loadAverage()
	for _, n := range o.clientList {
		for _, pl := range o.placements {
			e.logf("concurrent: %d clients, %s, %d run(s)", n, placementText(pl), o.runs)
			rs, err := e.repeat(ctx, o.runs, concurrentJob(o, n, pl))
			runs = append(runs, rs...)
			if err != nil {
				return runs, medians, fmt.Errorf("%d clients, %s: %w", n, placementText(pl), err)
			}
			WriteReport(os.Stdout, rs)
			medians = append(medians, Summarize(rs))
		}
	}
	fmt.Printf("\nbench concurrent: %d servers, %d puts of %d B per point, medians of %d run(s), %s; load average %s before, %s at the end\n",
		o.servers, o.puts, o.size, o.runs, runs[0].When.Format("2006-01-02 15:04"), loadStart, loadAverage())
	WriteConcurrentTable(os.Stdout, medians)
	return runs, medians, nil
}
