package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDefault_KnobsAndValidity(t *testing.T) {
	d := Default()
	if len(d.Servers) != 0 || len(d.Clients) != 0 {
		t.Errorf("Default has ids: %v %v", d.Servers, d.Clients)
	}
	want := Timing{
		GossipInterval: 50 * time.Millisecond, ProbeInterval: 200 * time.Millisecond,
		ProbeTimeout: 100 * time.Millisecond, SuspicionMult: 2, PushPullInterval: time.Second,
		FlushInterval: 10 * time.Millisecond,
		CommitDelay:   20 * time.Millisecond, Checkpoint: 500 * time.Millisecond,
		ResendInterval: 50 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond,
		RejoinInterval: 500 * time.Millisecond, RPCTimeout: 5 * time.Second,
		StartTimeout: 10 * time.Second, StabilizeTimeout: 60 * time.Second,
		StabilizePoll: 2 * time.Millisecond, MaxClockOffset: 5 * time.Second,
		RaftHeartbeatTimeout: 500 * time.Millisecond, RaftElectionTimeout: 500 * time.Millisecond,
		RaftLeaderLeaseTimeout: 250 * time.Millisecond, RaftCommitTimeout: 10 * time.Millisecond,
		RaftTimeout: 2 * time.Second,
	}
	if d.Timing != want {
		t.Errorf("Default().Timing = %+v, want %+v", d.Timing, want)
	}
	if !d.Durability.Fsync || d.Limits != (Limits{MaxKeyBytes: 4096, MaxValueBytes: 1 << 20}) ||
		d.LogLevel != "warn" || d.Consistency != ConsistencyEventual || d.DataDir != "data" || d.Cluster != "gossipkv" {
		t.Errorf("Default() = %+v", d)
	}
	// The knobs are valid; only the missing servers are not.
	err := d.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "servers" || strings.Contains(err.Error(), "\n") {
		t.Errorf("Default().Validate() = %v; want only the servers error", err)
	}
	if err := Local(1, 0, 7000).Validate(); err != nil {
		t.Errorf("Local(1, 0).Validate() = %v", err)
	}
}

func TestLocal_Layout(t *testing.T) {
	c := Local(3, 2, 9000)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.ServerIDs(); !reflect.DeepEqual(got, []uint32{0, 1, 2}) {
		t.Errorf("ServerIDs = %v", got)
	}
	if got := c.ClientIDs(); !reflect.DeepEqual(got, []uint32{3, 4}) {
		t.Errorf("ClientIDs = %v", got)
	}
	s, ok := c.Server(2)
	if !ok || s.RPCAddr() != "127.0.0.1:9002" || s.GossipAddr() != "127.0.0.1:9102" || s.WatchdogAddr() != "127.0.0.1:9202" ||
		s.RESPAddr() != "127.0.0.1:9402" || s.HTTPAddr() != "127.0.0.1:9502" || s.MemcacheAddr() != "127.0.0.1:9602" {
		t.Errorf("Server(2) = %+v, %v", s, ok)
	}
	cl, ok := c.Client(4)
	if !ok || cl.RPCAddr() != "127.0.0.1:9304" {
		t.Errorf("Client(4) = %+v, %v", cl, ok)
	}
	if _, ok := c.Server(3); ok {
		t.Error("Server(3) found a client")
	}
	if _, ok := c.Client(0); ok {
		t.Error("Client(0) found a server")
	}
	if got := c.ServerDir(7); got != filepath.Join("data", "server-7") {
		t.Errorf("ServerDir(7) = %q", got)
	}
	if got := c.LogDir(); got != filepath.Join("data", "logs") {
		t.Errorf("LogDir() = %q", got)
	}
}

func TestLocal_Panics(t *testing.T) {
	for _, args := range [][3]int{{60, 41, 7000}, {-1, 0, 7000}, {1, 1, 0}, {1, 1, 65200}, {1, 1, 65537 - LocalPortSpan}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Local%v did not panic", args)
				}
			}()
			Local(args[0], args[1], args[2])
		}()
	}
	Local(50, 50, 65536-LocalPortSpan) // the largest that fits: no panic
}

