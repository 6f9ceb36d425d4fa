package wire

import (
	"errors"
	"testing"

	"gossipkv/pkg/model"
)

// FuzzDecode: whatever arrives on the wire, Decode returns messages or an
// ErrMalformed, never panics, and what it accepts is canonical and encodes
// back to something it accepts again.
func FuzzDecode(f *testing.F) {
	for _, msgs := range [][]model.Message{
		{model.Writes{Entries: []model.Entry{entry("a", 1)}}},
		{model.Ack{Seen: seen(), Src: 5}},
		{model.Delta{Entries: []model.Entry{entry("b", 2)}, Seen: seen(), Complete: true}},
	} {
		b, err := Encode(3, msgs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{byte(TypeBatch), 0x80})
	f.Fuzz(func(t *testing.T, buf []byte) {
		from, msgs, err := Decode(buf)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, m := range msgs {
			switch m := m.(type) {
			case model.Ack:
				if !m.Seen.Valid() {
					t.Fatalf("accepted non-canonical seen %v", m.Seen)
				}
			case model.Delta:
				if !m.Seen.Valid() {
					t.Fatalf("accepted non-canonical seen %v", m.Seen)
				}
			}
		}
		again, err := Encode(from, msgs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, _, err := Decode(again); err != nil {
			t.Fatalf("decode of re-encoded batch: %v", err)
		}
	})
}
