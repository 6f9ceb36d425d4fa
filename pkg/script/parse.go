package script

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxTextBytes bounds how much of a line an Error quotes, so that a bad line
// carrying a multi-megabyte value stays one readable line on stderr.
const maxTextBytes = 200

// maxFieldBytes bounds how much of one field an error message quotes.
const maxFieldBytes = 40

// Error is one bad line. The master prints it and goes on with the next
// line, so it carries everything a user needs to find and fix the line.
type Error struct {
	Line int    // 1-based line number
	Text string // the whole line as written, trimmed (Error clips it; -echo needs it whole)
	Msg  string // what is wrong
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Msg, clip(e.Text, maxTextBytes))
}

// clip cuts s to at most n bytes (at a rune boundary when s is UTF-8) and
// says how long it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:runeCut(s, n)], len(s))
}

// runeCut returns n, moved back to the start of a rune if s[n] is in the
// middle of one, so a clipped UTF-8 line stays valid UTF-8.
func runeCut(s string, n int) int {
	cut := n
	for cut > n-utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		return n // not UTF-8 anyway
	}
	return cut
}

// quoteField quotes a field for an error message: escaped, so control bytes
// cannot garble the terminal, and clipped.
func quoteField(f string) string {
	if len(f) <= maxFieldBytes {
		return strconv.Quote(f)
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(f[:runeCut(f, maxFieldBytes)]), len(f))
}

