package script

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestKind_String(t *testing.T) {
	want := []string{"joinServer", "killServer", "joinClient", "breakConnection",
		"createConnection", "stabilize", "printStore", "put", "get", "delete",
		"skewClock", "pauseServer", "resumeServer", "cas"}
	for k, name := range want {
		if got := Kind(k).String(); got != name {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, name)
		}
	}
	if got := Kind(len(want)).String(); got != "Kind(14)" {
		t.Errorf("out-of-range Kind.String() = %q", got)
	}
}

func TestParseLine_Commands(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"joinServer 0", Command{Kind: JoinServer, IDs: []uint32{0}}},
		{"killServer 3", Command{Kind: KillServer, IDs: []uint32{3}}},
		{"joinClient 5 1", Command{Kind: JoinClient, IDs: []uint32{5, 1}}},
		{"breakConnection 0 1", Command{Kind: BreakConnection, IDs: []uint32{0, 1}}},
		{"createConnection 5 2", Command{Kind: CreateConnection, IDs: []uint32{5, 2}}},
		{"stabilize", Command{Kind: Stabilize}},
		{"printStore 4", Command{Kind: PrintStore, IDs: []uint32{4}}},
		{"put 5 k v", Command{Kind: Put, IDs: []uint32{5}, Key: []byte("k"), Value: []byte("v")}},
		{"cas 5 k old new", Command{Kind: CAS, IDs: []uint32{5}, Key: []byte("k"), Old: []byte("old"), Value: []byte("new")}},
		{`cas 5 k "" "a b"`, Command{Kind: CAS, IDs: []uint32{5}, Key: []byte("k"), Old: []byte{}, Value: []byte("a b")}},
		{"get 9 k", Command{Kind: Get, IDs: []uint32{9}, Key: []byte("k")}},
		{"delete 9 k", Command{Kind: Delete, IDs: []uint32{9}, Key: []byte("k")}},
		{`delete 9 "a b"`, Command{Kind: Delete, IDs: []uint32{9}, Key: []byte("a b")}},
		{"skewClock 2 +750ms", Command{Kind: SkewClock, IDs: []uint32{2}, Skew: 750 * time.Millisecond}},
		{"skewClock 2 -2s", Command{Kind: SkewClock, IDs: []uint32{2}, Skew: -2 * time.Second}},
		{"skewClock 2 1m30s", Command{Kind: SkewClock, IDs: []uint32{2}, Skew: 90 * time.Second}},
		{"skewClock 2 0", Command{Kind: SkewClock, IDs: []uint32{2}}},
		{"pauseServer 1", Command{Kind: PauseServer, IDs: []uint32{1}}},
		{"resumeServer 1", Command{Kind: ResumeServer, IDs: []uint32{1}}},
		// Largest id; leading zeros are just decimal.
		{"joinServer 4294967295", Command{Kind: JoinServer, IDs: []uint32{4294967295}}},
		{"joinServer 007", Command{Kind: JoinServer, IDs: []uint32{7}}},
		// Runs of blank space, leading and trailing, tabs, CR.
		{"  \tput \t 5   k\t\tv  \r", Command{Kind: Put, IDs: []uint32{5}, Key: []byte("k"), Value: []byte("v")}},
		// Quoted fields: spaces, escapes, NUL, empty value, unicode.
		{`put 5 "a b" "c\td"`, Command{Kind: Put, IDs: []uint32{5}, Key: []byte("a b"), Value: []byte("c\td")}},
		{`put 5 "\x00\xff" "\n"`, Command{Kind: Put, IDs: []uint32{5}, Key: []byte{0, 0xff}, Value: []byte("\n")}},
		{`put 5 k ""`, Command{Kind: Put, IDs: []uint32{5}, Key: []byte("k"), Value: []byte{}}},
		{`put 5 "\u00e9\U0001F600" "\101\"\\"`, Command{Kind: Put, IDs: []uint32{5}, Key: []byte("é😀"), Value: []byte(`A"\`)}},
		{`get 5 "#not a comment"`, Command{Kind: Get, IDs: []uint32{5}, Key: []byte("#not a comment")}},
		// Raw bytes inside quotes are kept, even invalid UTF-8.
		{"put 5 \"\xff\xfe\" v", Command{Kind: Put, IDs: []uint32{5}, Key: []byte{0xff, 0xfe}, Value: []byte("v")}},
		// A quote inside a bare field, '#' after the first field, Unicode
		// spaces and NUL bytes are ordinary characters.
		{`put 5 {"a":1} x"y`, Command{Kind: Put, IDs: []uint32{5}, Key: []byte(`{"a":1}`), Value: []byte(`x"y`)}},
		{"put 5 #k v#", Command{Kind: Put, IDs: []uint32{5}, Key: []byte("#k"), Value: []byte("v#")}},
		{"put 5 a\u00a0b c\x00d", Command{Kind: Put, IDs: []uint32{5}, Key: []byte("a\u00a0b"), Value: []byte("c\x00d")}},
		// Any field may be quoted, the name and ids included.
		{`"stabilize"`, Command{Kind: Stabilize}},
		{`get "5" k`, Command{Kind: Get, IDs: []uint32{5}, Key: []byte("k")}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok, err := ParseLine(7, tt.line)
			if err != nil || !ok {
				t.Fatalf("ParseLine(%q) = ok %v, err %v", tt.line, ok, err)
			}
			tt.want.Line = 7
			tt.want.Text = strings.Trim(tt.line, " \t\r")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLine(%q)\n got %#v\nwant %#v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseLine_SkipsBlankAndComments(t *testing.T) {
	for _, line := range []string{"", "   ", "\t\r", "# a comment", "   #put 5 k v", "#", "\v\f"} {
		cmd, ok, err := ParseLine(1, line)
		if ok || err != nil || !reflect.DeepEqual(cmd, Command{}) {
			t.Errorf("ParseLine(%q) = %#v, %v, %v; want skipped", line, cmd, ok, err)
		}
	}
}

func TestParseLine_Errors(t *testing.T) {
	tests := []struct {
		line, msg string
	}{
		// Unknown commands, with and without a suggestion.
		{"stablize", `unknown command "stablize" (did you mean "stabilize"?)`},
		{"putt 5 k v", `unknown command "putt" (did you mean "put"?)`},
		{"cas 5 k v", `cas takes 4 arguments (CID KEY OLD NEW), got 3`},
		{"joinserver 1", `unknown command "joinserver" (did you mean "joinServer"? command names are case-sensitive)`},
		{"STABILIZE", `unknown command "STABILIZE" (did you mean "stabilize"? command names are case-sensitive)`},
		{"frobnicate 1", `unknown command "frobnicate"`},
		{`"" 1`, `unknown command ""`},
		// Wrong number of fields, for every command.
		{"joinServer", "joinServer takes 1 argument (ID), got 0"},
		{"killServer 1 2", "killServer takes 1 argument (ID), got 2"},
		{"joinClient 5", "joinClient takes 2 arguments (CID SID), got 1"},
		{"breakConnection 1", "breakConnection takes 2 arguments (A B), got 1"},
		{"createConnection 1 2 3", "createConnection takes 2 arguments (A B), got 3"},
		{"stabilize now", "stabilize takes no arguments, got 1"},
		{"printStore", "printStore takes 1 argument (SID), got 0"},
		{"put 5 k", "put takes 3 arguments (CID KEY VALUE), got 2"},
		{"delete 5 k v", "delete takes 2 arguments (CID KEY), got 3"},
		{`put 5 "a b"`, "put takes 3 arguments (CID KEY VALUE), got 2"},
		{"put 5 k v w", "put takes 3 arguments (CID KEY VALUE), got 4"},
		{"get 5", "get takes 2 arguments (CID KEY), got 1"},
		{"skewClock 1", "skewClock takes 2 arguments (SID DURATION), got 1"},
		{"pauseServer", "pauseServer takes 1 argument (SID), got 0"},
		{"resumeServer 1 2", "resumeServer takes 1 argument (SID), got 2"},
		{"skewClock 1 750", `duration "750" is not a duration: want a signed number and a unit (ns, us, ms, s, m, h), e.g. +750ms or -2s, or 0`},
		{"skewClock 1 2d", `duration "2d" is not a duration: want a signed number and a unit (ns, us, ms, s, m, h), e.g. +750ms or -2s, or 0`},
		{"skewClock 1 -25h", `duration "-25h" is out of range (at most 24h0m0s either way)`},
		{"skewClock x 1s", `server id "x" is not a non-negative integer`},
		// Ids that are not non-negative 32-bit integers, named by role.
		{"put -1 k v", `client id "-1" is not a non-negative integer`},
		{"joinServer x", `server id "x" is not a non-negative integer`},
		{"joinClient 5 +1", `server id "+1" is not a non-negative integer`},
		{"breakConnection 0x1 2", `id "0x1" is not a non-negative integer`},
		{"createConnection 1 1.5", `id "1.5" is not a non-negative integer`},
		{"printStore 1_000", `server id "1_000" is not a non-negative integer`},
		{`get "" k`, `client id "" is not a non-negative integer`},
		{"killServer 4294967296", `server id "4294967296" is out of range (at most 4294967295)`},
		{"killServer 99999999999999999999999", `server id "99999999999999999999999" is out of range (at most 4294967295)`},
		// Keys.
		{`put 5 "" v`, "key must not be empty"},
		{`get 5 ""`, "key must not be empty"},
		// Bad quoted strings.
		{`put 5 "abc v`, "unterminated quoted string starting at column 7"},
		{`put 5 k "abc\"`, "unterminated quoted string starting at column 9"},
		{`put 5 "a\qb" v`, `bad escape \q in quoted string at column 9`},
		{`put 5 "\x4" v`, `bad escape \x4 in quoted string at column 8`},
		{`put 5 "\ud800" v`, `bad escape \ud800 in quoted string at column 8`},
		{`put 5 "\'" v`, `bad escape \' in quoted string at column 8`},
		{`put 5 "\400" v`, `bad escape \400 in quoted string at column 8`},
		{"put 5 \"\\\x01\" v", `bad escape "\\\x01" in quoted string at column 8`},
		{`put 5 "a"b v`, `quoted string ending at column 9 is followed by "b": put blank space after the closing quote`},
		{`put 5 "a""b" v`, `quoted string ending at column 9 is followed by "\"": put blank space after the closing quote`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, ok, err := ParseLine(12, "  "+tt.line+"  ")
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("ParseLine(%q) = %#v, %v, %v; want *Error", tt.line, cmd, ok, err)
			}
			if ok {
				t.Errorf("ok = true with an error")
			}
			want := &Error{Line: 12, Text: tt.line, Msg: tt.msg}
			if *se != *want {
				t.Errorf("ParseLine(%q) error\n got %#v\nwant %#v", tt.line, se, want)
			}
			if s, w := err.Error(), fmt.Sprintf("line 12: %s: %s", tt.msg, tt.line); s != w {
				t.Errorf("Error() = %q, want %q", s, w)
			}
		})
	}
}

