package script

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is a script command.
type Kind int

const (
	JoinServer Kind = iota
	KillServer
	JoinClient
	BreakConnection
	CreateConnection
	Stabilize
	PrintStore
	Put
	Get
	Delete
	SkewClock
	PauseServer
	ResumeServer
	CAS
)

// Command is one parsed script line.
type Command struct {
	Line int    // 1-based line number in the script
	Text string // the line with leading and trailing blank space removed
	Kind Kind
	// IDs are the numeric arguments in the order they appear: joinServer ID;
	// killServer ID; joinClient CID SID; breakConnection A B;
	// createConnection A B; printStore SID; put CID; get CID; delete CID.
	IDs []uint32
	// Key and Value of put, get, delete and cas (Value for put and cas
	// only), unquoted; Old is what a cas expects the key to hold.
	Key, Value, Old []byte
	// Skew of skewClock: how far the server's clock is shifted (0: set
	// right).
	Skew time.Duration
}

// syntax describes one command: its name as written in scripts, what its
// ids are called in error messages, and whether it takes a key and a value.
// The argument list in errors ("CID KEY VALUE") comes from here too, so the
// messages cannot drift from the parser.
type syntax struct {
	name     string
	ids      []string // role of each id: "server id", "client id", "id"
	args     string   // argument names for "takes N arguments (ARGS)"
	key, val bool
	old      bool // an expected value comes between key and value (cas)
	dur      bool // a duration follows the ids (skewClock)
}

var syntaxes = [...]syntax{
	JoinServer:       {name: "joinServer", ids: []string{"server id"}, args: "ID"},
	KillServer:       {name: "killServer", ids: []string{"server id"}, args: "ID"},
	JoinClient:       {name: "joinClient", ids: []string{"client id", "server id"}, args: "CID SID"},
	BreakConnection:  {name: "breakConnection", ids: []string{"id", "id"}, args: "A B"},
	CreateConnection: {name: "createConnection", ids: []string{"id", "id"}, args: "A B"},
	Stabilize:        {name: "stabilize"},
	PrintStore:       {name: "printStore", ids: []string{"server id"}, args: "SID"},
	Put:              {name: "put", ids: []string{"client id"}, args: "CID KEY VALUE", key: true, val: true},
	Get:              {name: "get", ids: []string{"client id"}, args: "CID KEY", key: true},
	Delete:           {name: "delete", ids: []string{"client id"}, args: "CID KEY", key: true},
	SkewClock:        {name: "skewClock", ids: []string{"server id"}, args: "SID DURATION", dur: true},
	PauseServer:      {name: "pauseServer", ids: []string{"server id"}, args: "SID"},
	ResumeServer:     {name: "resumeServer", ids: []string{"server id"}, args: "SID"},
	CAS:              {name: "cas", ids: []string{"client id"}, args: "CID KEY OLD NEW", key: true, old: true, val: true},
}

func (s syntax) arity() int {
	n := len(s.ids)
	if s.key {
		n++
	}
	if s.val {
		n++
	}
	if s.old {
		n++
	}
	if s.dur {
		n++
	}
	return n
}

// String is the command's name as written in a script.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(syntaxes) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return syntaxes[k].name
}

// Format renders c as a script line that ParseLine reads back to the same
// Kind, IDs, Key and Value. Keys and values are quoted only when a bare field
// could not carry them, so ordinary commands stay readable in transcripts.
func Format(c Command) string {
	var b strings.Builder
	b.WriteString(c.Kind.String())
	for _, id := range c.IDs {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(id), 10))
	}
	if syntaxes[c.Kind].key {
		b.WriteByte(' ')
		b.WriteString(formatField(c.Key))
	}
	if syntaxes[c.Kind].old {
		b.WriteByte(' ')
		b.WriteString(formatField(c.Old))
	}
	if syntaxes[c.Kind].val {
		b.WriteByte(' ')
		b.WriteString(formatField(c.Value))
	}
	if syntaxes[c.Kind].dur {
		b.WriteByte(' ')
		b.WriteString(FormatSkew(c.Skew))
	}
	return b.String()
}

// FormatSkew writes a skew as skewClock reads it: signed ("+750ms",
// "-2s"), or "0".
func FormatSkew(d time.Duration) string {
	if d > 0 {
		return "+" + d.String()
	}
	if d == 0 {
		return "0"
	}
	return d.String()
}

// formatField returns f bare when it reads back as itself, else quoted.
func formatField(f []byte) string {
	if needsQuote(f) {
		return strconv.Quote(string(f))
	}
	return string(f)
}

func needsQuote(f []byte) bool {
	if len(f) == 0 || f[0] == '"' || f[0] == '#' || !utf8.Valid(f) {
		return true
	}
	for _, r := range string(f) {
		// Blank bytes would split the field; other unprintable runes would
		// read back fine but make transcripts ambiguous to a human.
		if isBlank(r) || !strconv.IsPrint(r) {
			return true
		}
	}
	return false
}
