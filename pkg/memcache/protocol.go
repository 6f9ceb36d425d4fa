package memcache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/front"
	"gossipkv/pkg/model"
	"gossipkv/pkg/session"
)

const (
	// maxLine bounds a command line (the reader's buffer): room for a
	// get of some 250 keys of 250 bytes. A longer line closes the
	// connection, since what follows cannot be told apart from it.
	maxLine = 64 << 10
	// maxKey is the protocol's bound on a key, which clients enforce too.
	maxKey = 250
	// version is what "version" answers: the memcached release whose
	// text protocol the front follows, for clients that parse it.
	version = "1.6.0-gossipkv"
)

// errQuit ends a connection at the client's request.
var errQuit = errors.New("quit")

// serve reads commands from r and answers on w until the input ends, the
// client quits, or a line is too long to follow. Replies are flushed
// whenever no more input is waiting, so pipelined commands share writes.
// ss is the connection's session, which its goroutine alone touches.
func (s *Server) serve(ss *session.Deps, r *bufio.Reader, w *bufio.Writer) error {
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			w.WriteString("CLIENT_ERROR line too long\r\n")
			w.Flush()
			return fmt.Errorf("a line longer than %d bytes", maxLine)
		}
		if err != nil {
			w.Flush()
			return err // the input ended, perhaps within a line: nothing to answer
		}
		// A copy: the line lives in the reader's buffer, which reading a
		// data block overwrites.
		line = bytes.Clone(bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}))
		if err := s.command(ss, r, w, line); err != nil {
			w.Flush()
			if errors.Is(err, errQuit) {
				return nil
			}
			return err
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// fields splits a command line at spaces, as memcached does (not at tabs).
func fields(line []byte) [][]byte {
	var out [][]byte
	for f := range bytes.SplitSeq(line, []byte{' '}) {
		if len(f) > 0 {
			out = append(out, f)
		}
	}
	return out
}

// reply collects a command's answer; noreply drops it (as memcached does,
// errors included, once the command line has been understood).
type reply struct {
	w       *bufio.Writer
	noreply bool
}

func (rp reply) line(format string, args ...any) {
	if rp.noreply {
		return
	}
	fmt.Fprintf(rp.w, format, args...)
	rp.w.WriteString("\r\n")
}

const badFormat = "CLIENT_ERROR bad command line format"

// command runs one command line. An error ends the connection.
func (s *Server) command(ss *session.Deps, r *bufio.Reader, w *bufio.Writer, line []byte) error {
	f := fields(line)
	rp := reply{w: w}
	if len(f) == 0 {
		rp.line("ERROR")
		return nil
	}
	switch name := string(f[0]); name {
	case "get", "gets":
		s.get(ss, rp, f[1:], name == "gets")
	case "set", "add":
		return s.set(ss, r, rp, name, f[1:])
	case "cas", "replace", "append", "prepend":
		return s.refuseStorage(r, rp, name, f[1:])
	case "delete":
		s.delete(ss, rp, f[1:])
	case "incr", "decr", "touch", "gat", "gats":
		rp.line("CLIENT_ERROR %s is not supported by gossipkv: %s", name, unsupported[name])
	case "flush_all":
		rp.noreply = string(f[len(f)-1]) == "noreply"
		rp.line("CLIENT_ERROR flush_all is not supported by gossipkv: a server can only delete the keys it has received so far, one write each; use delete")
	case "version":
		rp.line("VERSION %s", version)
	case "verbosity":
		rp.noreply = string(f[len(f)-1]) == "noreply"
		if len(f) < 2 {
			rp.line("ERROR")
		} else {
			rp.line("OK")
		}
	case "stats":
		s.statsCmd(rp, f[1:])
	case "quit":
		return errQuit
	default:
		rp.line("ERROR")
	}
	return nil
}

// unsupported says why each refused command is.
var unsupported = map[string]string{
	"incr":    "an increment cannot be atomic across the servers of an eventually consistent store",
	"decr":    "a decrement cannot be atomic across the servers of an eventually consistent store",
	"touch":   "there is no expiry",
	"gat":     "there is no expiry",
	"gats":    "there is no expiry",
	"cas":     "a compare-and-set cannot be atomic across the servers of an eventually consistent store",
	"replace": "it is not atomic across servers; use get then set",
	"append":  "it is not atomic across servers; use get then set",
	"prepend": "it is not atomic across servers; use get then set",
}

// keyError says why key cannot be used, or "".
func (s *Server) keyError(key []byte) string {
	limit := maxKey
	if m := s.cfg.MaxKeyBytes; m > 0 && m < limit {
		limit = m
	}
	if len(key) > limit {
		return fmt.Sprintf("CLIENT_ERROR key of %d bytes is longer than %d", len(key), limit)
	}
	// Any other byte goes, as in memcached: a key cannot hold a space or
	// a line end, which end it, and clients (memaslap) use the rest.
	return ""
}

func (s *Server) behind(key []byte) string {
	s.stats.behind.Add(1)
	return fmt.Sprintf("SERVER_ERROR behind: server %d has not yet seen a write this connection depends on for key %s; retry later or at another server",
		s.cfg.ID, front.OneLine(string(key)))
}

// casUnique derives a gets "cas unique" from a version: it changes
// whenever the key's value does (never 0, which some clients read as
// none).
func casUnique(v model.Version) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v.Wall))
	binary.LittleEndian.PutUint32(b[8:], v.Logical)
	binary.LittleEndian.PutUint32(b[12:], v.Origin)
	h := fnv.New64a()
	h.Write(b[:])
	if u := h.Sum64(); u != 0 {
		return u
	}
	return 1
}

