package resp

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/front"
)

// redisVersion is the Redis version whose commands and replies the front
// follows, for clients that look at INFO's redis_version or HELLO's
// version to decide what to send.
const redisVersion = "7.0.0"

// infoSections are INFO's sections in the order of a plain INFO.
var infoSections = []string{"server", "clients", "replication", "keyspace"}

// infoCmd answers INFO [section ...]: this server's figures, as
// "field:value" lines under "# Section" headers. Fields Redis defines
// keep their names and meaning; gossipkv's own start with gossipkv_.
func infoCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	want := infoSections
	if len(args) > 1 {
		want = nil
		for _, a := range args[1:] {
			switch name := strings.ToLower(string(a)); name {
			case "all", "everything", "default":
				want = append(want, infoSections...)
			default:
				want = append(want, name)
			}
		}
	}
	st, err := s.store.Status()
	if err != nil {
		c.WriteError("ERR " + front.OneLine(err.Error()))
		return
	}
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	done := map[string]bool{}
	for _, name := range want {
		if done[name] || !slices.Contains(infoSections, name) {
			continue // an unknown section is empty, as in Redis
		}
		done[name] = true
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		switch name {
		case "server":
			up := time.Since(s.started)
			_, port, _ := net.SplitHostPort(s.Addr().String())
			b.WriteString("# Server\r\n")
			line("redis_version", redisVersion)
			line("redis_mode", "standalone")
			line("os", runtime.GOOS+" "+runtime.GOARCH)
			line("arch_bits", strconv.IntSize)
			line("process_id", os.Getpid())
			line("tcp_port", port)
			line("uptime_in_seconds", int64(up.Seconds()))
			line("uptime_in_days", int64(up.Hours()/24))
			line("gossipkv_version", buildinfo.Version())
			line("gossipkv_server_id", s.cfg.ID)
			line("gossipkv_cluster", s.cfg.Cluster)
			line("gossipkv_run", s.cfg.Run)
		case "clients":
			b.WriteString("# Clients\r\n")
			line("connected_clients", s.clients.Load())
			line("maxclients", s.cfg.MaxClients)
		case "replication":
			links := make([]string, len(st.Links))
			for i, id := range st.Links {
				links[i] = strconv.FormatUint(uint64(id), 10)
			}
			b.WriteString("# Replication\r\n")
			// Every server takes writes; none is a replica of another.
			line("role", "master")
			line("connected_slaves", 0)
			line("gossipkv_peers", s.cfg.Peers)
			line("gossipkv_connected_peers", len(st.Links))
			line("gossipkv_links", strings.Join(links, ","))
			line("gossipkv_held_writes", st.Seen.Count())
		case "keyspace":
			b.WriteString("# Keyspace\r\n")
			if st.Live > 0 { // Redis leaves an empty database out
				line("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", st.Live))
			}
		}
	}
	c.WriteBulkString(b.String())
}

// commandCmd answers COMMAND and its subcommands enough for redis-cli
// (COMMAND DOCS for its help and hints) and for client libraries that
// read key positions from COMMAND INFO.
func commandCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	listed := listedCommands()
	if len(args) == 1 {
		c.WriteArray(len(listed))
		for _, def := range listed {
			writeCommandInfo(c, def)
		}
		return
	}
	named := func() []*command { // the commands args[2:] name; nil for unknown ones
		out := make([]*command, len(args)-2)
		for i, a := range args[2:] {
			if def := commands[strings.ToLower(string(a))]; def != nil && !def.refused {
				out[i] = def
			}
		}
		return out
	}
	switch sub := strings.ToLower(string(args[1])); sub {
	case "count":
		c.WriteInt(len(listed))
	case "list":
		c.WriteArray(len(listed))
		for _, def := range listed {
			c.WriteBulkString(def.name)
		}
	case "info":
		defs := named()
		if len(args) == 2 {
			defs = listed
		}
		c.WriteArray(len(defs))
		for _, def := range defs {
			if def == nil {
				c.WriteNull()
			} else {
				writeCommandInfo(c, def)
			}
		}
	case "docs":
		defs := listed
		if len(args) > 2 {
			defs = slices.DeleteFunc(named(), func(d *command) bool { return d == nil })
		}
		c.WriteArray(2 * len(defs))
		for _, def := range defs {
			c.WriteBulkString(def.name)
			writeCommandDocs(c, def)
		}
	default:
		c.WriteError(front.OneLine(fmt.Sprintf("ERR unknown subcommand '%s'. Try COMMAND HELP.", args[1])))
	}
}

