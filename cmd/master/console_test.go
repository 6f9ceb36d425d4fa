package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTerminal is the far end of a console: keys typed go in, what the
// console draws comes out.
type fakeTerminal struct {
	keys chan []byte
	// mu guards screen.
	mu     sync.Mutex
	screen bytes.Buffer
}

func newFakeTerminal() *fakeTerminal { return &fakeTerminal{keys: make(chan []byte, 16)} }

func (f *fakeTerminal) Read(p []byte) (int, error) {
	k, ok := <-f.keys
	if !ok {
		return 0, io.EOF
	}
	return copy(p, k), nil
}

func (f *fakeTerminal) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.screen.Write(p)
}

func (f *fakeTerminal) shown() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.screen.String()
}

func (f *fakeTerminal) typeKeys(s string) { f.keys <- []byte(s) }

const (
	upArrow   = "\x1b[A"
	downArrow = "\x1b[B"
	leftArrow = "\x1b[D"
	ctrlA     = "\x01"
	ctrlC     = "\x03"
	ctrlD     = "\x04"
)

// readLine reads one Read's worth from c: a whole line, as the script
// reader asks.
func readLine(t *testing.T, c *console) (string, error) {
	t.Helper()
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// Lines come back with their newline; arrows edit them and walk the
// history, which leaves out blank lines and repeats.
func TestConsole_EditingAndHistory(t *testing.T) {
	ft := newFakeTerminal()
	c := newConsole(ft, "gossipkv> ", nil)
	steps := []struct{ keys, want string }{
		{"put 5 a 1\r", "put 5 a 1\n"},
		{upArrow + "\r", "put 5 a 1\n"}, // the line before, again
		{"\r", "\n"},                    // blank: not in the history
		{"get 5 a\r", "get 5 a\n"},
		{upArrow + upArrow + "\r", "put 5 a 1\n"}, // two back: the repeat counts once
		// The history is now put, get, put: three back and one forward.
		{upArrow + upArrow + upArrow + downArrow + "\r", "get 5 a\n"},
		{"et 5 b" + ctrlA + "g\r", "get 5 b\n"},             // Ctrl-A: to the start
		{"delete 5 a" + leftArrow + "x\r", "delete 5 xa\n"}, // insert before the cursor
	}
	for _, s := range steps {
		ft.typeKeys(s.keys)
		got, err := readLine(t, c)
		if err != nil || got != s.want {
			t.Fatalf("typed %q: read %q, %v; want %q", s.keys, got, err, s.want)
		}
	}
	if n := strings.Count(ft.shown(), "gossipkv> "); n < len(steps) {
		t.Errorf("the prompt was drawn %d times for %d lines:\n%q", n, len(steps), ft.shown())
	}
}

// The prompt is drawn only when a line is read, that is when the master is
// ready for one: not while the last line runs.
func TestConsole_PromptsOnlyWhenRead(t *testing.T) {
	ft := newFakeTerminal()
	c := newConsole(ft, "> ", nil)
	if ft.shown() != "" {
		t.Fatalf("drawn before any read: %q", ft.shown())
	}
	ft.typeKeys("stabilize\r")
	if got, _ := readLine(t, c); got != "stabilize\n" {
		t.Fatalf("read %q", got)
	}
	after := ft.shown()
	if !strings.HasSuffix(after, "stabilize\r\n") || strings.Count(after, "> ") != 1 {
		t.Fatalf("after one line the screen is %q", after)
	}
	// Output of the line, then the next prompt.
	c.Write([]byte("k:v\n"))
	ft.typeKeys("get 5 k\r")
	readLine(t, c)
	if want := after + "k:v\r\n> get 5 k\r\n"; ft.shown() != want {
		t.Errorf("screen %q, want %q", ft.shown(), want)
	}
}

// Output that arrives while a line is being typed is written above it, and
// the prompt and what was typed are drawn again.
func TestConsole_WriteWhileTyping(t *testing.T) {
	ft := newFakeTerminal()
	c := newConsole(ft, "> ", nil)
	got := make(chan string)
	go func() {
		l, _ := readLine(t, c)
		got <- l
	}()
	ft.typeKeys("pri")
	waitUntil(t, func() bool { return strings.HasSuffix(ft.shown(), "> pri") })
	c.Write([]byte("master: note\n"))
	if !strings.HasSuffix(ft.shown(), "master: note\r\n> pri") {
		t.Errorf("screen %q: the note is not above the line being typed", ft.shown())
	}
	ft.typeKeys("ntStore 0\r")
	if l := <-got; l != "printStore 0\n" {
		t.Errorf("read %q", l)
	}
}

// Ctrl-D on an empty line ends the script; Ctrl-C interrupts, as SIGINT
// does, whatever was typed.
func TestConsole_CtrlD_CtrlC(t *testing.T) {
	ft := newFakeTerminal()
	interrupted := 0
	c := newConsole(ft, "> ", func() { interrupted++ })
	ft.typeKeys("get 5 a" + ctrlD + "\r") // Ctrl-D within a line deletes
	if got, err := readLine(t, c); got != "get 5 a\n" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	ft.typeKeys(ctrlD)
	if _, err := readLine(t, c); err != io.EOF || interrupted != 0 {
		t.Fatalf("Ctrl-D: %v, %d interrupts; want EOF and none", err, interrupted)
	}
	if _, err := readLine(t, c); err != io.EOF {
		t.Errorf("read after the end: %v, want EOF", err)
	}
	// Once ended, output goes straight to the terminal: no prompt is
	// drawn again.
	before := ft.shown()
	c.Write([]byte("bye\n"))
	if ft.shown() != before+"bye\n" {
		t.Errorf("write after the end drew %q", strings.TrimPrefix(ft.shown(), before))
	}

	ft = newFakeTerminal()
	c = newConsole(ft, "> ", func() { interrupted++ })
	ft.typeKeys("put 5 half" + ctrlC)
	if _, err := readLine(t, c); !errors.Is(err, errInterrupted) || interrupted != 1 {
		t.Errorf("Ctrl-C: %v, %d interrupts; want errInterrupted and one", err, interrupted)
	}
	if !strings.HasSuffix(ft.shown(), "^C\r\n") {
		t.Errorf("Ctrl-C left %q on screen", ft.shown())
	}
}

func TestHistory_Bounded(t *testing.T) {
	h := &history{max: 3}
	for _, l := range []string{"a", "b", "b", "  ", "c", "d"} {
		h.Add(l)
	}
	if h.Len() != 3 || h.At(0) != "d" || h.At(2) != "b" {
		t.Errorf("history %q, want [b c d]", h.lines)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A master that ends while a line is being read (a signal) gives the
// terminal back out of raw mode.
func TestConsole_CloseWhileReading(t *testing.T) {
	ft := newFakeTerminal()
	c := newConsole(ft, "> ", nil)
	var mu sync.Mutex
	raw, restored := 0, 0
	c.raw = func() (func(), error) {
		mu.Lock()
		defer mu.Unlock()
		raw++
		return func() { mu.Lock(); restored++; mu.Unlock() }, nil
	}
	defer close(ft.keys)
	go readLine(t, c)
	waitUntil(t, func() bool { return strings.HasSuffix(ft.shown(), "> ") })
	c.close()
	mu.Lock()
	defer mu.Unlock()
	if raw != 1 || restored != 1 {
		t.Errorf("raw %d times, restored %d times; want once each", raw, restored)
	}
	if !strings.HasSuffix(ft.shown(), "> \r\n") {
		t.Errorf("screen %q: the prompt is not left on its own line", ft.shown())
	}
}
