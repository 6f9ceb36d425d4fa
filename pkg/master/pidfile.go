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
)

// pidFiles records every process the master starts (watchdogs, clients,
// and the servers its watchdogs start) as DIR/NAME.pid holding the pid and
// the executable, and forgets it once the process is gone. If the master
// itself dies hard, `master cleanup` finds and kills what it left: by pid,
// and only while that pid still runs the same executable.
type pidFiles struct{ dir string }

func (p pidFiles) path(name string) string { return filepath.Join(p.dir, name+".pid") }

func (p pidFiles) write(name string, pid int, exe string) {
	if p.dir == "" || pid <= 0 {
		return
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return // best effort: the run does not depend on it
	}
	_ = os.WriteFile(p.path(name), []byte(fmt.Sprintf("%d\n%s\n", pid, exe)), 0o644)
}

func (p pidFiles) remove(name string) {
	if p.dir != "" {
		_ = os.Remove(p.path(name))
	}
}

// PidDir is where the master keeps its pid files for a config's data dir.
func PidDir(dataDir string) string { return filepath.Join(dataDir, "pids") }

// Cleanup kills every process recorded in dir that still runs the recorded
// executable, removes the pid files, and reports each kill to w.
func Cleanup(dir string, w io.Writer) (killed int, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.pid"))
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fields := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
		pid, perr := strconv.Atoi(fields[0])
		if perr != nil || len(fields) < 2 {
			errs = append(errs, fmt.Errorf("%s: not a pid file", f))
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && (exe == fields[1] || strings.TrimSuffix(exe, " (deleted)") == fields[1]) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill %s (pid %d): %w", name, pid, err))
				continue
			}
			fmt.Fprintf(w, "master: killed %s (pid %d)\n", name, pid)
			killed++
		}
		os.Remove(f)
	}
	return killed, errors.Join(errs...)
}