func TestIDs_Sorted(t *testing.T) {
	c := Local(0, 0, 7000)
	c.Servers = []Server{{ID: 9}, {ID: 2}, {ID: 5}}
	c.Clients = []Client{{ID: 8}, {ID: 1}}
	if got := c.ServerIDs(); !reflect.DeepEqual(got, []uint32{2, 5, 9}) {
		t.Errorf("ServerIDs = %v", got)
	}
	if got := c.ClientIDs(); !reflect.DeepEqual(got, []uint32{1, 8}) {
		t.Errorf("ClientIDs = %v", got)
	}
}

func TestAddr_IPv6(t *testing.T) {
	s := Server{Host: "::1", RPCPort: 1, GossipPort: 2, WatchdogPort: 3}
	if s.RPCAddr() != "[::1]:1" || s.GossipAddr() != "[::1]:2" || s.WatchdogAddr() != "[::1]:3" {
		t.Errorf("addrs: %s %s %s", s.RPCAddr(), s.GossipAddr(), s.WatchdogAddr())
	}
}

// TestConfigYAML_IsLocal5x5 keeps the repository's config.yaml in step with
// the layout that the scripts and docs assume.
func TestConfigYAML_IsLocal5x5(t *testing.T) {
	path := filepath.Join("..", "..", "config.yaml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Local(5, 5, 7000)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want.DataDir = filepath.Join(root, "data")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.yaml =\n%+v\nwant Local(5, 5, 7000) =\n%+v", got, want)
	}
	// Every knob is spelled out, so users can see them all.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for path := range comments {
		key := path[strings.LastIndexByte(path, '.')+1:] + ":"
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key)).Match(data) {
			t.Errorf("config.yaml does not show %s", path)
		}
	}
}

func TestParse_PartialFileKeepsDefaults(t *testing.T) {
	c, err := Parse([]byte(`
timing:
  probe_interval: 1s
  # every other knob commented out
durability:
servers:
  - {id: 3, host: 127.0.0.2, rpc_port: 1, gossip_port: 2, watchdog_port: 3}
clients: []
`), "/base")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Timing.ProbeInterval = time.Second
	want.DataDir = "/base/data"
	want.Servers = []Server{{ID: 3, Host: "127.0.0.2", RPCPort: 1, GossipPort: 2, WatchdogPort: 3}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
}

func TestParse_DataDir(t *testing.T) {
	const servers = "servers: [{id: 0, host: 127.0.0.1, rpc_port: 1, gossip_port: 2, watchdog_port: 3}]\n"
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dataDir, base, want string }{
		{"", "/etc/gkv", "/etc/gkv/data"},
		{"data_dir: /var/gkv\n", "/etc/gkv", "/var/gkv"},
		{"data_dir: ../d\n", "/etc/gkv", "/etc/d"},
		{"data_dir: d\n", "rel", filepath.Join(wd, "rel", "d")},
		{"data_dir: d\n", "", filepath.Join(wd, "d")},
	} {
		c, err := Parse([]byte(tt.dataDir+servers), tt.base)
		if err != nil {
			t.Fatal(err)
		}
		if c.DataDir != tt.want {
			t.Errorf("data_dir %q in %q: got %q, want %q", tt.dataDir, tt.base, c.DataDir, tt.want)
		}
	}
}

// validFile is a correct config that the bad cases below break one way each.
const validFile = `data_dir: data
log_level: warn
timing:
  gossip_interval: 50ms
  probe_interval: 200ms
  probe_timeout: 100ms
durability:
  fsync: true
limits:
  max_key_bytes: 4096
servers:
  - id: 0
    host: 127.0.0.1
    rpc_port: 7000
    gossip_port: 7100
    watchdog_port: 7200
  - {id: 1, host: 127.0.0.1, rpc_port: 7001, gossip_port: 7101, watchdog_port: 7201}
clients:
  - {id: 5, host: 127.0.0.1, rpc_port: 7305}
`

