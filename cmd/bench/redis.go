package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gossipkv/pkg/config"
)

// runRedis measures the Redis front of a cluster that is up (bin/master
// up) with redis-benchmark, and in the same run, in turn with it, a
// redis-server on this machine that makes every write durable as the
// cluster does (appendonly yes, appendfsync always): a single-node durable
// peer. The figure is the ratio of the two.
func runRedis(ctx context.Context, e *env, o options) error {
	serverBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("%w: redis-server is missing: install Debian's redis-server", errUsage)
	}
	benchBin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return fmt.Errorf("%w: redis-benchmark is missing: install Debian's redis-tools", errUsage)
	}
	cfg, err := config.LocalFreePorts(o.servers, 0, e.path("redis-cluster"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		return err
	}
	cfgPath := e.path("redis-cluster.yaml")
	if err := cfg.Write(cfgPath); err != nil {
		return err
	}
	stopUp, err := e.startUp(ctx, cfgPath)
	if err != nil {
		return err
	}
	defer stopUp()
	redisPort, stopRedis, err := e.startRedisServer(ctx, serverBin)
	if err != nil {
		return err
	}
	defer stopRedis()
	s0, _ := cfg.Server(cfg.ServerIDs()[0])
	targets := []struct {
		name string
		port int
	}{{"gossipkv", s0.RESPPort}, {"redis-server", redisPort}}

	// results[conns][test][target] are the runs' figures.
	type figure struct{ rps, p50 float64 }
	results := map[int]map[string]map[string][]figure{}
	for run := range o.runs {
		for _, conns := range o.connList {
			for _, tg := range targets {
				rows, err := redisBenchmark(ctx, benchBin, tg.port, conns, o.requests, o.size)
				if err != nil {
					return fmt.Errorf("%s: %w", tg.name, err)
				}
				for test, f := range rows {
					if results[conns] == nil {
						results[conns] = map[string]map[string][]figure{}
					}
					if results[conns][test] == nil {
						results[conns][test] = map[string][]figure{}
					}
					results[conns][test][tg.name] = append(results[conns][test][tg.name], figure{f[0], f[1]})
					e.logf("run %d/%d, %d connection(s), %s %s: %.0f requests/s, p50 %.3f ms", run+1, o.runs, conns, tg.name, test, f[0], f[1])
				}
			}
		}
	}
	fmt.Printf("redis-benchmark -t set,get -d %d -n %d -r 100000 against server 0 of %d servers (bin/master up) and redis-server (appendonly yes, appendfsync always), %d run(s) in turn, %s\n",
		o.size, o.requests, o.servers, o.runs, time.Now().Format("2006-01-02 15:04"))
	fmt.Printf("%-6s %-4s %14s %8s %14s %8s %7s\n", "conns", "test", "gossipkv rq/s", "p50 ms", "redis rq/s", "p50 ms", "ratio")
	for _, conns := range o.connList {
		for _, test := range []string{"SET", "GET"} {
			g, r := results[conns][test]["gossipkv"], results[conns][test]["redis-server"]
			med := func(fs []figure, f func(figure) float64) float64 {
				xs := make([]float64, len(fs))
				for i, x := range fs {
					xs[i] = f(x)
				}
				return median(xs)
			}
			rps := func(x figure) float64 { return x.rps }
			p50 := func(x figure) float64 { return x.p50 }
			fmt.Printf("%-6d %-4s %14.0f %8.3f %14.0f %8.3f %7.2f\n", conns, test,
				med(g, rps), med(g, p50), med(r, rps), med(r, p50), ratio(med(g, rps), med(r, rps)))
		}
	}
	return nil
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

// startRedisServer runs redis-server on a free loopback port, with every
// write appended and fsynced before it is answered, until stop.
func (e *env) startRedisServer(ctx context.Context, bin string) (port int, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := e.path("redis-server")
	if err := os.RemoveAll(dir); err != nil {
		return 0, nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile", filepath.Join(dir, "log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pingRedis(port) == nil {
			return port, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return 0, nil, fmt.Errorf("redis-server on port %d did not answer PING (see %s)", port, filepath.Join(dir, "log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pingRedis(port int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// redisBenchmark runs redis-benchmark's SET and GET tests against port and
// returns, per test, requests per second and the p50 latency in ms.
func redisBenchmark(ctx context.Context, bin string, port, conns, requests, size int) (map[string][2]float64, error) {
	cmd := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "set,get",
		"-d", strconv.Itoa(size), "-n", strconv.Itoa(requests), "-c", strconv.Itoa(conns), "-r", "100000", "--csv")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("redis-benchmark: %v: %s", err, ee.Stderr)
		}
		return nil, err
	}
	return parseBenchmarkCSV(out)
}

// parseBenchmarkCSV reads redis-benchmark --csv: a header naming the
// columns, then a row per test.
func parseBenchmarkCSV(out []byte) (map[string][2]float64, error) {
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark output: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("redis-benchmark printed no results: %q", out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	rpsCol, ok1 := col["rps"]
	p50Col, ok2 := col["p50_latency_ms"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("redis-benchmark output lacks rps or p50_latency_ms: %q", rows[0])
	}
	res := map[string][2]float64{}
	for _, r := range rows[1:] {
		rps, err1 := strconv.ParseFloat(r[rpsCol], 64)
		p50, err2 := strconv.ParseFloat(r[p50Col], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis-benchmark row %q: %v %v", r, err1, err2)
		}
		res[r[0]] = [2]float64{rps, p50}
	}
	return res, nil
}
