package resp

import "bytes"

// glob is a compiled Redis pattern (KEYS, SCAN MATCH, CONFIG GET), matched
// against bytes as Redis's stringmatchlen matches them:
//
//   - any run of bytes, the empty one included
//     ?      any one byte
//     [abc]  one byte of the set; [^abc] one byte not in it; [a-z] a range
//     (its ends in either order); \x inside the brackets is x itself;
//     a class left open runs to the end of the pattern
//     \x     x itself; a \ at the very end is a \
//     other  itself
//
// Matching is linear in the pattern times the key (one backtracking point,
// the last star), so a hostile pattern cannot make it explode.
type glob struct {
	toks []globTok
	// prefix is the literal bytes every match starts with: a walk of
	// sorted keys can start at it and stop past it.
	prefix []byte
	all    bool // the pattern is stars only: everything matches
}

type globKind uint8

const (
	globLit globKind = iota
	globAny
	globClass
	globStar
)

type globTok struct {
	kind globKind
	lit  byte
	set  *byteSet // globClass: the bytes it matches (negation applied)
}

// byteSet is a set of bytes as a 256-bit map.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// compileGlob parses pattern the way Redis does (see glob). Every pattern
// is valid.
func compileGlob(pattern []byte) *glob {
	g := &glob{}
	p := pattern
	for i := 0; i < len(p); {
		switch p[i] {
		case '*':
			for i < len(p) && p[i] == '*' {
				i++
			}
			g.toks = append(g.toks, globTok{kind: globStar})
		case '?':
			g.toks = append(g.toks, globTok{kind: globAny})
			i++
		case '[':
			i = g.class(p, i)
		case '\\':
			if len(p)-i >= 2 {
				i++
			}
			g.toks = append(g.toks, globTok{kind: globLit, lit: p[i]})
			i++
		default:
			g.toks = append(g.toks, globTok{kind: globLit, lit: p[i]})
			i++
		}
	}
	g.all = len(g.toks) == 1 && g.toks[0].kind == globStar
	for _, t := range g.toks {
		if t.kind != globLit {
			break
		}
		g.prefix = append(g.prefix, t.lit)
	}
	return g
}

// class parses the class that opens at p[i] and returns the index after
// it, following stringmatchlen step by step: an escape needs a byte after
// it, "]" closes, the end of the pattern closes too, and "x-y" is a range
// only when a byte follows the "-" (so "[a-]" is the range a to "]", and
// the class goes on).
func (g *glob) class(p []byte, i int) int {
	set := new(byteSet)
	j := i + 1
	neg := j < len(p) && p[j] == '^'
	if neg {
		j++
	}
	for ; ; j++ {
		rest := len(p) - j
		switch {
		case rest >= 2 && p[j] == '\\':
			j++
			set.add(p[j])
		case rest > 0 && p[j] == ']':
			goto done
		case rest <= 0:
			j--
			goto done
		case rest >= 3 && p[j+1] == '-':
			lo, hi := p[j], p[j+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			set.addRange(lo, hi)
			j += 2
		default:
			set.add(p[j])
		}
	}
done:
	if neg {
		for k := range set {
			set[k] = ^set[k]
		}
	}
	g.toks = append(g.toks, globTok{kind: globClass, set: set})
	return j + 1
}

func (t *globTok) one(b byte) bool {
	switch t.kind {
	case globLit:
		return t.lit == b
	case globAny:
		return true
	case globClass:
		return t.set.has(b)
	}
	return false
}

// match reports whether s matches the whole pattern.
func (g *glob) match(s []byte) bool {
	if g.all {
		return true
	}
	if !bytes.HasPrefix(s, g.prefix) {
		return false
	}
	toks := g.toks
	p, i := 0, 0
	star, starAt := -1, 0 // the last star seen, and where its match ends
	for i < len(s) {
		switch {
		case p < len(toks) && toks[p].kind == globStar:
			star, starAt = p, i
			p++
		case p < len(toks) && toks[p].one(s[i]):
			p++
			i++
		case star >= 0:
			// Let the last star take one more byte and retry after it.
			// Each token matches exactly one byte, so no earlier star
			// ever needs to give back.
			starAt++
			p, i = star+1, starAt
		default:
			return false
		}
	}
	for p < len(toks) && toks[p].kind == globStar {
		p++
	}
	return p == len(toks)
}

// beyond reports whether key, met in a walk of keys in byte order, is past
// every key the pattern can match: the walk may stop there.
func (g *glob) beyond(key []byte) bool {
	return len(g.prefix) > 0 && !bytes.HasPrefix(key, g.prefix) && bytes.Compare(key, g.prefix) > 0
}
