package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

func entry(key string, seq uint64) model.Entry {
	return model.Entry{Key: []byte(key), Value: bytes.Repeat([]byte{0, 0xff}, 300),
		Version: model.Version{Wall: 1e9 + int64(seq), Logical: 2, Origin: 3}, Seq: seq, Src: 1<<63 | 9}
}

func seen() model.Seen {
	return model.Seen{Prefix: vclock.Clock{{ID: 1, N: 4}, {ID: 3, N: 9}}, Extra: []model.Dot{{Origin: 3, Seq: 11}}}
}

func TestEncodeDecode_RoundTripEveryType(t *testing.T) {
	for name, msgs := range map[string][]model.Message{
		"writes":          {model.Writes{Entries: []model.Entry{entry("a", 1), entry("\x00b", 2)}}},
		"ack":             {model.Ack{Seen: seen(), Src: 1<<63 | 77, Topology: []model.LinkState{{ID: 1, Version: 9, Links: []uint32{0, 2}}, {ID: 2, Version: 1 << 40, Links: []uint32{1}}}}},
		"complete delta":  {model.Delta{Entries: []model.Entry{entry("c", 5)}, Seen: seen(), Complete: true, For: 1<<63 | 12345}},
		"partial delta":   {model.Delta{Entries: []model.Entry{entry("c", 5)}}},
		"batch of each":   {model.Writes{Entries: []model.Entry{entry("a", 1)}}, model.Delta{Seen: seen(), Complete: true}, model.Ack{Seen: seen()}},
		"empty batch":     nil,
		"empty-value key": {model.Writes{Entries: []model.Entry{{Key: []byte("k"), Value: []byte{}, Version: model.Version{Wall: 1}, Seq: 1}}}},
		"tombstone":       {model.Writes{Src: 1<<63 | 4, Entries: []model.Entry{{Key: []byte("gone"), Value: []byte{}, Version: model.Version{Wall: 2}, Seq: 3, Src: 1<<63 | 4, Deleted: true}}}},
	} {
		t.Run(name, func(t *testing.T) {
			buf, err := Encode(42, msgs)
			if err != nil {
				t.Fatal(err)
			}
			from, got, err := Decode(buf)
			if err != nil {
				t.Fatal(err)
			}
			if from != 42 {
				t.Errorf("from = %d, want 42", from)
			}
			if len(got) != len(msgs) {
				t.Fatalf("%d messages back, want %d", len(got), len(msgs))
			}
			for i := range msgs {
				if !reflect.DeepEqual(normal(got[i]), normal(msgs[i])) {
					t.Errorf("message %d:\n got %#v\nwant %#v", i, got[i], msgs[i])
				}
			}
		})
	}
}

// normal maps nil and empty slices alike: msgpack need not keep the
// difference, and the protocol does not care.
func normal(m model.Message) model.Message {
	fix := func(s model.Seen) model.Seen {
		if len(s.Prefix) == 0 {
			s.Prefix = nil
		}
		if len(s.Extra) == 0 {
			s.Extra = nil
		}
		return s
	}
	fixEntries := func(es []model.Entry) []model.Entry {
		if len(es) == 0 {
			return nil
		}
		out := make([]model.Entry, len(es))
		for i, e := range es {
			if len(e.Value) == 0 {
				e.Value = nil
			}
			out[i] = e
		}
		return out
	}
	switch m := m.(type) {
	case model.Writes:
		return model.Writes{Entries: fixEntries(m.Entries)}
	case model.Ack:
		return model.Ack{Seen: fix(m.Seen), Src: m.Src, Topology: m.Topology}
	case model.Delta:
		return model.Delta{Entries: fixEntries(m.Entries), Seen: fix(m.Seen), Complete: m.Complete}
	}
	return m
}

func TestDecode_RefusesGarbage(t *testing.T) {
	good, err := Encode(1, []model.Message{model.Writes{Entries: []model.Entry{entry("a", 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	badSeen, _ := Encode(1, []model.Message{model.Ack{Seen: model.Seen{Prefix: vclock.Clock{{ID: 2, N: 1}, {ID: 1, N: 1}}}}})
	zeroSeq := entry("a", 1)
	zeroSeq.Seq = 0
	badEntry, _ := Encode(1, []model.Message{model.Writes{Entries: []model.Entry{zeroSeq}}})
	for name, buf := range map[string][]byte{
		"empty":          nil,
		"unknown type":   append([]byte{99}, good[1:]...),
		"truncated":      good[:len(good)/2],
		"not msgpack":    append([]byte{byte(TypeBatch)}, "hello, world"...),
		"unsorted clock": badSeen,
		"zero sequence":  badEntry,
	} {
		if _, _, err := Decode(buf); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode error %v, want ErrMalformed", name, err)
		}
	}
}

func TestDecode_DoesNotAliasBuffer(t *testing.T) {
	buf, _ := Encode(1, []model.Message{model.Writes{Entries: []model.Entry{entry("key", 1)}}})
	_, msgs, err := Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	clear(buf)
	if e := msgs[0].(model.Writes).Entries[0]; string(e.Key) != "key" || e.Value[1] != 0xff {
		t.Fatal("decoded entry changed when the buffer was overwritten")
	}
}

func TestMeta_RoundTripAndFitsNodeMeta(t *testing.T) {
	links := make([]uint32, 100)
	for i := range links {
		links[i] = uint32(i)
	}
	b, err := EncodeMeta(Meta{Version: 1 << 62, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 512 {
		t.Errorf("links of 100 servers take %d bytes, more than memberlist's 512", len(b))
	}
	m, err := DecodeMeta(b)
	if err != nil || !reflect.DeepEqual(m.Links, links) {
		t.Fatalf("DecodeMeta = %v, %v", m, err)
	}
	if _, err := DecodeMeta([]byte{0xc1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage meta: %v, want ErrMalformed", err)
	}
}
