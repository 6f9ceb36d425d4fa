package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/mpcheck"
)

// Records in the bbolt file are sealed: a 4-byte little-endian CRC-32C of
// the record's bbolt key and its body, then the body (msgpack). The key is
// in the sum so that a record moved under another key by a damaged page
// fails it too. The CPU computes CRC-32C at several bytes a cycle, so
// checking every record whenever it is read costs little beside decoding
// it.

const sealSize = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errChecksum says a sealed record's bytes are not what was written.
var errChecksum = errors.New("checksum mismatch")

func sealSum(key, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, body)
}

// seal encodes v as the record stored under key.
func seal(key []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, sealSize))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	binary.LittleEndian.PutUint32(raw, sealSum(key, raw[sealSize:]))
	return raw, nil
}

// unseal checks the record stored under key and decodes its body into v.
func unseal(key, raw []byte, v any) error {
	if len(raw) < sealSize {
		return fmt.Errorf("%w: record of %d bytes", errChecksum, len(raw))
	}
	if binary.LittleEndian.Uint32(raw) != sealSum(key, raw[sealSize:]) {
		return errChecksum
	}
	return unmarshal(raw[sealSize:], v)
}

// recordHash is what a stored record adds to the store's digest (see
// metaRecord): its key and the checksum it carries, which stands for its
// contents. It is computed from the raw bytes whether or not they verify,
// so that replacing a record takes out exactly what putting it in added.
func recordHash(key, raw []byte) uint64 {
	h := fnv.New64a()
	h.Write(key)
	h.Write([]byte{0})
	h.Write(raw[:min(sealSize, len(raw))])
	return h.Sum64()
}

// storeRecord is an entry as stored under its key; the key is not repeated.
type storeRecord struct {
	Value   []byte        `msgpack:"v"`
	Version model.Version `msgpack:"t"`
	Seq     uint64        `msgpack:"s"`
	Src     uint64        `msgpack:"r"`
	Deleted bool          `msgpack:"d,omitempty"`
	// skipValue has DecodeMsgpack leave Value out (see decodeRecordHead).
	skipValue bool `msgpack:"-"`
}

// metaRecord is the meta bucket's "replica" record: the replica's meta;
// what the store bucket must hold with it, so that a record lost or added
// by damage to bbolt's own pages (which carry no checksums) shows: Keys
// records whose recordHash values XOR to Digest; and LSN, the sequence
// number of the last log record folded into the file (see wal).
type metaRecord struct {
	Seen    model.Seen    `msgpack:"s"`
	Clock   model.Version `msgpack:"c"`
	Keys    uint64        `msgpack:"n"`
	Digest  uint64        `msgpack:"d"`
	LSN     uint64        `msgpack:"q"`
	Stable  model.Stable  `msgpack:"f,omitempty"`
	Members []uint32      `msgpack:"m,omitempty"`
}

func storeKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = storeKeyPrefix
	copy(k[1:], key)
	return k
}

// encodeRecord is an entry's sealed record in the store bucket, under
// storeKey(e.Key).
func encodeRecord(sk []byte, e model.Entry) ([]byte, error) {
	v, err := seal(sk, &storeRecord{Value: e.Value, Version: e.Version, Seq: e.Seq, Src: e.Src, Deleted: e.Deleted})
	if err != nil {
		return nil, fmt.Errorf("storage: encode entry %q: %w", e.Key, err)
	}
	if len(v) > maxValueSize {
		return nil, fmt.Errorf("storage: entry %q: record of %d bytes is larger than %d", e.Key, len(v), maxValueSize)
	}
	return v, nil
}

// decodeRecord checks and decodes the record raw stored under bbolt key
// sk. The entry shares no memory with raw.
func decodeRecord(sk, raw []byte) (model.Entry, error) {
	if len(sk) == 0 || sk[0] != storeKeyPrefix {
		return model.Entry{}, errors.New("key lacks the store prefix")
	}
	if raw == nil {
		return model.Entry{}, errors.New("nested bucket")
	}
	var rec storeRecord
	if err := unseal(sk, raw, &rec); err != nil {
		return model.Entry{}, err
	}
	// msgpack copies []byte fields out of its input (checked by
	// TestUnmarshal_DoesNotAlias), so only the key needs a copy.
	return model.Entry{Key: bytes.Clone(sk[1:]), Value: rec.Value, Version: rec.Version, Seq: rec.Seq, Src: rec.Src, Deleted: rec.Deleted}, nil
}

// decodeRecordHead is decodeRecord without the value: what a record is
// compared and collected by (its version, dot and tombstone mark), checked
// whole all the same.
func decodeRecordHead(sk, raw []byte) (model.Entry, error) {
	if len(sk) == 0 || sk[0] != storeKeyPrefix {
		return model.Entry{}, errors.New("key lacks the store prefix")
	}
	if raw == nil {
		return model.Entry{}, errors.New("nested bucket")
	}
	rec := storeRecord{skipValue: true}
	if err := unseal(sk, raw, &rec); err != nil {
		return model.Entry{}, err
	}
	return model.Entry{Key: bytes.Clone(sk[1:]), Version: rec.Version, Seq: rec.Seq, Src: rec.Src, Deleted: rec.Deleted}, nil
}

// unmarshal decodes exactly one msgpack value that fills all of data;
// trailing bytes mean the record is not what was written.
func unmarshal(data []byte, v any) error {
	// A corrupt length header would otherwise have the decoder allocate
	// whatever it announces; mpcheck also refuses trailing bytes.
	if err := mpcheck.Check(data); err != nil {
		return err
	}
	r := bytes.NewReader(data)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}