func TestParse_ValidFile(t *testing.T) {
	c, err := Parse([]byte(validFile), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || len(c.Clients) != 1 || c.Servers[0].WatchdogPort != 7200 {
		t.Errorf("Parse(validFile) = %+v", c)
	}
	// resp_port is optional: left out, the Redis front is off.
	if c.Servers[0].RESPPort != 0 || c.Servers[0].RESPAddr() != "" {
		t.Errorf("no resp_port: RESPPort %d, RESPAddr %q; want 0 and none", c.Servers[0].RESPPort, c.Servers[0].RESPAddr())
	}
	c, err = Parse([]byte(strings.Replace(validFile, "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: 7401}", 1)), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Servers[1].RESPAddr(); got != "127.0.0.1:7401" {
		t.Errorf("RESPAddr() = %q, want 127.0.0.1:7401", got)
	}
	// So are http_port and memcache_port.
	if s := c.Servers[0]; s.HTTPPort != 0 || s.HTTPAddr() != "" || s.MemcachePort != 0 || s.MemcacheAddr() != "" {
		t.Errorf("no http_port, memcache_port: %+v, HTTPAddr %q, MemcacheAddr %q; want 0 and none", s, s.HTTPAddr(), s.MemcacheAddr())
	}
	c, err = Parse([]byte(strings.Replace(validFile, "watchdog_port: 7201}", "watchdog_port: 7201, http_port: 7501, memcache_port: 7601}", 1)), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Servers[1]; s.HTTPAddr() != "127.0.0.1:7501" || s.MemcacheAddr() != "127.0.0.1:7601" {
		t.Errorf("HTTPAddr() = %q, MemcacheAddr() = %q; want 127.0.0.1:7501 and 127.0.0.1:7601", s.HTTPAddr(), s.MemcacheAddr())
	}
}

func TestParse_Errors(t *testing.T) {
	tests := []struct {
		name      string
		old, new  string // replace old by new in validFile
		want      []string
		wantField string // Field of the first error
	}{
		{"duplicate id across server and client", "id: 5, host", "id: 1, host",
			[]string{"config: line 19: clients[0].id: 1 is already used by servers[1].id (an id is a server or a client, never both)"}, "clients[0].id"},
		{"duplicate server id", "id: 1, host", "id: 0, host",
			[]string{"config: line 17: servers[1].id: 0 is already used by servers[0].id"}, "servers[1].id"},
		{"port clash", "rpc_port: 7001", "rpc_port: 7100",
			[]string{"config: line 17: servers[1].rpc_port: 7100 is already used by servers[0].gossip_port"}, "servers[1].rpc_port"},
		{"port clash with wildcard host", "host: 127.0.0.1, rpc_port: 7305", "host: 0.0.0.0, rpc_port: 7001",
			[]string{"config: line 19: clients[0].rpc_port: 7001 is already used by servers[1].rpc_port"}, "clients[0].rpc_port"},
		{"unknown field", "  gossip_interval: 50ms", "  gosip_interval: 50ms",
			[]string{`config: line 4: timing.gosip_interval: unknown field (did you mean "gossip_interval"?)`}, "timing.gosip_interval"},
		{"unknown field far from any", "log_level: warn", "colour: blue",
			[]string{`config: line 2: colour: unknown field (known fields: cluster, data_dir, log_level, consistency, timing, durability, limits, security, runtime, servers, clients)`}, "colour"},
		{"unknown field in a flow item", "rpc_port: 7305", "rpc_prot: 7305",
			[]string{`config: line 19: clients[0].rpc_prot: unknown field (did you mean "rpc_port"?)`}, "clients[0].rpc_prot"},
		{"bad duration", "probe_timeout: 100ms", "probe_timeout: 100 ms",
			[]string{`config: line 6: timing.probe_timeout: "100 ms" is not a duration: want a number and a unit (ns, us, ms, s, m, h), e.g. "50ms"`}, "timing.probe_timeout"},
		{"duration without unit", "probe_timeout: 100ms", "probe_timeout: 100",
			[]string{`config: line 6: timing.probe_timeout: 100 has no unit: write a duration such as "100ms" or "100s"`}, "timing.probe_timeout"},
		{"quoted duration without unit", "probe_timeout: 100ms", `probe_timeout: "100"`,
			[]string{`config: line 6: timing.probe_timeout: "100" is not a duration: want a number and a unit (ns, us, ms, s, m, h), e.g. "50ms"`}, "timing.probe_timeout"},
		{"zero duration", "gossip_interval: 50ms", "gossip_interval: 0s",
			[]string{"config: line 4: timing.gossip_interval: 0s must be greater than 0"}, "timing.gossip_interval"},
		{"negative max clock offset", "gossip_interval: 50ms", "gossip_interval: 50ms\n  max_clock_offset: -1s",
			[]string{"config: line 5: timing.max_clock_offset: -1s must be greater than 0"}, "timing.max_clock_offset"},
		{"negative port", "watchdog_port: 7201", "watchdog_port: -7201",
			[]string{"config: line 17: servers[1].watchdog_port: -7201 is not a port (1..65535)"}, "servers[1].watchdog_port"},
		{"port too large", "rpc_port: 7000", "rpc_port: 70000",
			[]string{"config: line 14: servers[0].rpc_port: 70000 is not a port (1..65535)"}, "servers[0].rpc_port"},
		{"negative resp port", "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: -1}",
			[]string{"config: line 17: servers[1].resp_port: -1 is not a port (1..65535, or 0 for none)"}, "servers[1].resp_port"},
		{"resp port too large", "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: 65536}",
			[]string{"config: line 17: servers[1].resp_port: 65536 is not a port (1..65535, or 0 for none)"}, "servers[1].resp_port"},
		{"resp port clash", "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: 7000}",
			[]string{"config: line 17: servers[1].resp_port: 7000 is already used by servers[0].rpc_port"}, "servers[1].resp_port"},
		{"resp port not an integer", "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: redis}",
			[]string{`config: line 17: servers[1].resp_port: "redis" is not an integer`}, "servers[1].resp_port"},
		{"negative http port", "watchdog_port: 7201}", "watchdog_port: 7201, http_port: -1}",
			[]string{"config: line 17: servers[1].http_port: -1 is not a port (1..65535, or 0 for none)"}, "servers[1].http_port"},
		{"http port clash with resp port", "watchdog_port: 7201}", "watchdog_port: 7201, resp_port: 7401, http_port: 7401}",
			[]string{"config: line 17: servers[1].http_port: 7401 is already used by servers[1].resp_port"}, "servers[1].http_port"},
		{"memcache port too large", "watchdog_port: 7201}", "watchdog_port: 7201, memcache_port: 65536}",
			[]string{"config: line 17: servers[1].memcache_port: 65536 is not a port (1..65535, or 0 for none)"}, "servers[1].memcache_port"},
		{"memcache port clash", "watchdog_port: 7201}", "watchdog_port: 7201, memcache_port: 7100}",
			[]string{"config: line 17: servers[1].memcache_port: 7100 is already used by servers[0].gossip_port"}, "servers[1].memcache_port"},
		{"fractional port", "rpc_port: 7000", "rpc_port: 7000.5",
			[]string{`config: line 14: servers[0].rpc_port: "7000.5" is not an integer`}, "servers[0].rpc_port"},
		{"negative id", "id: 5, host", "id: -5, host",
			[]string{"config: line 19: clients[0].id: -5 is negative"}, "clients[0].id"},
		{"id too large", "id: 5, host", "id: 4294967296, host",
			[]string{"config: line 19: clients[0].id: 4294967296 is out of range"}, "clients[0].id"},
		{"empty host", "    host: 127.0.0.1", `    host: ""`,
			[]string{"config: line 13: servers[0].host: must not be empty"}, "servers[0].host"},
		{"no value", "    host: 127.0.0.1", "    host:",
			[]string{"config: line 13: servers[0].host: no value"}, "servers[0].host"},
		{"no value for a knob", "log_level: warn", "log_level:",
			[]string{"config: line 2: log_level: no value (give one, or delete the line to keep the default)"}, "log_level"},
		{"host with port", "    host: 127.0.0.1", "    host: 127.0.0.1:7000",
			[]string{`config: line 13: servers[0].host: "127.0.0.1:7000" is not an IP address or host name (give the host "127.0.0.1" alone; the port 7000 goes in a port field)`}, "servers[0].host"},
		{"bad host", "    host: 127.0.0.1", "    host: 300.1.1.1",
			[]string{`config: line 13: servers[0].host: "300.1.1.1" is not an IP address or host name`}, "servers[0].host"},
		{"probe timeout not below interval", "probe_timeout: 100ms", "probe_timeout: 200ms",
			[]string{"config: line 6: timing.probe_timeout: 200ms must be less than timing.probe_interval (200ms)"}, "timing.probe_timeout"},
		{"cluster with a slash", "data_dir: data", "cluster: lab/a\ndata_dir: data",
			[]string{`config: line 1: cluster: "lab/a": only letters, digits and . _ - are allowed`}, "cluster"},
		{"empty cluster", "data_dir: data", "cluster: \"\"\ndata_dir: data",
			[]string{"config: line 1: cluster: must not be empty"}, "cluster"},
		{"cluster too long", "data_dir: data", "cluster: " + strings.Repeat("c", 65) + "\ndata_dir: data",
			[]string{`config: line 1: cluster: "` + strings.Repeat("c", 65) + `" is 65 characters long; at most 64`}, "cluster"},
		{"bad log level", "log_level: warn", "log_level: verbose",
			[]string{`config: line 2: log_level: "verbose" is not one of debug, info, warn, error`}, "log_level"},
		{"bad bool", "fsync: true", "fsync: maybe",
			[]string{`config: line 8: durability.fsync: "maybe" is not true or false`}, "durability.fsync"},
		{"checkpoint bytes too few", "fsync: true", "fsync: true\n  checkpoint_bytes: 4096",
			[]string{"config: line 9: durability.checkpoint_bytes: 4096 must be from 65536 to 1073741824"}, "durability.checkpoint_bytes"},
		{"checkpoint bytes too many", "fsync: true", "fsync: true\n  checkpoint_bytes: 2147483648",
			[]string{"config: line 9: durability.checkpoint_bytes: 2147483648 must be from 65536 to 1073741824"}, "durability.checkpoint_bytes"},
		{"zero limit", "max_key_bytes: 4096", "max_key_bytes: 0",
			[]string{"config: line 10: limits.max_key_bytes: 0 must be greater than 0"}, "limits.max_key_bytes"},
		{"key limit above bbolt's", "max_key_bytes: 4096", "max_key_bytes: 40000",
			[]string{"config: line 10: limits.max_key_bytes: 40000 is more than bbolt can store in a key (32768)"}, "limits.max_key_bytes"},
		{"negative gomaxprocs", "servers:", "runtime: {gomaxprocs: -1}\nservers:",
			[]string{"config: line 11: runtime.gomaxprocs: -1 must not be negative (0: one per core)"}, "runtime.gomaxprocs"},
		{"no servers", validFile[strings.Index(validFile, "servers:"):strings.Index(validFile, "clients:")], "servers: []\n",
			[]string{"config: line 11: servers: at least one server is needed"}, "servers"},
		{"servers not a list", validFile[strings.Index(validFile, "servers:"):strings.Index(validFile, "clients:")], "servers: 5\n",
			[]string{`config: line 11: servers: want a list, got "5"`}, "servers"},
		{"duplicate key", "log_level: warn", "log_level: warn\nlog_level: info",
			[]string{"config: line 3: log_level: already set on line 2"}, "log_level"},
		{"bad YAML", "timing:", "timing: [",
			[]string{"config: line 4: did not find expected ',' or ']'"}, ""},
		{"bad YAML indentation", "    rpc_port: 7000", "   rpc_port: 7000",
			[]string{"config: line 14: did not find expected '-' indicator"}, ""},
		{"two documents", "clients:", "---\nclients:",
			[]string{"config: line 18: a config is one YAML document; remove this '---' and what follows"}, ""},
		{"several problems at once", "log_level: warn", "log_level: loud\ncolour: blue\ntiming2: {}",
			[]string{
				`config: line 3: colour: unknown field (known fields: cluster, data_dir, log_level, consistency, timing, durability, limits, security, runtime, servers, clients)`,
				`config: line 4: timing2: unknown field (did you mean "timing"?)`,
			}, "colour"},
		{"several validation problems", "max_key_bytes: 4096", "max_key_bytes: 0\n  max_value_bytes: -1",
			[]string{
				"config: line 10: limits.max_key_bytes: 0 must be greater than 0",
				"config: line 11: limits.max_value_bytes: -1 must be greater than 0",
			}, "limits.max_key_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(validFile, tt.old) {
				t.Fatalf("validFile has no %q", tt.old)
			}
			file := strings.Replace(validFile, tt.old, tt.new, 1)
			c, err := Parse([]byte(file), "/x")
			if err == nil {
				t.Fatalf("Parse accepted\n%s\n=> %+v", file, c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Parse error\n got %s\nwant %s", got, want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Errorf("first error %#v, want a *FieldError for %q", fe, tt.wantField)
			}
		})
	}
}

func TestParse_NotAMapping(t *testing.T) {
	_, err := Parse([]byte("- 1\n- 2\n"), "/x")
	want := `config: line 1: want a mapping of cluster, data_dir, log_level, consistency, timing, durability, limits, security, runtime, servers, clients, got a list`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(list) = %v, want %s", err, want)
	}
}

func TestParse_EmptyFileNeedsServers(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "{}"} {
		_, err := Parse([]byte(data), "/x")
		if err == nil || err.Error() != "config: servers: at least one server is needed" {
			t.Errorf("Parse(%q) = %v", data, err)
		}
	}
}

