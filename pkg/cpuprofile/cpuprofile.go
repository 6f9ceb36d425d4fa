// Package cpuprofile writes a CPU profile of the first seconds of a
// process's life when GOSSIPKV_CPUPROFILE names a directory: the
// harness's processes are killed rather than stopped (servers by SIGKILL),
// so a profile stops on a timer, or when the process stops first.
package cpuprofile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// FromEnv starts a profile of this process, named NAME.cpu.prof in the
// directory GOSSIPKV_CPUPROFILE names, for GOSSIPKV_PROFILE_SECONDS
// seconds (default 10). Without the variable it does nothing. Call stop
// before exiting; it may be called more than once.
func FromEnv(name string) (stop func(), err error) {
	dir := os.Getenv("GOSSIPKV_CPUPROFILE")
	if dir == "" {
		return func() {}, nil
	}
	secs := 10
	if s := os.Getenv("GOSSIPKV_PROFILE_SECONDS"); s != "" {
		if secs, err = strconv.Atoi(s); err != nil || secs <= 0 {
			return nil, fmt.Errorf("GOSSIPKV_PROFILE_SECONDS=%q: want a whole number of seconds above 0", s)
		}
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu.prof"))
	if err != nil {
		return nil, fmt.Errorf("GOSSIPKV_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("GOSSIPKV_CPUPROFILE: %w", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
	time.AfterFunc(time.Duration(secs)*time.Second, stop)
	return stop, nil
}
