package storage

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
	"gossipkv/pkg/vclock"
)

// BenchmarkBolt_Commit measures puts per second through a group-commit loop
// like the server's: one goroutine takes every put waiting on its channel,
// commits them with the new meta in one Commit, then answers each. Writers
// each submit a put and wait for its answer, as clients do.
func BenchmarkBolt_Commit(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		for _, writers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("fsync=%t/writers=%d", fsync, writers), func(b *testing.B) {
				benchGroupCommit(b, writers, !fsync, false)
			})
		}
	}
}

// BenchmarkBolt_Log is BenchmarkBolt_Commit with the server's way of making
// puts durable: one log append per batch, and a checkpoint into the bbolt
// file after every 200 appends (about what a busy server does every
// checkpoint_interval).
func BenchmarkBolt_Log(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("fsync=true/writers=%d", writers), func(b *testing.B) {
			benchGroupCommit(b, writers, false, true)
		})
	}
}

type benchPut struct {
	entry model.Entry
	done  chan error
}

func benchGroupCommit(b *testing.B, writers int, noSync, log bool) {
	db, err := OpenBolt(filepath.Join(b.TempDir(), "state.db"), BoltOptions{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	puts := make(chan benchPut, writers)
	loopDone := make(chan struct{})
	var commits int
	go func() {
		defer close(loopDone)
		var meta model.Meta
		var seq uint64
		var batch []benchPut
		entries := make([]model.Entry, 0, writers)
		for p := range puts {
			batch = append(batch[:0], p)
		drain:
			for {
				select {
				case p, ok := <-puts:
					if !ok {
						break drain
					}
					batch = append(batch, p)
				default:
					break drain
				}
			}
			entries = entries[:0]
			for _, p := range batch {
				seq++
				p.entry.Seq = seq
				p.entry.Version = model.Version{Wall: int64(seq), Origin: 1}
				entries = append(entries, p.entry)
			}
			meta.Seen.Prefix = meta.Seen.Prefix.With(1, seq)
			meta.Clock = model.Version{Wall: int64(seq), Origin: 1}
			var err error
			switch {
			case !log:
				err = db.Commit(entries, meta)
			case commits%200 == 199:
				if err = db.Log(entries, model.Meta{Seen: meta.Seen}); err == nil {
					err = db.Checkpoint()
				}
			default:
				err = db.Log(entries, model.Meta{Seen: meta.Seen})
			}
			commits++
			for _, p := range batch {
				p.done <- err
			}
		}
	}()

	value := make([]byte, 1024)
	for i := range value {
		value[i] = byte(i)
	}
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		n := b.N / writers
		if w < b.N%writers {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			for i := range n {
				// 3-byte keys, as in the harness's scripts; 4096 of them per
				// writer, so most puts overwrite.
				var k [4]byte
				binary.BigEndian.PutUint32(k[:], uint32(w<<12|i&0xfff))
				puts <- benchPut{entry: model.Entry{Key: k[1:], Value: value}, done: done}
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(puts)
	<-loopDone
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	b.ReportMetric(float64(b.N)/float64(commits), "puts/commit")
}

// BenchmarkMsgpack_Entry measures the msgpack cost of a 1 KB entry, as
// model.Entry, as the store record, and as a log record of one entry and a
// set of five replicas.
func BenchmarkMsgpack_Entry(b *testing.B) {
	e := model.Entry{Key: []byte("k42"), Value: make([]byte, 1024), Version: model.Version{Wall: 1 << 60, Logical: 3, Origin: 4}, Seq: 123456}
	rec := storeRecord{Value: e.Value, Version: e.Version, Seq: e.Seq}
	var seen model.Seen
	for id := range uint64(5) {
		seen.Add(model.Dot{Origin: 1<<62 + id, Seq: 1})
	}
	logged := walPayload{Entries: []walEntry{{Key: e.Key, Value: e.Value, Version: e.Version, Seq: e.Seq}}, Seen: seen}
	for _, tc := range []struct {
		name string
		v    any
		new  func() any
	}{
		{"entry", &e, func() any { return new(model.Entry) }},
		{"record", &rec, func() any { return new(storeRecord) }},
		{"log-record", &logged, func() any { return new(walPayload) }},
	} {
		raw, err := msgpack.Marshal(tc.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := msgpack.Marshal(tc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := unmarshal(raw, tc.new()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBolt_Checkpoint measures a checkpoint of a log of n 1 KB writes
// to keys drawn from 1000 (the spec benchmark's store) into a file that
// holds them all: ns/op is per logged write. n=500 is about what a server
// logs between two checkpoints at 1000 puts/s.
func BenchmarkBolt_Checkpoint(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(fmt.Sprintf("writes=%d", n), func(b *testing.B) {
			db, err := OpenBolt(filepath.Join(b.TempDir(), "state.db"), BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			value := make([]byte, 1024)
			seq := uint64(0)
			write := func(key int) model.Entry {
				seq++
				return model.Entry{Key: fmt.Appendf(nil, "k%03d", key), Value: value,
					Version: model.Version{Wall: int64(seq), Origin: 1}, Seq: seq, Src: 7}
			}
			// A stable point, as a server's meta has once the cluster
			// agrees on one: checkpoints then look for tombstones to drop.
			meta := model.Meta{Stable: model.Stable{Version: model.Version{Wall: 1, Origin: 1}}}
			logAll := func(keys func(i int) int, count int) {
				for i := range count {
					e := write(keys(i))
					meta.Seen.Add(e.Dot())
					if err := db.Log([]model.Entry{e}, meta); err != nil {
						b.Fatal(err)
					}
				}
			}
			logAll(func(i int) int { return i }, 1000)
			if err := db.Checkpoint(); err != nil {
				b.Fatal(err)
			}
			rng := uint64(1)
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				logAll(func(int) int { rng = rng*6364136223846793005 + 1442695040888963407; return int(rng>>33) % 1000 }, n)
				b.StartTimer()
				before := processCPU()
				if err := db.Checkpoint(); err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - before
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/write")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/write")
		})
	}
}

// processCPU is the user and system time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWAL_Append is the CPU of one log append without its sync:
// encoding the record and writing it, for a put of its own (1 entry) and
// for a replica's batch (16 entries) of 1 KB values.
func BenchmarkWAL_Append(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			w, err := openWAL(filepath.Join(b.TempDir(), "log"), true, osFS{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.close()
			rec := logRecord{seen: model.Seen{Prefix: vclock.Clock{{ID: 1, N: 9}, {ID: 2, N: 9}, {ID: 3, N: 9}, {ID: 4, N: 9}, {ID: 5, N: 9}}}}
			for i := 0; i < n; i++ {
				rec.entries = append(rec.entries, model.Entry{Key: []byte(fmt.Sprintf("k%02d", i)), Value: make([]byte, 1024), Version: model.Version{Wall: 1 << 60, Origin: 3}, Seq: uint64(i + 1), Src: 3})
			}
			b.SetBytes(int64(n * 1024))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				// Start over before the segment outgrows its chunk of
				// zeros, so that the figure is the append's, not the
				// file's growth: later appends write over the records.
				if w.size > walChunk/2 {
					w.size = walHeaderSize
				}
				rec.lsn = uint64(i + 1)
				if err := w.appendRecord(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
