package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/term"

	"gossipkv/pkg/config"
)

// errInterrupted is what a console's Read returns after Ctrl-C at its
// prompt, once it has called its interrupt function.
var errInterrupted = errors.New("interrupted at the prompt")

// console reads script lines typed at a terminal, one line per Read and
// only when read from: a prompt, line editing (arrows, Home/End, Ctrl-A/E/
// K/U/W) and a history that up and down arrows walk, through x/term's
// Terminal. The terminal is in raw mode only while a line is being read,
// so the commands' own output, and Ctrl-C while one runs (a SIGINT), work
// as without a console. Ctrl-D on an empty line ends the script (io.EOF);
// Ctrl-C at the prompt calls interrupt, as a SIGINT would.
//
// Write goes through the Terminal, which keeps a prompt on screen intact
// when output arrives while a line is being typed.
type console struct {
	t    *term.Terminal
	w    io.Writer // the terminal under t
	in   *ctrlCWatch
	raw  func() (restore func(), err error) // nil: not a real terminal
	size func() (width, height int, err error)
	intr func()
	rest []byte // of the last line read, not yet returned
	// ended is set once the Terminal has returned its last line: it then
	// still thinks a prompt is on screen, so writes bypass it.
	ended atomic.Bool

	// mu guards restore: what puts the terminal back while a line is
	// being read, for close.
	mu      sync.Mutex
	restore func()
}

// newConsole runs a console on rw, a terminal (or a fake one in tests).
func newConsole(rw io.ReadWriter, prompt string, interrupt func()) *console {
	in := &ctrlCWatch{r: rw}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, rw}, prompt)
	t.History = &history{max: 1000}
	return &console{t: t, w: rw, in: in, intr: interrupt}
}

// stdioConsole is a console on this process's terminal when stdin and
// stdout are both one that the process is in the foreground of (a
// background job must not touch the terminal's modes); nil otherwise.
func stdioConsole(prompt string, interrupt func()) *console {
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	if !term.IsTerminal(in) || !term.IsTerminal(out) || !foreground(in) {
		return nil
	}
	c := newConsole(struct {
		io.Reader
		io.Writer
	}{os.Stdin, os.Stdout}, prompt, interrupt)
	c.raw = func() (func(), error) {
		old, err := term.MakeRaw(in)
		if err != nil {
			return nil, err
		}
		return func() { term.Restore(in, old) }, nil
	}
	c.size = func() (int, int, error) { return term.GetSize(out) }
	return c
}

// Read returns the next typed line with its "\n", prompting for it when
// nothing of the last one is left.
func (c *console) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		if c.ended.Load() {
			return 0, io.EOF
		}
		line, err := c.readLine()
		if err != nil {
			return 0, err
		}
		c.rest = append([]byte(line), '\n')
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *console) readLine() (string, error) {
	if c.raw != nil {
		restore, err := c.raw()
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.restore = restore
		c.mu.Unlock()
		defer c.cooked()
	}
	if c.size != nil {
		// A terminal that does not know its size says 0.
		if w, h, err := c.size(); err == nil && w > 0 && h > 0 {
			c.t.SetSize(w, h)
		}
	}
	line, err := c.t.ReadLine()
	if errors.Is(err, term.ErrPasteIndicator) {
		err = nil // a pasted line is a line
	}
	if err == io.EOF {
		c.ended.Store(true)
		// Terminal says EOF for Ctrl-C too; the watch tells them apart.
		// The terminal is still raw: a new line takes "\r\n".
		if c.in.sawCtrlC() {
			c.w.Write([]byte("^C\r\n"))
			if c.intr != nil {
				c.intr()
			}
			return "", errInterrupted
		}
		c.w.Write([]byte("\r\n"))
	}
	return line, err
}

// cooked takes the terminal out of raw mode, if it is in it.
func (c *console) cooked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restore != nil {
		c.restore()
		c.restore = nil
	}
}

// close puts the terminal back as it was, for a master that ends while a
// line is being read (a signal, or the master that is up going away): the
// shell must not get a terminal in raw mode back. The prompt on screen is
// left on a line of its own.
func (c *console) close() {
	c.mu.Lock()
	reading := c.restore != nil
	c.mu.Unlock()
	if reading && c.ended.CompareAndSwap(false, true) {
		c.w.Write([]byte("\r\n"))
	}
	c.cooked()
}

// Write writes p to the terminal, around a prompt on screen.
func (c *console) Write(p []byte) (int, error) {
	if c.ended.Load() {
		return c.w.Write(p)
	}
	return c.t.Write(p)
}

// ctrlCWatch notes a Ctrl-C byte in what the Terminal reads, since the
// Terminal ends its line with io.EOF for Ctrl-C and Ctrl-D alike. Only the
// goroutine of ReadLine touches it.
type ctrlCWatch struct {
	r    io.Reader
	seen bool
}

func (w *ctrlCWatch) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if bytes.IndexByte(p[:n], 3) >= 0 {
		w.seen = true
	}
	return n, err
}

func (w *ctrlCWatch) sawCtrlC() bool { return w.seen }

// history is the console's line history: the last max lines typed, less
// blank ones and repeats of the line before (as a shell's ignoredups).
type history struct {
	// mu guards lines: the Terminal reads it while ReadLine runs, and
	// nothing else does, but its contract allows more.
	mu    sync.Mutex
	lines []string // oldest first
	max   int
}

func (h *history) Add(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(bytes.TrimSpace([]byte(line))) == 0 {
		return
	}
	if n := len(h.lines); n > 0 && h.lines[n-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > h.max {
		h.lines = h.lines[len(h.lines)-h.max:]
	}
}

func (h *history) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lines)
}

// At is the idx-th line back: 0 is the newest.
func (h *history) At(idx int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lines[len(h.lines)-1-idx]
}

// errCtrlC is the cause of an interrupt typed at the prompt.
var errCtrlC = errors.New("Ctrl-C at the prompt")

// streams are what the master reads and writes: the process's own, or a
// console's at a terminal.
type streams struct {
	stdin          io.Reader
	local          io.Reader // for up: the console, nil without one
	stdout, stderr io.Writer
	con            *console
}

// close gives the terminal back as it found it.
func (s streams) close() {
	if s.con != nil {
		s.con.close()
	}
}

// stdio puts a console on the terminal when there is one: it reads the
// script and writes stdout, and stderr too when that is the terminal. Once
// ctx is done the console gives the terminal back, so that the master's
// last words do not come with a prompt.
func stdio(ctx context.Context, cfg *config.Config, cancel context.CancelCauseFunc) streams {
	s := streams{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	con := stdioConsole(cfg.Cluster+"> ", func() { cancel(errCtrlC) })
	if con == nil {
		return s
	}
	context.AfterFunc(ctx, con.close)
	s.stdin, s.local, s.stdout, s.con = con, con, con, con
	if term.IsTerminal(int(os.Stderr.Fd())) {
		s.stderr = con
	}
	return s
}
