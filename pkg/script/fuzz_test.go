package script

import (
	"errors"
	"testing"
)

// FuzzParseLine checks that no line panics the parser, that errors are
// well-formed, and that every command Format renders parses back to itself.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"joinServer 0", "joinClient 5 0", "stabilize", "printStore 1",
		`put 5 "a b\n\x00" v`, "get 5 k", "# comment", `put 5 "\u00e9`, "stablize",
		"put 4294967296 k v", `put 5 k ""`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, ok, err := ParseLine(3, line)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Line != 3 || se.Msg == "" || ok {
				t.Fatalf("ParseLine(%q) = %v, %v: want a *Error on line 3", line, ok, err)
			}
			return
		}
		if !ok {
			if text := trimBlank(line); text != "" && text[0] != '#' {
				t.Fatalf("ParseLine(%q) skipped a line that is neither blank nor a comment", line)
			}
			return
		}
		if len(cmd.Key) == 0 && (cmd.Kind == Put || cmd.Kind == Get) {
			t.Fatalf("ParseLine(%q) accepted an empty key", line)
		}
		s := Format(cmd)
		again, ok, err := ParseLine(3, s)
		if err != nil || !ok {
			t.Fatalf("ParseLine(%q) = %v, %v for Format of %q", s, ok, err, line)
		}
		if !sameCommand(again, cmd) {
			t.Fatalf("round trip of %q through %q: got %#v, want %#v", line, s, again, cmd)
		}
		if s2 := Format(again); s2 != s {
			t.Fatalf("Format is not stable: %q then %q", s, s2)
		}
	})
}
