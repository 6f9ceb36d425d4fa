package mpcodec

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// ints has every integer width the Encoder writes, with values at the
// edges of msgpack's compact forms.
type ints struct {
	U64 uint64   `msgpack:"a"`
	U32 uint32   `msgpack:"b"`
	U8  uint8    `msgpack:"c"`
	I64 int64    `msgpack:"d"`
	L   []uint32 `msgpack:"e"`
}

func (v ints) encode(w *Encoder) {
	w.MapLen(5)
	w.Key("a")
	w.Uint64(v.U64)
	w.Key("b")
	w.Uint32(v.U32)
	w.Key("c")
	w.Uint8(v.U8)
	w.Key("d")
	w.Int64(v.I64)
	w.Key("e")
	w.Uint32s(v.L)
}

func intCases() []ints {
	return []ints{
		{},
		{U64: 1, U32: 1, U8: 1, I64: -1, L: []uint32{}},
		{U64: 127, U32: 128, U8: 255, I64: -32, L: []uint32{0, 127, 128, 255, 256}},
		{U64: 1 << 16, U32: 1<<16 - 1, U8: 200, I64: -33, L: []uint32{1 << 16, math.MaxUint32}},
		{U64: math.MaxUint64, U32: math.MaxUint32, U8: math.MaxUint8, I64: math.MinInt64},
		{U64: 1 << 40, U32: 1 << 31, I64: math.MaxInt64},
		{I64: -1 << 40},
	}
}

// encodeHand and encodeReflect write v through the Encoder and through
// msgpack's reflection, both with or without compact ints.
func encodeHand(t *testing.T, write func(*Encoder), compact bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(compact)
	w := NewEncoder(enc, compact)
	write(&w)
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeReflect(t *testing.T, v any, compact bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(compact)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncoder_IntsAsMsgpackWritesThem(t *testing.T) {
	for _, compact := range []bool{true, false} {
		for _, v := range intCases() {
			hand := encodeHand(t, v.encode, compact)
			refl := encodeReflect(t, v, compact)
			if !bytes.Equal(hand, refl) {
				t.Errorf("compact=%t %+v:\n hand %x\n refl %x", compact, v, hand, refl)
			}
		}
	}
}

// The two widths differ: a store that wrote compactly would not give the
// bytes already on disk, nor a wire encoder the bytes peers expect.
func TestEncoder_WidthsDiffer(t *testing.T) {
	v := ints{U64: 1, U32: 1, U8: 1, I64: 1}
	if bytes.Equal(encodeHand(t, v.encode, true), encodeHand(t, v.encode, false)) {
		t.Fatal("compact and full-width encodings are the same")
	}
}

func modelCases() []model.Stable {
	seen := model.Seen{Prefix: vclock.Clock{{ID: 1, N: 4}, {ID: 1 << 62, N: 1 << 40}}, Extra: []model.Dot{{Origin: 3, Seq: 11}, {Origin: math.MaxUint64, Seq: 1}}}
	return []model.Stable{
		{},
		{Version: model.Version{Wall: -5, Logical: 1 << 31, Origin: 7}, Cover: seen},
		{Version: model.Version{Wall: 1e18, Logical: 3, Origin: math.MaxUint32}, Cover: model.Seen{Prefix: vclock.Clock{}, Extra: []model.Dot{}}},
		{Version: model.Version{Wall: math.MinInt64}, Cover: model.Seen{Extra: []model.Dot{{Origin: 1}}}},
	}
}

func TestModelTypes_SameBytesAsReflection(t *testing.T) {
	for _, compact := range []bool{true, false} {
		for _, st := range modelCases() {
			for name, c := range map[string]struct {
				write func(*Encoder)
				v     any
			}{
				"version": {func(w *Encoder) { w.Version(st.Version) }, st.Version},
				"seen":    {func(w *Encoder) { w.Seen(st.Cover) }, st.Cover},
				"stable":  {func(w *Encoder) { w.Stable(st) }, st},
			} {
				hand, refl := encodeHand(t, c.write, compact), encodeReflect(t, c.v, compact)
				if !bytes.Equal(hand, refl) {
					t.Errorf("%s compact=%t %+v:\n hand %x\n refl %x", name, compact, c.v, hand, refl)
				}
			}
		}
	}
}

// decodeStable reads raw as a *model.Stable field, as a record does.
func decodeStable(raw []byte) (*model.Stable, error) {
	r := NewDecoder(msgpack.NewDecoder(bytes.NewReader(raw)))
	st := r.Stable()
	return st, r.Err()
}

func TestModelTypes_RoundTrip(t *testing.T) {
	for _, compact := range []bool{true, false} {
		for _, st := range modelCases() {
			raw := encodeHand(t, func(w *Encoder) { w.Stable(st) }, compact)
			got, err := decodeStable(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, st) {
				t.Errorf("compact=%t: decoded %+v, want %+v", compact, *got, st)
			}
			// And as reflection decodes the same bytes.
			var refl model.Stable
			if err := msgpack.Unmarshal(raw, &refl); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, refl) {
				t.Errorf("compact=%t: decoded %+v, reflection %+v", compact, *got, refl)
			}
		}
	}
	if st, err := decodeStable([]byte{0xc0}); err != nil || st != nil {
		t.Fatalf("nil decoded as %v, %v", st, err)
	}
}

func TestDecoder_IntsRoundTrip(t *testing.T) {
	for _, compact := range []bool{true, false} {
		for _, want := range intCases() {
			raw := encodeHand(t, want.encode, compact)
			r := NewDecoder(msgpack.NewDecoder(bytes.NewReader(raw)))
			var got ints
			r.Fields(func(k string) {
				switch k {
				case "a":
					got.U64 = r.Uint64()
				case "b":
					got.U32 = r.Uint32()
				case "c":
					got.U8 = r.Uint8()
				case "d":
					got.I64 = r.Int64()
				case "e":
					got.L = r.Uint32s()
				default:
					r.Skip()
				}
			})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("compact=%t: decoded %+v, want %+v", compact, got, want)
			}
		}
	}
}

