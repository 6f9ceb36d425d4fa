package wire

import (
	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
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

// menc writes through a msgpack.Encoder and keeps its first error.
type menc struct {
	e   *msgpack.Encoder
	err error
}

func (w *menc) do(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *menc) key(k string)   { w.do(w.e.EncodeString(k)) }
func (w *menc) mapLen(n int)   { w.do(w.e.EncodeMapLen(n)) }
func (w *menc) arrayLen(n int) { w.do(w.e.EncodeArrayLen(n)) }
func (w *menc) uint(v uint64)  { w.do(w.e.EncodeUint(v)) }
func (w *menc) int(v int64)    { w.do(w.e.EncodeInt(v)) }
func (w *menc) bool(v bool)    { w.do(w.e.EncodeBool(v)) }
func (w *menc) nil()           { w.do(w.e.EncodeNil()) }

// EncodeMsgpack writes b as the map {f, m}.
func (b *batch) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := &menc{e: enc}
	w.mapLen(2)
	w.key("f")
	w.uint(uint64(b.From))
	w.key("m")
	if b.Msgs == nil {
		w.nil()
		return w.err
	}
	w.arrayLen(len(b.Msgs))
	for i := range b.Msgs {
		b.Msgs[i].encode(w)
	}
	return w.err
}

// encode writes m as a map of its fields, leaving out the empty omitempty
// ones.
func (m *msg) encode(w *menc) {
	n := 2 // k and s are always there
	for _, set := range []bool{m.Src != 0, m.For != 0, len(m.Topology) > 0, len(m.Entries) > 0, m.Complete, len(m.Holdings) > 0, hasStable(m.Stable)} {
		if set {
			n++
		}
	}
	w.mapLen(n)
	w.key("k")
	w.uint(uint64(m.Kind))
	if m.Src != 0 {
		w.key("r")
		w.uint(m.Src)
	}
	if m.For != 0 {
		w.key("t")
		w.uint(m.For)
	}
	if len(m.Topology) > 0 {
		w.key("g")
		w.arrayLen(len(m.Topology))
		for _, ls := range m.Topology {
			encodeLinkState(w, ls)
		}
	}
	if len(m.Entries) > 0 {
		w.key("e")
		w.do(m.Entries.EncodeMsgpack(w.e))
	}
	w.key("s")
	encodeSeen(w, m.Seen)
	if m.Complete {
		w.key("c")
		w.bool(true)
	}
	if len(m.Holdings) > 0 {
		w.key("h")
		w.arrayLen(len(m.Holdings))
		for _, h := range m.Holdings {
			encodeHolding(w, h)
		}
	}
	if hasStable(m.Stable) {
		w.key("p")
		w.mapLen(2)
		w.key("v")
		encodeVersion(w, m.Stable.Version)
		w.key("c")
		encodeSeen(w, m.Stable.Cover)
	}
}

// hasStable is whether omitempty keeps a stable point: Stable's IsZero
// decides, as for reflection.
func hasStable(s *model.Stable) bool { return s != nil && !s.IsZero() }

func encodeSeen(w *menc, s model.Seen) {
	w.mapLen(2)
	w.key("p")
	if s.Prefix == nil {
		w.nil()
	} else {
		w.arrayLen(len(s.Prefix))
		for _, e := range s.Prefix {
			w.mapLen(2)
			w.key("i")
			w.uint(e.ID)
			w.key("n")
			w.uint(e.N)
		}
	}
	w.key("x")
	if s.Extra == nil {
		w.nil()
	} else {
		w.arrayLen(len(s.Extra))
		for _, d := range s.Extra {
			w.mapLen(2)
			w.key("o")
			w.uint(d.Origin)
			w.key("s")
			w.uint(d.Seq)
		}
	}
}

func encodeVersion(w *menc, v model.Version) {
	w.mapLen(3)
	w.key("w")
	w.int(v.Wall)
	w.key("l")
	w.uint(uint64(v.Logical))
	w.key("o")
	w.uint(uint64(v.Origin))
}

func encodeLinkState(w *menc, ls model.LinkState) {
	w.mapLen(3)
	w.key("i")
	w.uint(uint64(ls.ID))
	w.key("v")
	w.int(ls.Version)
	w.key("l")
	if ls.Links == nil {
		w.nil()
		return
	}
	w.arrayLen(len(ls.Links))
	for _, l := range ls.Links {
		w.uint(uint64(l))
	}
}

func encodeHolding(w *menc, h model.Holding) {
	w.mapLen(4)
	w.key("i")
	w.uint(uint64(h.ID))
	w.key("v")
	w.int(h.Version)
	w.key("s")
	encodeSeen(w, h.Seen)
	w.key("c")
	encodeVersion(w, h.Clock)
}

// mdec reads through a msgpack.Decoder and keeps its first error.
type mdec struct {
	d   *msgpack.Decoder
	err error
}

func (r *mdec) do(err error) bool {
	if r.err == nil {
		r.err = err
	}
	return r.err == nil
}

// fields calls field with each key of a map (a nil map has none), which
// must read the key's value.
func (r *mdec) fields(field func(key string)) {
	if r.err != nil {
		return
	}
	n, err := r.d.DecodeMapLen()
	if !r.do(err) {
		return
	}
	for range max(n, 0) {
		k, err := r.d.DecodeString()
		if !r.do(err) {
			return
		}
		field(k)
		if r.err != nil {
			return
		}
	}
}

