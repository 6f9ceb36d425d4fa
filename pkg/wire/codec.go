package wire

import (
	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcodec"
)

// batch and msg carry msgpack forms written out by hand, byte for byte
// what the struct tags and omitempty give through reflection (codec_test
// checks both ways): every server encodes each batch it sends and decodes
// each one it receives, and reflection over the structs' fields and their
// omitempty checks cost more than the entries' own bytes. The decoders take
// a struct's fields in any order and skip unknown ones, as reflection does.

var (
	_ msgpack.CustomEncoder = (*batch)(nil)
	_ msgpack.CustomDecoder = (*batch)(nil)
)

// EncodeMsgpack writes b as the map {f, m}, integers compactly as the
// wire's encoder has always written them (see compact).
func (b *batch) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := mpcodec.NewEncoder(enc, true)
	w.MapLen(2)
	w.Key("f")
	w.Uint32(b.From)
	w.Key("m")
	if b.Msgs == nil {
		w.Nil()
		return w.Err()
	}
	w.ArrayLen(len(b.Msgs))
	for i := range b.Msgs {
		b.Msgs[i].encode(&w)
	}
	return w.Err()
}

// encode writes m as a map of its fields, leaving out the empty omitempty
// ones.
func (m *msg) encode(w *mpcodec.Encoder) {
	n := 2 // k and s are always there
	for _, set := range []bool{m.Src != 0, m.For != 0, len(m.Topology) > 0, len(m.Entries) > 0, m.Complete, len(m.Holdings) > 0, hasStable(m.Stable)} {
		if set {
			n++
		}
	}
	w.MapLen(n)
	w.Key("k")
	w.Uint8(m.Kind)
	if m.Src != 0 {
		w.Key("r")
		w.Uint64(m.Src)
	}
	if m.For != 0 {
		w.Key("t")
		w.Uint64(m.For)
	}
	if len(m.Topology) > 0 {
		w.Key("g")
		w.ArrayLen(len(m.Topology))
		for _, ls := range m.Topology {
			encodeLinkState(w, ls)
		}
	}
	if len(m.Entries) > 0 {
		w.Key("e")
		w.Do(m.Entries.EncodeMsgpack(w.Msgpack()))
	}
	w.Key("s")
	w.Seen(m.Seen)
	if m.Complete {
		w.Key("c")
		w.Bool(true)
	}
	if len(m.Holdings) > 0 {
		w.Key("h")
		w.ArrayLen(len(m.Holdings))
		for _, h := range m.Holdings {
			encodeHolding(w, h)
		}
	}
	if hasStable(m.Stable) {
		w.Key("p")
		w.Stable(*m.Stable)
	}
}

// hasStable is whether omitempty keeps a stable point: Stable's IsZero
// decides, as for reflection.
func hasStable(s *model.Stable) bool { return s != nil && !s.IsZero() }

func encodeLinkState(w *mpcodec.Encoder, ls model.LinkState) {
	w.MapLen(3)
	w.Key("i")
	w.Uint32(ls.ID)
	w.Key("v")
	w.Int64(ls.Version)
	w.Key("l")
	w.Uint32s(ls.Links)
}

func encodeHolding(w *mpcodec.Encoder, h model.Holding) {
	w.MapLen(4)
	w.Key("i")
	w.Uint32(h.ID)
	w.Key("v")
	w.Int64(h.Version)
	w.Key("s")
	w.Seen(h.Seen)
	w.Key("c")
	w.Version(h.Clock)
}

// DecodeMsgpack reads what EncodeMsgpack wrote. The input has passed
// mpcheck, so no length it reads can make it allocate more than the input
// holds.
func (b *batch) DecodeMsgpack(dec *msgpack.Decoder) error {
	r := mpcodec.NewDecoder(dec)
	r.Fields(func(k string) {
		switch k {
		case "f":
			b.From = r.Uint32()
		case "m":
			b.Msgs = nil
			if n := r.ArrayLen(); n >= 0 {
				b.Msgs = make([]msg, n)
				for i := range b.Msgs {
					b.Msgs[i].decode(&r)
				}
			}
		default:
			r.Skip()
		}
	})
	return r.Err()
}

func (m *msg) decode(r *mpcodec.Decoder) {
	r.Fields(func(k string) {
		switch k {
		case "k":
			m.Kind = r.Uint8()
		case "r":
			m.Src = r.Uint64()
		case "t":
			m.For = r.Uint64()
		case "g":
			m.Topology = nil
			if n := r.ArrayLen(); n >= 0 {
				m.Topology = make([]model.LinkState, n)
				for i := range m.Topology {
					decodeLinkState(r, &m.Topology[i])
				}
			}
		case "e":
			r.Do(m.Entries.DecodeMsgpack(r.Msgpack()))
		case "s":
			r.Seen(&m.Seen)
		case "c":
			m.Complete = r.Bool()
		case "h":
			m.Holdings = nil
			if n := r.ArrayLen(); n >= 0 {
				m.Holdings = make([]model.Holding, n)
				for i := range m.Holdings {
					decodeHolding(r, &m.Holdings[i])
				}
			}
		case "p":
			m.Stable = r.Stable()
		default:
			r.Skip()
		}
	})
}

func decodeLinkState(r *mpcodec.Decoder, ls *model.LinkState) {
	r.Fields(func(k string) {
		switch k {
		case "i":
			ls.ID = r.Uint32()
		case "v":
			ls.Version = r.Int64()
		case "l":
			ls.Links = r.Uint32s()
		default:
			r.Skip()
		}
	})
}

func decodeHolding(r *mpcodec.Decoder, h *model.Holding) {
	r.Fields(func(k string) {
		switch k {
		case "i":
			h.ID = r.Uint32()
		case "v":
			h.Version = r.Int64()
		case "s":
			r.Seen(&h.Seen)
		case "c":
			r.Version(&h.Clock)
		default:
			r.Skip()
		}
	})
}
