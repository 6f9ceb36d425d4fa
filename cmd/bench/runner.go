package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/floor"
	"gossipkv/pkg/runstats"
)

// env is where a benchmark runs: the binaries it drives and the directory
// that holds the servers' data, the scripts, configs and logs.
type env struct {
	binDir  string
	dataDir string
	// log gets progress lines (stderr); the report goes to stdout.
	log io.Writer
}

// newEnv checks the binaries (unless only the floor runs) and makes the
// data directory.
func newEnv(binDir, dataDir string, log io.Writer, needBins bool) (*env, error) {
	var err error
	if binDir, err = filepath.Abs(binDir); err != nil {
		return nil, err
	}
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	e := &env{binDir: binDir, dataDir: dataDir, log: log}
	if !needBins {
		return e, nil
	}
	for _, b := range []string{"master", "watchdog", "server", "client"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s is missing: run make first (%w)", filepath.Join(binDir, b), err)
		}
	}
	// A master built before -stats existed lists no such flag.
	help, _ := exec.Command(filepath.Join(binDir, "master"), "-h").CombinedOutput()
	if !bytes.Contains(help, []byte("-stats")) {
		return nil, fmt.Errorf("%s has no -stats flag: it is older than this benchmark; rebuild it (make)", filepath.Join(binDir, "master"))
	}
	return e, nil
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "bench: "+format+"\n", args...)
}

// path is a file in the data directory.
func (e *env) path(name string) string { return filepath.Join(e.dataDir, name) }

// measureFloor runs the floor chain in the data directory's file system,
// on a fresh database like the servers', and returns its puts/s and the
// CPU seconds it took.
func (e *env) measureFloor(puts, valueSize int) (float64, float64, error) {
	return e.measureFloorWith(puts, valueSize, floor.Commit)
}

// measureFloorWith is measureFloor with the server's durability d. The
// floor runs inside bench, which does nothing else meanwhile: its CPU time
// is bench's own rusage (RUSAGE_SELF) across it, the opening and removal of
// the database included.
func (e *env) measureFloorWith(puts, valueSize int, d floor.Durability) (float64, float64, error) {
	dir, err := e.freshFloorDir()
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	before, _ := runstats.SelfUsage()
	rate, err := floor.MeasureDurability(puts, valueSize, dir, d)
	after, _ := runstats.SelfUsage()
	return rate, after.Sub(before).CPUS(), err
}

// measureFloorProcs is measureFloor with the chain's client and server in
// processes of their own, as the cluster runs them (bench itself plays the
// master): the least a put can cost across the process boundaries the
// design keeps. Its CPU time is the three processes' own.
func (e *env) measureFloorProcs(puts, valueSize int) (float64, float64, error) {
	return e.measureFloorProcsWith(puts, valueSize, floor.Commit)
}

// measureFloorProcsWith is measureFloorProcs with the server hop's
// durability d.
func (e *env) measureFloorProcsWith(puts, valueSize int, d floor.Durability) (float64, float64, error) {
	return e.measureFloorAcross(func(dir string, part floor.PartCommand) (float64, float64, error) {
		return floor.MeasureProcesses(puts, valueSize, dir, d, part)
	})
}

// measureFloorPeers is the floor with servers peers that each hold every
// put (floor.RolePeer) and clients clients, taking the puts in turn.
func (e *env) measureFloorPeers(puts, valueSize, servers, clients int) (float64, float64, error) {
	return e.measureFloorAcross(func(dir string, part floor.PartCommand) (float64, float64, error) {
		return floor.MeasurePeers(puts, valueSize, dir, servers, clients, part)
	})
}

// measureFloorUnreplicated is measureFloorPeers without the copies:
// servers servers of the chain with a log append per put, each holding
// only its own clients' puts (floor.MeasureUnreplicated).
func (e *env) measureFloorUnreplicated(puts, valueSize, servers, clients int) (float64, float64, error) {
	return e.measureFloorAcross(func(dir string, part floor.PartCommand) (float64, float64, error) {
		return floor.MeasureUnreplicated(puts, valueSize, dir, servers, clients, floor.Log, part)
	})
}