func TestValidate_WithoutLines(t *testing.T) {
	c := Local(2, 1, 7000)
	c.Clients[0].ID = 0
	c.Servers[1].Host = ""
	c.Timing.SuspicionMult = 0
	err := c.Validate()
	want := strings.Join([]string{
		"config: timing.suspicion_mult: 0 must be at least 1",
		"config: servers[1].host: must not be empty",
		"config: clients[0].id: 0 is already used by servers[0].id (an id is a server or a client, never both)",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
}

func TestValidate_Hosts(t *testing.T) {
	for host, ok := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "node-1.example.org": true,
		"node-1.example.org.": true, "10.0.0.256": false, "-bad.example": false, "a..b": false,
		"under_score": false, "space host": false, "": false, strings.Repeat("a", 64): false,
	} {
		c := Local(1, 1, 7000)
		c.Clients[0].Host = host
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("client host %q: Validate() = %v, want ok=%v", host, err, ok)
		}
	}
}

// memberlist advertises servers by address: a name or a wildcard would
// start a server its peers cannot reach.
func TestValidate_ServerHostMustBeAddress(t *testing.T) {
	for host, ok := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.77.0.2": true,
		"localhost": false, "node-1.example.org": false, "0.0.0.0": false, "::": false,
	} {
		c := Local(1, 0, 7000)
		c.Servers[0].Host = host
		err := c.Validate()
		if (err == nil) != ok {
			t.Errorf("server host %q: Validate() = %v, want ok=%v", host, err, ok)
		}
		if err != nil && !ok && !strings.Contains(err.Error(), "servers[0].host") {
			t.Errorf("server host %q: error %q does not name the field", host, err)
		}
	}
}

