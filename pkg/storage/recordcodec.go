package storage

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// storeRecord's msgpack form is written out by hand, byte for byte what
// its struct tags give through reflection (recordcodec_test checks both
// ways): a checkpoint encodes a record for every key it writes and decodes
// the one it replaces, and reflection over the fields cost more than the
// checksum and copy of a 1 KB value. The decoder takes the fields in any
// order and skips unknown ones, as reflection does.

var (
	_ msgpack.CustomEncoder = (*storeRecord)(nil)
	_ msgpack.CustomDecoder = (*storeRecord)(nil)
)

// EncodeMsgpack writes r as the map {v, t, s, r[, d]}, integers at their
// full widths.
func (r *storeRecord) EncodeMsgpack(enc *msgpack.Encoder) error {
	n := 4
	if r.Deleted {
		n++
	}
	for _, err := range []error{
		enc.EncodeMapLen(n),
		enc.EncodeString("v"), enc.EncodeBytes(r.Value),
		enc.EncodeString("t"), enc.EncodeMapLen(3),
		enc.EncodeString("w"), enc.EncodeInt64(r.Version.Wall),
		enc.EncodeString("l"), enc.EncodeUint32(r.Version.Logical),
		enc.EncodeString("o"), enc.EncodeUint32(r.Version.Origin),
		enc.EncodeString("s"), enc.EncodeUint64(r.Seq),
		enc.EncodeString("r"), enc.EncodeUint64(r.Src),
	} {
		if err != nil {
			return err
		}
	}
	if r.Deleted {
		if err := enc.EncodeString("d"); err != nil {
			return err
		}
		return enc.EncodeBool(true)
	}
	return nil
}

// DecodeMsgpack reads what EncodeMsgpack wrote. With skipValue set it
// leaves Value nil: what a checkpoint compares and collects by needs no
// copy of it.
func (r *storeRecord) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "v":
			if r.skipValue {
				err = dec.Skip()
			} else {
				r.Value, err = dec.DecodeBytes()
			}
		case "t":
			err = decodeRecordVersion(dec, &r.Version)
		case "s":
			r.Seq, err = dec.DecodeUint64()
		case "r":
			r.Src, err = dec.DecodeUint64()
		case "d":
			r.Deleted, err = dec.DecodeBool()
		default:
			err = dec.Skip()
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return nil
}

func decodeRecordVersion(dec *msgpack.Decoder, v *model.Version) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "w":
			v.Wall, err = dec.DecodeInt64()
		case "l":
			v.Logical, err = dec.DecodeUint32()
		case "o":
			v.Origin, err = dec.DecodeUint32()
		default:
			err = dec.Skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walPayload's msgpack form is written out by hand too, byte for byte what
// reflection gives (recordcodec_test): every put's log append encodes one.

var (
	_ msgpack.CustomEncoder = (*walPayload)(nil)
	_ msgpack.CustomDecoder = (*walPayload)(nil)
)

// fullEnc writes through a msgpack.Encoder, integers at their full widths
// as reflection writes them without compact ints, and keeps the first
// error.
type fullEnc struct {
	e   *msgpack.Encoder
	err error
}

func (w *fullEnc) do(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *fullEnc) key(k string)   { w.do(w.e.EncodeString(k)) }
func (w *fullEnc) mapLen(n int)   { w.do(w.e.EncodeMapLen(n)) }
func (w *fullEnc) arrayLen(n int) { w.do(w.e.EncodeArrayLen(n)) }

func (w *fullEnc) version(v model.Version) {
	w.mapLen(3)
	w.key("w")
	w.do(w.e.EncodeInt64(v.Wall))
	w.key("l")
	w.do(w.e.EncodeUint32(v.Logical))
	w.key("o")
	w.do(w.e.EncodeUint32(v.Origin))
}

func (w *fullEnc) seen(s model.Seen) {
	w.mapLen(2)
	w.key("p")
	if s.Prefix == nil {
		w.do(w.e.EncodeNil())
	} else {
		w.arrayLen(len(s.Prefix))
		for _, e := range s.Prefix {
			w.mapLen(2)
			w.key("i")
			w.do(w.e.EncodeUint64(e.ID))
			w.key("n")
			w.do(w.e.EncodeUint64(e.N))
		}
	}
	w.key("x")
	if s.Extra == nil {
		w.do(w.e.EncodeNil())
	} else {
		w.arrayLen(len(s.Extra))
		for _, d := range s.Extra {
			w.mapLen(2)
			w.key("o")
			w.do(w.e.EncodeUint64(d.Origin))
			w.key("s")
			w.do(w.e.EncodeUint64(d.Seq))
		}
	}
}

