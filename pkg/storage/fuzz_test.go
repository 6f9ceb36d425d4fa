package storage

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
)

// FuzzRecordDecoding: whatever bytes a corrupt disk holds where a record
// should be, decoding returns a record or an error; it never panics and
// never allocates what a garbage length header claims (see mpcheck).
func FuzzRecordDecoding(f *testing.F) {
	rec, _ := msgpack.Marshal(&storeRecord{Value: []byte("value"), Version: model.Version{Wall: 5, Origin: 1}, Seq: 3, Src: 9})
	meta, _ := msgpack.Marshal(&model.Meta{Seen: model.Seen{Extra: []model.Dot{{Origin: 1, Seq: 4}}}, Src: 9})
	f.Add(rec)
	f.Add(meta)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r storeRecord
		_ = unmarshal(b, &r)
		var m model.Meta
		if unmarshal(b, &m) == nil {
			_ = m.Seen.Valid() // Load refuses a non-canonical set; it must not panic
		}
	})
}
