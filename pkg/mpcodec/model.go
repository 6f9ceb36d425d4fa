package mpcodec

import (
	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// The model types' msgpack forms are maps keyed by their struct tags,
// every field written (none of them is omitempty), in the tags' order.

// Version writes v as {w, l, o}.
func (w *Encoder) Version(v model.Version) {
	w.MapLen(3)
	w.Key("w")
	w.Int64(v.Wall)
	w.Key("l")
	w.Uint32(v.Logical)
	w.Key("o")
	w.Uint32(v.Origin)
}

// Seen writes s as {p, x}, nil slices as nil.
func (w *Encoder) Seen(s model.Seen) {
	w.MapLen(2)
	w.Key("p")
	if s.Prefix == nil {
		w.Nil()
	} else {
		w.ArrayLen(len(s.Prefix))
		for _, e := range s.Prefix {
			w.MapLen(2)
			w.Key("i")
			w.Uint64(e.ID)
			w.Key("n")
			w.Uint64(e.N)
		}
	}
	w.Key("x")
	if s.Extra == nil {
		w.Nil()
	} else {
		w.ArrayLen(len(s.Extra))
		for _, d := range s.Extra {
			w.MapLen(2)
			w.Key("o")
			w.Uint64(d.Origin)
			w.Key("s")
			w.Uint64(d.Seq)
		}
	}
}

// Stable writes s as {v, c}. Whether to write it at all is the caller's:
// the records that hold one leave it out when omitempty would.
func (w *Encoder) Stable(s model.Stable) {
	w.MapLen(2)
	w.Key("v")
	w.Version(s.Version)
	w.Key("c")
	w.Seen(s.Cover)
}

// Version reads what Encoder.Version wrote into v. Every entry and record
// holds one, so it loops over the keys itself rather than through Fields's
// closure call per field.
func (r *Decoder) Version(v *model.Version) {
	for n := r.MapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.Key(); k {
		case "w":
			v.Wall = r.Int64()
		case "l":
			v.Logical = r.Uint32()
		case "o":
			v.Origin = r.Uint32()
		default:
			r.Skip()
		}
	}
}

// Seen reads what Encoder.Seen wrote into s. Every log record and every
// ack holds one, a map per replica, so it loops over the keys itself as
// Version does.
func (r *Decoder) Seen(s *model.Seen) {
	for n := r.MapLen(); n > 0 && r.err == nil; n-- {
		k := r.Key()
		switch k {
		case "p":
			s.Prefix = nil
			if n := r.ArrayLen(); n >= 0 {
				s.Prefix = make(vclock.Clock, n)
				for i := range s.Prefix {
					e := &s.Prefix[i]
					for n := r.MapLen(); n > 0 && r.err == nil; n-- {
						switch r.Key() {
						case "i":
							e.ID = r.Uint64()
						case "n":
							e.N = r.Uint64()
						default:
							r.Skip()
						}
					}
				}
			}
		case "x":
			s.Extra = nil
			if n := r.ArrayLen(); n >= 0 {
				s.Extra = make([]model.Dot, n)
				for i := range s.Extra {
					d := &s.Extra[i]
					for n := r.MapLen(); n > 0 && r.err == nil; n-- {
						switch r.Key() {
						case "o":
							d.Origin = r.Uint64()
						case "s":
							d.Seq = r.Uint64()
						default:
							r.Skip()
						}
					}
				}
			}
		default:
			r.Skip()
		}
		if r.err != nil {
			r.Wrapf("field %q", k)
		}
	}
}

// Stable reads what Encoder.Stable wrote, or a nil, as a pointer field
// holds it: nil for nil.
func (r *Decoder) Stable() *model.Stable {
	if r.IsNil() || r.err != nil {
		return nil
	}
	var st model.Stable
	r.Fields(func(k string) {
		switch k {
		case "v":
			r.Version(&st.Version)
		case "c":
			r.Seen(&st.Cover)
		default:
			r.Skip()
		}
	})
	return &st
}
