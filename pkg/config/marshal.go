package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// comments are the one-line explanations Marshal writes above each knob, so
// that a generated file documents itself. Why each default was chosen is in
// Default.
var comments = map[string]string{
	"cluster":                          "The cluster's name: processes refuse calls and gossip from another cluster (1-64 of A-Z a-z 0-9 . _ -). Not a secret.",
	"data_dir":                         "Servers keep their state in server-ID/ and processes log to logs/ here; relative to this file.",
	"log_level":                        "debug, info, warn or error.",
	"consistency":                      "eventual (gossip replication, session guarantees) or linearizable (every put, delete, cas and get through a Raft group of the servers).",
	"timing":                           "Intervals and timeouts. Durations need a unit: 50ms, 1s.",
	"timing.gossip_interval":           "memberlist gossip round: spreads link-topology changes.",
	"timing.probe_interval":            "failure-detector probe of one peer: how fast a dead or cut peer is noticed.",
	"timing.probe_timeout":             "wait for a probe's ack; less than probe_interval.",
	"timing.suspicion_mult":            "a suspect is declared dead after about suspicion_mult * log10(n+1) * probe_interval.",
	"timing.push_pull_interval":        "memberlist's full membership exchange between two servers.",
	"timing.flush_interval":            "least time between two messages to one peer: batches puts and acks under load.",
	"timing.commit_delay":              "a commit of other servers' writes only may wait this long to gather more (fewer fsyncs).",
	"timing.checkpoint_interval":       "how often a server folds its write-ahead log into its bbolt file.",
	"timing.resend_interval":           "a neighbour missing writes without progress this long is sent them again (delta).",
	"timing.heartbeat_interval":        "servers re-announce the writes they hold to their neighbours this often.",
	"timing.rejoin_interval":           "re-join known servers missing from the member list (memberlist never re-merges by itself).",
	"timing.rpc_timeout":               "deadline of every net/rpc call.",
	"timing.start_timeout":             "how long joinServer waits for a started server to answer.",
	"timing.stabilize_timeout":         "stabilize fails with an error after this; a safety net, not a target.",
	"timing.stabilize_poll":            "how often stabilize checks whether the servers have converged.",
	"timing.max_clock_offset":          "a server refuses other servers' writes whose versions are further ahead of its clock than this, until its clock catches up.",
	"timing.raft_heartbeat_timeout":    "linearizable mode: a Raft follower that hears nothing from its leader this long calls an election.",
	"timing.raft_election_timeout":     "linearizable mode: how long a Raft candidate waits for votes.",
	"timing.raft_leader_lease_timeout": "linearizable mode: a Raft leader without a quorum steps down after this; at most raft_heartbeat_timeout.",
	"timing.raft_commit_timeout":       "linearizable mode: followers learn of a commit within this when nothing else carries it.",
	"timing.raft_timeout":              "linearizable mode: a server without a quorum answers ERR_UNAVAILABLE after this; less than rpc_timeout.",
	"durability":                       "",
	"durability.fsync":                 "fsync each commit before a put is acknowledged (false only to benchmark without the disk).",
	"durability.checkpoint_bytes":      "a server also folds its write-ahead log into its bbolt file whenever the log holds this many bytes (64 KiB to 1 GiB).",
	"limits":                           "",
	"limits.max_key_bytes":             "longest key a put or get may carry (bbolt allows at most 32768).",
	"limits.max_value_bytes":           "longest value a put may carry.",
	"security":                         "",
	"security.secret_key":              "base64 AES key (16, 24 or 32 bytes) encrypting gossip and replication; empty: none. GOSSIPKV_SECRET_KEY overrides.",
	"runtime":                          "",
	"runtime.gomaxprocs":               "threads running Go code at once in each process (GOMAXPROCS); 0: one per core. 1 suits many processes on one machine.",
	"servers":                          "Each server: id, host, rpc_port (clients and master), gossip_port (memberlist, TCP and UDP), watchdog_port (its watchdog),\nresp_port (the Redis protocol, for redis-cli and Redis client libraries), http_port (HTTP: /v1/kv/KEY, /v1/status, /metrics)\nand memcache_port (the memcache text protocol); for each of these three, 0 or left out: none.",
	"clients":                          "Each client: id, host, rpc_port (master). An id is a server or a client, never both.",
}

// Marshal renders c as YAML that Parse reads back to an equal Config:
// every knob with a comment, durations with a unit, and one line per server
// and client so that a layout of tens of ids stays readable.
func (c *Config) Marshal() ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	decorate(&root, reflect.TypeFor[Config](), "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return spaceSections(buf.Bytes()), nil
}

// spaceSections puts a blank line before each top-level key (with its
// comment), which yaml.v3 cannot emit. Only keys and their comments start
// at column 0 in what Marshal encodes; values that span lines are indented.
func spaceSections(b []byte) []byte {
	var out []byte
	prevTopComment := true // no blank line at the very top
	for line := range bytes.Lines(b) {
		top := len(line) > 0 && line[0] != ' ' && line[0] != '\n'
		if top && !prevTopComment {
			out = append(out, '\n')
		}
		prevTopComment = top && line[0] == '#'
		out = append(out, line...)
	}
	return out
}

// decorate adds comments, writes durations in their shortest exact unit
// ("60s", not yaml.v3's "1m0s") and puts list items on one line each.
func decorate(n *yaml.Node, t reflect.Type, path string) {
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByName(t, k.Value)
			if !ok {
				continue
			}
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			if text, ok := comments[child]; ok {
				k.HeadComment = text
			}
			decorate(v, f.Type, child)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for _, item := range n.Content {
			if t.Elem().Kind() == reflect.Struct {
				item.Style = yaml.FlowStyle
			}
			decorate(item, t.Elem(), path+"[]")
		}
	case n.Kind == yaml.ScalarNode && t == durationType:
		if d, err := time.ParseDuration(n.Value); err == nil {
			n.Value = formatDuration(d)
		}
	}
}

// formatDuration writes d in the largest of s, ms, us, ns that is exact.
func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		if d%u.unit == 0 {
			return fmt.Sprintf("%d%s", d/u.unit, u.name)
		}
	}
	return fmt.Sprintf("%dns", int64(d))
}

// Write saves c to path through a temporary file and a rename, so that a
// reader never sees half a config.
func (c *Config) Write(path string) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
