package mpcodec

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Encoder writes through a msgpack.Encoder and keeps its first error, so a
// record's code can write field after field and check once at the end.
type Encoder struct {
	e *msgpack.Encoder
	// compact writes integers in their smallest form. Both forms exist
	// because each side must match what its reflection wrote: the wire's
	// encoder used compact ints and the storage's did not, and peers and
	// files on disk hold those bytes. A bool checked per integer, not an
	// interface, keeps integer writes as cheap as a direct call.
	compact bool
	err     error
}

// NewEncoder returns an Encoder over e that writes integers compactly
// (EncodeUint, EncodeInt: as msgpack's reflection with UseCompactInts) or
// at their types' full widths (as reflection without it).
func NewEncoder(e *msgpack.Encoder, compact bool) Encoder {
	return Encoder{e: e, compact: compact}
}

// Err is the first error a write met.
func (w *Encoder) Err() error { return w.err }

// Do keeps err if it is the first: for writes made straight on Msgpack.
func (w *Encoder) Do(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Msgpack is the underlying encoder, for values with their own
// EncodeMsgpack (report its error with Do).
func (w *Encoder) Msgpack() *msgpack.Encoder { return w.e }

// The writes below each write one msgpack value (Key a map's key, MapLen
// and ArrayLen a header the caller then fills), integers as NewEncoder
// chose.

func (w *Encoder) Key(k string)   { w.Do(w.e.EncodeString(k)) }
func (w *Encoder) MapLen(n int)   { w.Do(w.e.EncodeMapLen(n)) }
func (w *Encoder) ArrayLen(n int) { w.Do(w.e.EncodeArrayLen(n)) }
func (w *Encoder) Nil()           { w.Do(w.e.EncodeNil()) }
func (w *Encoder) Bool(v bool)    { w.Do(w.e.EncodeBool(v)) }
func (w *Encoder) Bytes(v []byte) { w.Do(w.e.EncodeBytes(v)) }

func (w *Encoder) Uint64(v uint64) {
	if w.compact {
		w.Do(w.e.EncodeUint(v))
		return
	}
	w.Do(w.e.EncodeUint64(v))
}

func (w *Encoder) Uint32(v uint32) {
	if w.compact {
		w.Do(w.e.EncodeUint(uint64(v)))
		return
	}
	w.Do(w.e.EncodeUint32(v))
}

func (w *Encoder) Uint8(v uint8) {
	if w.compact {
		w.Do(w.e.EncodeUint(uint64(v)))
		return
	}
	w.Do(w.e.EncodeUint8(v))
}

func (w *Encoder) Int64(v int64) {
	if w.compact {
		w.Do(w.e.EncodeInt(v))
		return
	}
	w.Do(w.e.EncodeInt64(v))
}

// Uint32s writes v as an array, or nil for a nil slice as reflection does.
func (w *Encoder) Uint32s(v []uint32) {
	if v == nil {
		w.Nil()
		return
	}
	w.ArrayLen(len(v))
	for _, x := range v {
		w.Uint32(x)
	}
}

// Decoder reads through a msgpack.Decoder and keeps its first error; once
// it has one, every read returns a zero value without reading.
type Decoder struct {
	d   *msgpack.Decoder
	err error
}

// NewDecoder returns a Decoder over d.
func NewDecoder(d *msgpack.Decoder) Decoder { return Decoder{d: d} }

// Err is the first error a read met.
func (r *Decoder) Err() error { return r.err }

// Do keeps err if it is the first, and reports whether there is still no
// error: for reads made straight on Msgpack.
func (r *Decoder) Do(err error) bool {
	if err != nil && r.err == nil {
		r.err = err
	}
	return r.err == nil
}

// Wrapf wraps the error kept, if there is one, with where it was met, as
// Fields does with a field's key.
func (r *Decoder) Wrapf(format string, args ...any) {
	if r.err != nil {
		r.err = fmt.Errorf(format+": %w", append(args, r.err)...)
	}
}

// Msgpack is the underlying decoder, for values with their own
// DecodeMsgpack (report its error with Do).
func (r *Decoder) Msgpack() *msgpack.Decoder { return r.d }

// Fields calls field with each key of a map, in the order they come (a nil
// map has none); field must read the key's value, or Skip it if it does
// not know the key, as reflection skips unknown fields. An error met inside
// a field is wrapped with the field's key.
func (r *Decoder) Fields(field func(key string)) {
	if r.err != nil {
		return
	}
	n, err := r.d.DecodeMapLen()
	if !r.Do(err) {
		return
	}
	for range max(n, 0) {
		k, err := r.d.DecodeString()
		if !r.Do(err) {
			return
		}
		field(k)
		if r.err != nil {
			r.err = fmt.Errorf("field %q: %w", k, r.err)
			return
		}
	}
}

// MapLen and Key read a map's header and keys for a loop of the caller's
// own, where Fields's closure call per field would cost too much: loop
// while Err is nil, and Wrapf an error with the key as Fields does.

// MapLen reads a map's length: 0 for nil (or after an error).
func (r *Decoder) MapLen() (n int) {
	if r.err == nil {
		n, r.err = r.d.DecodeMapLen()
	}
	return max(n, 0)
}

// Key reads a map's key.
func (r *Decoder) Key() (k string) {
	if r.err == nil {
		k, r.err = r.d.DecodeString()
	}
	return k
}

// ArrayLen reads an array's length: -1 for nil (or after an error).
func (r *Decoder) ArrayLen() int {
	if r.err != nil {
		return -1
	}
	n, err := r.d.DecodeArrayLen()
	if !r.Do(err) {
		return -1
	}
	return n
}

// IsNil consumes a nil if one comes next.
func (r *Decoder) IsNil() bool {
	if r.err != nil {
		return false
	}
	c, err := r.d.PeekCode()
	if !r.Do(err) || c != msgpcode.Nil {
		return false
	}
	return r.Do(r.d.DecodeNil())
}

// Skip reads past one value of any kind.
func (r *Decoder) Skip() {
	if r.err == nil {
		r.Do(r.d.Skip())
	}
}

// The reads below return a zero value once there is an error. Each is
// small enough to inline: storage decodes every record's fields with them.

func (r *Decoder) Uint64() (v uint64) {
	if r.err == nil {
		v, r.err = r.d.DecodeUint64()
	}
	return v
}

// Uint32 is msgpack's DecodeUint32: the value read as a uint64, cut to
// its width.
func (r *Decoder) Uint32() uint32 { return uint32(r.Uint64()) }

// Uint8 is msgpack's DecodeUint8: the value read as a uint64, cut to
// its width.
func (r *Decoder) Uint8() uint8 { return uint8(r.Uint64()) }

func (r *Decoder) Int64() (v int64) {
	if r.err == nil {
		v, r.err = r.d.DecodeInt64()
	}
	return v
}

func (r *Decoder) Bool() (v bool) {
	if r.err == nil {
		v, r.err = r.d.DecodeBool()
	}
	return v
}

// Bytes reads a byte string into a new slice (nil for nil).
func (r *Decoder) Bytes() (v []byte) {
	if r.err == nil {
		v, r.err = r.d.DecodeBytes()
	}
	return v
}

// Uint32s reads what Encoder.Uint32s wrote: nil for nil.
func (r *Decoder) Uint32s() []uint32 {
	n := r.ArrayLen()
	if n < 0 {
		return nil
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = r.Uint32()
	}
	return v
}
