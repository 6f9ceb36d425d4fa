package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// maxBoltKey is bbolt's MaxKeySize: a longer key cannot be stored.
const maxBoltKey = 32768

// FieldError is one problem with one field of a config. Parse and Validate
// return them joined (errors.Join), one per problem, so that a user fixes a
// file in one round instead of one error at a time.
type FieldError struct {
	Line  int    // line in the file; 0 when unknown (a Config built in code)
	Field string // path such as "servers[2].rpc_port"; empty for the file as a whole
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// joinErrors returns nil for no problems, else all of them joined.
func joinErrors(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// Validate reports every problem with c, each a *FieldError naming its
// field, joined with errors.Join; nil when c is usable.
func (c *Config) Validate() error {
	return joinErrors(c.validate())
}

func (c *Config) validate() []*FieldError {
	var errs []*FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	if err := ValidName(c.Cluster); err != nil {
		bad("cluster", "%v", err)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.Consistency {
	case ConsistencyEventual, ConsistencyLinearizable:
	default:
		bad("consistency", "%q is not one of %s, %s", c.Consistency, ConsistencyEventual, ConsistencyLinearizable)
	}

	t := c.Timing
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"gossip_interval", t.GossipInterval},
		{"probe_interval", t.ProbeInterval},
		{"probe_timeout", t.ProbeTimeout},
		{"push_pull_interval", t.PushPullInterval},
		{"flush_interval", t.FlushInterval},
		{"commit_delay", t.CommitDelay},
		{"checkpoint_interval", t.Checkpoint},
		{"resend_interval", t.ResendInterval},
		{"heartbeat_interval", t.HeartbeatInterval},
		{"rejoin_interval", t.RejoinInterval},
		{"rpc_timeout", t.RPCTimeout},
		{"start_timeout", t.StartTimeout},
		{"stabilize_timeout", t.StabilizeTimeout},
		{"stabilize_poll", t.StabilizePoll},
		{"max_clock_offset", t.MaxClockOffset},
		{"raft_heartbeat_timeout", t.RaftHeartbeatTimeout},
		{"raft_election_timeout", t.RaftElectionTimeout},
		{"raft_leader_lease_timeout", t.RaftLeaderLeaseTimeout},
		{"raft_commit_timeout", t.RaftCommitTimeout},
		{"raft_timeout", t.RaftTimeout},
	} {
		if d.v <= 0 {
			bad("timing."+d.field, "%v must be greater than 0", d.v)
		}
	}
	if t.ProbeTimeout > 0 && t.ProbeInterval > 0 && t.ProbeTimeout >= t.ProbeInterval {
		// memberlist waits for a probe's ack up to the timeout; one that
		// outlasts the interval would overlap the next probe.
		bad("timing.probe_timeout", "%v must be less than timing.probe_interval (%v)", t.ProbeTimeout, t.ProbeInterval)
	}
	if t.RaftLeaderLeaseTimeout > t.RaftHeartbeatTimeout {
		// raft refuses it: a leader must step down before its followers
		// give up on it.
		bad("timing.raft_leader_lease_timeout", "%v must not exceed timing.raft_heartbeat_timeout (%v)", t.RaftLeaderLeaseTimeout, t.RaftHeartbeatTimeout)
	}
	if c.Linearizable() && t.RaftTimeout > 0 && t.RPCTimeout > 0 && t.RaftTimeout >= t.RPCTimeout {
		// The server must answer ERR_UNAVAILABLE before its caller gives
		// up on it and reports ERR_CONN. Only then: a file with a short
		// rpc_timeout stays valid in eventual mode.
		bad("timing.raft_timeout", "%v must be less than timing.rpc_timeout (%v)", t.RaftTimeout, t.RPCTimeout)
	}
	if t.SuspicionMult < 1 {
		bad("timing.suspicion_mult", "%d must be at least 1", t.SuspicionMult)
	}

	if c.Runtime.GoMaxProcs < 0 {
		bad("runtime.gomaxprocs", "%d must not be negative (0: one per core)", c.Runtime.GoMaxProcs)
	}
	if c.Limits.MaxKeyBytes < 1 {
		bad("limits.max_key_bytes", "%d must be greater than 0", c.Limits.MaxKeyBytes)
	} else if c.Limits.MaxKeyBytes > maxBoltKey {
		bad("limits.max_key_bytes", "%d is more than bbolt can store in a key (%d)", c.Limits.MaxKeyBytes, maxBoltKey)
	}
	if b := c.Durability.CheckpointBytes; b < minCheckpointBytes || b > maxCheckpointBytes {
		bad("durability.checkpoint_bytes", "%d must be from %d to %d", b, minCheckpointBytes, maxCheckpointBytes)
	}
	if c.Limits.MaxValueBytes < 1 {
		bad("limits.max_value_bytes", "%d must be greater than 0", c.Limits.MaxValueBytes)
	}

	if _, err := c.Security.Key(); err != nil {
		bad("security.secret_key", "%v", err)
	}

	if len(c.Servers) == 0 {
		bad("servers", "at least one server is needed")
	}

	// Ids: one namespace for servers and clients.
	owner := map[uint32]string{}
	useID := func(field string, id uint32) {
		if prev, ok := owner[id]; ok {
			note := ""
			if strings.HasPrefix(prev, "servers") != strings.HasPrefix(field, "servers") {
				note = " (an id is a server or a client, never both)"
			}
			bad(field, "%d is already used by %s%s", id, prev, note)
			return
		}
		owner[id] = field
	}

	// Listeners: no two on one host and port.
	type listener struct {
		field string
		host  string // canonical, "" when the host is bad
		any   bool   // unspecified address: clashes with every host
		port  int
	}
	var listeners []listener
	checkHost := func(field, host string) (canon string, unspecified bool) {
		canon, unspecified, msg := canonicalHost(host)
		if msg != "" {
			bad(field, "%s", msg)
		}
		return canon, unspecified
	}
	addListener := func(field, host string, unspecified bool, port int) {
		if port < 1 || port > 65535 {
			bad(field, "%d is not a port (1..65535)", port)
			return
		}
		if host == "" {
			return // already reported
		}
		for _, l := range listeners {
			if l.port == port && (l.host == host || l.any || unspecified) {
				bad(field, "%d is already used by %s", port, l.field)
				return
			}
		}
		listeners = append(listeners, listener{field, host, unspecified, port})
	}

	for i, s := range c.Servers {
		p := fmt.Sprintf("servers[%d].", i)
		useID(p+"id", s.ID)
		host, unspec := checkHost(p+"host", s.Host)
		if _, err := netip.ParseAddr(s.Host); host != "" && (err != nil || unspec) {
			// memberlist advertises a server by address and its peers
			// dial that address back: it must be one they can reach.
			bad(p+"host", "%q: a server's host must be the IP address its peers reach it at (not a name or a wildcard)", s.Host)
		}
		addListener(p+"rpc_port", host, unspec, s.RPCPort)
		addListener(p+"gossip_port", host, unspec, s.GossipPort)
		addListener(p+"watchdog_port", host, unspec, s.WatchdogPort)
		// The fronts for standard clients are optional: 0 is none.
		for _, f := range []struct {
			name string
			port int
		}{{"resp_port", s.RESPPort}, {"http_port", s.HTTPPort}, {"memcache_port", s.MemcachePort}} {
			switch {
			case f.port < 0 || f.port > 65535:
				bad(p+f.name, "%d is not a port (1..65535, or 0 for none)", f.port)
			case f.port > 0:
				addListener(p+f.name, host, unspec, f.port)
			}
		}
	}
	for i, cl := range c.Clients {
		p := fmt.Sprintf("clients[%d].", i)
		useID(p+"id", cl.ID)
		host, unspec := checkHost(p+"host", cl.Host)
		addListener(p+"rpc_port", host, unspec, cl.RPCPort)
	}
	return errs
}

// maxName is the longest cluster name (and run id).
const maxName = 64

// ValidName checks a cluster name or a run id: 1 to 64 characters of
// A-Z a-z 0-9 . _ -, so that it prints plainly in errors and logs and fits
// in memberlist's 255-byte label with room to spare.
func ValidName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > maxName {
		return fmt.Errorf("%q is %d characters long; at most %d", s, len(s), maxName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q: only letters, digits and . _ - are allowed", s)
		}
	}
	return nil
}

