package memcache

import (
	"bufio"
	"bytes"
	"log/slog"
	"testing"
	"time"

	"gossipkv/pkg/front/fronttest"
	"gossipkv/pkg/session"
)

// FuzzServe feeds a connection's worth of arbitrary bytes to the protocol
// (seeds in testdata/fuzz/FuzzServe): it must neither panic nor hang, and
// every reply it writes ends with "\r\n".
func FuzzServe(f *testing.F) {
	for _, seed := range []string{
		"set k 0 0 5\r\nhello\r\nget k\r\ngets k x\r\n",
		"add k 0 0 1 noreply\r\nx\r\ndelete k noreply\r\ndelete k 0\r\nquit\r\n",
		"set k 0 0 3\r\nab\r\nget k\r\n",
		"set k 0 0 99999999999\r\n",
		"cas k 0 0 1 1\r\nx\r\nincr k 1\r\nstats\r\nversion\r\n",
		"get " + string(bytes.Repeat([]byte("k "), 300)) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &Server{store: fronttest.NewStore(), cfg: Config{ID: 1, MaxKeyBytes: 64, MaxValueBytes: 1024, MaxClients: 1},
			log: slog.New(slog.DiscardHandler), started: time.Now()}
		var out bytes.Buffer
		// A small buffer, so that long lines are refused often.
		r := bufio.NewReaderSize(bytes.NewReader(in), 512)
		w := bufio.NewWriter(&out)
		s.serve(&session.Deps{}, r, w)
		w.Flush()
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\r\n")) {
			t.Errorf("output %q does not end a line", out.Bytes())
		}
	})
}
