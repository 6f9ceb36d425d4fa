package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gossipkv/pkg/model"
)

// crashEnv names the database file of the child process; set only in the
// child that TestBolt_Crash starts. crashModeEnv says what the child does:
// crashSequential or crashConcurrent.
const (
	crashEnv     = "GOSSIPKV_STORAGE_CRASH_DB"
	crashModeEnv = "GOSSIPKV_STORAGE_CRASH_MODE"
)

const (
	// crashSequential logs, commits and checkpoints in one goroutine.
	crashSequential = "sequential"
	// crashConcurrent only logs, while another goroutine checkpoints
	// without pause, as a server's committer and checkpointer do.
	crashConcurrent = "concurrent"
)

// TestHelperProcess is not a test: it is the child of TestBolt_Crash, which
// re-executes the test binary with crashEnv set. It continues the batch
// sequence found in the file and prints "committed i" once batch i is
// durable (its Log or Commit returned), until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestBolt_Crash")
	}
	os.Exit(crashChild(path, os.Getenv(crashModeEnv)))
}

func crashChild(path, mode string) int {
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := b.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if len(st.Damage) > 0 {
		// A kill leaves at most a torn last record, which is not damage.
		fmt.Fprintf(os.Stderr, "damage after a kill: %q\n", st.Damage)
		return 1
	}
	meta := st.Meta
	if mode == crashConcurrent {
		go func() {
			for {
				if err := b.Checkpoint(); err != nil {
					fmt.Fprintf(os.Stderr, "checkpoint: %v\n", err)
					os.Exit(1)
				}
			}
		}()
	}
	// Every batch is logged with the set of writes held, as a server logs
	// its writes; in sequential mode every fourth is committed instead,
	// and every fourth after a log also checkpointed.
	for i := crashDone(meta) + 1; ; i++ {
		switch {
		case mode == crashConcurrent:
			err = b.Log(crashBatch(i), model.Meta{Seen: crashMeta(i).Seen})
		case i%crashCommitEvery == 0:
			err = b.Commit(crashBatch(i), crashMeta(i))
		case i%crashCommitEvery == 2:
			if err = b.Log(crashBatch(i), model.Meta{Seen: crashMeta(i).Seen}); err == nil {
				err = b.Checkpoint()
			}
		default:
			err = b.Log(crashBatch(i), model.Meta{Seen: crashMeta(i).Seen})
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "batch %d: %v\n", i, err)
			return 1
		}
		// Unbuffered: the line leaves the process as soon as Commit or Log
		// returns.
		fmt.Fprintf(os.Stdout, "committed %d\n", i)
	}
}

const (
	crashKeysPerBatch = 4
	crashCommitEvery  = 4
	crashSrc          = 1<<31 | 5
)

// crashBatch is batch i: a few new keys of 1 KB (10 KB in every seventh
// batch, so that some commits span many pages) plus the key "last", which
// every batch overwrites with its number. Every entry is a write of its own:
// dots crashSrc:(i-1)*5+1 to crashSrc:i*5.
func crashBatch(i int64) []model.Entry {
	v := model.Version{Wall: i, Origin: 1}
	seq := uint64(i-1) * (crashKeysPerBatch + 1)
	batch := make([]model.Entry, 0, crashKeysPerBatch+1)
	for j := range crashKeysPerBatch {
		seq++
		batch = append(batch, model.Entry{Key: crashKey(i, j), Value: crashValue(i, j), Version: v, Seq: seq, Src: crashSrc})
	}
	return append(batch, model.Entry{Key: []byte("last"), Value: []byte(strconv.FormatInt(i, 10)), Version: v, Seq: seq + 1, Src: crashSrc})
}

func crashKey(i int64, j int) []byte { return fmt.Appendf(nil, "b%d-%d", i, j) }

func crashValue(i int64, j int) []byte {
	n := 1000
	if i%7 == 0 {
		n = 10000
	}
	return bytes.Repeat(fmt.Appendf(nil, "%d/%d;", i, j), n)[:n]
}

// crashMeta is the meta committed with batch i.
func crashMeta(i int64) model.Meta {
	var m model.Meta
	m.Seen.Prefix = m.Seen.Prefix.With(crashSrc, uint64(i)*(crashKeysPerBatch+1))
	m.Clock = model.Version{Wall: i, Origin: 1}
	return m
}

