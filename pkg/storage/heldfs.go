package storage

import (
	"io"
	"os"
)

// heldFS is the operating system's file system, except that a log
// segment's writes stay in the process until they are synced: a process
// killed before its datasync loses them, as a machine that loses power
// loses the page cache. A SIGKILL leaves the page cache alone, so without
// this a harness that kills servers cannot tell a missing fdatasync from a
// present one. The bbolt file is not held: bbolt syncs every transaction it
// commits, and a kill loses its uncommitted one either way.
type heldFS struct{}

// heldFile is an open segment: the file as the operating system has it,
// and after its end the bytes written since the last sync.
type heldFile struct {
	f       *os.File
	pending []byte
}

func (heldFS) openFile(path string, flag int, perm os.FileMode) (segmentFile, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return &heldFile{f: f}, nil
}

func (heldFS) datasync(f segmentFile) error {
	h := f.(*heldFile)
	if err := h.flush(); err != nil {
		return err
	}
	return fdatasync(h.f)
}

func (heldFS) syncDir(dir string) error { return syncDir(dir) }

// flush hands the held bytes to the operating system.
func (h *heldFile) flush() error {
	if len(h.pending) == 0 {
		return nil
	}
	if _, err := h.f.Write(h.pending); err != nil {
		return err
	}
	h.pending = h.pending[:0]
	return nil
}

// onDisk is the size of the file as the operating system has it.
func (h *heldFile) onDisk() (int64, error) {
	st, err := h.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Write appends p (segments are opened O_APPEND).
func (h *heldFile) Write(p []byte) (int, error) {
	h.pending = append(h.pending, p...)
	return len(p), nil
}

func (h *heldFile) ReadAt(p []byte, off int64) (int, error) {
	disk, err := h.onDisk()
	if err != nil {
		return 0, err
	}
	n := 0
	if off < disk {
		n, err = h.f.ReadAt(p[:min(int64(len(p)), disk-off)], off)
		if err != nil && err != io.EOF {
			return n, err
		}
	}
	if n < len(p) {
		at := off + int64(n) - disk
		if at >= int64(len(h.pending)) {
			return n, io.EOF
		}
		n += copy(p[n:], h.pending[at:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Truncate cuts what is held first; a cut below the operating system's
// end drops everything held and goes to the file.
func (h *heldFile) Truncate(size int64) error {
	disk, err := h.onDisk()
	if err != nil {
		return err
	}
	if size >= disk {
		if held := size - disk; held <= int64(len(h.pending)) {
			h.pending = h.pending[:held]
		} else {
			h.pending = append(h.pending, make([]byte, held-int64(len(h.pending)))...)
		}
		return nil
	}
	h.pending = h.pending[:0]
	return h.f.Truncate(size)
}

func (h *heldFile) Stat() (os.FileInfo, error) {
	st, err := h.f.Stat()
	if err != nil {
		return nil, err
	}
	return heldInfo{FileInfo: st, size: st.Size() + int64(len(h.pending))}, nil
}

// Close hands what is held to the operating system: a process that
// closes its files in order has lost nothing.
func (h *heldFile) Close() error {
	err := h.flush()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// heldInfo is a segment's FileInfo, its size counting what is held.
type heldInfo struct {
	os.FileInfo
	size int64
}

func (i heldInfo) Size() int64 { return i.size }
