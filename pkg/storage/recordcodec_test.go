package storage

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// reflectStoreRecord has storeRecord's fields and tags but not its
// hand-written codec: msgpack encodes it by reflection, the form records
// on disk have always had.
type reflectStoreRecord storeRecord

func recordCases() map[string]storeRecord {
	return map[string]storeRecord{
		"value":       {Value: []byte("the value"), Version: model.Version{Wall: 1e18, Logical: 3, Origin: 4}, Seq: 7, Src: 1<<63 | 9},
		"empty value": {Value: []byte{}, Version: model.Version{Wall: 1}, Seq: 1},
		"nil value":   {Version: model.Version{Wall: -5, Logical: 1 << 31, Origin: 1 << 31}, Seq: 1 << 40, Src: 2},
		"tombstone":   {Value: []byte{}, Version: model.Version{Wall: 2}, Seq: 3, Src: 4, Deleted: true},
		"zero":        {},
		"1 KB":        {Value: bytes.Repeat([]byte{0xa5}, 1024), Version: model.Version{Wall: 1 << 62, Origin: 2}, Seq: 1000, Src: 77},
	}
}

func TestStoreRecord_SameBytesAsReflection(t *testing.T) {
	for name, rec := range recordCases() {
		t.Run(name, func(t *testing.T) {
			refl := reflectStoreRecord(rec)
			want, err := msgpack.Marshal(&refl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := msgpack.Marshal(&rec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("hand-written encoding differs from reflection's:\n hand %x\n refl %x", got, want)
			}
			// And sealed, as the store writes it.
			sk := storeKey([]byte("k"))
			sealed, err := seal(sk, &rec)
			if err != nil {
				t.Fatal(err)
			}
			sealedRefl, err := seal(sk, &refl)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sealed, sealedRefl) {
				t.Fatalf("sealed records differ:\n hand %x\n refl %x", sealed, sealedRefl)
			}
		})
	}
}

func TestStoreRecord_DecodesAsReflection(t *testing.T) {
	for name, rec := range recordCases() {
		t.Run(name, func(t *testing.T) {
			refl := reflectStoreRecord(rec)
			raw, err := msgpack.Marshal(&refl)
			if err != nil {
				t.Fatal(err)
			}
			var hand storeRecord
			if err := unmarshal(raw, &hand); err != nil {
				t.Fatal(err)
			}
			var byReflection reflectStoreRecord
			if err := unmarshal(raw, &byReflection); err != nil {
				t.Fatal(err)
			}
			if got := reflectStoreRecord(hand); !reflect.DeepEqual(got, byReflection) {
				t.Fatalf("hand-written decoding differs from reflection's:\n hand %#v\n refl %#v", got, byReflection)
			}
		})
	}
}

// decodeRecordHead is decodeRecord without the value, and refuses what
// decodeRecord refuses.
func TestDecodeRecordHead_IsDecodeRecordWithoutValue(t *testing.T) {
	sk := storeKey([]byte("key"))
	for name, rec := range recordCases() {
		t.Run(name, func(t *testing.T) {
			raw, err := seal(sk, &rec)
			if err != nil {
				t.Fatal(err)
			}
			full, err := decodeRecord(sk, raw)
			if err != nil {
				t.Fatal(err)
			}
			head, err := decodeRecordHead(sk, raw)
			if err != nil {
				t.Fatal(err)
			}
			full.Value = nil
			if !reflect.DeepEqual(head, full) {
				t.Fatalf("head %#v, want %#v", head, full)
			}
			bad := bytes.Clone(raw)
			bad[len(bad)-1] ^= 1
			if _, err := decodeRecordHead(sk, bad); err == nil {
				t.Fatal("a damaged record decoded")
			}
		})
	}
}

// reflectWALPayload is walPayload without its hand-written codec.
type reflectWALPayload walPayload

func walPayloadCases() map[string]walPayload {
	seen := model.Seen{Prefix: vclock.Clock{{ID: 1, N: 4}, {ID: 1 << 62, N: 9}}, Extra: []model.Dot{{Origin: 3, Seq: 11}}}
	entry := walEntry{Key: []byte("k"), Value: bytes.Repeat([]byte{7}, 1024), Version: model.Version{Wall: 1e18, Logical: 2, Origin: 3}, Seq: 5, Src: 1<<63 | 1}
	tomb := walEntry{Key: []byte("gone"), Value: []byte{}, Version: model.Version{Wall: -1}, Seq: 1 << 40, Src: 2, Deleted: true}
	return map[string]walPayload{
		"own puts":          {Entries: []walEntry{entry, tomb}},
		"meta only":         {Seen: seen, Members: []uint32{0, 1, 4}},
		"everything":        {Entries: []walEntry{entry}, Seen: seen, Stable: &model.Stable{Version: model.Version{Wall: 3}, Cover: seen}, Members: []uint32{2}},
		"zero stable":       {Entries: []walEntry{tomb}, Stable: &model.Stable{}},
		"empty slices":      {Entries: []walEntry{}, Seen: model.Seen{Prefix: vclock.Clock{}, Extra: []model.Dot{}}, Members: []uint32{}},
		"nil value and key": {Entries: []walEntry{{Version: model.Version{Wall: 1}, Seq: 1}}},
		"nothing":           {},
	}
}

func TestWALPayload_SameBytesAsReflection(t *testing.T) {
	for name, p := range walPayloadCases() {
		t.Run(name, func(t *testing.T) {
			refl := reflectWALPayload(p)
			want, err := msgpack.Marshal(&refl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := msgpack.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("hand-written encoding differs from reflection's:\n hand %x\n refl %x", got, want)
			}
		})
	}
}

func TestWALPayload_DecodesAsReflection(t *testing.T) {
	for name, p := range walPayloadCases() {
		t.Run(name, func(t *testing.T) {
			refl := reflectWALPayload(p)
			raw, err := msgpack.Marshal(&refl)
			if err != nil {
				t.Fatal(err)
			}
			var hand walPayload
			if err := unmarshal(raw, &hand); err != nil {
				t.Fatal(err)
			}
			var byReflection reflectWALPayload
			if err := unmarshal(raw, &byReflection); err != nil {
				t.Fatal(err)
			}
			if got := reflectWALPayload(hand); !reflect.DeepEqual(got, byReflection) {
				t.Fatalf("hand-written decoding differs from reflection's:\n hand %#v\n refl %#v", got, byReflection)
			}
		})
	}
}