func TestError_LongLineIsClipped(t *testing.T) {
	val := strings.Repeat("v", 3<<20)
	line := "put 5 k " + val + " extra"
	_, _, err := ParseLine(4, line)
	if err == nil {
		t.Fatal("no error for 4 fields")
	}
	msg := err.Error()
	if len(msg) > 400 {
		t.Errorf("error message is %d bytes, want it clipped", len(msg))
	}
	want := fmt.Sprintf("line 4: put takes 3 arguments (CID KEY VALUE), got 4: %s... (%d bytes)", line[:200], len(line))
	if msg != want {
		t.Errorf("Error() = %q, want %q", msg, want)
	}
	// A huge id is clipped inside the message too.
	_, _, err = ParseLine(5, "joinServer "+val)
	if msg := err.Error(); len(msg) > 400 || !strings.Contains(msg, fmt.Sprintf(`"%s"... (%d bytes) is not a non-negative integer`, val[:40], len(val))) {
		t.Errorf("Error() = %.500q", msg)
	}
}

func TestError_ClipKeepsUTF8(t *testing.T) {
	// 199 ASCII bytes then a 3-byte rune straddling byte 200.
	text := strings.Repeat("a", 199) + "€" + "tail"
	e := &Error{Line: 1, Text: text, Msg: "m"}
	want := "line 1: m: " + strings.Repeat("a", 199) + fmt.Sprintf("... (%d bytes)", len(text))
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseLine_FiveMegabyteValue(t *testing.T) {
	val := bytes.Repeat([]byte("0123456789"), 512<<10) // 5 MiB
	for _, line := range []string{
		"put 5 big " + string(val),
		Format(Command{Kind: Put, IDs: []uint32{5}, Key: []byte("big"), Value: val}),
		`put 5 big "` + string(val) + `"`,
	} {
		cmd, ok, err := ParseLine(1, line)
		if err != nil || !ok {
			t.Fatalf("ParseLine: ok %v, err %v", ok, err)
		}
		if !bytes.Equal(cmd.Value, val) || string(cmd.Key) != "big" {
			t.Errorf("5 MiB value did not round-trip (got %d bytes)", len(cmd.Value))
		}
	}
}

func TestFormat_RoundTrip(t *testing.T) {
	cmds := []Command{
		{Kind: JoinServer, IDs: []uint32{0}},
		{Kind: KillServer, IDs: []uint32{4294967295}},
		{Kind: JoinClient, IDs: []uint32{5, 0}},
		{Kind: BreakConnection, IDs: []uint32{1, 2}},
		{Kind: CreateConnection, IDs: []uint32{2, 1}},
		{Kind: Stabilize},
		{Kind: PrintStore, IDs: []uint32{3}},
		{Kind: Put, IDs: []uint32{5}, Key: []byte("k"), Value: []byte("v")},
		{Kind: Put, IDs: []uint32{5}, Key: []byte("a b"), Value: []byte{}},
		{Kind: Put, IDs: []uint32{5}, Key: []byte{0, 0xff, '\n', '"'}, Value: []byte("#x\u00a0y")},
		{Kind: Put, IDs: []uint32{5}, Key: []byte(`"q`), Value: []byte(`{"a":1}`)},
		{Kind: Get, IDs: []uint32{6}, Key: []byte("é")},
		{Kind: SkewClock, IDs: []uint32{1}, Skew: 750 * time.Millisecond},
		{Kind: SkewClock, IDs: []uint32{1}, Skew: -2 * time.Second},
		{Kind: SkewClock, IDs: []uint32{1}},
		{Kind: PauseServer, IDs: []uint32{2}},
		{Kind: ResumeServer, IDs: []uint32{2}},
		{Kind: CAS, IDs: []uint32{5}, Key: []byte("k"), Old: []byte("a b"), Value: []byte{}},
	}
	wantText := []string{
		"joinServer 0", "killServer 4294967295", "joinClient 5 0", "breakConnection 1 2",
		"createConnection 2 1", "stabilize", "printStore 3", "put 5 k v", `put 5 "a b" ""`,
		`put 5 "\x00\xff\n\"" "#x\u00a0y"`, `put 5 "\"q" {"a":1}`, "get 6 é",
		"skewClock 1 +750ms", "skewClock 1 -2s", "skewClock 1 0", "pauseServer 2", "resumeServer 2",
		`cas 5 k "a b" ""`,
	}
	for i, c := range cmds {
		s := Format(c)
		if s != wantText[i] {
			t.Errorf("Format(%v) = %q, want %q", c, s, wantText[i])
		}
		got, ok, err := ParseLine(1, s)
		if err != nil || !ok {
			t.Fatalf("ParseLine(Format(%v)) = %v, %v", c, ok, err)
		}
		if !sameCommand(got, c) {
			t.Errorf("ParseLine(%q) = %#v, want %#v", s, got, c)
		}
	}
}

// sameCommand compares what a command means, not where it came from.
func sameCommand(a, b Command) bool {
	return a.Kind == b.Kind && reflect.DeepEqual(a.IDs, b.IDs) &&
		bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) && bytes.Equal(a.Old, b.Old) && a.Skew == b.Skew
}

