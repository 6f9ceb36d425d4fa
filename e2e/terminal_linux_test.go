package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty is the far end of a pseudo-terminal whose near end a child process
// has as its controlling terminal: what the child draws is on screen, and
// type sends keys.
type pty struct {
	t   *testing.T
	ptm *os.File
	// mu guards screen.
	mu     sync.Mutex
	screen strings.Builder
}

// startOnPTY starts cmd in a new session whose controlling terminal (stdin,
// stdout and stderr) is a new pseudo-terminal of 100x24.
func startOnPTY(t *testing.T, cmd *exec.Cmd) *pty {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 100}); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	p := &pty{t: t, ptm: ptm}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the child is gone
			}
		}
	}()
	t.Cleanup(func() { ptm.Close() })
	return p
}

func (p *pty) shown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen.String()
}

func (p *pty) typeKeys(s string) {
	p.t.Helper()
	if _, err := p.ptm.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// waitCount waits until s is on screen n times. The deadline only guards
// against a hang.
func (p *pty) waitCount(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(p.shown(), s) < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("%q is not on screen %d times within a minute; the screen:\n%s", s, n, p.shown())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// `master up` at a terminal prompts for commands: they run with their
// output on the terminal, the up arrow brings the last line back, a script
// attached meanwhile runs too, and Ctrl-D stops the cluster (exit 0).
func TestUp_AtATerminal(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cfg, cfgPath := writeUpConfig(t, 2, 2) // clients 2 (to server 0) and 3 (to 1)
	t.Cleanup(func() { checkNothingLeft(t, cfg) })
	cmd := exec.Command(filepath.Join(bin, "master"), "up", "-config", cfgPath)
	p := startOnPTY(t, cmd)
	done := make(chan struct{}) // closed once it has exited
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("master up still running 30 s after SIGTERM; the screen:\n%s", p.shown())
				cmd.Process.Kill()
				<-done
			}
		}
	})
	const prompt = "gossipkv> "
	p.waitCount(prompt, 1)
	if !strings.Contains(p.shown(), "stop:") {
		t.Fatalf("the prompt came before the endpoints:\n%s", p.shown())
	}
	p.typeKeys("put 2 a 1\r")
	p.waitCount(prompt, 2)
	p.typeKeys("stabilize\r")
	p.waitCount(prompt, 3)
	p.typeKeys("get 3 a\r")
	p.waitCount("a:1", 1)
	p.waitCount(prompt, 4)
	p.typeKeys("\x1b[A\r") // up arrow: get 3 a again
	p.waitCount("a:1", 2)
	p.waitCount(prompt, 5)

	if stdout, stderr, code := runMasterOut(t, bin, "get 2 a\n", "-config", cfgPath); code != 0 || stdout != "a:1\n" {
		t.Errorf("attached while the prompt waits: exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	p.waitCount("master: ran the script of pid ", 1)

	p.typeKeys("\x04") // Ctrl-D
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("master up after Ctrl-D: exit %d, want 0", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("master up still running a minute after Ctrl-D; the screen:\n%s", p.shown())
	}
	p.waitCount("stopping the cluster: end of input", 1)
}
