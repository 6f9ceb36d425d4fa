package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames_RoundTripAndTheirEnds(t *testing.T) {
	var b bytes.Buffer
	for _, p := range [][]byte{[]byte("one"), nil, bytes.Repeat([]byte("x"), 70000)} {
		if err := Write(&b, p); err != nil {
			t.Fatal(err)
		}
	}
	whole := b.Bytes()
	r := bytes.NewReader(whole)
	for i, want := range []int{3, 0, 70000} {
		got, err := Read(r, 1<<20)
		if err != nil || len(got) != want {
			t.Fatalf("frame %d: %d bytes, %v; want %d", i, len(got), err, want)
		}
	}
	if _, err := Read(r, 1<<20); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	if _, err := Read(bytes.NewReader(whole[:5]), 1<<20); !errors.Is(err, ErrCutShort) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut inside the first frame's bytes: %v, want ErrCutShort and io.ErrUnexpectedEOF", err)
	}
	if _, err := Read(bytes.NewReader(whole[:2]), 1<<20); err != io.ErrUnexpectedEOF {
		t.Errorf("cut inside a length: %v, want io.ErrUnexpectedEOF (and not ErrCutShort)", err)
	}
	if _, err := Read(bytes.NewReader(whole), 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 3-byte frame with a limit of 2: %v, want ErrTooLarge", err)
	}
}
