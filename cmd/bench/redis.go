package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"gossipkv/pkg/config"
)

// redisFront measures the Redis front with redis-benchmark, against a
// redis-server on this machine that makes every write durable as the
// cluster does (appendonly yes, appendfsync always): a single-node durable
// peer.
func redisFront(e *env, o options) (frontBench, error) {
	serverBin, err := exec.LookPath("redis-server")
	if err != nil {
		return frontBench{}, fmt.Errorf("%w: redis-server is missing: install Debian's redis-server", errUsage)
	}
	benchBin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return frontBench{}, fmt.Errorf("%w: redis-benchmark is missing: install Debian's redis-tools", errUsage)
	}
	return frontBench{
		title: fmt.Sprintf("redis-benchmark -t set,get -d %d -n %d -r 100000 against server 0 of %d servers (bin/master up) and redis-server (appendonly yes, appendfsync always)",
			o.size, o.requests, o.servers),
		tests:     []string{"SET", "GET"},
		latency:   "p50",
		peer:      "redis",
		frontPort: func(s config.Server) int { return s.RESPPort },
		startPeer: func(ctx context.Context) (int, func(), error) { return e.startRedisServer(ctx, serverBin) },
		measure: func(ctx context.Context, tg target, conns int) (map[string]figure, error) {
			return redisBenchmark(ctx, benchBin, tg.port, conns, o.requests, o.size)
		},
	}, nil
}

// startRedisServer runs redis-server on a free loopback port, with every
// write appended and fsynced before it is answered, until stop.
func (e *env) startRedisServer(ctx context.Context, bin string) (port int, stop func(), err error) {
	if port, err = freePort(); err != nil {
		return 0, nil, err
	}
	dir, err := e.peerDir("redis-server")
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no")
	stop, err = startPeer(ctx, cmd, dir, func() error { return pingRedis(port) })
	return port, stop, err
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
func redisBenchmark(ctx context.Context, bin string, port, conns, requests, size int) (map[string]figure, error) {
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
func parseBenchmarkCSV(out []byte) (map[string]figure, error) {
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
	res := map[string]figure{}
	for _, r := range rows[1:] {
		rps, err1 := strconv.ParseFloat(r[rpsCol], 64)
		p50, err2 := strconv.ParseFloat(r[p50Col], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis-benchmark row %q: %v %v", r, err1, err2)
		}
		res[r[0]] = figure{rps, p50}
	}
	return res, nil
}
