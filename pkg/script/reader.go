package script

import (
	"bufio"
	"bytes"
	"io"
)

// Reader reads the commands of a script one at a time, skipping blank lines
// and comments. Lines may be of any length: bufio.Scanner is not used
// because its token limit (64 KB by default) would reject a line carrying a
// large value.
type Reader struct {
	br   *bufio.Reader
	line int    // number of the last line read
	buf  []byte // the current line, reused between lines
	err  error  // the read error (io.EOF at the end) that ends the script
}

// NewReader returns a Reader of the script in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next command. A bad line gives a *Error, and the next
// call goes on with the line after it. At the end of the script Next
// returns io.EOF; a failed read returns the reader's error.
func (r *Reader) Next() (Command, error) {
	for {
		line, ok := r.readLine()
		if !ok {
			return Command{}, r.err
		}
		cmd, ok, err := ParseLine(r.line, string(line))
		if err != nil {
			return Command{}, err
		}
		if ok {
			return cmd, nil
		}
	}
}

// readLine returns the next line without its "\n" or "\r\n", or false when
// there is none. The returned slice is valid until the next call.
func (r *Reader) readLine() ([]byte, bool) {
	if r.err != nil {
		return nil, false
	}
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			r.err = err
			if len(r.buf) == 0 {
				return nil, false // nothing after the last newline
			}
		}
		break
	}
	r.line++
	line := bytes.TrimSuffix(r.buf, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, true
}