// get answers get and gets: a VALUE block per key that holds a value,
// then END. A key this server is behind on fails the whole command, so
// that no reply mixes old and new.
func (s *Server) get(ss *session.Deps, rp reply, keys [][]byte, cas bool) {
	if len(keys) == 0 {
		rp.line("ERROR")
		return
	}
	for _, k := range keys {
		if e := s.keyError(k); e != "" {
			rp.line("%s", e)
			return
		}
	}
	type hit struct {
		key []byte
		r   api.GetReply
	}
	var hits []hit
	for _, k := range keys {
		s.stats.gets.Add(1)
		r, err := s.store.Get(k, ss.Of(k))
		if err != nil {
			rp.line("SERVER_ERROR %s", front.OneLine(err.Error()))
			return
		}
		switch r.Status {
		case api.OK:
			s.stats.getHits.Add(1)
			hits = append(hits, hit{k, r})
		case api.ErrKey:
			s.stats.getMisses.Add(1)
		case api.ErrDep:
			rp.line("%s", s.behind(k))
			return
		default:
			rp.line("SERVER_ERROR get: %v", r.Status)
			return
		}
		ss.Observe(k, r.Version) // a deletion read is a read too
	}
	for _, h := range hits {
		if cas {
			rp.line("VALUE %s 0 %d %d", h.key, len(h.r.Value), casUnique(h.r.Version))
		} else {
			rp.line("VALUE %s 0 %d", h.key, len(h.r.Value))
		}
		rp.w.Write(h.r.Value)
		rp.w.WriteString("\r\n")
	}
	rp.line("END")
}

// storageArgs is a storage command's line: <key> <flags> <exptime>
// <bytes> [<cas unique>] [noreply].
type storageArgs struct {
	key            []byte
	flags, exptime int64
	n              int64
	noreply        bool
}

