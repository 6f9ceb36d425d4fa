package metrics

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Family is one metric family as Parse read it.
type Family struct {
	Name, Help string
	Type       Type
	Samples    []Sample
}

// Sample is one sample line.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse reads the text exposition format strictly, as a test of what
// Writer (or a /metrics page) produces: every family has one HELP and one
// TYPE line before its samples, which follow together; sample names
// belong to their family (a histogram's end in _bucket, _sum or _count);
// label names and escapes are valid and no sample repeats; counters are
// not negative; each histogram has increasing le bounds ending at +Inf,
// cumulative counts that never fall, a +Inf bucket equal to its _count,
// and a _sum. The first thing wrong is returned, with its line number.
func Parse(r io.Reader) ([]Family, error) {
	p := parser{byName: map[string]*Family{}, seen: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, fmt.Errorf("metrics: line %d: %w", p.line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, f := range p.families {
		if f.Type == "" {
			return nil, fmt.Errorf("metrics: family %s has no TYPE line", f.Name)
		}
		if f.Type == TypeHistogram {
			if err := checkHistograms(f); err != nil {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	out := make([]Family, len(p.families))
	for i, f := range p.families {
		out[i] = *f
	}
	return out, nil
}

type parser struct {
	line     int
	families []*Family
	byName   map[string]*Family
	cur      *Family         // the family whose samples may come now
	seen     map[string]bool // samples seen, by name and labels
}

// family returns the family named name, started by a HELP or TYPE line:
// one that had samples may not start again.
func (p *parser) family(name string) (*Family, error) {
	if !nameRe.MatchString(name) {
		return nil, fmt.Errorf("bad metric name %q", name)
	}
	f := p.byName[name]
	if f == nil {
		f = &Family{Name: name}
		p.byName[name] = f
		p.families = append(p.families, f)
	} else if f != p.cur {
		return nil, fmt.Errorf("family %s comes back after another family", name)
	} else if len(f.Samples) > 0 {
		return nil, fmt.Errorf("HELP or TYPE of %s after its samples", name)
	}
	p.cur = f
	return f, nil
}

func (p *parser) parseLine(line string) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if strings.HasPrefix(line, "#") {
		fields := strings.SplitN(line, " ", 4)
		if len(fields) < 3 || fields[0] != "#" || (fields[1] != "HELP" && fields[1] != "TYPE") {
			return nil // a plain comment
		}
		f, err := p.family(fields[2])
		if err != nil {
			return err
		}
		rest := ""
		if len(fields) == 4 {
			rest = fields[3]
		}
		if fields[1] == "HELP" {
			if f.Help != "" {
				return fmt.Errorf("second HELP for %s", f.Name)
			}
			help, err := unescape(rest, false)
			if err != nil {
				return fmt.Errorf("HELP of %s: %w", f.Name, err)
			}
			f.Help = help
			return nil
		}
		if f.Type != "" {
			return fmt.Errorf("second TYPE for %s", f.Name)
		}
		switch t := Type(rest); t {
		case TypeCounter, TypeGauge, TypeHistogram, "summary", "untyped":
			f.Type = t
		default:
			return fmt.Errorf("TYPE of %s: unknown type %q", f.Name, rest)
		}
		return nil
	}
	s, err := parseSample(line)
	if err != nil {
		return err
	}
	f := p.cur
	if f == nil || !belongs(f, s.Name) {
		return fmt.Errorf("sample %s outside its family (no HELP and TYPE line for it just before)", s.Name)
	}
	if f.Type == "" {
		return fmt.Errorf("sample %s before the TYPE of %s", s.Name, f.Name)
	}
	id := s.Name + labelsKey(s.Labels)
	if p.seen[id] {
		return fmt.Errorf("sample %s%s twice", s.Name, labelsKey(s.Labels))
	}
	p.seen[id] = true
	if f.Type == TypeCounter && !(s.Value >= 0) {
		return fmt.Errorf("counter %s is %v", s.Name, s.Value)
	}
	f.Samples = append(f.Samples, s)
	return nil
}

func belongs(f *Family, name string) bool {
	if name == f.Name {
		return f.Type != TypeHistogram
	}
	if f.Type == TypeHistogram {
		return name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count"
	}
	return false
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' {
		i++
	}
	s.Name = line[:i]
	if !nameRe.MatchString(s.Name) {
		return s, fmt.Errorf("bad metric name %q", s.Name)
	}
	if i < len(line) && line[i] == '{' {
		i++
		for {
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			j := i
			for j < len(line) && line[j] != '=' {
				j++
			}
			name := line[i:j]
			if !labelRe.MatchString(name) {
				return s, fmt.Errorf("bad label name %q", name)
			}
			if _, dup := s.Labels[name]; dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			if j+1 >= len(line) || line[j+1] != '"' {
				return s, fmt.Errorf("label %s: value not quoted", name)
			}
			k := j + 2
			for k < len(line) && line[k] != '"' {
				if line[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(line) {
				return s, fmt.Errorf("label %s: unterminated value", name)
			}
			v, err := unescape(line[j+2:k], true)
			if err != nil {
				return s, fmt.Errorf("label %s: %w", name, err)
			}
			s.Labels[name] = v
			i = k + 1
			if i < len(line) && line[i] == ',' {
				i++
			} else if i >= len(line) || line[i] != '}' {
				return s, fmt.Errorf("after label %s: want , or }", name)
			}
		}
	}
	if i >= len(line) || line[i] != ' ' {
		return s, fmt.Errorf("sample %s: no value", s.Name)
	}
	fields := strings.Fields(line[i:])
	if len(fields) < 1 || len(fields) > 2 {
		return s, fmt.Errorf("sample %s: want a value and an optional timestamp, got %q", s.Name, line[i:])
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("sample %s: bad value %q", s.Name, fields[0])
	}
	s.Value = v
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("sample %s: bad timestamp %q", s.Name, fields[1])
		}
	}
	return s, nil
}

// unescape undoes the format's escapes: \\ and \n, and \" in label values.
func unescape(s string, label bool) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i == len(s):
			return "", fmt.Errorf("a lone \\ at the end")
		case s[i] == '\\':
			b.WriteByte('\\')
		case s[i] == 'n':
			b.WriteByte('\n')
		case s[i] == '"' && label:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

// labelsKey renders labels in name order, to tell samples apart.
func labelsKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		fmt.Fprintf(&b, "{%s=%q}", k, l[k])
	}
	return b.String()
}

// checkHistograms checks each histogram of family f: one per label set
// other than le.
func checkHistograms(f *Family) error {
	type hist struct {
		bounds  []float64
		counts  []float64
		sum     bool
		count   float64
		counted bool
	}
	hs := map[string]*hist{}
	var order []string
	for _, s := range f.Samples {
		rest := maps.Clone(s.Labels)
		le, hasLe := rest["le"]
		delete(rest, "le")
		key := labelsKey(rest)
		h := hs[key]
		if h == nil {
			h = &hist{}
			hs[key] = h
			order = append(order, key)
		}
		switch s.Name {
		case f.Name + "_bucket":
			if !hasLe {
				return fmt.Errorf("%s%s: a bucket without le", s.Name, key)
			}
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return fmt.Errorf("%s%s: bad le %q", s.Name, key, le)
			}
			if n := len(h.bounds); n > 0 && (b <= h.bounds[n-1] || s.Value < h.counts[n-1]) {
				return fmt.Errorf("%s%s: le %q out of order or its count %v below the one before", s.Name, key, le, s.Value)
			}
			h.bounds = append(h.bounds, b)
			h.counts = append(h.counts, s.Value)
		case f.Name + "_sum":
			h.sum = true
		case f.Name + "_count":
			h.count, h.counted = s.Value, true
		}
	}
	for _, key := range order {
		h := hs[key]
		n := len(h.bounds)
		switch {
		case n == 0 || !math.IsInf(h.bounds[n-1], 1):
			return fmt.Errorf("histogram %s%s: no le=\"+Inf\" bucket last", f.Name, key)
		case !h.counted || !h.sum:
			return fmt.Errorf("histogram %s%s: no _count or no _sum", f.Name, key)
		case h.counts[n-1] != h.count:
			return fmt.Errorf("histogram %s%s: +Inf bucket %v differs from _count %v", f.Name, key, h.counts[n-1], h.count)
		}
	}
	return nil
}
