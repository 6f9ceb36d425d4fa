package main

import "golang.org/x/sys/unix"

// foreground reports whether this process's group is the foreground one of
// the terminal fd: only then may it read it and change its modes (a
// background job that tries is stopped by SIGTTIN or SIGTTOU).
func foreground(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