// measureFloorAcross runs a floor across processes in a fresh directory,
// bench re-running itself as each of its processes.
func (e *env) measureFloorAcross(measure func(dir string, part floor.PartCommand) (float64, float64, error)) (float64, float64, error) {
	dir, err := e.freshFloorDir()
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	part := func(role, dir, peers, run string, d floor.Durability) *exec.Cmd {
		return exec.Command(exe, floorPartMode, role, dir, peers, run, d.String())
	}
	return measure(dir, part)
}

// freshFloorDir returns the floor's directory in the data directory,
// emptied of any earlier measurement's database; the caller removes it.
func (e *env) freshFloorDir() (string, error) {
	dir := e.path("floor")
	return dir, os.RemoveAll(dir)
}

// floors are the floors of a run: in one process, across three, and
// with as many peers and clients as the cluster has servers and clients
// (floor.MeasurePeers). Each is puts/s and the CPU seconds its puts took.
type floors struct {
	rate, cpuS           float64
	procsRate, procsCPUS float64
	peersRate, peersCPUS float64
}

// measureFloors measures the floors, one after the other.
func (e *env) measureFloors(puts, valueSize, servers, clients int) (floors, error) {
	var f floors
	var err error
	if f.rate, f.cpuS, err = e.measureFloor(puts, valueSize); err != nil {
		return f, fmt.Errorf("floor: %w", err)
	}
	if f.procsRate, f.procsCPUS, err = e.measureFloorProcs(puts, valueSize); err != nil {
		return f, fmt.Errorf("floor in processes: %w", err)
	}
	if f.peersRate, f.peersCPUS, err = e.measureFloorPeers(puts, valueSize, servers, clients); err != nil {
		return f, fmt.Errorf("floor with peers: %w", err)
	}
	return f, nil
}

// best is the better of two measurements of the floors, figure by
// figure: the higher rate, the lower CPU. The floor is the least a put
// can cost, and on a shared machine a burst of someone else's work only
// ever slows it down.
func (f floors) best(g floors) floors {
	return floors{max(f.rate, g.rate), min(f.cpuS, g.cpuS), max(f.procsRate, g.procsRate), min(f.procsCPUS, g.procsCPUS),
		max(f.peersRate, g.peersRate), min(f.peersCPUS, g.peersCPUS)}
}

// writeConfig saves cfg for the master and the processes it starts.
func (e *env) writeConfig(cfg *config.Config) (string, error) {
	b, err := cfg.Marshal()
	if err != nil {
		return "", err
	}
	// The log directory too: the watchdogs and clients that bench starts
	// itself (not through the master) write their logs there.
	if err := os.MkdirAll(cfg.LogDir(), 0o755); err != nil {
		return "", err
	}
	path := e.path("cluster.yaml")
	return path, os.WriteFile(path, b, 0o644)
}