func TestReader_ContinuesAfterBadLines(t *testing.T) {
	script := "# setup\r\n" +
		"joinServer 0\r\n" +
		"\n" +
		"stablize\n" +
		"   \t\n" +
		"put 5 k\n" +
		"put 5 \"a b\" \"c\\r\"\r\n" +
		"get 5 \"unterminated\n" +
		"stabilize" // no final newline
	type step struct {
		line int
		kind Kind
		msg  string // non-empty for a bad line
	}
	want := []step{
		{2, JoinServer, ""},
		{4, 0, `unknown command "stablize" (did you mean "stabilize"?)`},
		{6, 0, "put takes 3 arguments (CID KEY VALUE), got 2"},
		{7, Put, ""},
		{8, 0, "unterminated quoted string starting at column 7"},
		{9, Stabilize, ""},
	}
	// OneByteReader makes every line cross many reads.
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(script),
		"one byte": iotest.OneByteReader(strings.NewReader(script)),
	} {
		t.Run(name, func(t *testing.T) {
			sr := NewReader(r)
			for _, w := range want {
				cmd, err := sr.Next()
				if w.msg != "" {
					var se *Error
					if !errors.As(err, &se) || se.Line != w.line || se.Msg != w.msg {
						t.Fatalf("want error %q on line %d, got %v", w.msg, w.line, err)
					}
					continue
				}
				if err != nil || cmd.Line != w.line || cmd.Kind != w.kind {
					t.Fatalf("want %v on line %d, got %#v, %v", w.kind, w.line, cmd, err)
				}
				if strings.ContainsAny(cmd.Text, "\r\n") {
					t.Errorf("line %d: Text %q keeps the line ending", w.line, cmd.Text)
				}
				if cmd.Kind == Put && (string(cmd.Key) != "a b" || string(cmd.Value) != "c\r") {
					t.Errorf("put = %q %q", cmd.Key, cmd.Value)
				}
			}
			for range 2 {
				if cmd, err := sr.Next(); err != io.EOF {
					t.Fatalf("after the last line: %#v, %v; want io.EOF", cmd, err)
				}
			}
		})
	}
}

