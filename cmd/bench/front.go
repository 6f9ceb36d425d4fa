package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gossipkv/pkg/config"
)

// frontBench is the benchmark of one of a server's fronts (Redis, HTTP,
// memcache): a load generator run against server 0 of a cluster that is up
// (bin/master up) and, in turn with it, against a single-node peer on
// this machine. The figure is the ratio of the two.
type frontBench struct {
	// title is the report's first line: the tool's command, the cluster
	// and the peer.
	title string
	// tests are what each measurement reports, in the report's order
	// (SET, GET).
	tests []string
	// latency names figure.lat in the report: "p50" or "avg".
	latency string
	// peer names the peer in the report.
	peer string
	// frontPort is the front's port at a server.
	frontPort func(config.Server) int
	// startPeer starts the peer on a free loopback port until stop.
	startPeer func(ctx context.Context) (port int, stop func(), err error)
	// load, if not nil, fills a target before the first run (the keys
	// that its GETs read).
	load func(ctx context.Context, tg target) error
	// measure runs the load generator once against tg with conns
	// connections: a figure per test.
	measure func(ctx context.Context, tg target, conns int) (map[string]figure, error)
}

// target is one side of the comparison: gossipkv's front or the peer.
type target struct {
	name string
	port int
	peer bool
}

// figure is one test's result: requests per second, and a latency in ms
// (frontBench.latency says which).
type figure struct{ rps, lat float64 }

// runFront starts a cluster of o.servers that is up and fb's peer, runs
// o.runs rounds of fb.measure against each in turn at each of o.connList,
// and prints the medians.
func runFront(ctx context.Context, e *env, o options, mode string, fb frontBench) error {
	loadStart := loadAverage() // before this benchmark's own processes load the machine
	cfg, err := config.LocalFreePorts(o.servers, 0, e.path(mode+"-cluster"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		return err
	}
	cfgPath := e.path(mode + "-cluster.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		return err
	}
	stopUp, err := e.startUp(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer stopUp()
	peerPort, stopPeer, err := fb.startPeer(ctx)
	if err != nil {
		return err
	}
	defer stopPeer()
	s0, _ := cfg.Server(cfg.ServerIDs()[0])
	targets := []target{{"gossipkv", fb.frontPort(s0), false}, {fb.peer, peerPort, true}}
	if fb.load != nil {
		for _, tg := range targets {
			if err := fb.load(ctx, tg); err != nil {
				return fmt.Errorf("loading %s: %w", tg.name, err)
			}
		}
	}

	// results[conns][test][target] are the runs' figures.
	results := map[int]map[string]map[string][]figure{}
	for run := range o.runs {
		for _, conns := range o.connList {
			for _, tg := range targets {
				figs, err := fb.measure(ctx, tg, conns)
				if err != nil {
					return fmt.Errorf("%s: %w", tg.name, err)
				}
				for test, f := range figs {
					if results[conns] == nil {
						results[conns] = map[string]map[string][]figure{}
					}
					if results[conns][test] == nil {
						results[conns][test] = map[string][]figure{}
					}
					results[conns][test][tg.name] = append(results[conns][test][tg.name], f)
					e.logf("run %d/%d, %d connection(s), %s %s: %.0f requests/s, %s %.3f ms", run+1, o.runs, conns, tg.name, test, f.rps, fb.latency, f.lat)
				}
			}
		}
	}
	fmt.Printf("%s, %d run(s) in turn, %s; load average %s before the cluster started, %s at the end\n",
		fb.title, o.runs, time.Now().Format("2006-01-02 15:04"), loadStart, loadAverage())
	fmt.Printf("%-6s %-4s %14s %8s %14s %8s %7s\n", "conns", "test", "gossipkv rq/s", fb.latency+" ms", fb.peer+" rq/s", fb.latency+" ms", "ratio")
	med := func(fs []figure, f func(figure) float64) float64 {
		xs := make([]float64, len(fs))
		for i, x := range fs {
			xs[i] = f(x)
		}
		return median(xs)
	}
	rps := func(x figure) float64 { return x.rps }
	lat := func(x figure) float64 { return x.lat }
	for _, conns := range o.connList {
		for _, test := range fb.tests {
			g, p := results[conns][test]["gossipkv"], results[conns][test][fb.peer]
			fmt.Printf("%-6d %-4s %14.0f %8.3f %14.0f %8.3f %7.2f\n", conns, test,
				med(g, rps), med(g, lat), med(p, rps), med(p, lat), ratio(med(g, rps), med(p, rps)))
		}
	}
	return nil
}

// loadAverage is the machine's 1-minute load average, "?" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// startUp runs bin/master up on cfgPath until the returned stop, once its
// endpoint table is out.
func (e *env) startUp(ctx context.Context, cfgPath string) (stop func(), err error) {
	logf, err := os.Create(e.path("master-up.stderr"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(e.binDir, "master"), "up", "-config", cfgPath)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	// If bench itself is killed, the master still stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		logf.Close()
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		up := false
		for sc.Scan() {
			if !up && strings.HasPrefix(sc.Text(), "stop:") { // the table's last line
				up = true
				ready <- true
			}
		}
		if !up {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return nil, fmt.Errorf("master up stopped before the cluster was up; see %s", e.path("master-up.stderr"))
		}
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	return stop, nil
}

// peerDir is a fresh directory for the peer name's data and log.
func (e *env) peerDir(name string) (string, error) {
	dir := e.path(name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// startPeer starts cmd, with its output in dir/log, and waits up to 10 s
// for ready to succeed; stop kills it (by its pid) and waits for it.
func startPeer(ctx context.Context, cmd *exec.Cmd, dir string, ready func() error) (stop func(), err error) {
	logPath := filepath.Join(dir, "log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ready()
		if err == nil {
			return stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("%s did not answer: %v (see %s)", filepath.Base(cmd.Path), err, logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a TCP port free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts is n distinct TCP ports free on 127.0.0.1 a moment ago: every
// probe listener stays open until all are chosen, so none comes twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
