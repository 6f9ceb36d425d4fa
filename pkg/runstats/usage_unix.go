//go:build unix

package runstats

import (
	"os"
	"syscall"
	"time"
)

// UsageOf is the Usage in an rusage.
func UsageOf(ru *syscall.Rusage) Usage {
	return usage(time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), int64(ru.Nvcsw), int64(ru.Nivcsw))
}

// ProcessUsage is the usage of an ended process as wait4 reported it: its
// own and that of the children it reaped. Zero (and false) without one.
func ProcessUsage(ps *os.ProcessState) (Usage, bool) {
	if ps == nil {
		return Usage{}, false
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return Usage{}, false
	}
	return UsageOf(ru), true
}

// SelfUsage is this process's usage so far (RUSAGE_SELF).
func SelfUsage() (Usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, false
	}
	return UsageOf(&ru), true
}