// runMaster runs bin/master on the script at scriptPath, or, given a
// driver, on what the driver writes to its stdin while it runs, and
// returns its figures (and what the driver measured). A run in which some
// lines failed still counts (Errors says how many); a master that could
// not start or wrote no figures is an error.
//
// It also returns the master's rusage as bench reaped it: the master's own
// and that of every process it reaped.
func (e *env) runMaster(ctx context.Context, cfgPath, scriptPath string, drive driver) (*Stats, Usage, *driven, error) {
	statsPath := e.path("stats.json")
	os.Remove(statsPath)
	args := []string{"-config", cfgPath, "-bin", e.binDir, "-stats", statsPath}
	if drive != nil {
		// The driver reads the transcript to know when the lines it
		// wrote have run.
		args = append(args, "-echo")
	}
	logf, err := os.Create(e.path("master.stderr"))
	if err != nil {
		return nil, Usage{}, nil, err
	}
	defer logf.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(e.binDir, "master"), args...)
	cmd.Stderr = io.MultiWriter(logf, &stderr)
	// On cancel the master gets SIGTERM, so it still stops its servers,
	// watchdogs and clients; only a master that hangs is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	// If bench itself is killed, the master still stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var dr *driven
	var driveErr, runErr error
	if drive == nil {
		script, err := os.Open(scriptPath)
		if err != nil {
			return nil, Usage{}, nil, err
		}
		defer script.Close()
		cmd.Stdin, cmd.Stdout = script, io.Discard
		runErr = cmd.Run()
	} else {
		dr, driveErr, runErr = runDriven(ctx, cmd, cfgPath, drive)
	}
	if ctx.Err() != nil {
		return nil, Usage{}, nil, ctx.Err()
	}
	var ee *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &ee) && ee.ExitCode() == 1) {
		return nil, Usage{}, nil, errors.Join(driveErr, fmt.Errorf("master: %v\n%s", runErr, tail(stderr.Bytes(), 15)))
	}
	if driveErr != nil {
		return nil, Usage{}, nil, fmt.Errorf("%w; the master's last lines:\n%s", driveErr, tail(stderr.Bytes(), 8))
	}
	if runErr != nil {
		e.logf("some script lines failed; the master's last lines:\n%s", tail(stderr.Bytes(), 8))
	}
	s, err := readStats(statsPath)
	if err != nil {
		return nil, Usage{}, nil, fmt.Errorf("master wrote no figures: %w\n%s", err, tail(stderr.Bytes(), 15))
	}
	u, _ := runstats.ProcessUsage(cmd.ProcessState)
	return s, u, dr, nil
}

// runDriven starts cmd (the master) with its stdin and stdout given to
// drive, and waits for it once drive is done: closing its stdin ends the
// script, so a driver that fails half-way still lets the master stop
// everything it started.
func runDriven(ctx context.Context, cmd *exec.Cmd, cfgPath string, drive driver) (*driven, error, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	dr, driveErr := drive(ctx, cfgPath, stdin, stdout)
	stdin.Close()
	// Wait closes stdout: whatever the driver left unread is read first.
	io.Copy(io.Discard, stdout)
	return dr, driveErr, cmd.Wait()
}

// tail is the last n lines of b, indented, each cut at 200 bytes: a failed
// put's line carries its whole value.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 200 {
			l = l[:200] + "..."
		}
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// stopFunc stops a cluster's helper processes and returns the peak RSS in
// KB of the servers it watched, by id, and their rusage by role.
type stopFunc func() stopped

// stopped is what a stopFunc reports of the processes it stopped.
type stopped struct {
	peaks map[uint32]int64
	// cpu is the rusage of the watchdogs (with their servers) and clients
	// it reaped; Master is unused.
	cpu runstats.CPU
}

func noStop() stopped { return stopped{} }

// job is one benchmark run to do: a script, a cluster, the floor to
// compare with.
type job struct {
	tmpl   Result // layout fields; figures are filled in
	script func(io.Writer) error
	// drive, where set instead of script, writes the master's stdin while
	// it runs and issues puts itself; its figures take the place of the
	// master's put figures.
	drive     driver
	floorPuts int
	floorSize int
	// cluster writes the config and starts whatever must run before the
	// master (on other hosts: their watchdogs and clients); it returns the
	// config's path and what stops those processes, which returns the
	// servers' peak RSS in KB where it watched them (nil where the master
	// reports it).
	cluster func(ctx context.Context, e *env) (cfgPath string, stop stopFunc, err error)
}

// floorClients is how many clients the floor with peers takes its puts
// through: one where the job's clients all use server 0, else one on each
// server the job's clients use (the floor's puts go one at a time, so more
// clients on a server would only add processes that wait).
func (j job) floorClients() int {
	if j.tmpl.Placement == OneServer {
		return 1
	}
	return max(1, min(j.tmpl.Clients, j.tmpl.Servers))
}

