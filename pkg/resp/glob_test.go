package resp

import (
	"math/rand/v2"
	"testing"
)

func TestGlob_Table(t *testing.T) {
	tests := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"*", []string{"", "a", "anything at all", "\x00\xff"}, nil},
		{"", []string{""}, []string{"a"}},
		{"hello", []string{"hello"}, []string{"hell", "helloo", "Hello"}},
		{"h?llo", []string{"hello", "hallo", "h\x00llo"}, []string{"hllo", "heello"}},
		{"h*llo", []string{"hllo", "hello", "heeeello"}, []string{"hlo", "hellox"}},
		{"h[ae]llo", []string{"hello", "hallo"}, []string{"hillo", "hllo"}},
		{"h[^e]llo", []string{"hallo", "hbllo"}, []string{"hello", "hllo"}},
		{"h[a-b]llo", []string{"hallo", "hbllo"}, []string{"hcllo"}},
		{"[b-a]", []string{"a", "b"}, []string{"c"}},          // a range's ends in either order
		{`h\*llo`, []string{"h*llo"}, []string{"hello"}},      // an escaped star is a star
		{`a\`, []string{`a\`}, []string{"a"}},                 // a final backslash is itself
		{`[\]]`, []string{"]"}, []string{`\`}},                // escaped inside a class
		{"[abc", []string{"a", "c"}, []string{"d", "ab"}},     // an open class runs to the end
		{"[", nil, []string{"[", "a"}},                        // an empty open class matches nothing
		{"[]a]", nil, []string{"a]", "]a]", "a"}},             // "[]" is an empty class: nothing matches
		{"[^", []string{"x", "^"}, []string{"", "xy"}},        // an open negated empty class: any byte
		{"[a-]", []string{"a", "_", "]"}, []string{"b", "-"}}, // "a-]" is the range ] to a, left open
		{"*a*b", []string{"ab", "xaxxb", "aab"}, []string{"xbxa", "a"}},
		{"a*a*a*a*b", []string{"aaaab", "aaaaaaaaab"}, []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"}},
		{"user:*:name", []string{"user:1:name", "user::name"}, []string{"user:1:age", "user:name"}},
		{"\x00*\xff", []string{"\x00\xff", "\x00abc\xff"}, []string{"\x00abc"}}, // bytes, not runes
		{"?", []string{"\xff", "é"[:1]}, []string{"é"}},                         // é is two bytes
	}
	for _, tt := range tests {
		g := compileGlob([]byte(tt.pattern))
		for _, s := range tt.yes {
			if !g.match([]byte(s)) {
				t.Errorf("%q does not match %q, want a match", tt.pattern, s)
			}
		}
		for _, s := range tt.no {
			if g.match([]byte(s)) {
				t.Errorf("%q matches %q, want none", tt.pattern, s)
			}
		}
	}
}

func TestGlob_PrefixAndBeyond(t *testing.T) {
	for _, tt := range []struct{ pattern, prefix string }{
		{"user:*", "user:"}, {"*", ""}, {"a?c", "a"}, {`a\*b*`, "a*b"}, {"ab[c]", "ab"}, {"abc", "abc"},
	} {
		if got := string(compileGlob([]byte(tt.pattern)).prefix); got != tt.prefix {
			t.Errorf("prefix of %q = %q, want %q", tt.pattern, got, tt.prefix)
		}
	}
	g := compileGlob([]byte("user:*"))
	for key, want := range map[string]bool{"user:1": false, "use": false, "user": false, "usf": true, "v": true} {
		if g.beyond([]byte(key)) != want {
			t.Errorf("beyond(%q) = %v, want %v", key, !want, want)
		}
	}
	if compileGlob([]byte("*x")).beyond([]byte("zzz")) {
		t.Error("a pattern without a prefix put a key beyond it")
	}
}

// The compiled matcher agrees with a line-by-line port of Redis's
// stringmatchlen (recursive, exponential, obviously the same) on random
// patterns and strings over bytes that mean something to either.
func TestGlob_AgreesWithRedis(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	patBytes := []byte("ab*?[]^-\\\x00\xff")
	strBytes := []byte("ab]^-\\\x00\xff")
	rnd := func(alphabet []byte, max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for range 200000 {
		p := rnd(patBytes, 7)
		s := rnd(strBytes, 6)
		if len(s) == 0 {
			continue // Redis's "*" does not match "" (its callers special-case "*"); no key is empty here
		}
		if got, want := compileGlob(p).match(s), redisMatch(p, s); got != want {
			t.Fatalf("pattern %q, string %q: match %v, Redis %v", p, s, got, want)
		}
	}
}

// redisMatch is Redis's stringmatchlen (util.c) without nocase, ported
// step by step; at stands for reading C's terminating NUL past the end.
func redisMatch(pat, str []byte) bool {
	at := func(i int) byte {
		if i < len(pat) {
			return pat[i]
		}
		return 0
	}
	p, s := 0, 0
	for p < len(pat) && s < len(str) {
		switch pat[p] {
		case '*':
			for p+1 < len(pat) && pat[p+1] == '*' {
				p++
			}
			if p+1 == len(pat) {
				return true
			}
			for s < len(str) {
				if redisMatch(pat[p+1:], str[s:]) {
					return true
				}
				s++
			}
			return false
		case '?':
		case '[':
			p++
			not := at(p) == '^'
			if not {
				p++
			}
			match := false
			for {
				rest := len(pat) - p
				if at(p) == '\\' && rest >= 2 {
					p++
					if pat[p] == str[s] {
						match = true
					}
				} else if at(p) == ']' {
					break
				} else if rest == 0 {
					p--
					break
				} else if rest >= 3 && at(p+1) == '-' {
					lo, hi := pat[p], pat[p+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					p += 2
					if str[s] >= lo && str[s] <= hi {
						match = true
					}
				} else if pat[p] == str[s] {
					match = true
				}
				p++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
		case '\\':
			if len(pat)-p >= 2 {
				p++
			}
			if pat[p] != str[s] {
				return false
			}
		default:
			if pat[p] != str[s] {
				return false
			}
		}
		p++
		s++
		if s == len(str) {
			for p < len(pat) && pat[p] == '*' {
				p++
			}
			break
		}
	}
	return p == len(pat) && s == len(str)
}
