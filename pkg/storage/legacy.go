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

// upgrade rewrites a legacy file in the current format, in one
// transaction, with its log folded in, and then starts the log afresh. A
// crash between the two leaves a current file beside old segments, which
// the next open reports as a damaged log (nothing is lost: the file holds
// what they did) and the server repairs.
func upgrade(db *bolt.DB, path string, version uint32) error {
	var logged []logRecord
	for i := range 2 {
		data, err := os.ReadFile(segmentPath(path, i))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		recs, err := replayLegacy(data)
		if err != nil {
			return fmt.Errorf("log %s: %w", segmentPath(path, i), err)
		}
		logged = append(logged, recs...)
	}
	err := guard(path, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			var meta model.Meta
			if raw := tx.Bucket(metaBucket).Get(replicaKey); raw != nil {
				if err := unmarshal(raw, &meta); err != nil || !meta.Seen.Valid() {
					return corrupt(metaBucket, replicaKey, fmt.Errorf("meta record of format %d: %v", version, err))
				}
			}
			var entries []model.Entry
			err := tx.Bucket(storeBucket).ForEach(func(k, v []byte) error {
				var rec storeRecord
				if len(k) == 0 || k[0] != storeKeyPrefix || unmarshal(v, &rec) != nil {
					return corrupt(storeBucket, k, fmt.Errorf("record of format %d does not decode", version))
				}
				// The key is in the memory map, which the writes below
				// may remap.
				entries = append(entries, model.Entry{Key: bytes.Clone(k[1:]), Value: rec.Value, Version: rec.Version, Seq: rec.Seq, Src: rec.Src})
				return nil
			})
			if err != nil {
				return err
			}
			entries = foldInto(&meta, entries, logged)
			if err := tx.DeleteBucket(storeBucket); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(storeBucket); err != nil {
				return err
			}
			w := &storeWriter{tx: tx, store: tx.Bucket(storeBucket)}
			for _, e := range entries {
				w.put(e)
			}
			if w.err != nil {
				return w.err
			}
			if err := w.finish(meta); err != nil {
				return err
			}
			return putFormat(tx.Bucket(metaBucket))
		})
	})
	if err != nil {
		return err
	}
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