func TestValidate_SameHostDifferentSpelling(t *testing.T) {
	c := Local(2, 0, 7000)
	c.Servers[0].Host = "::ffff:127.0.0.1" // the same address as 127.0.0.1
	c.Servers[1].RPCPort = 7000
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "servers[1].rpc_port: 7000 is already used by servers[0].rpc_port") {
		t.Errorf("Validate() = %v", err)
	}
	c.Servers[0].Host = "127.0.0.2" // another host: no clash
	if err := c.Validate(); err != nil {
		t.Errorf("different hosts: %v", err)
	}
}

func TestMarshal_RoundTrip(t *testing.T) {
	configs := map[string]*Config{
		"local":      Local(5, 5, 7000),
		"no clients": Local(3, 0, 20000),
	}
	odd := Local(2, 1, 7000)
	odd.DataDir = "/srv/gossip kv/data: #1"
	odd.LogLevel = "debug"
	odd.Cluster = "lab-2.b_x"
	odd.Timing.ProbeInterval = 1500 * time.Microsecond
	odd.Timing.ProbeTimeout = 7
	odd.Timing.StabilizeTimeout = 90 * time.Minute
	odd.Durability.Fsync = false
	odd.Limits.MaxValueBytes = 12345
	odd.Servers[0].Host = "::1"
	odd.Servers[1].Host = "10.1.2.3"
	odd.Clients[0].Host = "node-1.example.org"
	odd.Servers[0].ID, odd.Servers[1].ID, odd.Clients[0].ID = 4000000000, 7, 0
	configs["odd"] = odd
	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			data, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data, "/base")
			if err != nil {
				t.Fatalf("Parse(Marshal()) = %v\n%s", err, data)
			}
			want := *c
			if !filepath.IsAbs(want.DataDir) {
				want.DataDir = filepath.Join("/base", want.DataDir)
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("round trip:\n got %+v\nwant %+v\n%s", got, &want, data)
			}
		})
	}
}