// EncodeMsgpack writes p as the map {e, s[, f][, m]}.
func (p *walPayload) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := &fullEnc{e: enc}
	stable := p.Stable != nil && !p.Stable.IsZero() // omitempty, by Stable's IsZero
	n := 2
	if stable {
		n++
	}
	if len(p.Members) > 0 {
		n++
	}
	w.mapLen(n)
	w.key("e")
	if p.Entries == nil {
		w.do(enc.EncodeNil())
	} else {
		w.arrayLen(len(p.Entries))
		for i := range p.Entries {
			e := &p.Entries[i]
			m := 5
			if e.Deleted {
				m++
			}
			w.mapLen(m)
			w.key("k")
			w.do(enc.EncodeBytes(e.Key))
			w.key("v")
			w.do(enc.EncodeBytes(e.Value))
			w.key("t")
			w.version(e.Version)
			w.key("s")
			w.do(enc.EncodeUint64(e.Seq))
			w.key("r")
			w.do(enc.EncodeUint64(e.Src))
			if e.Deleted {
				w.key("d")
				w.do(enc.EncodeBool(true))
			}
		}
	}
	w.key("s")
	w.seen(p.Seen)
	if stable {
		w.key("f")
		w.mapLen(2)
		w.key("v")
		w.version(p.Stable.Version)
		w.key("c")
		w.seen(p.Stable.Cover)
	}
	if len(p.Members) > 0 {
		w.key("m")
		w.arrayLen(len(p.Members))
		for _, m := range p.Members {
			w.do(enc.EncodeUint32(m))
		}
	}
	return w.err
}

// fields calls field with each key of a map (a nil map has none), which
// must read the key's value.
func fields(dec *msgpack.Decoder, field func(key string) error) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		if err := field(k); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return nil
}

func decodeSeen(dec *msgpack.Decoder, s *model.Seen) error {
	return fields(dec, func(k string) error {
		switch k {
		case "p":
			n, err := dec.DecodeArrayLen()
			if err != nil || n < 0 {
				s.Prefix = nil
				return err
			}
			s.Prefix = make(vclock.Clock, n)
			for i := range s.Prefix {
				e := &s.Prefix[i]
				if err := fields(dec, func(k string) (err error) {
					switch k {
					case "i":
						e.ID, err = dec.DecodeUint64()
					case "n":
						e.N, err = dec.DecodeUint64()
					default:
						err = dec.Skip()
					}
					return err
				}); err != nil {
					return err
				}
			}
		case "x":
			n, err := dec.DecodeArrayLen()
			if err != nil || n < 0 {
				s.Extra = nil
				return err
			}
			s.Extra = make([]model.Dot, n)
			for i := range s.Extra {
				d := &s.Extra[i]
				if err := fields(dec, func(k string) (err error) {
					switch k {
					case "o":
						d.Origin, err = dec.DecodeUint64()
					case "s":
						d.Seq, err = dec.DecodeUint64()
					default:
						err = dec.Skip()
					}
					return err
				}); err != nil {
					return err
				}
			}
		default:
			return dec.Skip()
		}
		return nil
	})
}

// DecodeMsgpack reads what EncodeMsgpack wrote (and what reflection wrote
// in any order, unknown fields skipped).
func (p *walPayload) DecodeMsgpack(dec *msgpack.Decoder) error {
	return fields(dec, func(k string) error {
		switch k {
		case "e":
			n, err := dec.DecodeArrayLen()
			if err != nil || n < 0 {
				p.Entries = nil
				return err
			}
			p.Entries = make([]walEntry, n)
			for i := range p.Entries {
				e := &p.Entries[i]
				if err := fields(dec, func(k string) (err error) {
					switch k {
					case "k":
						e.Key, err = dec.DecodeBytes()
					case "v":
						e.Value, err = dec.DecodeBytes()
					case "t":
						err = decodeRecordVersion(dec, &e.Version)
					case "s":
						e.Seq, err = dec.DecodeUint64()
					case "r":
						e.Src, err = dec.DecodeUint64()
					case "d":
						e.Deleted, err = dec.DecodeBool()
					default:
						err = dec.Skip()
					}
					return err
				}); err != nil {
					return fmt.Errorf("entry %d: %w", i, err)
				}
			}
			return nil
		case "s":
			return decodeSeen(dec, &p.Seen)
		case "f":
			if c, err := dec.PeekCode(); err != nil {
				return err
			} else if c == msgpcode.Nil {
				p.Stable = nil
				return dec.DecodeNil()
			}
			var st model.Stable
			if err := fields(dec, func(k string) error {
				switch k {
				case "v":
					return decodeRecordVersion(dec, &st.Version)
				case "c":
					return decodeSeen(dec, &st.Cover)
				}
				return dec.Skip()
			}); err != nil {
				return err
			}
			p.Stable = &st
			return nil
		case "m":
			n, err := dec.DecodeArrayLen()
			if err != nil || n < 0 {
				p.Members = nil
				return err
			}
			p.Members = make([]uint32, n)
			for i := range p.Members {
				if p.Members[i], err = dec.DecodeUint32(); err != nil {
					return err
				}
			}
			return nil
		}
		return dec.Skip()
	})
}
