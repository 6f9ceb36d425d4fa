package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// Type is the first byte of every message.
type Type uint8

// TypeBatch carries a sender id and a list of protocol messages. (Zero is
// left unused, so that a zeroed buffer is never a valid message.)
const TypeBatch Type = 1

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("wire: malformed message")

// batch is the body of TypeBatch.
type batch struct {
	From uint32 `msgpack:"f"`
	Msgs []msg  `msgpack:"m"`
}

// msg is one protocol message; Kind says which fields are used.
type msg struct {
	Kind     uint8             `msgpack:"k"`
	Src      uint64            `msgpack:"r,omitempty"`
	For      uint64            `msgpack:"t,omitempty"`
	Topology []model.LinkState `msgpack:"g,omitempty"`
	Entries  entries           `msgpack:"e,omitempty"`
	Seen     model.Seen        `msgpack:"s"`
	Complete bool              `msgpack:"c,omitempty"`
	Holdings []model.Holding   `msgpack:"h,omitempty"`
	Stable   *model.Stable     `msgpack:"p,omitempty"`
}

// stablePtr is s for the wire, nil when zero (and then left out).
func stablePtr(s model.Stable) *model.Stable {
	if s.IsZero() {
		return nil
	}
	return &s
}

func stableOf(p *model.Stable) model.Stable {
	if p == nil {
		return model.Stable{}
	}
	return *p
}

const (
	kindWrites uint8 = iota + 1
	kindAck
	kindDelta
)

// Encode packs the messages from server from into one memberlist message.
func Encode(from uint32, msgs []model.Message) ([]byte, error) {
	b := batch{From: from, Msgs: make([]msg, 0, len(msgs))}
	for _, m := range msgs {
		switch m := m.(type) {
		case model.Writes:
			b.Msgs = append(b.Msgs, msg{Kind: kindWrites, Entries: m.Entries, Src: m.Src})
		case model.Ack:
			b.Msgs = append(b.Msgs, msg{Kind: kindAck, Seen: m.Seen, Src: m.Src, Topology: m.Topology, Holdings: m.Holdings, Stable: stablePtr(m.Stable)})
		case model.Delta:
			b.Msgs = append(b.Msgs, msg{Kind: kindDelta, Entries: m.Entries, Seen: m.Seen, Complete: m.Complete, For: m.For, Src: m.Src, Stable: stablePtr(m.Stable)})
		default:
			return nil, fmt.Errorf("wire: cannot encode %T", m)
		}
	}
	// Sized for the entries up front: growing a buffer for a batch of 1 KB
	// values copies it several times over.
	size := 64
	for _, m := range b.Msgs {
		size += 64 + 32*(len(m.Seen.Prefix)+len(m.Topology)+len(m.Holdings))
		for _, e := range m.Entries {
			size += 48 + len(e.Key) + len(e.Value)
		}
	}
	buf := bytes.NewBuffer(append(make([]byte, 0, size), byte(TypeBatch)))
	if err := compact(buf).Encode(&b); err != nil {
		return nil, fmt.Errorf("wire: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode unpacks a memberlist message. The returned messages do not alias
// buf.
func Decode(buf []byte) (from uint32, msgs []model.Message, err error) {
	if len(buf) == 0 {
		return 0, nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if Type(buf[0]) != TypeBatch {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, buf[0])
	}
	// Length headers are checked against the input before the decoder
	// may trust them and allocate.
	if err := mpcheck.Check(buf[1:]); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var b batch
	if err := msgpack.Unmarshal(buf[1:], &b); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	msgs = make([]model.Message, 0, len(b.Msgs))
	for i, m := range b.Msgs {
		if !m.Seen.Valid() {
			return 0, nil, fmt.Errorf("%w: message %d: seen set not canonical", ErrMalformed, i)
		}
		if m.Stable != nil && !m.Stable.Cover.Valid() {
			return 0, nil, fmt.Errorf("%w: message %d: stable point's set not canonical", ErrMalformed, i)
		}
		for _, h := range m.Holdings {
			if !h.Seen.Valid() {
				return 0, nil, fmt.Errorf("%w: message %d: holding of server %d not canonical", ErrMalformed, i, h.ID)
			}
		}
		for _, e := range m.Entries {
			if e.Seq == 0 || e.Key == nil || e.Version.IsZero() {
				return 0, nil, fmt.Errorf("%w: message %d: entry without key, version or sequence", ErrMalformed, i)
			}
		}
		switch m.Kind {
		case kindWrites:
			msgs = append(msgs, model.Writes{Entries: m.Entries, Src: m.Src})
		case kindAck:
			msgs = append(msgs, model.Ack{Seen: m.Seen, Src: m.Src, Topology: m.Topology, Holdings: m.Holdings, Stable: stableOf(m.Stable)})
		case kindDelta:
			msgs = append(msgs, model.Delta{Entries: m.Entries, Seen: m.Seen, Complete: m.Complete, For: m.For, Src: m.Src, Stable: stableOf(m.Stable)})
		default:
			return 0, nil, fmt.Errorf("%w: message %d: unknown kind %d", ErrMalformed, i, m.Kind)
		}
	}
	return b.From, msgs, nil
}

// Meta is what a server announces in memberlist's node metadata: its direct
// links, so that every server can route around cut links.
type Meta struct {
	Version int64    `msgpack:"v"`
	Links   []uint32 `msgpack:"l"`
}

// EncodeMeta packs a Meta; it must fit memberlist's 512-byte limit.
func EncodeMeta(m Meta) ([]byte, error) {
	var buf bytes.Buffer
	if err := compact(&buf).Encode(&m); err != nil {
		return nil, fmt.Errorf("wire: encode meta: %w", err)
	}
	return buf.Bytes(), nil
}

// compact is an encoder that writes every integer in its smallest form
// (server ids, sequence numbers and versions are mostly small): links of a
// hundred servers then fit memberlist's 512 bytes of node metadata.
func compact(w io.Writer) *msgpack.Encoder {
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true)
	return enc
}

// DecodeMeta unpacks a Meta.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, nil
	}
	if err := mpcheck.Check(b); err != nil {
		return m, fmt.Errorf("%w: meta: %v", ErrMalformed, err)
	}
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: meta: %v", ErrMalformed, err)
	}
	return m, nil
}
