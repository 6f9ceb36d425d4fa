package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gossipkv/pkg/api"
)

const (
	// SessionHeader carries the session token, both ways.
	SessionHeader = "X-Gossipkv-Session"
	// SessionCookie carries it too, for clients with a cookie jar (curl
	// -b FILE -c FILE, browsers): cookies ignore the port, so a jar
	// carries the session from one server of a host to another.
	SessionCookie = "gossipkv_session"
	// VersionHeader gives the version of the value read or written.
	VersionHeader = "X-Gossipkv-Version"
)

// maxList bounds the keys of one listing page: the store copies them in
// its owner goroutine, which every put waits on.
const maxList = 1000

// readSession returns the session the request carries: the header's
// token, else the cookie's, else a new session.
func (s *Server) readSession(r *http.Request) (*session, error) {
	tok := r.Header.Get(SessionHeader)
	from := "header " + SessionHeader
	if tok == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			tok, from = c.Value, "cookie "+SessionCookie
		}
	}
	if tok == "" {
		return &session{}, nil
	}
	ss, err := s.tokens.decode(tok)
	if err != nil {
		return nil, fmt.Errorf("%w (in the %s); drop it to start a new session, which loses the old one's guarantees", err, from)
	}
	return ss, nil
}

// writeSession puts the session's token on the answer, as a header and a
// cookie. Call it before the status is written.
func (s *Server) writeSession(w http.ResponseWriter, ss *session) {
	tok := s.tokens.encode(ss)
	h := w.Header()
	h.Set(SessionHeader, tok)
	h.Add("Set-Cookie", (&http.Cookie{Name: SessionCookie, Value: tok, Path: "/v1/kv", HttpOnly: true, SameSite: http.SameSiteStrictMode}).String())
	// The answer depends on the session: no cache may serve it to another.
	h.Set("Cache-Control", "no-store")
}

func quoteKey(key []byte) string {
	if len(key) > 64 {
		return strconv.Quote(string(key[:64])) + "..."
	}
	return strconv.Quote(string(key))
}

// serveKey answers GET, HEAD, PUT and DELETE of one key.
func (s *Server) serveKey(w http.ResponseWriter, r *http.Request, key []byte) {
	if !allow(w, r, http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete) {
		return
	}
	ss, err := s.readSession(r)
	if err != nil {
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	if m := s.cfg.MaxKeyBytes; m > 0 && len(key) > m {
		s.writeSession(w, ss)
		plain(w, http.StatusBadRequest, fmt.Sprintf("key of %d bytes exceeds max_key_bytes %d", len(key), m))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, ss, key)
	case http.MethodPut:
		s.put(w, r, ss, key)
	case http.MethodDelete:
		s.delete(w, ss, key)
	}
}

// behind answers 503 with Retry-After: the server has not yet seen a write
// the session depends on for key, and may have it in a moment (or another
// server may have it now). The session goes back unchanged.
func (s *Server) behind(w http.ResponseWriter, ss *session, key []byte) {
	s.writeSession(w, ss)
	w.Header().Set("Retry-After", "1")
	plain(w, http.StatusServiceUnavailable, fmt.Sprintf("server %d has not yet seen a write this session depends on for key %s: retry later, or at another server",
		s.cfg.ID, quoteKey(key)))
}

func (s *Server) failed(w http.ResponseWriter, ss *session, what string, r api.PutReply) {
	why := r.Reason
	if why == "" {
		why = r.Status.String()
	}
	s.writeSession(w, ss)
	plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: %s failed: %s", s.cfg.ID, what, why))
}

func (s *Server) get(w http.ResponseWriter, ss *session, key []byte) {
	r, err := s.store.Get(key, ss.get(key))
	if err != nil {
		s.writeSession(w, ss)
		plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: get failed: %v", s.cfg.ID, err))
		return
	}
	switch r.Status {
	case api.OK:
		ss.observe(key, r.Version)
		s.writeSession(w, ss)
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(len(r.Value)))
		h.Set(VersionHeader, r.Version.String())
		w.WriteHeader(http.StatusOK)
		w.Write(r.Value)
	case api.ErrKey:
		ss.observe(key, r.Version) // a deletion read is a read
		s.writeSession(w, ss)
		if r.Version.IsZero() {
			plain(w, http.StatusNotFound, fmt.Sprintf("no key %s at server %d", quoteKey(key), s.cfg.ID))
		} else {
			w.Header().Set(VersionHeader, r.Version.String())
			plain(w, http.StatusNotFound, fmt.Sprintf("key %s is deleted at server %d", quoteKey(key), s.cfg.ID))
		}
	case api.ErrDep:
		s.behind(w, ss, key)
	default:
		s.writeSession(w, ss)
		plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: get: %v", s.cfg.ID, r.Status))
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, ss *session, key []byte) {
	ifAbsent := false
	switch inm := r.Header.Values("If-None-Match"); {
	case len(inm) == 1 && strings.TrimSpace(inm[0]) == "*":
		ifAbsent = true
	case len(inm) > 0, r.Header.Get("If-Match") != "", r.Header.Get("If-Unmodified-Since") != "", r.Header.Get("If-Modified-Since") != "":
		// Refused rather than ignored: a client that sent If-Match
		// believes it is doing a compare-and-set.
		s.writeSession(w, ss)
		plain(w, http.StatusBadRequest, "the only condition a PUT may carry is If-None-Match: * (write only if the key holds no value); gossipkv has no compare-and-set")
		return
	}
	value, code, err := s.readValue(r)
	if err != nil {
		s.writeSession(w, ss)
		plain(w, code, err.Error())
		return
	}
	var reply api.PutReply
	if ifAbsent {
		var stored bool
		reply, stored = s.store.PutIfAbsent(key, value, ss.get(key))
		switch {
		case reply.Status == api.ErrDep:
			s.behind(w, ss, key)
			return
		case reply.Status == api.OK && !stored:
			ss.observe(key, reply.Version) // it read the value it found
			s.writeSession(w, ss)
			w.Header().Set(VersionHeader, reply.Version.String())
			plain(w, http.StatusPreconditionFailed, fmt.Sprintf("key %s holds a value at server %d (If-None-Match: *)", quoteKey(key), s.cfg.ID))
			return
		}
	} else {
		reply = s.store.Put(key, value, ss.get(key))
	}
	s.written(w, ss, key, "put", reply)
}