// isBlank reports whether r separates fields: ASCII white space only (see
// the package doc for why Unicode spaces are not).
func isBlank(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func trimBlank(s string) string {
	i, j := 0, len(s)
	for i < j && isBlank(rune(s[i])) {
		i++
	}
	for j > i && isBlank(rune(s[j-1])) {
		j--
	}
	return s[i:j]
}

// ParseLine parses one line of a script. It returns ok=false and no error
// for a blank line or a comment. A bad line gives a *Error.
func ParseLine(lineNo int, line string) (cmd Command, ok bool, err error) {
	text := trimBlank(line)
	if text == "" || text[0] == '#' {
		return Command{}, false, nil
	}
	bad := func(format string, args ...any) (Command, bool, error) {
		return Command{}, false, &Error{Line: lineNo, Text: text, Msg: fmt.Sprintf(format, args...)}
	}
	fields, msg := split(text)
	if msg != "" {
		return bad("%s", msg)
	}
	kind, msg := lookupKind(fields[0])
	if msg != "" {
		return bad("%s", msg)
	}
	syn := syntaxes[kind]
	args := fields[1:]
	if n := syn.arity(); len(args) != n {
		switch n {
		case 0:
			return bad("%s takes no arguments, got %d", syn.name, len(args))
		case 1:
			return bad("%s takes 1 argument (%s), got %d", syn.name, syn.args, len(args))
		default:
			return bad("%s takes %d arguments (%s), got %d", syn.name, n, syn.args, len(args))
		}
	}
	cmd = Command{Line: lineNo, Text: text, Kind: kind}
	if len(syn.ids) > 0 {
		cmd.IDs = make([]uint32, len(syn.ids))
	}
	for i, role := range syn.ids {
		id, msg := parseID(role, args[i])
		if msg != "" {
			return bad("%s", msg)
		}
		cmd.IDs[i] = id
	}
	rest := args[len(syn.ids):]
	if syn.key {
		if rest[0] == "" {
			return bad("key must not be empty")
		}
		cmd.Key = []byte(rest[0])
	}
	if syn.old {
		cmd.Old = []byte(rest[1])
		rest = rest[1:]
	}
	if syn.val {
		cmd.Value = []byte(rest[1])
	}
	if syn.dur {
		d, msg := parseSkew(rest[0])
		if msg != "" {
			return bad("%s", msg)
		}
		cmd.Skew = d
	}
	return cmd, true, nil
}

// MaxSkew bounds skewClock's duration: far beyond any offset a server
// tolerates, and far from overflowing a clock in nanoseconds.
const MaxSkew = 24 * time.Hour

// parseSkew reads skewClock's duration: Go's syntax with a unit and an
// optional sign ("+750ms", "-2s", "1m30s"), or a bare 0.
func parseSkew(f string) (time.Duration, string) {
	if f == "0" || f == "+0" || f == "-0" {
		return 0, ""
	}
	d, err := time.ParseDuration(f)
	if err != nil {
		return 0, fmt.Sprintf("duration %s is not a duration: want a signed number and a unit (ns, us, ms, s, m, h), e.g. +750ms or -2s, or 0", quoteField(f))
	}
	if d > MaxSkew || d < -MaxSkew {
		return 0, fmt.Sprintf("duration %s is out of range (at most %v either way)", quoteField(f), MaxSkew)
	}
	return d, ""
}

// parseID accepts decimal digits only: a sign, a base prefix or an
// underscore in an id is far more likely a typo than an intent.
func parseID(role, f string) (uint32, string) {
	if f == "" || strings.TrimLeft(f, "0123456789") != "" {
		return 0, fmt.Sprintf("%s %s is not a non-negative integer", role, quoteField(f))
	}
	id, err := strconv.ParseUint(f, 10, 32)
	if err != nil {
		return 0, fmt.Sprintf("%s %s is out of range (at most %d)", role, quoteField(f), uint64(^uint32(0)))
	}
	return uint32(id), ""
}

// lookupKind finds the command named name, or says what is wrong with it.
func lookupKind(name string) (Kind, string) {
	for k, s := range syntaxes {
		if s.name == name {
			return Kind(k), ""
		}
	}
	msg := fmt.Sprintf("unknown command %s", quoteField(name))
	for _, s := range syntaxes {
		if strings.EqualFold(s.name, name) {
			return 0, fmt.Sprintf("%s (did you mean %q? command names are case-sensitive)", msg, s.name)
		}
	}
	best, bestDist := "", 3
	for _, s := range syntaxes {
		if d := editDistance(name, s.name, bestDist); d < bestDist {
			best, bestDist = s.name, d
		}
	}
	if best != "" {
		return 0, fmt.Sprintf("%s (did you mean %q?)", msg, best)
	}
	return 0, msg
}

// editDistance is the Levenshtein distance between a and b, or limit when it
// is at least limit (which also keeps a multi-megabyte field cheap).
func editDistance(a, b string, limit int) int {
	if len(a)-len(b) >= limit || len(b)-len(a) >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// split cuts a trimmed, non-empty line into its fields, unquoting quoted
// ones. On a bad quoted string it returns a message saying where and why.
func split(text string) (fields []string, msg string) {
	for i := 0; i < len(text); {
		if isBlank(rune(text[i])) {
			i++
			continue
		}
		if text[i] != '"' {
			j := i
			for j < len(text) && !isBlank(rune(text[j])) {
				j++
			}
			fields = append(fields, text[i:j])
			i = j
			continue
		}
		f, end, msg := unquote(text, i)
		if msg != "" {
			return nil, msg
		}
		fields = append(fields, f)
		i = end
	}
	return fields, ""
}

// unquote decodes the quoted string that starts at text[start] == '"' and
// returns it with the index just past its closing quote. Escapes are Go's;
// other bytes are kept as they are, so that no byte is silently replaced
// (strconv.Unquote would turn invalid UTF-8 into U+FFFD).
func unquote(text string, start int) (string, int, string) {
	col := func(i int) int { return i + 1 }
	var b []byte
	i := start + 1
	for {
		if i >= len(text) {
			return "", 0, fmt.Sprintf("unterminated quoted string starting at column %d", col(start))
		}
		c := text[i]
		if c == '"' {
			i++
			break
		}
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		r, multibyte, tail, err := strconv.UnquoteChar(text[i:], '"')
		if err != nil {
			return "", 0, fmt.Sprintf("bad escape %s in quoted string at column %d", showEscape(text[i:]), col(i))
		}
		if r < utf8.RuneSelf || !multibyte {
			b = append(b, byte(r))
		} else {
			b = utf8.AppendRune(b, r)
		}
		i = len(text) - len(tail)
	}
	if i < len(text) && !isBlank(rune(text[i])) {
		return "", 0, fmt.Sprintf("quoted string ending at column %d is followed by %s: put blank space after the closing quote", col(i-1), quoteField(text[i:min(i+1, len(text))]))
	}
	return string(b), i, ""
}

// showEscape shows the escape at the start of s (a backslash) as far as it
// would reach (not past the closing quote), bare when it is printable ASCII,
// else quoted.
func showEscape(s string) string {
	n := 2
	if len(s) > 1 {
		switch s[1] {
		case 'x':
			n = 4
		case 'u':
			n = 6
		case 'U':
			n = 10
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n = 4
		}
	}
	end := min(n, len(s))
	for i := 1; i < end; i++ {
		if s[i] == '"' || isBlank(rune(s[i])) {
			end = i
			break
		}
	}
	esc := s[:end]
	for i := 0; i < len(esc); i++ {
		if esc[i] < ' ' || esc[i] > '~' {
			return quoteField(esc)
		}
	}
	return esc
}