// Fields come in any order and unknown ones, of any kind, are skipped.
func TestDecoder_FieldsInAnyOrderUnknownSkipped(t *testing.T) {
	raw, err := msgpack.Marshal(map[string]any{
		"zz": []any{1, "x", map[string]any{"a": []byte{1}}},
		"o":  uint32(9),
		"q":  nil,
		"w":  int64(-3),
		"l":  uint32(2),
		"y":  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := NewDecoder(msgpack.NewDecoder(bytes.NewReader(raw)))
	var v model.Version
	r.Version(&v)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if want := (model.Version{Wall: -3, Logical: 2, Origin: 9}); v != want {
		t.Fatalf("decoded %+v, want %+v", v, want)
	}
}

// Every cut of a valid encoding fails with an error, the first one kept,
// and no read after it panics or succeeds.
func TestDecoder_TruncatedInputFails(t *testing.T) {
	st := modelCases()[1]
	for _, compact := range []bool{true, false} {
		raw := encodeHand(t, func(w *Encoder) { w.Stable(st) }, compact)
		for n := range len(raw) {
			_, err := decodeStable(raw[:n])
			if err == nil {
				t.Fatalf("compact=%t: %d of %d bytes decoded without error", compact, n, len(raw))
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("compact=%t: %d of %d bytes: %v, want EOF", compact, n, len(raw), err)
			}
		}
	}
	r := NewDecoder(msgpack.NewDecoder(bytes.NewReader(nil)))
	if r.Uint64() != 0 || r.ArrayLen() != -1 || r.Bool() || r.Bytes() != nil || r.Int64() != 0 {
		t.Fatal("reads of empty input returned values")
	}
	if !errors.Is(r.Err(), io.EOF) {
		t.Fatalf("error %v, want the first one, EOF", r.Err())
	}
}

// An error met inside a field names the field's path.
func TestDecoder_ErrorNamesField(t *testing.T) {
	raw := encodeHand(t, func(w *Encoder) { w.Stable(modelCases()[1]) }, true)
	_, err := decodeStable(raw[:len(raw)-1])
	if err == nil || err.Error() != `field "c": field "x": EOF` {
		t.Fatalf("error %v", err)
	}
}

// The encoder keeps its first error and reports it.
func TestEncoder_KeepsFirstError(t *testing.T) {
	first := errors.New("first")
	w := NewEncoder(msgpack.NewEncoder(io.Discard), true)
	w.Do(first)
	w.Do(errors.New("second"))
	w.Uint64(1)
	if w.Err() != first {
		t.Fatalf("error %v, want %v", w.Err(), first)
	}
}
