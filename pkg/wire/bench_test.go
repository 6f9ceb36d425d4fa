package wire

import (
	"fmt"
	"testing"

	"gossipkv/pkg/model"
)

// benchWrites is one Writes message of n entries of 1 KB values, as a busy
// server sends a neighbour in one flush, and the Ack that follows it.
func benchWrites(n int) []model.Message {
	entries := make([]model.Entry, n)
	for i := range entries {
		entries[i] = model.Entry{
			Key:     []byte{'a' + byte(i/100%10), 'a' + byte(i/10%10), 'a' + byte(i%10)},
			Value:   make([]byte, 1024),
			Version: model.Version{Wall: 1<<60 + int64(i), Logical: 1, Origin: 3},
			Seq:     uint64(1000 + i),
		}
	}
	var seen model.Seen
	for id := range uint64(5) {
		seen.Prefix = seen.Prefix.With(id, 1000+uint64(n))
	}
	return []model.Message{model.Writes{Entries: entries}, model.Ack{Seen: seen}}
}

func BenchmarkEncode_Writes(b *testing.B) {
	for _, n := range []int{1, 64} {
		msgs := benchWrites(n)
		raw, err := Encode(3, msgs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(3, msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode_Writes(b *testing.B) {
	for _, n := range []int{1, 64} {
		raw, err := Encode(3, benchWrites(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, msgs, err := Decode(raw); err != nil || len(msgs) != 2 {
					b.Fatalf("decode: %d messages, %v", len(msgs), err)
				}
			}
		})
	}
}

// benchAck is an Ack as a server of five sends on a heartbeat: its set,
// every server's links and every server's holding.
func benchAck() []model.Message {
	var seen model.Seen
	for id := range uint64(5) {
		seen.Prefix = seen.Prefix.With(1<<62+id, 1000)
	}
	ack := model.Ack{Seen: seen, Src: 1<<62 + 3}
	for id := range uint32(5) {
		ack.Topology = append(ack.Topology, model.LinkState{ID: id, Version: 1 << 60, Links: []uint32{0, 1, 2, 3, 4}})
		ack.Holdings = append(ack.Holdings, model.Holding{ID: id, Version: 1 << 60, Seen: seen, Clock: model.Version{Wall: 1 << 60, Origin: id}})
	}
	return []model.Message{ack}
}

func BenchmarkEncodeDecode_Ack(b *testing.B) {
	msgs := benchAck()
	raw, err := Encode(3, msgs)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		raw, err := Encode(3, msgs)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
