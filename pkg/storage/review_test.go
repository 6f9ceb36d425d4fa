package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gossipkv/pkg/model"
)

// A crash in an append into the zeros a segment grew by can leave only the
// first bytes of the record's header on disk (the header straddles a page
// boundary and only the first page reached the disk), the rest still the
// zeros that were there. That is the last append cut short, as a file
// extended by fewer bytes than a header was before the segments grew
// ahead: it must be cut off without a word, not reported as damage.
func TestReview_HeaderCutShortBeforeZerosIsTorn(t *testing.T) {
	for _, kept := range []int64{4, 10, recHeaderSize - 4} {
		t.Run(fmt.Sprintf("%dBytes", kept), func(t *testing.T) {
			x, y := entry("x", "kept", 1, 1, 1), entry("y", "torn", 2, 1, 2)
			path := filepath.Join(t.TempDir(), "state.db")
			b := openBolt(t, path)
			if err := b.Log([]model.Entry{x}, model.Meta{}); err != nil {
				t.Fatal(err)
			}
			w := b.logs[b.cur]
			whole := w.size
			if err := b.Log([]model.Entry{y}, model.Meta{}); err != nil {
				t.Fatal(err)
			}
			end := w.size
			killRaw(t, b)
			name := path + ".wal0"
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			clear(data[whole+kept : end]) // the header's first bytes written, no more
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b = openBolt(t, path)
			checkLoad(t, b, []model.Entry{x}, seenMeta(1, 1))
			if st, err := os.Stat(name); err != nil || st.Size() != whole {
				t.Fatalf("log after open: %v, %v; want it cut back to its first record (%d bytes)", st, err, whole)
			}
		})
	}
}
