package wire

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// reflectBatch and reflectMsg have batch's and msg's fields and tags but
// not their hand-written codecs: msgpack encodes and decodes them by
// reflection, the form the hand-written codecs must match.
type reflectMsg msg

type reflectBatch struct {
	From uint32       `msgpack:"f"`
	Msgs []reflectMsg `msgpack:"m"`
}

// codecCases are batches with every field of every kind set and unset,
// nil and empty.
func codecCases() map[string]batch {
	st := model.Stable{Version: model.Version{Wall: -5, Logical: 1 << 31, Origin: 7}, Cover: seen()}
	return map[string]batch{
		"writes": {From: 3, Msgs: []msg{{Kind: kindWrites, Src: 1<<63 | 9, Entries: entries{entry("a", 1), entry("b", 1<<40)}}}},
		"ack": {From: 1 << 31, Msgs: []msg{{Kind: kindAck, Src: 77, Seen: seen(),
			Topology: []model.LinkState{{ID: 1, Version: 9, Links: []uint32{0, 2}}, {ID: 2, Version: -1, Links: []uint32{}}, {ID: 3}},
			Holdings: []model.Holding{{ID: 4, Version: 1 << 50, Seen: seen(), Clock: model.Version{Wall: 1e18, Logical: 3, Origin: 4}}, {}},
			Stable:   &st}}},
		"delta":       {From: 0, Msgs: []msg{{Kind: kindDelta, Entries: entries{entry("c", 5)}, Seen: seen(), Complete: true, For: 12345, Src: 6, Stable: &model.Stable{}}}},
		"empty seen":  {From: 2, Msgs: []msg{{Kind: kindAck, Seen: model.Seen{Prefix: vclock.Clock{}, Extra: []model.Dot{}}}}},
		"nil msgs":    {From: 2},
		"empty msgs":  {From: 2, Msgs: []msg{}},
		"one of each": {From: 9, Msgs: []msg{{Kind: kindWrites, Entries: entries{entry("x", 3)}}, {Kind: kindDelta, Seen: seen(), Complete: true}, {Kind: kindAck, Seen: seen()}}},
	}
}

func toReflect(b batch) reflectBatch {
	r := reflectBatch{From: b.From}
	if b.Msgs != nil {
		r.Msgs = make([]reflectMsg, len(b.Msgs))
		for i, m := range b.Msgs {
			r.Msgs[i] = reflectMsg(m)
		}
	}
	return r
}

func encodeWith(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := compact(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCodec_SameBytesAsReflection(t *testing.T) {
	for name, b := range codecCases() {
		t.Run(name, func(t *testing.T) {
			hand, byReflection := encodeWith(t, &b), encodeWith(t, toReflect(b))
			if !bytes.Equal(hand, byReflection) {
				t.Fatalf("hand-written encoding differs from reflection's:\n hand %x\n refl %x", hand, byReflection)
			}
		})
	}
}

func TestCodec_DecodesAsReflection(t *testing.T) {
	for name, b := range codecCases() {
		t.Run(name, func(t *testing.T) {
			raw := encodeWith(t, toReflect(b))
			var hand batch
			if err := msgpack.Unmarshal(raw, &hand); err != nil {
				t.Fatal(err)
			}
			var byReflection reflectBatch
			if err := msgpack.Unmarshal(raw, &byReflection); err != nil {
				t.Fatal(err)
			}
			if got, want := toReflect(hand), byReflection; !reflect.DeepEqual(got, want) {
				t.Fatalf("hand-written decoding differs from reflection's:\n hand %#v\n refl %#v", got, want)
			}
		})
	}
}

// TestCodec_FieldsInAnyOrder: a map whose keys come in another order, with
// an unknown key among them, decodes as reflection decodes it.
func TestCodec_FieldsInAnyOrder(t *testing.T) {
	raw := encodeWith(t, map[string]any{
		"zz": []int{1, 2},
		"m": []any{map[string]any{
			"s": map[string]any{"x": nil, "p": []any{map[string]any{"n": 4, "i": 1}}},
			"q": "unknown",
			"k": kindAck,
			"r": 5,
			"p": map[string]any{"c": nil, "v": map[string]any{"o": 2, "w": 3}},
		}},
		"f": 7,
	})
	var hand batch
	if err := msgpack.Unmarshal(raw, &hand); err != nil {
		t.Fatal(err)
	}
	var byReflection reflectBatch
	if err := msgpack.Unmarshal(raw, &byReflection); err != nil {
		t.Fatal(err)
	}
	if got := toReflect(hand); !reflect.DeepEqual(got, byReflection) {
		t.Fatalf("hand %#v\nrefl %#v", got, byReflection)
	}
	if hand.From != 7 || len(hand.Msgs) != 1 || hand.Msgs[0].Src != 5 || hand.Msgs[0].Seen.Prefix.Get(1) != 4 || hand.Msgs[0].Stable.Version.Wall != 3 {
		t.Fatalf("decoded %#v", hand)
	}
}
