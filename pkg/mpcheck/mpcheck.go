package mpcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalid wraps every reason Check refuses its input.
var ErrInvalid = errors.New("mpcheck: invalid msgpack")

// MaxDepth bounds nesting, so that a decoder's recursion stays shallow.
const MaxDepth = 64

// Check reports whether b holds exactly one well-formed msgpack value whose
// declared lengths all fit in b and whose nesting is at most MaxDepth.
func Check(b []byte) error {
	// pending[i] counts the values still expected at depth i.
	pending := []uint64{1}
	i := 0
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		if i >= len(b) {
			return fmt.Errorf("%w: truncated at byte %d", ErrInvalid, i)
		}
		c := b[i]
		i++
		var skip, items uint64 // bytes to skip, values to expect inside
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skip, i, err = length(b, i, 1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skip, i, err = length(b, i, 2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skip, i, err = length(b, i, 4)
		case c == 0xc7, c == 0xc8, c == 0xc9: // ext8/16/32: length, type, data
			skip, i, err = length(b, i, 1<<(c-0xc7))
			skip++
		case c == 0xca:
			skip = 4
		case c == 0xcb:
			skip = 8
		case c >= 0xcc && c <= 0xcf: // uint8..64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int8..64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1..16: type, data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xde: // array16, map16
			items, i, err = length(b, i, 2)
		case c == 0xdd || c == 0xdf: // array32, map32
			items, i, err = length(b, i, 4)
		default: // 0xc1 is never used
			return fmt.Errorf("%w: byte 0x%02x at %d", ErrInvalid, c, i-1)
		}
		if err != nil {
			return err
		}
		if c == 0xde || c == 0xdf {
			items *= 2
		}
		rest := uint64(len(b) - i)
		if skip > rest {
			return fmt.Errorf("%w: %d bytes announced at byte %d, %d left", ErrInvalid, skip, i, rest)
		}
		i += int(skip)
		if items > 0 {
			if items > uint64(len(b)-i) {
				return fmt.Errorf("%w: %d values announced at byte %d, %d bytes left", ErrInvalid, items, i, len(b)-i)
			}
			if len(pending) >= MaxDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrInvalid, MaxDepth)
			}
			pending = append(pending, items)
		}
	}
	if i != len(b) {
		return fmt.Errorf("%w: %d bytes after the value", ErrInvalid, len(b)-i)
	}
	return nil
}

// length reads a big-endian length of n bytes at b[i:].
func length(b []byte, i, n int) (uint64, int, error) {
	if len(b)-i < n {
		return 0, i, fmt.Errorf("%w: truncated length at byte %d", ErrInvalid, i)
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(b[i])
	case 2:
		v = uint64(binary.BigEndian.Uint16(b[i:]))
	case 4:
		v = uint64(binary.BigEndian.Uint32(b[i:]))
	}
	return v, i + n, nil
}