func TestMarshal_ReadableDurations(t *testing.T) {
	data, err := Local(1, 0, 7000).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stabilize_timeout: 60s\n", "probe_interval: 200ms\n", "push_pull_interval: 1s\n",
		"\n  - {id: 0, host: 127.0.0.1, rpc_port: 7000, gossip_port: 7100, watchdog_port: 7200, resp_port: 7400, http_port: 7500, memcache_port: 7600}\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("Marshal() lacks %q:\n%s", want, data)
		}
	}
}

func TestWrite_Load(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "c.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Local(2, 2, 7000)
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = filepath.Join(dir, "sub", "data")
	if !reflect.DeepEqual(got, c) {
		t.Errorf("Load(Write(c)) = %+v, want %+v", got, c)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("Write left files behind: %v %v", entries, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestLocalFreePorts_DistinctAndUsable(t *testing.T) {
	dir := t.TempDir()
	c, err := LocalFreePorts(4, 3, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err) // also proves every port is distinct
	}
	if c.DataDir != dir || !reflect.DeepEqual(c.ServerIDs(), []uint32{0, 1, 2, 3}) ||
		!reflect.DeepEqual(c.ClientIDs(), []uint32{4, 5, 6}) {
		t.Errorf("LocalFreePorts layout = %+v", c)
	}
	// Every port can be bound now: TCP everywhere, UDP too for gossip.
	var addrs []string
	for _, s := range c.Servers {
		addrs = append(addrs, s.RPCAddr(), s.GossipAddr(), s.WatchdogAddr(), s.RESPAddr(), s.HTTPAddr(), s.MemcacheAddr())
		u, err := net.ListenPacket("udp", s.GossipAddr())
		if err != nil {
			t.Errorf("gossip port not free for UDP: %v", err)
			continue
		}
		t.Cleanup(func() { u.Close() })
	}
	for _, cl := range c.Clients {
		addrs = append(addrs, cl.RPCAddr())
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port not free: %v", err)
			continue
		}
		t.Cleanup(func() { l.Close() })
	}
	if len(addrs) != 4*6+3 {
		t.Errorf("%d addresses", len(addrs))
	}
	// None is in the range the kernel takes outgoing connections' ports
	// from, where a restarted server could find its port in use.
	lo, hi := freePortRange()
	for _, a := range addrs {
		_, p, _ := net.SplitHostPort(a)
		if port, _ := strconv.Atoi(p); port < lo || port > hi {
			t.Errorf("port %d outside %d-%d, below the ephemeral range", port, lo, hi)
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if start, _ := strconv.Atoi(strings.Fields(string(b))[0]); hi >= start {
			t.Errorf("range ends at %d, inside the ephemeral range from %d", hi, start)
		}
	}
}

func TestLocalFreePorts_MoreThan100IDs(t *testing.T) {
	c, err := LocalFreePorts(60, 60, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := LocalFreePorts(-1, 0, t.TempDir()); err == nil {
		t.Error("LocalFreePorts(-1) gave no error")
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c := Config{LogLevel: level}
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%q) = %s", level, got)
		}
	}
}

func TestFieldError_Format(t *testing.T) {
	for _, tt := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Line: 3, Field: "a.b", Msg: "m"}, "config: line 3: a.b: m"},
		{FieldError{Field: "a.b", Msg: "m"}, "config: a.b: m"},
		{FieldError{Line: 3, Msg: "m"}, "config: line 3: m"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestParse_Aliases(t *testing.T) {
	// A merge key reuses a server's fields; the merged config is checked.
	c, err := Parse([]byte(`
servers:
  - &s0 {id: 0, host: 127.0.0.1, rpc_port: 1, gossip_port: 2, watchdog_port: 3}
  - <<: *s0
    id: 1
    rpc_port: 4
    gossip_port: 5
    watchdog_port: 6
`), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Server(1); !ok || s.Host != "127.0.0.1" || s.RPCPort != 4 {
		t.Errorf("merged server = %+v", s)
	}
	// A self-containing anchor and an alias bomb are errors, not hangs.
	for _, data := range []string{
		"servers: &a [*a]\n",
		"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nservers: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
	} {
		if _, err := Parse([]byte(data), "/x"); err == nil {
			t.Errorf("Parse(%q) accepted it", data)
		}
	}
}

func TestIndex_Explain(t *testing.T) {
	// yaml.v3's own type errors (the backstop behind the walk) are mapped
	// to the field on their line, in flow style too.
	data := []byte("servers:\n  - {id: 0, host: h, rpc_port: 12345678901, gossip_port: 2}\n")
	w := &walker{idx: &index{lines: map[string]int{}, byLine: map[int][]entry{}}, reported: map[int]bool{}, aliased: map[aliasKey]bool{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	w.walk(doc.Content[0], reflect.TypeFor[Config](), "")
	for msg, want := range map[string]string{
		"line 2: cannot unmarshal !!int `1234567...` into int": "config: line 2: servers[0].rpc_port: cannot unmarshal !!int `1234567...` into int",
		"line 2: cannot unmarshal !!str `h` into int":          "config: line 2: servers[0].host: cannot unmarshal !!str `h` into int",
		"line 9: something": "config: line 9: something",
		"no line at all":    "config: no line at all",
	} {
		if got := w.idx.explain(msg).Error(); got != want {
			t.Errorf("explain(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestValidate_SecretKey(t *testing.T) {
	for key, want := range map[string]string{
		"":                                 "",
		"MDEyMzQ1Njc4OWFiY2RlZg==":         "", // 16 bytes
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3": "", // 24 bytes
		"not base64!":                      "security.secret_key: not base64",
		"c2hvcnQ=":                         "security.secret_key: decodes to 5 bytes; an AES key has 16, 24 or 32",
	} {
		c := Local(1, 0, 7000)
		c.Security.SecretKey = key
		err := c.Validate()
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("key %q: Validate() = %v, want %q", key, err, want)
		}
	}
}

func TestParse_Consistency(t *testing.T) {
	c, err := Parse([]byte("consistency: linearizable\nservers:\n  - {id: 0, host: 127.0.0.1, rpc_port: 1, gossip_port: 2, watchdog_port: 3}\n"), "/x")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Linearizable() {
		t.Errorf("consistency %q: Linearizable() = false", c.Consistency)
	}
	if Default().Linearizable() {
		t.Error("the default is linearizable, want eventual")
	}
	_, err = Parse([]byte("consistency: strong\nservers:\n  - {id: 0, host: 127.0.0.1, rpc_port: 1, gossip_port: 2, watchdog_port: 3}\n"), "/x")
	if err == nil || !strings.Contains(err.Error(), "consistency") || !strings.Contains(err.Error(), "linearizable") {
		t.Errorf("consistency: strong: %v, want an error naming the field and the choices", err)
	}
}

func TestValidate_RaftTimings(t *testing.T) {
	c := Local(1, 0, 7000)
	c.Consistency = ConsistencyLinearizable
	c.Timing.RaftLeaderLeaseTimeout = 2 * c.Timing.RaftHeartbeatTimeout
	c.Timing.RaftTimeout = c.Timing.RPCTimeout
	err := c.Validate()
	for _, field := range []string{"timing.raft_leader_lease_timeout", "timing.raft_timeout"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want an error naming %s", err, field)
		}
	}
}
