package resp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"gossipkv/pkg/api"
	"gossipkv/pkg/front"
)

// command is one Redis command the front answers: how it is called, what
// COMMAND and COMMAND DOCS say of it, and its handler.
type command struct {
	name  string // lower case
	arity int    // as Redis counts it: n exactly n arguments (the name included), -n at least n
	// flags, firstKey, lastKey, step and acl are COMMAND's fields.
	flags                   []string
	firstKey, lastKey, step int
	acl                     []string
	// group, summary, since and args are COMMAND DOCS' fields.
	group, summary, since string
	args                  []argDoc
	// refused commands are answered (with an error saying why) but not
	// listed by COMMAND.
	refused bool
	run     func(s *Server, c redcon.Conn, ss *client, args [][]byte)
}

// argDoc documents one argument for COMMAND DOCS (redis-cli shows them as
// help and hints).
type argDoc struct {
	name, typ, token   string
	optional, multiple bool
	sub                []argDoc // typ "block"
}

// maxPage bounds the keys one call to the store lists (SCAN's COUNT is a
// hint, and KEYS walks in pages): the store copies them in its owner
// goroutine, which every put waits on.
const maxPage = 1000

// commands is the table, by lower-case name (filled in init: handlers
// such as COMMAND read it).
var commands map[string]*command

func init() {
	commands = map[string]*command{}
	for _, c := range commandList() {
		commands[c.name] = c
	}
}

