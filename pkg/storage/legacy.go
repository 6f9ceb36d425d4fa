package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	bolt "go.etcd.io/bbolt"

	"gossipkv/pkg/model"
)

// legacyVersions are the older formats OpenBolt upgrades: 1 (no log) and 2
// (a log without segment headers; records without checksums). Both keep
// store records as plain msgpack storeRecords and the meta as a plain
// msgpack record of the set of writes held, the clock and a replica id
// that is no longer stored.
var legacyVersions = []uint32{1, 2}

// readLegacy reads a legacy file, with its log folded in: the state the
// caller rebuilds the file from in the current format (Bolt.rebuild),
// before it removes the old log's segments. A crash between the two leaves
// a current file beside old segments, which the next open reports as a
// damaged log (nothing is lost: the file holds what they did) and the
// server repairs.
func readLegacy(db *bolt.DB, path string, version uint32) ([]model.Entry, model.Meta, error) {
	var logged []logRecord
	for i := range 2 {
		data, err := os.ReadFile(segmentPath(path, i))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, model.Meta{}, err
		}
		recs, err := replayLegacy(data)
		if err != nil {
			return nil, model.Meta{}, fmt.Errorf("log %s: %w", segmentPath(path, i), err)
		}
		logged = append(logged, recs...)
	}
	var meta model.Meta
	var entries []model.Entry
	err := guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
				if err := unmarshal(raw, &meta); err != nil || !meta.Seen.Valid() {
					return corrupt(metaBucket, replicaKey, fmt.Errorf("meta record of format %d: %v", version, err))
				}
			}
			return tx.Bucket(storeBucket).ForEach(func(k, v []byte) error {
				var rec storeRecord
				if len(k) == 0 || k[0] != storeKeyPrefix || unmarshal(v, &rec) != nil {
					return corrupt(storeBucket, k, fmt.Errorf("record of format %d does not decode", version))
				}
				// The key is in the memory map, gone once the
				// transaction ends.
				entries = append(entries, model.Entry{Key: bytes.Clone(k[1:]), Value: rec.Value, Version: rec.Version, Seq: rec.Seq, Src: rec.Src})
				return nil
			})
		})
	})
	if err != nil {
		return nil, model.Meta{}, err
	}
	return foldInto(&meta, entries, logged), meta, nil
}

// removeLegacyLog removes the old log's segments, once the file holds
// what they did.
func removeLegacyLog(path string) error {
	for i := range 2 {
		if err := os.Remove(segmentPath(path, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// replayLegacy reads a format-2 log segment: records of a 4-byte length,
// a CRC-32C of the payload and the payload, up to the first that is torn.
func replayLegacy(data []byte) ([]logRecord, error) {
	var records []logRecord
	for rest := data; len(rest) >= 8; {
		n := binary.LittleEndian.Uint32(rest[0:4])
		if n > walMaxRecord || int(n) > len(rest)-8 {
			break
		}
		payload := rest[8 : 8+int(n)]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(rest[4:8]) {
			break
		}
		rec, err := decodeRecordPayload(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: record at offset %d: %v", ErrCorrupt, len(data)-len(rest), err)
		}
		records = append(records, rec)
		rest = rest[8+int(n):]
	}
	return records, nil
}
