package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gossipkv/pkg/model"
)

// maxSessionKeys bounds the keys a session token carries. A session that
// touches more keeps the ones it used most recently; a key dropped from it
// loses its guarantee (the session reads or writes it afresh, as if it had
// never touched it).
//
// Why not one version for all keys, the newest the session has seen (a
// token of constant size, and at least as strong per key)? Because a
// server answers a key only when its value of that key is at least as new
// as the dependency: a key last written before the session's newest write
// of any other key would be "behind" at every server, for good, until the
// session wrote it again. A per-key dependency is what the servers can
// check; the price is a bound on how many keys a token can carry.
const maxSessionKeys = 64

// session is an HTTP client's session: per key, the newest version the
// client wrote or read (a value or a deletion), least recently used first.
// Keys are carried as a 64-bit hash (keyHash), so that a token's size does
// not grow with key length; two keys of one session that share a hash (one
// chance in 2^64 per pair) share a dependency, which can only make a
// server answer "behind" for the older one.
type session struct {
	deps []dep
}

type dep struct {
	key uint64 // keyHash
	v   model.Version
}

func keyHash(key []byte) uint64 {
	sum := sha256.Sum256(key)
	return binary.LittleEndian.Uint64(sum[:8])
}

// get returns the session's dependency on key (zero: none).
func (s *session) get(key []byte) model.Version {
	h := keyHash(key)
	for _, d := range s.deps {
		if d.key == h {
			return d.v
		}
	}
	return model.Version{}
}

// observe makes the session depend on version v of key and marks the key
// as its most recently used.
func (s *session) observe(key []byte, v model.Version) {
	if v.IsZero() {
		return // a key never written: nothing to depend on
	}
	h := keyHash(key)
	for i, d := range s.deps {
		if d.key == h {
			v = model.Max(v, d.v)
			s.deps = slices.Delete(s.deps, i, i+1)
			break
		}
	}
	s.deps = append(s.deps, dep{h, v})
	if len(s.deps) > maxSessionKeys {
		s.deps = slices.Delete(s.deps, 0, len(s.deps)-maxSessionKeys)
	}
}

// tokens writes sessions into tokens and reads them back. A token is
// base64url (no padding) of
//
//	format byte (1) | uvarint base | uvarint n |
//	n x (8-byte key hash | uvarint base-wall | uvarint logical | uvarint origin) |
//	16-byte MAC
//
// where base is the newest wall time of the n versions, so that each
// version costs a few bytes. The MAC is HMAC-SHA-256 over the rest, keyed
// by the cluster's secret key when it has one (tokens are then
// tamper-evident: only its servers can make them) and otherwise by its
// name alone, which makes it a checksum that catches a damaged or
// truncated token and one of another cluster, not a forgery. A forged
// token can only weaken or strengthen its own session's guarantees, but a
// version far in the future would push the servers' clocks there: decode
// refuses versions of servers not in the cluster and versions more than
// maxAhead ahead of this server's clock.
type tokens struct {
	key     []byte
	servers map[uint32]bool
	now     func() time.Time
}

const (
	tokenFormat = 1
	macBytes    = 16
	// maxAhead bounds how far ahead of this server's clock a version in a
	// token may be: versions come from the servers' hybrid clocks, which
	// run ahead of physical time only as far as a server's clock does.
	maxAhead = time.Hour
	// maxTokenChars bounds the token read: 64 keys of at most about 40
	// bytes each, in base64.
	maxTokenChars = 4096
)

func newTokens(cluster string, secret []byte, servers []uint32, now func() time.Time) *tokens {
	label := []byte("gossipkv http session token/" + cluster)
	var key []byte
	if len(secret) > 0 {
		m := hmac.New(sha256.New, secret)
		m.Write(label)
		key = m.Sum(nil)
	} else {
		sum := sha256.Sum256(label)
		key = sum[:]
	}
	t := &tokens{key: key, now: now}
	if servers != nil {
		t.servers = map[uint32]bool{}
		for _, id := range servers {
			t.servers[id] = true
		}
	}
	return t
}

func (t *tokens) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(payload)
	return m.Sum(nil)[:macBytes]
}

// encode writes s as a token.
func (t *tokens) encode(s *session) string {
	var base int64
	for _, d := range s.deps {
		base = max(base, d.v.Wall)
	}
	b := make([]byte, 0, 2+binary.MaxVarintLen64+len(s.deps)*(8+3*binary.MaxVarintLen64)+macBytes)
	b = append(b, tokenFormat)
	b = binary.AppendUvarint(b, uint64(base))
	b = binary.AppendUvarint(b, uint64(len(s.deps)))
	for _, d := range s.deps {
		b = binary.LittleEndian.AppendUint64(b, d.key)
		b = binary.AppendUvarint(b, uint64(base-d.v.Wall))
		b = binary.AppendUvarint(b, uint64(d.v.Logical))
		b = binary.AppendUvarint(b, uint64(d.v.Origin))
	}
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errToken is the error of every token decode refuses.
var errToken = errors.New("bad session token")

// decode reads a token back into a session, or says why it cannot.
func (t *tokens) decode(tok string) (*session, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errToken, fmt.Sprintf(format, args...))
	}
	if len(tok) > maxTokenChars {
		return nil, bad("%d characters long, more than any token a server makes (%d)", len(tok), maxTokenChars)
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad("not base64url (A-Z a-z 0-9 - _, no padding)")
	}
	if len(b) < 1+macBytes {
		return nil, bad("too short")
	}
	payload, sum := b[:len(b)-macBytes], b[len(b)-macBytes:]
	if !hmac.Equal(sum, t.mac(payload)) {
		return nil, bad("it fails its check: damaged or altered, or made by a server of another cluster (or with another secret key)")
	}
	if payload[0] != tokenFormat {
		return nil, bad("format %d, not %d", payload[0], tokenFormat)
	}
	rest := payload[1:]
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	base, ok := uvarint()
	if !ok || base > math.MaxInt64 {
		return nil, bad("malformed")
	}
	n, ok := uvarint()
	if !ok || n > maxSessionKeys {
		return nil, bad("malformed, or more than %d keys", maxSessionKeys)
	}
	limit := t.now().Add(maxAhead).UnixNano()
	s := &session{deps: make([]dep, 0, n)}
	seen := map[uint64]bool{}
	for range n {
		if len(rest) < 8 {
			return nil, bad("malformed")
		}
		h := binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
		delta, ok1 := uvarint()
		logical, ok2 := uvarint()
		origin, ok3 := uvarint()
		if !ok1 || !ok2 || !ok3 || delta >= base || logical > math.MaxUint32 || origin > math.MaxUint32 || seen[h] {
			return nil, bad("malformed")
		}
		seen[h] = true
		v := model.Version{Wall: int64(base - delta), Logical: uint32(logical), Origin: uint32(origin)}
		if t.servers != nil && !t.servers[v.Origin] {
			return nil, bad("it names a write of server %d, which is not a server of this cluster", v.Origin)
		}
		if v.Wall > limit {
			return nil, bad("it names a write %v ahead of this server's clock (at most %v)", time.Duration(v.Wall-t.now().UnixNano()).Round(time.Second), maxAhead)
		}
		s.deps = append(s.deps, dep{h, v})
	}
	if len(rest) != 0 {
		return nil, bad("malformed")
	}
	return s, nil
}
