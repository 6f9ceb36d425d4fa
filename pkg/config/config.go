// Package config describes a gossipkv cluster: which ids are servers and
// which are clients, where each listens, where servers keep their data, and
// the timing and durability knobs. It is the only package that reads YAML.
//
// Every knob has a default chosen for the harness on one machine (see the
// comment on each field of Default); a file only needs to say what differs.
// Unknown fields are errors, so a typo in a knob's name is never silently
// ignored.
package config

import "time"

// Config is the whole cluster as config.yaml describes it.
type Config struct {
	// DataDir holds one directory per server (server-ID) and the processes'
	// log files. A relative path is taken relative to the config file.
	DataDir    string     `yaml:"data_dir"`
	LogLevel   string     `yaml:"log_level"`
	Timing     Timing     `yaml:"timing"`
	Durability Durability `yaml:"durability"`
	Limits     Limits     `yaml:"limits"`
	Servers    []Server   `yaml:"servers"`
	Clients    []Client   `yaml:"clients"`
}

// Server places one server id: its host and its three ports.
type Server struct {
	ID           uint32 `yaml:"id"`
	Host         string `yaml:"host"`
	RPCPort      int    `yaml:"rpc_port"`
	GossipPort   int    `yaml:"gossip_port"`
	WatchdogPort int    `yaml:"watchdog_port"`
}

// Client places one client id.
type Client struct {
	ID      uint32 `yaml:"id"`
	Host    string `yaml:"host"`
	RPCPort int    `yaml:"rpc_port"`
}

// Timing holds the intervals and timeouts of every process.
type Timing struct {
	GossipInterval    time.Duration `yaml:"gossip_interval"`
	ProbeInterval     time.Duration `yaml:"probe_interval"`
	ProbeTimeout      time.Duration `yaml:"probe_timeout"`
	SuspicionMult     int           `yaml:"suspicion_mult"`
	PushPullInterval  time.Duration `yaml:"push_pull_interval"`
	ResendInterval    time.Duration `yaml:"resend_interval"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	RejoinInterval    time.Duration `yaml:"rejoin_interval"`
	RPCTimeout        time.Duration `yaml:"rpc_timeout"`
	StartTimeout      time.Duration `yaml:"start_timeout"`
	StabilizeTimeout  time.Duration `yaml:"stabilize_timeout"`
	StabilizePoll     time.Duration `yaml:"stabilize_poll"`
}

// Durability says whether commits are fsync'd.
type Durability struct {
	Fsync bool `yaml:"fsync"`
}

// Limits bound what one put may carry.
type Limits struct {
	MaxKeyBytes   int `yaml:"max_key_bytes"`
	MaxValueBytes int `yaml:"max_value_bytes"`
}