func TestReader_HugeLines(t *testing.T) {
	val := strings.Repeat("x", 5<<20)
	script := "put 5 a " + val + "\nget 5 a\nput 5 b \"" + val + "\"\r\n"
	sr := NewReader(strings.NewReader(script))
	for i, want := range []struct {
		line int
		kind Kind
		val  int
	}{{1, Put, len(val)}, {2, Get, 0}, {3, Put, len(val)}} {
		cmd, err := sr.Next()
		if err != nil || cmd.Line != want.line || cmd.Kind != want.kind || len(cmd.Value) != want.val {
			t.Fatalf("command %d: line %d %v, %d-byte value, err %v", i, cmd.Line, cmd.Kind, len(cmd.Value), err)
		}
	}
	if _, err := sr.Next(); err != io.EOF {
		t.Fatalf("want io.EOF, got %v", err)
	}
}

func TestReader_ValuesDoNotAliasBuffer(t *testing.T) {
	sr := NewReader(strings.NewReader("put 5 k1 v1\nput 5 k2 v2\n"))
	first, err := sr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	if string(first.Key) != "k1" || string(first.Value) != "v1" || first.Text != "put 5 k1 v1" {
		t.Errorf("first command changed after the next read: %q %q %q", first.Key, first.Value, first.Text)
	}
}

func TestReader_ReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("stabilize\nprintStore 1"), iotest.ErrReader(boom))
	sr := NewReader(r)
	if cmd, err := sr.Next(); err != nil || cmd.Kind != Stabilize {
		t.Fatalf("first: %v, %v", cmd, err)
	}
	// The partial last line is still a command, then the error.
	if cmd, err := sr.Next(); err != nil || cmd.Kind != PrintStore || cmd.Line != 2 {
		t.Fatalf("second: %v, %v", cmd, err)
	}
	if _, err := sr.Next(); !errors.Is(err, boom) {
		t.Fatalf("want the read error, got %v", err)
	}
}

func TestReader_Empty(t *testing.T) {
	for _, s := range []string{"", "\n\n", "# only\r\n#comments"} {
		if cmd, err := NewReader(strings.NewReader(s)).Next(); err != io.EOF {
			t.Errorf("script %q: %#v, %v; want io.EOF", s, cmd, err)
		}
	}
}
