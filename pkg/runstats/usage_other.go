//go:build !unix

package runstats

import "os"

// ProcessUsage reports no usage where there is no rusage.
func ProcessUsage(*os.ProcessState) (Usage, bool) { return Usage{}, false }

// SelfUsage reports no usage where there is no rusage.
func SelfUsage() (Usage, bool) { return Usage{}, false }
