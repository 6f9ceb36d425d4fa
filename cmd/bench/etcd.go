package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gossipkv/pkg/runstats"
)

// etcdMissing is what bench says when Debian's etcd is not installed.
const etcdMissing = "etcd is missing: install Debian's etcd-server"

// lookEtcd finds the etcd binary on PATH.
func lookEtcd() (string, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return "", fmt.Errorf("%w: %s", errUsage, etcdMissing)
	}
	return bin, nil
}

// etcdMember is one member of an etcd cluster on loopback.
type etcdMember struct {
	name         string
	client, peer int // ports
}

func (m etcdMember) clientURL() string { return fmt.Sprintf("http://127.0.0.1:%d", m.client) }
func (m etcdMember) peerURL() string   { return fmt.Sprintf("http://127.0.0.1:%d", m.peer) }

// etcdMembers names n members m0, m1, ... and gives each a client and a
// peer port from ports (2n of them: the clients' first).
func etcdMembers(n int, ports []int) ([]etcdMember, error) {
	if len(ports) != 2*n {
		return nil, fmt.Errorf("etcd: %d members need %d ports, got %d", n, 2*n, len(ports))
	}
	ms := make([]etcdMember, n)
	for i := range ms {
		ms[i] = etcdMember{name: fmt.Sprintf("m%d", i), client: ports[i], peer: ports[n+i]}
	}
	return ms, nil
}

// etcdArgs are the flags of member i of ms, its data in dataDir: a new
// cluster of exactly ms, every URL on loopback.
func etcdArgs(ms []etcdMember, i int, dataDir string) []string {
	cluster := make([]string, len(ms))
	for j, m := range ms {
		cluster[j] = m.name + "=" + m.peerURL()
	}
	m := ms[i]
	return []string{"--name", m.name, "--data-dir", dataDir,
		"--listen-client-urls", m.clientURL(), "--advertise-client-urls", m.clientURL(),
		"--listen-peer-urls", m.peerURL(), "--initial-advertise-peer-urls", m.peerURL(),
		"--initial-cluster", strings.Join(cluster, ","),
		"--initial-cluster-state", "new", "--initial-cluster-token", "bench"}
}

// startEtcdCluster runs n etcd members on free loopback ports, each with
// its data and log in a fresh e.path(name)/MEMBER, until stop, which kills
// every member by its pid and returns what they cost over their lives, from
// their rusage. It returns once every member reports itself healthy (for
// n > 1: a leader elected).
func (e *env) startEtcdCluster(ctx context.Context, bin, name string, n int) (ms []etcdMember, stop func() Usage, err error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, nil, err
	}
	if ms, err = etcdMembers(n, ports); err != nil {
		return nil, nil, err
	}
	root, err := e.peerDir(name)
	if err != nil {
		return nil, nil, err
	}
	var stops []func()
	var cmds []*exec.Cmd
	stop = func() Usage {
		for _, s := range stops {
			s()
		}
		var u Usage
		for _, c := range cmds {
			if cu, ok := runstats.ProcessUsage(c.ProcessState); ok {
				u.Add(cu)
			}
		}
		return u
	}
	for i, m := range ms {
		dir := filepath.Join(root, m.name)
		cmd := exec.Command(bin, etcdArgs(ms, i, filepath.Join(dir, "data"))...)
		// Members answer /health only once a quorum is up: each is
		// waited for after all have started.
		ready := func() error { return nil }
		if i == n-1 {
			ready = func() error {
				for _, m := range ms {
					if err := etcdHealthy(m.clientURL()); err != nil {
						return fmt.Errorf("%s: %w", m.name, err)
					}
				}
				return nil
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			stop()
			return nil, nil, err
		}
		s, err := startPeer(ctx, cmd, dir, ready)
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops, cmds = append(stops, s), append(cmds, cmd)
	}
	return ms, stop, nil
}

// etcdHealthy asks a member's /health.
func etcdHealthy(url string) error {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(b, []byte(`"health":"true"`)) {
		return fmt.Errorf("/health answered %q", b)
	}
	return nil
}

// etcdPutRequest is a put of key and value through the v3 HTTP/JSON
// gateway at base.
func etcdPutRequest(ctx context.Context, base, key string, value []byte) (*http.Request, error) {
	body, err := json.Marshal(map[string]string{
		"key":   base64.StdEncoding.EncodeToString([]byte(key)),
		"value": base64.StdEncoding.EncodeToString(value),
	})
	if err != nil {
		return nil, err
	}
	return http.NewRequestWithContext(ctx, http.MethodPost, base+"/v3/kv/put", bytes.NewReader(body))
}

// etcdSequentialPuts makes puts puts of size-byte values one after the
// other, taking the members in turn as the spec benchmark's clients take
// turns (each on its own server), under 3-letter keys, and returns puts/s
// over the whole sequence and what this process spent making them (the
// client's share of the work). Any failed put fails it.
func etcdSequentialPuts(ctx context.Context, ms []etcdMember, puts, size int) (float64, Usage, error) {
	if len(ms) == 0 {
		return 0, Usage{}, errors.New("etcd: no members")
	}
	value := bytes.Repeat([]byte("x"), size)
	c := &http.Client{Timeout: 10 * time.Second}
	u0, _ := runstats.SelfUsage()
	t0 := time.Now()
	for i := range puts {
		req, err := etcdPutRequest(ctx, ms[i%len(ms)].clientURL(), spec3Key(i), value)
		if err != nil {
			return 0, Usage{}, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, Usage{}, fmt.Errorf("put %d: %w", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return 0, Usage{}, fmt.Errorf("put %d to %s: %s", i, req.URL, resp.Status)
		}
	}
	rate := float64(puts) / time.Since(t0).Seconds()
	u1, _ := runstats.SelfUsage()
	return rate, u1.Sub(u0), nil
}

// spec3Key is a 3-letter key of keyLetters for put i, as long as the spec
// benchmark's keys.
func spec3Key(i int) string {
	n := len(keyLetters)
	return string([]byte{keyLetters[i%n], keyLetters[i/n%n], keyLetters[i/(n*n)%n]})
}
