package master

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A master holds an exclusive flock on DATA_DIR/master.lock for its whole
// run, so that a second master (or a cleanup, which kills by the pid files
// in that directory) cannot work on the same data directory meanwhile. The
// kernel drops the lock when the holder dies, however it dies: a stale lock
// cannot outlive its master. Beside it, DATA_DIR/master.owner says who
// holds it, for the error the next one prints and for the user.
const (
	lockName  = "master.lock"
	ownerName = "master.owner"
)

// ErrDataDirInUse means a live master (or cleanup) holds the data
// directory. Errors that wrap it are *InUseError.
var ErrDataDirInUse = errors.New("master: data directory in use")

// Owner is who holds a data directory, as written in master.owner.
type Owner struct {
	Pid     int
	Command string // "run", "up" or "cleanup"
	Run     string // the run id of a "run"
	Started time.Time
	Config  string
}

// String describes the owner: `master pid 4240 (run 9f1c..., started
// 19:30:01, config /x/config.yaml)`.
func (o Owner) String() string {
	if o.Pid == 0 {
		return "another master (it has not written " + ownerName + " yet)"
	}
	who := fmt.Sprintf("master pid %d", o.Pid)
	switch o.Command {
	case "cleanup":
		who = fmt.Sprintf("`master cleanup` pid %d", o.Pid)
	case "up":
		who = fmt.Sprintf("`master up` pid %d", o.Pid)
	}
	var details []string
	if o.Run != "" {
		details = append(details, "run "+o.Run)
	}
	if !o.Started.IsZero() {
		details = append(details, "started "+o.Started.Format("2006-01-02 15:04:05"))
	}
	if o.Config != "" {
		details = append(details, "config "+o.Config)
	}
	if len(details) == 0 {
		return who
	}
	return who + " (" + strings.Join(details, ", ") + ")"
}

// InUseError names the live holder of a data directory.
type InUseError struct {
	Dir   string
	Owner Owner
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("data directory %s is in use by %s", e.Dir, e.Owner)
}

func (e *InUseError) Unwrap() error { return ErrDataDirInUse }

// dirLock is a held data directory.
type dirLock struct {
	f   *os.File
	dir string
}

// lockDataDir takes dir's lock without waiting (creating dir if need be)
// and records owner beside it; an *InUseError if someone holds it.
func lockDataDir(dir string, owner Owner) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("master: data directory: %w", err)
	}
	// O_CLOEXEC (Go's default): the processes the master starts must not
	// inherit the lock, or it would outlive the master.
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("master: data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			held, _ := readOwner(dir)
			return nil, &InUseError{Dir: dir, Owner: held}
		}
		return nil, fmt.Errorf("master: lock %s: %w", f.Name(), err)
	}
	if err := writeOwner(dir, owner); err != nil {
		f.Close()
		return nil, err
	}
	return &dirLock{f: f, dir: dir}, nil
}

// release forgets the owner and drops the lock.
func (l *dirLock) release() {
	os.Remove(filepath.Join(l.dir, ownerName))
	l.f.Close()
}

// writeOwner replaces master.owner at once (a reader never sees half).
func writeOwner(dir string, o Owner) error {
	text := fmt.Sprintf("pid: %d\ncommand: %s\nrun: %s\nstarted: %s\nconfig: %s\n",
		o.Pid, o.Command, o.Run, o.Started.Format(time.RFC3339), o.Config)
	tmp := filepath.Join(dir, "."+ownerName+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ownerName)); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	return nil
}

// readOwner reads master.owner; fields it cannot read stay zero.
func readOwner(dir string) (Owner, error) {
	b, err := os.ReadFile(filepath.Join(dir, ownerName))
	if err != nil {
		return Owner{}, err
	}
	var o Owner
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			o.Pid, _ = strconv.Atoi(v)
		case "command":
			o.Command = v
		case "run":
			o.Run = v
		case "started":
			o.Started, _ = time.Parse(time.RFC3339, v)
		case "config":
			o.Config = v
		}
	}
	return o, nil
}

// CleanupDataDir is Cleanup of the pid files of dataDir's master, while
// holding the data directory's lock: it refuses (an *InUseError) while a
// live master holds it, since killing by pid files would kill that
// master's processes. A missing dataDir has nothing to clean.
func CleanupDataDir(dataDir, config string, w io.Writer) (killed int, err error) {
	if _, err := os.Stat(dataDir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	l, err := lockDataDir(dataDir, Owner{Pid: os.Getpid(), Command: "cleanup", Started: time.Now(), Config: config})
	if err != nil {
		return 0, err
	}
	defer l.release()
	return Cleanup(PidDir(dataDir), w)
}