func commandList() []*command {
	key := argDoc{name: "key", typ: "key"}
	keys := argDoc{name: "key", typ: "key", multiple: true}
	return []*command{
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@read", "@string", "@fast"},
			group: "string", since: "1.0.0", summary: "Returns the string value of a key.", args: []argDoc{key}, run: getCmd},
		{name: "set", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@write", "@string", "@slow"},
			group: "string", since: "1.0.0", summary: "Sets the string value of a key (no options: gossipkv has no expiry and no conditional writes).",
			args: []argDoc{key, {name: "value", typ: "string"}}, run: setCmd},
		{name: "del", arity: -2, flags: []string{"write"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@write", "@slow"},
			group: "generic", since: "1.0.0", summary: "Deletes one or more keys; returns how many held a value.", args: []argDoc{keys}, run: delCmd},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			group: "generic", since: "1.0.0", summary: "Determines whether one or more keys exist.", args: []argDoc{keys}, run: existsCmd},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: -1, step: 1, acl: []string{"@read", "@string", "@fast"},
			group: "string", since: "1.0.0", summary: "Returns the string values of one or more keys.", args: []argDoc{keys}, run: mgetCmd},
		{name: "mset", arity: -3, flags: []string{"write", "denyoom"}, firstKey: 1, lastKey: -1, step: 2, acl: []string{"@write", "@string", "@slow"},
			group: "string", since: "1.0.1", summary: "Sets the string values of one or more keys, one write each (not atomically).",
			args: []argDoc{{name: "data", typ: "block", multiple: true, sub: []argDoc{key, {name: "value", typ: "string"}}}}, run: msetCmd},
		{name: "type", arity: 2, flags: []string{"readonly", "fast"}, firstKey: 1, lastKey: 1, step: 1, acl: []string{"@keyspace", "@read", "@fast"},
			group: "generic", since: "1.0.0", summary: "Determines the type of value stored at a key: string or none.", args: []argDoc{key}, run: typeCmd},
		{name: "scan", arity: -2, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow"},
			group: "generic", since: "2.8.0", summary: "Iterates over the key names of this server, in byte order.",
			args: []argDoc{{name: "cursor", typ: "integer"}, {name: "pattern", typ: "pattern", token: "MATCH", optional: true},
				{name: "count", typ: "integer", token: "COUNT", optional: true}, {name: "type", typ: "string", token: "TYPE", optional: true}}, run: scanCmd},
		{name: "keys", arity: 2, flags: []string{"readonly"}, acl: []string{"@keyspace", "@read", "@slow", "@dangerous"},
			group: "generic", since: "1.0.0", summary: "Returns all key names of this server that match a pattern.",
			args: []argDoc{{name: "pattern", typ: "pattern"}}, run: keysCmd},
		{name: "dbsize", arity: 1, flags: []string{"readonly", "fast"}, acl: []string{"@keyspace", "@read", "@fast"},
			group: "server", since: "1.0.0", summary: "Returns the number of keys this server holds.", run: dbsizeCmd},
		{name: "info", arity: -1, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@dangerous"},
			group: "server", since: "1.0.0", summary: "Returns information and statistics about the server (sections server, clients, replication, keyspace).",
			args: []argDoc{{name: "section", typ: "string", optional: true, multiple: true}}, run: infoCmd},
		{name: "ping", arity: -1, flags: []string{"fast"}, acl: []string{"@fast", "@connection"},
			group: "connection", since: "1.0.0", summary: "Returns the server's liveliness response.",
			args: []argDoc{{name: "message", typ: "string", optional: true}}, run: pingCmd},
		{name: "echo", arity: 2, flags: []string{"fast"}, acl: []string{"@fast", "@connection"},
			group: "connection", since: "1.0.0", summary: "Returns the given string.", args: []argDoc{{name: "message", typ: "string"}}, run: echoCmd},
		{name: "select", arity: 2, flags: []string{"loading", "stale", "fast"}, acl: []string{"@fast", "@connection"},
			group: "connection", since: "1.0.0", summary: "Selects the database: only 0 exists.", args: []argDoc{{name: "index", typ: "integer"}}, run: selectCmd},
		{name: "quit", arity: -1, flags: []string{"fast"}, acl: []string{"@fast", "@connection"},
			group: "connection", since: "1.0.0", summary: "Closes the connection.", run: quitCmd},
		{name: "client", arity: -2, acl: []string{"@slow", "@connection"},
			group: "connection", since: "2.4.0", summary: "CLIENT ID, CLIENT GETNAME, CLIENT SETNAME name, CLIENT SETINFO attr value.",
			args: []argDoc{{name: "subcommand", typ: "string"}, {name: "argument", typ: "string", optional: true, multiple: true}}, run: clientCmd},
		{name: "hello", arity: -1, flags: []string{"fast"}, acl: []string{"@fast", "@connection"},
			group: "connection", since: "6.0.0", summary: "Handshakes with the server: protocol 2 (RESP2) only.",
			args: []argDoc{{name: "protover", typ: "integer", optional: true}}, run: helloCmd},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, acl: []string{"@slow", "@connection"},
			group: "server", since: "2.8.13", summary: "COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO [name ...], COMMAND DOCS [name ...].",
			args: []argDoc{{name: "subcommand", typ: "string", optional: true}, {name: "name", typ: "string", optional: true, multiple: true}}, run: commandCmd},
		{name: "config", arity: -2, acl: []string{"@slow"},
			group: "server", since: "2.0.0", summary: "CONFIG GET parameter [parameter ...]: a few read-only figures (settings come from config.yaml).",
			args: []argDoc{{name: "subcommand", typ: "string"}, {name: "parameter", typ: "string", optional: true, multiple: true}}, run: configCmd},

		{name: "auth", arity: -2, refused: true, run: authCmd},
		{name: "flushall", arity: -1, refused: true, run: flushCmd},
		{name: "flushdb", arity: -1, refused: true, run: flushCmd},
	}
}

// ---- helpers

// quoteKey writes a key in an error: Go-quoted (any bytes), cut at 64.
func quoteKey(key []byte) string {
	if len(key) > 64 {
		return strconv.Quote(string(key[:64])) + "..."
	}
	return strconv.Quote(string(key))
}

func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		a = a[:min(len(a), 128-b.Len())]
		fmt.Fprintf(&b, "'%s' ", a)
	}
	name := args[0][:min(len(args[0]), 128)]
	return front.OneLine(fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, b.String()))
}

func arityError(name string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", name)
}

const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
)

// keyError says why key cannot be used, or "". The store refuses the
// empty key for a write; a read of it finds nothing.
func (s *Server) keyError(key []byte, write bool) string {
	if write && len(key) == 0 {
		return "ERR empty key: gossipkv does not store the empty key"
	}
	if m := s.cfg.MaxKeyBytes; m > 0 && len(key) > m {
		return fmt.Sprintf("ERR key of %d bytes exceeds max_key_bytes %d", len(key), m)
	}
	return ""
}

