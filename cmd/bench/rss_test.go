package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParentPid_Self(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if got := parentPid(b); got != os.Getppid() {
		t.Fatalf("parentPid = %d, want %d", got, os.Getppid())
	}
	// A command name with spaces and a parenthesis must not shift fields.
	if got := parentPid([]byte("42 (a b) c) S 17 42 42 0")); got != 17 {
		t.Fatalf("parentPid of a tricky name = %d, want 17", got)
	}
}

func TestRSSWatch_SeesChildOfWatchedParent(t *testing.T) {
	if _, ok := vmHWM("/proc/self/status"); !ok {
		t.Skip("no VmHWM in /proc/self/status")
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	w := watchRSS(5 * time.Millisecond)
	// This test process plays the watchdog; its child sleep, the server.
	w.watch(os.Getpid(), 7)
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		kb := w.peaks[7]
		w.mu.Unlock()
		if kb > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no RSS seen for the child in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	peaks := w.stop()
	if peaks[7] <= 0 || len(peaks) != 1 {
		t.Fatalf("peaks %v, want one positive entry for id 7", peaks)
	}
}