// written answers a put or delete: 204 with the write's version.
func (s *Server) written(w http.ResponseWriter, ss *session, key []byte, what string, r api.PutReply) {
	if r.Status != api.OK {
		s.failed(w, ss, what, r)
		return
	}
	ss.observe(key, r.Version)
	s.writeSession(w, ss)
	w.Header().Set(VersionHeader, r.Version.String())
	w.WriteHeader(http.StatusNoContent)
}

// readValue reads a PUT's body, refusing one over max_value_bytes before
// reading it when its length is declared, and as soon as it passes the
// bound when it is not.
func (s *Server) readValue(r *http.Request) ([]byte, int, error) {
	m := s.cfg.MaxValueBytes
	tooLarge := func(n string) error {
		return fmt.Errorf("value of %s bytes exceeds max_value_bytes %d", n, m)
	}
	if m > 0 && r.ContentLength > int64(m) {
		return nil, http.StatusRequestEntityTooLarge, tooLarge(strconv.FormatInt(r.ContentLength, 10))
	}
	body := io.Reader(r.Body)
	if m > 0 {
		body = io.LimitReader(r.Body, int64(m)+1)
	}
	var buf bytes.Buffer
	if m > 0 && r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength)) // at most m, checked above
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the value: %v", err)
	}
	if m > 0 && buf.Len() > m {
		return nil, http.StatusRequestEntityTooLarge, tooLarge("more than " + strconv.Itoa(m))
	}
	return buf.Bytes(), 0, nil
}

func (s *Server) delete(w http.ResponseWriter, ss *session, key []byte) {
	s.written(w, ss, key, "delete", s.store.Delete(key, ss.get(key)))
}

// listing is the answer to GET /v1/kv/.
type listing struct {
	// Keys are percent-encoded as URL path segments (url.PathEscape), so
	// that any key, binary ones too, is exact in JSON and can be put
	// after /v1/kv/ as it is.
	Keys []string `json:"keys"`
	// Next, when more keys follow, is the cursor of the next page.
	Next string `json:"next,omitempty"`
}

// serveList answers GET /v1/kv/?prefix=P&limit=N&cursor=C: this server's
// live keys that start with P, in byte order, at most N (default and most
// 1000), from where cursor C (the previous page's next) left off.
// Listing is not part of the session: it shows what this server holds.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	q := r.URL.Query()
	for name := range q {
		if name != "prefix" && name != "limit" && name != "cursor" {
			plain(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: a listing takes prefix, limit and cursor", name))
			return
		}
	}
	prefix := []byte(q.Get("prefix"))
	limit := maxList
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxList {
			plain(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number from 1 to %d", l, maxList))
			return
		}
		limit = n
	}
	from := prefix
	if c := q.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			plain(w, http.StatusBadRequest, fmt.Sprintf("cursor %q is not one a listing gave (base64url)", c))
			return
		}
		// The next page starts just after the last key listed.
		from = append(after, 0)
		if bytes.Compare(from, prefix) < 0 {
			from = prefix
		}
	}
	keys, more, err := s.store.Keys(from, limit)
	if err != nil {
		plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: listing failed: %v", s.cfg.ID, err))
		return
	}
	out := listing{Keys: make([]string, 0, len(keys))}
	for _, k := range keys {
		if !bytes.HasPrefix(k, prefix) {
			more = false // past the keys with the prefix
			break
		}
		out.Keys = append(out.Keys, url.PathEscape(string(k)))
	}
	if more && len(out.Keys) > 0 {
		out.Next = base64.RawURLEncoding.EncodeToString(keys[len(out.Keys)-1])
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		plain(w, http.StatusInternalServerError, err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}
