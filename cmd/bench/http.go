package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"gossipkv/pkg/config"
)

// wrkScript makes wrk's requests: PUTs or GETs of random keys among
// those loaded first, for gossipkv's API or etcd's.
//
//go:embed wrk.lua
var wrkScript []byte

// httpFront measures the HTTP front (PUT and GET /v1/kv/KEY) with wrk,
// against a one-member etcd on this machine through its HTTP/JSON gateway
// (POST /v3/kv/put and /v3/kv/range): a single-node peer that makes every
// write durable (its WAL is fsynced before a put is answered).
func httpFront(e *env, o options) (frontBench, error) {
	wrkBin, err := exec.LookPath("wrk")
	if err != nil {
		return frontBench{}, fmt.Errorf("%w: wrk is missing: install Debian's wrk", errUsage)
	}
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		return frontBench{}, fmt.Errorf("%w: etcd is missing: install Debian's etcd-server", errUsage)
	}
	script := e.path("wrk.lua")
	if err := os.WriteFile(script, wrkScript, 0o644); err != nil {
		return frontBench{}, err
	}
	api := func(tg target) string {
		if tg.peer {
			return "etcd"
		}
		return "gossipkv"
	}
	return frontBench{
		title: fmt.Sprintf("wrk -t 1 -d %s, PUT and GET of %d-byte values under %d keys, against server 0 of %d servers (bin/master up) and a one-member etcd (its WAL fsynced per commit)",
			o.duration, o.size, o.keys, o.servers),
		tests:     []string{"PUT", "GET"},
		latency:   "p50",
		peer:      "etcd",
		frontPort: func(s config.Server) int { return s.HTTPPort },
		startPeer: func(ctx context.Context) (int, func(), error) { return e.startEtcd(ctx, etcdBin) },
		load: func(ctx context.Context, tg target) error {
			return loadHTTP(ctx, api(tg), tg.port, o.keys, o.size)
		},
		measure: func(ctx context.Context, tg target, conns int) (map[string]figure, error) {
			res := map[string]figure{}
			for _, test := range []string{"PUT", "GET"} {
				f, err := runWrk(ctx, wrkBin, script, tg.port, conns, o.duration, api(tg), strings.ToLower(test), o.keys, o.size)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", test, err)
				}
				res[test] = f
			}
			return res, nil
		},
	}, nil
}

// startEtcd runs a one-member etcd with its client and peer URLs on free
// loopback ports, until stop.
func (e *env) startEtcd(ctx context.Context, bin string) (port int, stop func(), err error) {
	members, stopCluster, err := e.startEtcdCluster(ctx, bin, "etcd", 1)
	if err != nil {
		return 0, nil, err
	}
	return members[0].client, func() { stopCluster() }, nil
}

// httpKey is the key i, as wrk.lua makes it.
func httpKey(i int) string { return fmt.Sprintf("key:%06d", i) }

// loadHTTP writes keys values of size bytes (as wrk.lua's PUTs do) to the
// API at port, 8 requests at a time.
func loadHTTP(ctx context.Context, api string, port, keys, size int) error {
	value := bytes.Repeat([]byte("x"), size)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	request := func(i int) (*http.Request, error) {
		if api == "etcd" {
			return etcdPutRequest(ctx, base, httpKey(i), value)
		}
		return http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/kv/"+httpKey(i), bytes.NewReader(value))
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < keys && errs[w] == nil; i += workers {
				req, err := request(i)
				if err != nil {
					errs[w] = err
					break
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[w] = err
					break
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					errs[w] = fmt.Errorf("%s %s: %s", req.Method, req.URL, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runWrk runs wrk.lua's test (put or get) for duration with conns
// connections on one thread.
func runWrk(ctx context.Context, bin, script string, port, conns int, duration time.Duration, api, test string, keys, size int) (figure, error) {
	cmd := exec.CommandContext(ctx, bin, "-t", "1", "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(duration.Seconds())), // wrk reads whole units
		"--timeout", "10s", "-s", script, fmt.Sprintf("http://127.0.0.1:%d", port),
		"--", api, test, strconv.Itoa(keys), strconv.Itoa(size))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return figure{}, fmt.Errorf("wrk: %v: %s", err, ee.Stderr)
		}
		return figure{}, err
	}
	return parseWrk(out)
}

// parseWrk reads the line wrk.lua's done prints,
//
//	wrk-result requests=N duration_us=N p50_us=N p99_us=N connect=N read=N write=N status=N timeout=N
//
// into requests per second and the p50 latency in ms. Any error (a
// socket error, a timeout, an answer other than 2xx or 3xx) fails it: a
// figure with failed requests in it is not the store's.
func parseWrk(out []byte) (figure, error) {
	var line string
	for l := range strings.Lines(string(out)) {
		if strings.HasPrefix(l, "wrk-result ") {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		return figure{}, fmt.Errorf("wrk printed no wrk-result line: %q", out)
	}
	kv := map[string]int64{}
	for _, f := range strings.Fields(line)[1:] {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return figure{}, fmt.Errorf("wrk result %q: bad field %q", line, f)
		}
		kv[k] = n
	}
	for _, k := range []string{"requests", "duration_us", "p50_us"} {
		if _, ok := kv[k]; !ok {
			return figure{}, fmt.Errorf("wrk result %q lacks %s", line, k)
		}
	}
	var failed []string
	for _, k := range []string{"connect", "read", "write", "status", "timeout"} {
		if kv[k] > 0 {
			failed = append(failed, fmt.Sprintf("%d %s", kv[k], k))
		}
	}
	if len(failed) > 0 {
		return figure{}, fmt.Errorf("wrk: %d requests, errors: %s (status: answers other than 2xx and 3xx)", kv["requests"], strings.Join(failed, ", "))
	}
	if kv["requests"] == 0 || kv["duration_us"] <= 0 {
		return figure{}, fmt.Errorf("wrk result %q: no requests", line)
	}
	return figure{rps: float64(kv["requests"]) / (float64(kv["duration_us"]) / 1e6), lat: float64(kv["p50_us"]) / 1000}, nil
}
