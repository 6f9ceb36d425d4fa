package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"gossipkv/pkg/config"
)

// memaslapNames are the names memaslap has: Debian's libmemcached-tools
// installs it as memcaslap.
var memaslapNames = []string{"memaslap", "memcaslap"}

// memcacheFront measures the memcache front with memaslap against
// memcached on this machine. memcached keeps everything in memory and
// writes nothing to disk: it is no durable peer, and its figures are an
// upper bound of what a store that fsyncs its writes could reach.
func memcacheFront(e *env, o options) (frontBench, error) {
	var slapBin string
	for _, name := range memaslapNames {
		if p, err := exec.LookPath(name); err == nil {
			slapBin = p
			break
		}
	}
	if slapBin == "" {
		return frontBench{}, fmt.Errorf("%w: memaslap (Debian: memcaslap) is missing: install Debian's libmemcached-tools", errUsage)
	}
	mcBin, err := exec.LookPath("memcached")
	if err != nil {
		return frontBench{}, fmt.Errorf("%w: memcached is missing: install Debian's memcached", errUsage)
	}
	// memaslap's workload files: 16-byte keys, o.size-byte values, only
	// sets or only gets (cmd 0 is set, 1 get).
	cfgs := map[string]string{}
	for test, cmds := range map[string]string{"SET": "0 1\n1 0\n", "GET": "0 0\n1 1\n"} {
		path := e.path("memaslap-" + strings.ToLower(test) + ".cfg")
		text := fmt.Sprintf("key\n16 16 1\nvalue\n%d %d 1\ncmd\n%s", o.size, o.size, cmds)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return frontBench{}, err
		}
		cfgs[test] = path
	}
	secs := int(o.duration.Seconds())
	return frontBench{
		title: fmt.Sprintf("memaslap -T 1 -t %ds -w 1k, sets or gets of %d-byte values, against server 0 of %d servers (bin/master up) and memcached (in memory, not durable)",
			secs, o.size, o.servers),
		tests:     []string{"SET", "GET"},
		latency:   "avg",
		peer:      "memcached",
		frontPort: func(s config.Server) int { return s.MemcachePort },
		startPeer: func(ctx context.Context) (int, func(), error) { return e.startMemcached(ctx, mcBin) },
		measure: func(ctx context.Context, tg target, conns int) (map[string]figure, error) {
			res := map[string]figure{}
			for _, test := range []string{"SET", "GET"} {
				f, err := runMemaslap(ctx, slapBin, cfgs[test], tg.port, conns, secs, test)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", test, err)
				}
				res[test] = f
			}
			return res, nil
		},
	}, nil
}

// startMemcached runs memcached on a free loopback port (TCP only, 1 GiB
// of memory, so that no key memaslap sets is evicted), until stop.
func (e *env) startMemcached(ctx context.Context, bin string) (port int, stop func(), err error) {
	if port, err = freePort(); err != nil {
		return 0, nil, err
	}
	dir, err := e.peerDir("memcached")
	if err != nil {
		return 0, nil, err
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "1024"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached will not run as root
	}
	stop, err = startPeer(ctx, exec.Command(bin, args...), dir, func() error { return memcacheVersion(port) })
	return port, stop, err
}

// memcacheVersion asks the memcache server at port for its version.
func memcacheVersion(port int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "version\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version answered %q", line)
	}
	return nil
}

// runMemaslap runs memaslap with the workload file cfg for secs seconds,
// conns connections on one thread. Before a get-only run it sets the keys
// of its window (1k a connection), outside the timed part.
func runMemaslap(ctx context.Context, bin, cfg string, port, conns, secs int, test string) (figure, error) {
	cmd := exec.CommandContext(ctx, bin, "-s", fmt.Sprintf("127.0.0.1:%d", port), "-F", cfg,
		"-t", fmt.Sprintf("%ds", secs), "-T", "1", "-c", strconv.Itoa(conns), "-w", "1k", "-S", "1s")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return figure{}, fmt.Errorf("memaslap: %v: %s", err, out)
	}
	return parseMemaslap(out, test)
}

// parseMemaslap reads memaslap's statistics (-S): the last "Global" row of
// the "Set Statistics" or "Get Statistics" table (test SET or GET), which
// covers the whole run, into operations per second and the mean latency
// in ms (memaslap reports no percentiles). A get that missed fails it.
func parseMemaslap(out []byte, test string) (figure, error) {
	want := map[string]string{"SET": "Set Statistics", "GET": "Get Statistics"}[test]
	if want == "" {
		return figure{}, fmt.Errorf("memaslap: unknown test %q", test)
	}
	var section string
	var header, global []string
	for l := range strings.Lines(string(out)) {
		f := strings.Fields(l)
		switch {
		case strings.HasSuffix(strings.TrimSpace(l), "Statistics"):
			section = strings.TrimSpace(l)
		case section == want && len(f) > 0 && f[0] == "Type":
			header = f
		case section == want && len(f) > 0 && f[0] == "Global":
			global = f
		}
	}
	if global == nil || len(global) != len(header) {
		return figure{}, fmt.Errorf("memaslap printed no %s table (is -S given?): %q", want, out)
	}
	col := func(name string) (float64, error) {
		for i, h := range header {
			if h == name {
				return strconv.ParseFloat(global[i], 64)
			}
		}
		return 0, fmt.Errorf("memaslap's %s table has no column %s", want, name)
	}
	tps, err1 := col("TPS(ops/s)")
	avg, err2 := col("Avg(us)")
	ops, err3 := col("Ops")
	miss, err4 := col("Get_miss")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return figure{}, err
	}
	if ops == 0 {
		return figure{}, fmt.Errorf("memaslap: no %s done", strings.ToLower(test))
	}
	if miss > 0 {
		return figure{}, fmt.Errorf("memaslap: %.0f of %.0f gets missed", miss, ops)
	}
	return figure{rps: tps, lat: avg / 1000}, nil
}
