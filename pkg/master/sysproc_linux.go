package master

import "syscall"

// childAttr puts a started process in its own process group, so that a
// terminal's ^C reaches only the master (which then stops servers before
// their watchdogs), and has the kernel SIGKILL it if the master dies
// without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
