//go:build !linux

package master

import "syscall"

// childAttr puts a started process in its own process group, so that a
// terminal's ^C reaches only the master. Only Linux can also tie the child's
// life to the master's.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
