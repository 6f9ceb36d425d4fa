// Package frame reads and writes length-prefixed frames on a stream: a
// 4-byte big-endian length, then that many bytes. The servers' data
// streams carry their batches in frames, and so do the floor's peers.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// ErrTooLarge is Read's error for a frame longer than its limit: a
// length prefix that large means garbage, and the reader drops the stream
// rather than allocate what it announces.
var ErrTooLarge = errors.New("frame: larger than the limit")

// ErrCutShort wraps Read's error when the stream failed inside a frame's
// bytes, after its length: the writer or the stream broke mid-frame.
var ErrCutShort = errors.New("frame: cut short")

// Write writes payload as one frame, in one write where w is a network
// connection (writev of the length and the payload).
func Write(w io.Writer, payload []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	bufs := net.Buffers{hdr[:], payload}
	_, err := bufs.WriteTo(w)
	return err
}

// Read reads one frame of at most max bytes. At the end of the stream
// between frames it returns io.EOF, and inside a length
// io.ErrUnexpectedEOF; an error inside the frame's bytes wraps
// ErrCutShort (and io.ErrUnexpectedEOF for the stream's end).
func Read(r io.Reader, max uint32) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, max)
	}
	buf := make([]byte, n)
	if got, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w after %d of %d bytes: %w", ErrCutShort, got, n, err)
	}
	return buf, nil
}