// run writes the script, then measures the floor, runs the master, and
// measures the floor again.
func (e *env) run(ctx context.Context, j job) (Result, error) {
	scriptPath := e.path("script.txt")
	if j.script != nil {
		f, err := os.Create(scriptPath)
		if err != nil {
			return Result{}, err
		}
		err = j.script(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Result{}, fmt.Errorf("writing the script: %w", err)
		}
	}

	// The floors are measured before and after the cluster runs (never
	// during: they would compete), and the better of the two counts.
	fl, err := e.measureFloors(j.floorPuts, j.floorSize, j.tmpl.Servers, j.floorClients())
	if err != nil {
		return Result{}, err
	}

	cfgPath, stop, err := j.cluster(ctx, e)
	if err != nil {
		return Result{}, err
	}
	var once sync.Once
	var st stopped
	stopOnce := func() { once.Do(func() { st = stop() }) }
	defer stopOnce()
	t0 := time.Now()
	s, usage, dr, err := e.runMaster(ctx, cfgPath, scriptPath, j.drive)
	stopOnce()
	if err != nil {
		return Result{}, err
	}
	after, err := e.measureFloors(j.floorPuts, j.floorSize, j.tmpl.Servers, j.floorClients())
	if err != nil {
		return Result{}, err
	}
	fl = fl.best(after)
	r := resultOf(s)
	puts, extra := s.Puts, st.cpu
	if dr != nil {
		if len(dr.errs) > 0 {
			e.logf("some puts failed:\n%v", errors.Join(dr.errs...))
		}
		dr.fill(&r, s)
		if r.ServerPuts < dr.acked {
			e.logf("the servers counted %d puts, fewer than the %d acknowledged", r.ServerPuts, dr.acked)
		}
		puts = dr.acked
		// bench issued the puts, which in a script run is the master's
		// work.
		extra.Master.Add(dr.cpu)
	}
	r.setCPU(clusterUsage(usage, s.CPU, extra), puts, fl.cpuS, j.floorPuts)
	r.setFloorProcs(fl.procsRate, fl.procsCPUS, j.floorPuts)
	r.setFloorPeers(fl.peersRate, fl.peersCPUS, j.floorPuts)
	for id, kb := range st.peaks {
		if r.PeakRSSKB[id] <= 0 {
			r.PeakRSSKB[id] = kb
		}
	}
	r.Workload, r.Hosts, r.Consistency, r.Placement = j.tmpl.Workload, j.tmpl.Hosts, j.tmpl.Consistency, j.tmpl.Placement
	r.Servers, r.Clients, r.Puts, r.ValueSize = j.tmpl.Servers, j.tmpl.Clients, j.tmpl.Puts, j.tmpl.ValueSize
	r.ValueMin, r.ValueMax = j.tmpl.ValueMin, j.tmpl.ValueMax
	r.When = t0
	r.FloorPutsPerS = fl.rate
	r.Ratio = ratio(r.PutsPerS, fl.rate)
	r.FloorProcsRatio = ratio(r.PutsPerS, fl.procsRate)
	r.FloorPeersRatio = ratio(r.PutsPerS, fl.peersRate)
	return r, nil
}

// localCluster lays the servers and clients out on loopback, on ports free
// right now, for the master to start.
func localCluster(servers, clients int) func(context.Context, *env) (string, stopFunc, error) {
	return localClusterIn(servers, clients, "")
}

// localClusterIn is localCluster in a consistency mode ("": the config's
// default, eventual).
func localClusterIn(servers, clients int, consistency string) func(context.Context, *env) (string, stopFunc, error) {
	return func(_ context.Context, e *env) (string, stopFunc, error) {
		cfg, err := config.LocalFreePorts(servers, clients, e.path("cluster"))
		if err != nil {
			return "", nil, err
		}
		if consistency != "" {
			cfg.Consistency = consistency
		}
		path, err := e.writeConfig(cfg)
		return path, noStop, err
	}
}

// repeat runs j n times and logs each run's headline.
func (e *env) repeat(ctx context.Context, n int, j job) ([]Result, error) {
	var runs []Result
	for i := range n {
		r, err := e.run(ctx, j)
		if err != nil {
			return runs, fmt.Errorf("run %d of %d: %w", i+1, n, err)
		}
		e.logf("run %d/%d: %.0f puts/s, floor %.0f puts/s, ratio %.3f, stabilize %.1f ms, %d errors",
			i+1, n, r.PutsPerS, r.FloorPutsPerS, r.Ratio, r.StabilizeS*1000, r.Errors)
		runs = append(runs, r)
	}
	return runs, nil
}