// canonicalHost returns host in a form where two spellings of one address
// compare equal, whether it is an unspecified (wildcard) address, or why it
// is not a host.
func canonicalHost(host string) (canon string, unspecified bool, msg string) {
	if host == "" {
		return "", false, "must not be empty"
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a.String(), a.IsUnspecified(), ""
	}
	if isHostname(host) {
		return strings.ToLower(strings.TrimSuffix(host, ".")), false, ""
	}
	if h, p, err := splitHostPort(host); err == nil {
		return "", false, fmt.Sprintf("%q is not an IP address or host name (give the host %q alone; the port %s goes in a port field)", host, h, p)
	}
	return "", false, fmt.Sprintf("%q is not an IP address or host name", host)
}

func splitHostPort(s string) (host, port string, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", errors.New("no port")
	}
	host, port = strings.Trim(s[:i], "[]"), s[i+1:]
	if _, err := netip.ParseAddr(host); err != nil && !isHostname(host) {
		return "", "", errors.New("bad host")
	}
	return host, port, nil
}

// isHostname reports whether s is a DNS name as RFC 1123 allows: dot-
// separated labels of letters, digits and inner hyphens, 1..63 bytes each,
// 253 in all, with an optional final dot. An all-numeric last label is
// refused: "300.1.1.1" is a mistyped address, not a name.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	if last := s[strings.LastIndexByte(s, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// The bounds of durability.checkpoint_bytes: below 64 KiB a checkpoint
// would run for every few puts; above 1 GiB the log a server replays after
// a crash, and keeps in memory until it is folded, grows past reason.
const (
	minCheckpointBytes = 64 << 10
	maxCheckpointBytes = 1 << 30
)
