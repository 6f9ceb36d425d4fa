package storage

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data and the metadata needed to read it (its
// size), not its timestamps: what bbolt does on Linux too.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