func (s *Server) valueError(value []byte) string {
	if m := s.cfg.MaxValueBytes; m > 0 && len(value) > m {
		return fmt.Sprintf("ERR value of %d bytes exceeds max_value_bytes %d", len(value), m)
	}
	return ""
}

func (s *Server) tryAgain(key []byte) string {
	return fmt.Sprintf("TRYAGAIN server %d has not yet seen a write this connection depends on for key %s", s.cfg.ID, quoteKey(key))
}

// read gets key for the session: its value and found, or an error line.
// A value or a deletion read becomes a dependency of the session; a
// server behind the session answers TRYAGAIN, never an older value.
func (s *Server) read(ss *client, key []byte) (value []byte, found bool, errLine string) {
	if e := s.keyError(key, false); e != "" {
		return nil, false, e
	}
	r, err := s.store.Get(key, ss.deps.Of(key))
	if err != nil {
		return nil, false, "ERR " + front.OneLine(err.Error())
	}
	switch r.Status {
	case api.OK:
		ss.deps.Observe(key, r.Version)
		return r.Value, true, ""
	case api.ErrKey:
		ss.deps.Observe(key, r.Version) // a tombstone's version, or none
		return nil, false, ""
	case api.ErrDep:
		return nil, false, s.tryAgain(key)
	}
	return nil, false, fmt.Sprintf("ERR server %d: get: %v", s.cfg.ID, r.Status)
}

// write puts value at key (or deletes key) after the session's dependency
// on it, and makes the session depend on the write. It returns an error
// line or "".
func (s *Server) write(ss *client, key, value []byte, del bool) string {
	dep := ss.deps.Of(key)
	var r api.PutReply
	if del {
		r = s.store.Delete(key, dep)
	} else {
		r = s.store.Put(key, value, dep)
	}
	if r.Status != api.OK {
		why := r.Reason
		if why == "" {
			why = r.Status.String()
		}
		return "ERR " + front.OneLine(why)
	}
	ss.deps.Observe(key, r.Version)
	return ""
}

// ---- keys and values

func getCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	v, found, e := s.read(ss, args[1])
	switch {
	case e != "":
		c.WriteError(e)
	case found:
		c.WriteBulk(v)
	default:
		c.WriteNull()
	}
}

// setOptions are SET's options in Redis; gossipkv honours none of them.
var setOptions = map[string]bool{"ex": true, "px": true, "exat": true, "pxat": true, "nx": true, "xx": true, "keepttl": true, "get": true}

func setCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	if len(args) > 3 {
		opt := string(args[3])
		if !setOptions[strings.ToLower(opt)] {
			c.WriteError(errSyntax)
			return
		}
		c.WriteError(front.OneLine(fmt.Sprintf("ERR SET option '%s' is not supported by gossipkv: only SET key value (no expiry, no conditional writes, no GET)", opt)))
		return
	}
	if e := s.keyError(args[1], true); e != "" {
		c.WriteError(e)
		return
	}
	if e := s.valueError(args[2]); e != "" {
		c.WriteError(e)
		return
	}
	if e := s.write(ss, args[1], args[2], false); e != "" {
		c.WriteError(e)
		return
	}
	c.WriteString("OK")
}

// delCmd deletes every key named, and counts those that held a value at
// this server (read first, with the session's dependencies: a server
// behind the session answers TRYAGAIN before deleting anything). A key
// without a value gets a tombstone too: the delete then also wins over a
// write of it that has not reached this server yet, as the caller meant.
func delCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	var keys [][]byte // each key once: DEL k k deletes one key
	seen := map[string]bool{}
	for _, k := range args[1:] {
		if e := s.keyError(k, true); e != "" {
			c.WriteError(e)
			return
		}
		if !seen[string(k)] {
			seen[string(k)] = true
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		_, found, e := s.read(ss, k)
		if e != "" {
			c.WriteError(e)
			return
		}
		if found {
			n++
		}
	}
	for _, k := range keys {
		if e := s.write(ss, k, nil, true); e != "" {
			c.WriteError(e)
			return
		}
	}
	c.WriteInt(n)
}

func existsCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	n := 0
	for _, k := range args[1:] {
		_, found, e := s.read(ss, k)
		if e != "" {
			c.WriteError(e)
			return
		}
		if found {
			n++
		}
	}
	c.WriteInt(n)
}

func mgetCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	vals := make([][]byte, len(args)-1)
	for i, k := range args[1:] {
		v, found, e := s.read(ss, k)
		if e != "" {
			c.WriteError(e)
			return
		}
		if found && v == nil {
			v = []byte{}
		}
		vals[i] = v
	}
	c.WriteArray(len(vals))
	for _, v := range vals {
		if v == nil {
			c.WriteNull()
		} else {
			c.WriteBulk(v)
		}
	}
}

// msetCmd writes each pair in order, one write each: unlike Redis's MSET
// it is not atomic, and a failure leaves the pairs before it written.
func msetCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	if len(args)%2 != 1 {
		c.WriteError(arityError("mset"))
		return
	}
	for i := 1; i < len(args); i += 2 {
		if e := s.keyError(args[i], true); e != "" {
			c.WriteError(e)
			return
		}
		if e := s.valueError(args[i+1]); e != "" {
			c.WriteError(e)
			return
		}
	}
	for i := 1; i < len(args); i += 2 {
		if e := s.write(ss, args[i], args[i+1], false); e != "" {
			c.WriteError(e)
			return
		}
	}
	c.WriteString("OK")
}

func typeCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	_, found, e := s.read(ss, args[1])
	switch {
	case e != "":
		c.WriteError(e)
	case found:
		c.WriteString("string")
	default:
		c.WriteString("none")
	}
}

// ---- the keyspace

// scanCmd lists a page of this server's keys in byte order. Its cursor
// names the key the next page starts from (see cursors), so a key present
// for the whole scan is returned exactly once, whatever else is written or
// deleted meanwhile. COUNT bounds the keys examined (at most maxPage);
// MATCH filters them, so a page may be empty while the cursor goes on.
func scanCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	cursor, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil {
		c.WriteError("ERR invalid cursor")
		return
	}
	count := 10
	var g *glob
	onlyStrings := true
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.WriteError(errSyntax)
			return
		}
		switch strings.ToLower(string(args[i])) {
		case "match":
			g = compileGlob(args[i+1])
		case "count":
			n, err := strconv.Atoi(string(args[i+1]))
			if err != nil {
				c.WriteError(errNotInteger)
				return
			}
			if n < 1 {
				c.WriteError(errSyntax)
				return
			}
			count = n
		case "type":
			onlyStrings = strings.EqualFold(string(args[i+1]), "string")
		default:
			c.WriteError(errSyntax)
			return
		}
	}
	var from []byte
	if cursor != 0 {
		f, ok := s.cursors.get(cursor)
		if !ok {
			c.WriteError(fmt.Sprintf("ERR invalid cursor: %d is not a cursor of server %d, or one of its %d newest (start the scan again from 0)", cursor, s.cfg.ID, maxCursors))
			return
		}
		from = f
	} else if g != nil {
		from = g.prefix
	}
	if !onlyStrings { // every key holds a string
		writeScan(c, 0, nil)
		return
	}
	keys, more, err := s.store.Keys(from, min(count, maxPage))
	if err != nil {
		c.WriteError("ERR " + front.OneLine(err.Error()))
		return
	}
	var out [][]byte
	for _, k := range keys {
		if g != nil && g.beyond(k) {
			more = false
			break
		}
		if g == nil || g.match(k) {
			out = append(out, k)
		}
	}
	var next uint64
	if more {
		// The next page starts just after the last key listed.
		next = s.cursors.add(append(bytes.Clone(keys[len(keys)-1]), 0))
	}
	writeScan(c, next, out)
}

func writeScan(c redcon.Conn, next uint64, keys [][]byte) {
	c.WriteArray(2)
	c.WriteBulkString(strconv.FormatUint(next, 10))
	c.WriteArray(len(keys))
	for _, k := range keys {
		c.WriteBulk(k)
	}
}