// arrayLen reads an array's length: -1 for nil (or after an error).
func (r *mdec) arrayLen() int {
	if r.err != nil {
		return -1
	}
	n, err := r.d.DecodeArrayLen()
	if !r.do(err) {
		return -1
	}
	return n
}

func (r *mdec) skip() { r.do(r.d.Skip()) }

func (r *mdec) uint64() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint64()
	r.do(err)
	return v
}

func (r *mdec) uint32() uint32 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint32()
	r.do(err)
	return v
}

func (r *mdec) uint8() uint8 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeUint8()
	r.do(err)
	return v
}

func (r *mdec) int64() int64 {
	if r.err != nil {
		return 0
	}
	v, err := r.d.DecodeInt64()
	r.do(err)
	return v
}

func (r *mdec) bool() bool {
	if r.err != nil {
		return false
	}
	v, err := r.d.DecodeBool()
	r.do(err)
	return v
}

// DecodeMsgpack reads what EncodeMsgpack wrote. The input has passed
// mpcheck, so no length it reads can make it allocate more than the input
// holds.
func (b *batch) DecodeMsgpack(dec *msgpack.Decoder) error {
	r := &mdec{d: dec}
	r.fields(func(k string) {
		switch k {
		case "f":
			b.From = r.uint32()
		case "m":
			b.Msgs = nil
			if n := r.arrayLen(); n >= 0 {
				b.Msgs = make([]msg, n)
				for i := range b.Msgs {
					b.Msgs[i].decode(r)
				}
			}
		default:
			r.skip()
		}
	})
	return r.err
}

func (m *msg) decode(r *mdec) {
	r.fields(func(k string) {
		switch k {
		case "k":
			m.Kind = r.uint8()
		case "r":
			m.Src = r.uint64()
		case "t":
			m.For = r.uint64()
		case "g":
			m.Topology = nil
			if n := r.arrayLen(); n >= 0 {
				m.Topology = make([]model.LinkState, n)
				for i := range m.Topology {
					m.Topology[i] = decodeLinkState(r)
				}
			}
		case "e":
			r.do(m.Entries.DecodeMsgpack(r.d))
		case "s":
			m.Seen = decodeSeen(r)
		case "c":
			m.Complete = r.bool()
		case "h":
			m.Holdings = nil
			if n := r.arrayLen(); n >= 0 {
				m.Holdings = make([]model.Holding, n)
				for i := range m.Holdings {
					m.Holdings[i] = decodeHolding(r)
				}
			}
		case "p":
			if r.isNil() {
				m.Stable = nil
				return
			}
			var st model.Stable
			r.fields(func(k string) {
				switch k {
				case "v":
					st.Version = decodeVersion(r)
				case "c":
					st.Cover = decodeSeen(r)
				default:
					r.skip()
				}
			})
			m.Stable = &st
		default:
			r.skip()
		}
	})
}

// isNil consumes a nil if one comes next.
func (r *mdec) isNil() bool {
	if r.err != nil {
		return false
	}
	c, err := r.d.PeekCode()
	if !r.do(err) || c != 0xc0 {
		return false
	}
	return r.do(r.d.DecodeNil())
}

func decodeSeen(r *mdec) model.Seen {
	var s model.Seen
	r.fields(func(k string) {
		switch k {
		case "p":
			s.Prefix = nil
			if n := r.arrayLen(); n >= 0 {
				s.Prefix = make(vclock.Clock, n)
				for i := range s.Prefix {
					e := &s.Prefix[i]
					r.fields(func(k string) {
						switch k {
						case "i":
							e.ID = r.uint64()
						case "n":
							e.N = r.uint64()
						default:
							r.skip()
						}
					})
				}
			}
		case "x":
			s.Extra = nil
			if n := r.arrayLen(); n >= 0 {
				s.Extra = make([]model.Dot, n)
				for i := range s.Extra {
					d := &s.Extra[i]
					r.fields(func(k string) {
						switch k {
						case "o":
							d.Origin = r.uint64()
						case "s":
							d.Seq = r.uint64()
						default:
							r.skip()
						}
					})
				}
			}
		default:
			r.skip()
		}
	})
	return s
}

func decodeVersion(r *mdec) model.Version {
	var v model.Version
	r.fields(func(k string) {
		switch k {
		case "w":
			v.Wall = r.int64()
		case "l":
			v.Logical = r.uint32()
		case "o":
			v.Origin = r.uint32()
		default:
			r.skip()
		}
	})
	return v
}

func decodeLinkState(r *mdec) model.LinkState {
	var ls model.LinkState
	r.fields(func(k string) {
		switch k {
		case "i":
			ls.ID = r.uint32()
		case "v":
			ls.Version = r.int64()
		case "l":
			ls.Links = nil
			if n := r.arrayLen(); n >= 0 {
				ls.Links = make([]uint32, n)
				for i := range ls.Links {
					ls.Links[i] = r.uint32()
				}
			}
		default:
			r.skip()
		}
	})
	return ls
}

func decodeHolding(r *mdec) model.Holding {
	var h model.Holding
	r.fields(func(k string) {
		switch k {
		case "i":
			h.ID = r.uint32()
		case "v":
			h.Version = r.int64()
		case "s":
			h.Seen = decodeSeen(r)
		case "c":
			h.Clock = decodeVersion(r)
		default:
			r.skip()
		}
	})
	return h
}