// listedCommands are the commands COMMAND lists, sorted by name.
func listedCommands() []*command {
	var out []*command
	for _, def := range commands {
		if !def.refused {
			out = append(out, def)
		}
	}
	slices.SortFunc(out, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	return out
}

// writeCommandInfo writes one entry of COMMAND as Redis 7 does: name,
// arity, flags, first key, last key, step, ACL categories, tips, key
// specs, subcommands.
func writeCommandInfo(c redcon.Conn, def *command) {
	c.WriteArray(10)
	c.WriteBulkString(def.name)
	c.WriteInt(def.arity)
	writeStatuses(c, def.flags)
	c.WriteInt(def.firstKey)
	c.WriteInt(def.lastKey)
	c.WriteInt(def.step)
	writeStatuses(c, def.acl)
	c.WriteArray(0)
	c.WriteArray(0)
	c.WriteArray(0)
}

func writeStatuses(c redcon.Conn, ss []string) {
	c.WriteArray(len(ss))
	for _, s := range ss {
		c.WriteString(s)
	}
}

// writeCommandDocs writes one command's COMMAND DOCS map (as a flat array
// in RESP2): summary, since, group and, if it takes any, arguments.
func writeCommandDocs(c redcon.Conn, def *command) {
	n := 6
	if len(def.args) > 0 {
		n += 2
	}
	c.WriteArray(n)
	c.WriteBulkString("summary")
	c.WriteBulkString(def.summary)
	c.WriteBulkString("since")
	c.WriteBulkString(def.since)
	c.WriteBulkString("group")
	c.WriteBulkString(def.group)
	if len(def.args) > 0 {
		c.WriteBulkString("arguments")
		writeArgDocs(c, def.args)
	}
}

func writeArgDocs(c redcon.Conn, args []argDoc) {
	c.WriteArray(len(args))
	for _, a := range args {
		var flags []string
		if a.optional {
			flags = append(flags, "optional")
		}
		if a.multiple {
			flags = append(flags, "multiple")
		}
		n := 4
		if a.token != "" {
			n += 2
		}
		if len(flags) > 0 {
			n += 2
		}
		if len(a.sub) > 0 {
			n += 2
		}
		c.WriteArray(n)
		c.WriteBulkString("name")
		c.WriteBulkString(a.name)
		c.WriteBulkString("type")
		c.WriteBulkString(a.typ)
		if a.token != "" {
			c.WriteBulkString("token")
			c.WriteBulkString(a.token)
		}
		if len(flags) > 0 {
			c.WriteBulkString("flags")
			writeStatuses(c, flags)
		}
		if len(a.sub) > 0 {
			c.WriteBulkString("arguments")
			writeArgDocs(c, a.sub)
		}
	}
}

// configCmd answers CONFIG GET with a few read-only figures that tools
// ask for (redis-benchmark asks for save and appendonly), and refuses to
// change anything: the settings are config.yaml's.
func configCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); sub {
	case "get":
		if len(args) < 3 {
			c.WriteError(arityError("config|get"))
			return
		}
		params := s.configParams()
		var out []string
		for _, p := range params {
			for _, pat := range args[2:] {
				if compileGlob([]byte(strings.ToLower(string(pat)))).match([]byte(p[0])) {
					out = append(out, p[0], p[1])
					break
				}
			}
		}
		c.WriteArray(len(out))
		for _, v := range out {
			c.WriteBulkString(v)
		}
	case "set", "rewrite", "resetstat":
		c.WriteError(fmt.Sprintf("ERR CONFIG %s is not supported by gossipkv: its settings come from config.yaml", strings.ToUpper(sub)))
	default:
		c.WriteError(front.OneLine(fmt.Sprintf("ERR unknown subcommand '%s'. Try CONFIG HELP.", args[1])))
	}
}

// configParams are the parameters CONFIG GET knows, with their values.
func (s *Server) configParams() [][2]string {
	host, port, _ := net.SplitHostPort(s.Addr().String())
	fsync := "no"
	if s.cfg.Fsync {
		fsync = "always"
	}
	return [][2]string{
		// Every write is appended to a log and, with fsync on, synced
		// before it is acknowledged: Redis's appendonly yes with
		// appendfsync always. There are no snapshots on a timer.
		{"appendonly", "yes"},
		{"appendfsync", fsync},
		{"save", ""},
		{"databases", "1"},
		{"maxclients", strconv.Itoa(s.cfg.MaxClients)},
		{"bind", host},
		{"port", port},
		{"timeout", "0"},
		{"maxmemory", "0"},
	}
}