// keysCmd walks every key of this server in pages (the store holds its
// owner for one page at a time, not for the whole walk) and returns those
// that match, in byte order.
func keysCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	g := compileGlob(args[1])
	from := g.prefix
	var out [][]byte
	for {
		keys, more, err := s.store.Keys(from, maxPage)
		if err != nil {
			c.WriteError("ERR " + front.OneLine(err.Error()))
			return
		}
		for _, k := range keys {
			if g.beyond(k) {
				more = false
				break
			}
			if g.match(k) {
				out = append(out, k)
			}
		}
		if !more || len(keys) == 0 {
			break
		}
		from = append(bytes.Clone(keys[len(keys)-1]), 0)
	}
	c.WriteArray(len(out))
	for _, k := range out {
		c.WriteBulk(k)
	}
}

func dbsizeCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	st, err := s.store.Status()
	if err != nil {
		c.WriteError("ERR " + front.OneLine(err.Error()))
		return
	}
	c.WriteInt(st.Live)
}

// flushCmd refuses FLUSHALL and FLUSHDB. Deleting every key this server
// holds would be one write per key, not atomic, and would miss the keys
// other servers hold that have not arrived here: it would not do what the
// caller expects of it.
func flushCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	c.WriteError(fmt.Sprintf("ERR %s is not supported by gossipkv: a server can only delete the keys it has received so far, one write each; delete keys with DEL",
		strings.ToUpper(string(args[0]))))
}

// ---- the connection

func pingCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.WriteString("PONG")
	case 2:
		c.WriteBulk(args[1])
	default:
		c.WriteError(arityError("ping"))
	}
}

func echoCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) { c.WriteBulk(args[1]) }

func selectCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	n, err := strconv.Atoi(string(args[1]))
	switch {
	case err != nil:
		c.WriteError(errNotInteger)
	case n != 0:
		c.WriteError("ERR DB index is out of range (gossipkv has one database, 0)")
	default:
		c.WriteString("OK")
	}
}

func quitCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	c.WriteString("OK")
	c.Close() // flushes the reply first
}

// authCmd refuses: the front has no passwords, and a client that sends
// one believes it is protected.
func authCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	c.WriteError("ERR gossipkv's Redis port has no authentication: it takes no password (keep it on a host and network only trusted users reach)")
}

// validName is Redis's rule for client names: printable ASCII, no spaces.
func validName(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func clientCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	want := map[string]int{"id": 2, "getname": 2, "setname": 3, "setinfo": 4}
	n, ok := want[sub]
	if !ok {
		c.WriteError(front.OneLine(fmt.Sprintf("ERR unknown subcommand '%s'. Try CLIENT HELP.", args[1])))
		return
	}
	if len(args) != n {
		c.WriteError(arityError("client|" + sub))
		return
	}
	switch sub {
	case "id":
		c.WriteInt64(ss.id)
	case "getname":
		if ss.name == "" {
			c.WriteNull()
		} else {
			c.WriteBulkString(ss.name)
		}
	case "setname":
		if !validName(args[2]) {
			c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		ss.name = string(args[2])
		c.WriteString("OK")
	case "setinfo":
		c.WriteString("OK") // library name and version: nothing to keep them for
	}
}

// helloCmd answers the handshake of RESP3-aware clients: protocol 2 only
// (they then go on in RESP2, as with an older Redis).
func helloCmd(s *Server, c redcon.Conn, ss *client, args [][]byte) {
	if len(args) > 1 {
		v, err := strconv.Atoi(string(args[1]))
		if err != nil {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 {
			c.WriteError("NOPROTO sorry, this protocol version is not supported: gossipkv speaks RESP2 only")
			return
		}
		for i := 2; i < len(args); i++ {
			switch strings.ToLower(string(args[i])) {
			case "auth":
				authCmd(s, c, ss, args)
				return
			case "setname":
				if i+1 >= len(args) || !validName(args[i+1]) {
					c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
					return
				}
				ss.name = string(args[i+1])
				i++
			default:
				c.WriteError(front.OneLine(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[i])))
				return
			}
		}
	}
	c.WriteArray(14)
	c.WriteBulkString("server")
	c.WriteBulkString("redis")
	c.WriteBulkString("version")
	c.WriteBulkString(redisVersion)
	c.WriteBulkString("proto")
	c.WriteInt(2)
	c.WriteBulkString("id")
	c.WriteInt64(ss.id)
	c.WriteBulkString("mode")
	c.WriteBulkString("standalone")
	c.WriteBulkString("role")
	c.WriteBulkString("master")
	c.WriteBulkString("modules")
	c.WriteArray(0)
}
