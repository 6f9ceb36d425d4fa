package main

import (
	"bytes"
	"gossipkv/pkg/runstats"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssWatch polls the peak RSS (VmHWM) of the servers that given watchdogs
// started: the children of each watchdog pid. VmHWM only grows, so the last
// reading before the server dies is its peak, up to one interval of growth.
type rssWatch struct {
	// mu guards parents and peaks.
	mu      sync.Mutex
	parents map[int]uint32 // watchdog pid -> server id
	peaks   map[uint32]int64

	quit chan struct{}
	done chan struct{}
}

func watchRSS(every time.Duration) *rssWatch {
	w := &rssWatch{parents: map[int]uint32{}, peaks: map[uint32]int64{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

// watch adds the watchdog with this pid, whose child is server id.
func (w *rssWatch) watch(pid int, id uint32) {
	w.mu.Lock()
	w.parents[pid] = id
	w.mu.Unlock()
}

func (w *rssWatch) sample() {
	w.mu.Lock()
	parents := make(map[int]uint32, len(w.parents))
	for p, id := range w.parents {
		parents[p] = id
	}
	w.mu.Unlock()
	if len(parents) == 0 {
		return
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		id, ok := parents[parentPid(b)]
		if !ok {
			continue
		}
		kb, ok := vmHWM(filepath.Join(filepath.Dir(path), "status"))
		if !ok {
			continue
		}
		w.mu.Lock()
		w.peaks[id] = max(w.peaks[id], kb)
		w.mu.Unlock()
	}
}

// stop ends the polling and returns the peaks seen.
func (w *rssWatch) stop() map[uint32]int64 {
	close(w.quit)
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peaks
}

// parentPid reads field 4 of /proc/PID/stat; the command name before it is
// in parentheses and may hold spaces, so fields count from the last ")".
func parentPid(stat []byte) int {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return -1
	}
	p, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return p
}

// vmHWM reads the peak resident set in KB from /proc/PID/status.
func vmHWM(path string) (int64, bool) { return runstats.PeakRSSKB(path) }