// parseStorage reads a storage command's arguments; withCAS for cas's
// extra one. ok false: the line cannot be understood, and how much data
// follows is unknown.
func parseStorage(args [][]byte, withCAS bool) (a storageArgs, ok bool) {
	want := 4
	if withCAS {
		want = 5
	}
	if len(args) == want+1 && string(args[want]) == "noreply" {
		a.noreply = true
		args = args[:want]
	}
	if len(args) != want {
		return a, false
	}
	var err1, err2, err3 error
	a.key = args[0]
	a.flags, err1 = strconv.ParseInt(string(args[1]), 10, 64)
	a.exptime, err2 = strconv.ParseInt(string(args[2]), 10, 64)
	a.n, err3 = strconv.ParseInt(string(args[3]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || a.n < 0 || a.n > math.MaxInt32-2 || a.flags < 0 || a.flags > math.MaxUint32 {
		return a, false
	}
	if withCAS {
		if _, err := strconv.ParseUint(string(args[4]), 10, 64); err != nil {
			return a, false
		}
	}
	return a, true
}

// swallow reads and drops n bytes of data and its line end, without
// holding them.
func swallow(r *bufio.Reader, n int64) error {
	_, err := io.CopyN(io.Discard, r, n+2)
	return err
}

// readData reads a data block of n bytes and its "\r\n". ok false: the
// block did not end with "\r\n" (it is consumed all the same).
func readData(r *bufio.Reader, n int64) (data []byte, ok bool, err error) {
	data = make([]byte, n+2)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, false, err
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		return nil, false, nil
	}
	return data[:n], true, nil
}

// set answers set and add. The data block is read (or, when the command
// is refused once its length is known, read and dropped) before the reply.
func (s *Server) set(ss *session.Deps, r *bufio.Reader, rp reply, name string, args [][]byte) error {
	a, ok := parseStorage(args, false)
	if !ok {
		rp.line(badFormat)
		return nil
	}
	rp.noreply = a.noreply
	refuse := ""
	switch {
	case s.keyError(a.key) != "":
		refuse = s.keyError(a.key)
	case a.flags != 0:
		refuse = "CLIENT_ERROR flags are not supported: gossipkv stores no flags with a value (send 0)"
	case a.exptime != 0 && !expiredAlready(a.exptime, time.Now()):
		refuse = "CLIENT_ERROR exptime is not supported: gossipkv has no expiry (send 0)"
	case a.n > int64(s.cfg.MaxValueBytes):
		refuse = fmt.Sprintf("SERVER_ERROR object too large for cache: a value of %d bytes exceeds max_value_bytes %d", a.n, s.cfg.MaxValueBytes)
	}
	if refuse != "" {
		if err := swallow(r, a.n); err != nil {
			return err
		}
		rp.line("%s", refuse)
		return nil
	}
	value, ok, err := readData(r, a.n)
	if err != nil {
		return err
	}
	if !ok {
		rp.line("CLIENT_ERROR bad data chunk")
		return nil
	}
	s.stats.sets.Add(1)
	dep := ss.Of(a.key)
	if a.exptime != 0 {
		s.expired(ss, rp, name, a.key)
		return nil
	}
	if name == "add" {
		put, stored := s.store.PutIfAbsent(a.key, value, dep)
		switch {
		case put.Status == api.ErrDep:
			rp.line("%s", s.behind(a.key))
		case put.Status != api.OK:
			rp.line("SERVER_ERROR %s", front.OneLine(put.Reason))
		case !stored:
			ss.Observe(a.key, put.Version) // it read the value it found
			rp.line("NOT_STORED")
		default:
			ss.Observe(a.key, put.Version)
			rp.line("STORED")
		}
		return nil
	}
	put := s.store.Put(a.key, value, dep)
	if put.Status != api.OK {
		rp.line("SERVER_ERROR %s", front.OneLine(put.Reason))
		return nil
	}
	ss.Observe(a.key, put.Version)
	rp.line("STORED")
	return nil
}

// maxRelative is memcached's bound on a relative exptime (30 days): a
// larger one is a Unix time.
const maxRelative = 30 * 24 * 3600

// expiredAlready says whether an item stored with exptime would have
// expired already in memcached: a negative exptime, or a Unix time that
// has passed.
func expiredAlready(exptime int64, now time.Time) bool {
	return exptime < 0 || (exptime > maxRelative && exptime <= now.Unix())
}

// expired answers a set or add of an item that has already expired (see
// expiredAlready), as memcached does: the key is then without a value.
// An add of one only tests whether the key holds a value (NOT_STORED) or
// not (STORED, and nothing written): libmemcached's memcached_exist (and
// so memcexist) asks that way, with a Unix time long past. A set of one
// deletes the key.
func (s *Server) expired(ss *session.Deps, rp reply, name string, key []byte) {
	dep := ss.Of(key)
	if name == "set" {
		d := s.store.Delete(key, dep)
		if d.Status != api.OK {
			rp.line("SERVER_ERROR %s", front.OneLine(d.Reason))
			return
		}
		ss.Observe(key, d.Version)
		rp.line("STORED")
		return
	}
	g, err := s.store.Get(key, dep)
	switch {
	case err != nil:
		rp.line("SERVER_ERROR %s", front.OneLine(err.Error()))
	case g.Status == api.ErrDep:
		rp.line("%s", s.behind(key))
	case g.Status == api.OK:
		ss.Observe(key, g.Version)
		rp.line("NOT_STORED")
	case g.Status == api.ErrKey:
		ss.Observe(key, g.Version)
		rp.line("STORED")
	default:
		// ERR_UNAVAILABLE (linearizable mode, no quorum): it cannot tell.
		rp.line("SERVER_ERROR get: %v", g.Status)
	}
}

// refuseStorage answers the storage commands gossipkv does not take,
// reading their data first so that the connection stays in step.
func (s *Server) refuseStorage(r *bufio.Reader, rp reply, name string, args [][]byte) error {
	a, ok := parseStorage(args, name == "cas")
	if !ok {
		rp.line(badFormat)
		return nil
	}
	rp.noreply = a.noreply
	if err := swallow(r, a.n); err != nil {
		return err
	}
	rp.line("CLIENT_ERROR %s is not supported by gossipkv: %s", name, unsupported[name])
	return nil
}

// delete answers delete <key> [0] [noreply]: DELETED when the key held a
// value here, NOT_FOUND when not. Either way it writes a tombstone, so
// that the delete also wins over a write of the key that has not reached
// this server yet, as the caller meant. It reads first, with the
// session's dependency: a server behind the session deletes nothing.
func (s *Server) delete(ss *session.Deps, rp reply, args [][]byte) {
	if n := len(args); n > 0 && string(args[n-1]) == "noreply" {
		rp.noreply = true
		args = args[:n-1]
	}
	if len(args) == 2 && string(args[1]) == "0" {
		args = args[:1] // the old protocol's time, 0 only
	}
	if len(args) != 1 {
		rp.line("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]")
		return
	}
	key := args[0]
	if e := s.keyError(key); e != "" {
		rp.line("%s", e)
		return
	}
	dep := ss.Of(key)
	g, err := s.store.Get(key, dep)
	if err != nil {
		rp.line("SERVER_ERROR %s", front.OneLine(err.Error()))
		return
	}
	if g.Status == api.ErrDep {
		rp.line("%s", s.behind(key))
		return
	}
	ss.Observe(key, g.Version)
	d := s.store.Delete(key, ss.Of(key))
	if d.Status != api.OK {
		rp.line("SERVER_ERROR %s", front.OneLine(d.Reason))
		return
	}
	ss.Observe(key, d.Version)
	s.stats.deletes.Add(1)
	if g.Status == api.OK {
		s.stats.deleteHits.Add(1)
		rp.line("DELETED")
	} else {
		s.stats.deleteMisses.Add(1)
		rp.line("NOT_FOUND")
	}
}

// statsCmd answers "stats" with memcached's general figures that apply
// (and a few of gossipkv's own); any other group is empty, as memcached's
// unknown ones are refused.
func (s *Server) statsCmd(rp reply, args [][]byte) {
	if len(args) > 0 {
		rp.line("CLIENT_ERROR stats %s is not supported by gossipkv: only the general stats", front.OneLine(string(args[0])))
		return
	}
	st, err := s.store.Status()
	if err != nil {
		rp.line("SERVER_ERROR %s", front.OneLine(err.Error()))
		return
	}
	now := time.Now()
	c := &s.stats
	for _, kv := range [][2]any{
		{"pid", os.Getpid()},
		{"uptime", int64(now.Sub(s.started).Seconds())},
		{"time", now.Unix()},
		{"version", version},
		{"pointer_size", strconv.IntSize},
		{"curr_connections", c.current.Load()},
		{"total_connections", c.total.Load()},
		{"rejected_connections", c.rejected.Load()},
		{"max_connections", s.cfg.MaxClients},
		{"cmd_get", c.gets.Load()},
		{"cmd_set", c.sets.Load()},
		{"get_hits", c.getHits.Load()},
		{"get_misses", c.getMisses.Load()},
		{"delete_hits", c.deleteHits.Load()},
		{"delete_misses", c.deleteMisses.Load()},
		{"bytes_read", c.bytesRead.Load()},
		{"bytes_written", c.bytesWritten.Load()},
		{"limit_maxbytes", 0},
		{"curr_items", st.Live},
		{"gossipkv_server_id", s.cfg.ID},
		{"gossipkv_links", len(st.Links)},
		{"gossipkv_held_writes", st.Seen.Count()},
		{"gossipkv_behind", c.behind.Load()},
	} {
		rp.line("STAT %s %v", kv[0], kv[1])
	}
	rp.line("END")
}
