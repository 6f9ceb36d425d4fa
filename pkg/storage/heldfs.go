package storage

import (
	"io"
	"os"
	"slices"
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
// and over it the writes made since the last sync, in order.
type heldFile struct {
	f       *os.File
	pending []heldWrite
}

// heldWrite is one write not yet handed to the operating system.
type heldWrite struct {
	off  int64
	data []byte
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

// flush hands the held writes to the operating system.
func (h *heldFile) flush() error {
	for i, w := range h.pending {
		if _, err := h.f.WriteAt(w.data, w.off); err != nil {
			h.pending = slices.Delete(h.pending, 0, i)
			return err
		}
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

// size is the file's size with the held writes.
func (h *heldFile) size() (int64, error) {
	n, err := h.onDisk()
	for _, w := range h.pending {
		n = max(n, w.off+int64(len(w.data)))
	}
	return n, err
}

// WriteAt holds a copy of p, to be written at off.
func (h *heldFile) WriteAt(p []byte, off int64) (int, error) {
	h.pending = append(h.pending, heldWrite{off, slices.Clone(p)})
	return len(p), nil
}

// ReadAt reads the file as the process sees it: the operating system's
// bytes (zeros past its end), with the held writes over them.
func (h *heldFile) ReadAt(p []byte, off int64) (int, error) {
	size, err := h.size()
	if err != nil {
		return 0, err
	}
	n := int(max(0, min(int64(len(p)), size-off)))
	clear(p[:n])
	if _, err := h.f.ReadAt(p[:n], off); err != nil && err != io.EOF {
		return 0, err
	}
	for _, w := range h.pending {
		lo, hi := max(off, w.off), min(off+int64(n), w.off+int64(len(w.data)))
		if lo < hi {
			copy(p[lo-off:hi-off], w.data[lo-w.off:hi-w.off])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Truncate cuts what is held, and the file if it is longer; a file made
// longer gets zeros, held like a write.
func (h *heldFile) Truncate(size int64) error {
	kept := h.pending[:0]
	for _, w := range h.pending {
		if w.off < size {
			w.data = w.data[:min(int64(len(w.data)), size-w.off)]
			kept = append(kept, w)
		}
	}
	h.pending = kept
	// What is left may end short of size (a cut into a gap between held
	// writes): the file is size long all the same.
	cur, err := h.size()
	if err != nil {
		return err
	}
	if size > cur {
		h.pending = append(h.pending, heldWrite{cur, make([]byte, size-cur)})
		return nil
	}
	disk, err := h.onDisk()
	if err != nil || size >= disk {
		return err
	}
	return h.f.Truncate(size)
}

func (h *heldFile) Stat() (os.FileInfo, error) {
	st, err := h.f.Stat()
	if err != nil {
		return nil, err
	}
	size, err := h.size()
	if err != nil {
		return nil, err
	}
	return heldInfo{FileInfo: st, size: size}, nil
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