// crashDone is the last batch a meta holds.
func crashDone(meta model.Meta) int64 {
	return int64(meta.Seen.Prefix.Get(crashSrc) / (crashKeysPerBatch + 1))
}

// TestBolt_Crash kills a committing child process with SIGKILL at random
// points and checks, after each kill, that the file opens and holds exactly
// batches 1..m for some m no less than the last batch the child reported:
// nothing acknowledged is lost and no batch is half there, whether it was
// committed or logged, and whether checkpoints ran in the same goroutine or
// beside the appends.
func TestBolt_Crash(t *testing.T) {
	for _, mode := range []string{crashSequential, crashConcurrent} {
		t.Run(mode, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 1))
			path := filepath.Join(t.TempDir(), "state.db")

			var last int64 // the last batch on disk, as found after the previous kill
			for round := range 20 {
				target := last + 1 + int64(rng.IntN(30))
				reported := runAndKill(t, path, mode, last+1, target, rng.Float64())
				m := checkCrashState(t, path, mode, reported)
				t.Logf("round %d: killed after the child reported batch %d; batch %d is on disk", round, reported, m)
				last = m
			}
		})
	}
}

// runAndKill starts the child, checks that it continues with batch first,
// SIGKILLs it once it has reported batch target plus a pause of phase times
// the time its last commit took, and returns the last batch it reported.
func runAndKill(t *testing.T, path, mode string, first, target int64, phase float64) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, crashModeEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	lines := make(chan string)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			close(stop)
			<-readerDone
			_ = cmd.Wait()
		}
	})
	go func() {
		defer close(readerDone)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()

	reported := first - 1
	deadline := time.After(time.Minute)
	var lastLine time.Time
	var interval time.Duration
	for reported < target {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				waited = true
				t.Fatalf("child ended before committing batch %d (last reported %d): %s", target, reported, stderr.String())
			}
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "committed "), 10, 64)
			if err != nil || n != reported+1 {
				t.Fatalf("child printed %q, want \"committed %d\"", line, reported+1)
			}
			reported = n
			// Only the time between two lines measures a commit; the first
			// line also covers the child's start.
			if now := time.Now(); !lastLine.IsZero() {
				interval, lastLine = now.Sub(lastLine), now
			} else {
				lastLine = now
			}
		case <-deadline:
			t.Fatalf("child reported only up to batch %d of %d within a minute: %s", reported, target, stderr.String())
		}
	}
	// The child is inside its next Commit now, at its very start if the
	// kill came at once (the parent wakes within microseconds). The pause
	// is no wait for a condition: it moves the kill to a random point of
	// that commit (page writes, the first fdatasync, the meta page, the
	// second fdatasync) or just past it.
	time.Sleep(time.Duration(phase * float64(interval)))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child %d: %v", cmd.Process.Pid, err)
	}
	waited = true
	close(stop)
	<-readerDone
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed by the signal: %v: %s", err, stderr.String())
	}
	return reported
}

// checkCrashState opens the file left by a killed child and checks that it
// holds exactly batches 1..m, m >= reported: their entries, their dots and
// no other, and the clock of the last batch committed (a logged batch does
// not write the clock; a replica recomputes it from the entries).
func checkCrashState(t *testing.T, path, mode string, reported int64) int64 {
	t.Helper()
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer b.Close()
	entries, meta := load(t, b)
	m := crashDone(meta)
	if m < reported {
		t.Fatalf("the file holds batches up to %d, but the child reported batch %d durable", m, reported)
	}
	want := crashMeta(m)
	if c := m - m%crashCommitEvery; c > 0 && mode == crashSequential {
		want.Clock = crashMeta(c).Clock
	} else {
		want.Clock = model.Version{}
	}
	checkMeta(t, meta, want)
	var wantEntries []model.Entry
	for i := int64(1); i <= m; i++ {
		batch := crashBatch(i)
		wantEntries = append(wantEntries, batch[:crashKeysPerBatch]...)
		if i == m {
			wantEntries = append(wantEntries, batch[crashKeysPerBatch])
		}
	}
	checkEntries(t, entries, wantEntries)
	return m
}
