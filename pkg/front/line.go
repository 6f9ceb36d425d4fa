package front

import "strings"

// OneLine makes s (an error's text, say) fit on one reply line of a
// line-based protocol (RESP and memcache's text protocol end a line at
// CR LF): each CR and LF becomes a space.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
