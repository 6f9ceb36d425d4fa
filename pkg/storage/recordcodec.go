package storage

import (
	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcodec"
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

// fullWidth is an encoder for storage's records: integers at their full
// widths, as reflection without compact ints wrote the records already on
// disk.
func fullWidth(enc *msgpack.Encoder) mpcodec.Encoder { return mpcodec.NewEncoder(enc, false) }

// A store record and a logged entry share the fields of a write, under
// the same keys: v, t, s, r and (when set) d. writeFields counts them,
// encodeWrite writes them in that order, and decodeWriteField reads one.

func writeFields(deleted bool) int {
	if deleted {
		return 5
	}
	return 4
}

func encodeWrite(w *mpcodec.Encoder, value []byte, v model.Version, seq, src uint64, deleted bool) {
	w.Key("v")
	w.Bytes(value)
	w.Key("t")
	w.Version(v)
	w.Key("s")
	w.Uint64(seq)
	w.Key("r")
	w.Uint64(src)
	if deleted {
		w.Key("d")
		w.Bool(true)
	}
}

// decodeWriteField reads field k of a write into the fields given (value
// nil: the value is skipped) and reports whether k is one of them.
func decodeWriteField(d *mpcodec.Decoder, k string, value *[]byte, v *model.Version, seq, src *uint64, deleted *bool) bool {
	switch k {
	case "v":
		if value == nil {
			d.Skip()
		} else {
			*value = d.Bytes()
		}
	case "t":
		d.Version(v)
	case "s":
		*seq = d.Uint64()
	case "r":
		*src = d.Uint64()
	case "d":
		*deleted = d.Bool()
	default:
		return false
	}
	return true
}

// EncodeMsgpack writes r as the map {v, t, s, r[, d]}.
func (r *storeRecord) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := fullWidth(enc)
	w.MapLen(writeFields(r.Deleted))
	encodeWrite(&w, r.Value, r.Version, r.Seq, r.Src, r.Deleted)
	return w.Err()
}

// DecodeMsgpack reads what EncodeMsgpack wrote. With skipValue set it
// leaves Value nil: what a checkpoint compares and collects by needs no
// copy of it. It loops over the keys itself rather than through Fields: a
// checkpoint decodes a record per key it writes, and a closure call per
// field was a measurable share of that.
func (r *storeRecord) DecodeMsgpack(dec *msgpack.Decoder) error {
	d := mpcodec.NewDecoder(dec)
	value := &r.Value
	if r.skipValue {
		value = nil
	}
	for n := d.MapLen(); n > 0 && d.Err() == nil; n-- {
		k := d.Key()
		if !decodeWriteField(&d, k, value, &r.Version, &r.Seq, &r.Src, &r.Deleted) {
			d.Skip()
		}
		if d.Err() != nil {
			d.Wrapf("field %q", k)
		}
	}
	return d.Err()
}

// walPayload's msgpack form is written out by hand too, byte for byte what
// reflection gives (recordcodec_test): every put's log append encodes one.

var (
	_ msgpack.CustomEncoder = (*walPayload)(nil)
	_ msgpack.CustomDecoder = (*walPayload)(nil)
)

// EncodeMsgpack writes p as the map {e, s[, f][, m]}.
func (p *walPayload) EncodeMsgpack(enc *msgpack.Encoder) error {
	w := fullWidth(enc)
	stable := p.Stable != nil && !p.Stable.IsZero() // omitempty, by Stable's IsZero
	n := 2
	if stable {
		n++
	}
	if len(p.Members) > 0 {
		n++
	}
	w.MapLen(n)
	w.Key("e")
	if p.Entries == nil {
		w.Nil()
	} else {
		w.ArrayLen(len(p.Entries))
		for i := range p.Entries {
			e := &p.Entries[i]
			w.MapLen(1 + writeFields(e.Deleted))
			w.Key("k")
			w.Bytes(e.Key)
			encodeWrite(&w, e.Value, e.Version, e.Seq, e.Src, e.Deleted)
		}
	}
	w.Key("s")
	w.Seen(p.Seen)
	if stable {
		w.Key("f")
		w.Stable(*p.Stable)
	}
	if len(p.Members) > 0 {
		w.Key("m")
		w.Uint32s(p.Members)
	}
	return w.Err()
}

// DecodeMsgpack reads what EncodeMsgpack wrote (and what reflection wrote
// in any order, unknown fields skipped).
func (p *walPayload) DecodeMsgpack(dec *msgpack.Decoder) error {
	d := mpcodec.NewDecoder(dec)
	d.Fields(func(k string) {
		switch k {
		case "e":
			p.Entries = nil
			n := d.ArrayLen()
			if n < 0 {
				return
			}
			p.Entries = make([]walEntry, n)
			for i := range p.Entries {
				p.Entries[i].decode(&d)
				if d.Err() != nil {
					d.Wrapf("entry %d", i)
					return
				}
			}
		case "s":
			d.Seen(&p.Seen)
		case "f":
			p.Stable = d.Stable()
		case "m":
			p.Members = d.Uint32s()
		default:
			d.Skip()
		}
	})
	return d.Err()
}

// decode reads one logged entry, looping over the keys itself as
// storeRecord's DecodeMsgpack does: every put is logged in one.
func (e *walEntry) decode(d *mpcodec.Decoder) {
	for n := d.MapLen(); n > 0 && d.Err() == nil; n-- {
		k := d.Key()
		switch {
		case k == "k":
			e.Key = d.Bytes()
		case !decodeWriteField(d, k, &e.Value, &e.Version, &e.Seq, &e.Src, &e.Deleted):
			d.Skip()
		}
		if d.Err() != nil {
			d.Wrapf("field %q", k)
		}
	}
}
