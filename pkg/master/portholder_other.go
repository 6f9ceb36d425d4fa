//go:build !linux

package master

// listenerPid cannot tell who listens on a port outside Linux.
func listenerPid(port int) (pid int, comm string, ok bool) { return 0, "", false }
