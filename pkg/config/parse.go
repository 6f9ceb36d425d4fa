package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the config file at path. A relative data_dir is taken relative
// to the file's directory, so the cluster's data does not move with the
// working directory of whoever starts it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, filepath.Dir(path))
}

// Parse decodes data over Default, resolves a relative DataDir against
// baseDir to an absolute path and validates the result. Every problem is
// reported, each as a *FieldError naming its field and line.
func Parse(data []byte, baseDir string) (*Config, error) {
	c := Default()
	idx, err := decode(data, c)
	if err != nil {
		return nil, err
	}
	// A list given as [] means the same as one left out; keep one form so
	// that configs compare equal however they were written.
	if len(c.Servers) == 0 {
		c.Servers = nil
	}
	if len(c.Clients) == 0 {
		c.Clients = nil
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		dir, err := filepath.Abs(filepath.Join(baseDir, c.DataDir))
		if err != nil {
			return nil, fmt.Errorf("config: data_dir: %w", err)
		}
		c.DataDir = dir
	}
	errs := c.validate()
	for _, e := range errs {
		e.Line = idx.lines[e.Field]
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return c, nil
}

// decode decodes data over c. yaml.v3 alone reports a bad value as "line 7:
// cannot unmarshal !!str `abc` into time.Duration", which does not say
// which knob, and it accepts some values silently (7000.5 as a port becomes
// 7000, an empty value keeps the default). So the file is first walked as a
// node tree alongside Config's type, which checks every value and records
// each field's line; then yaml.v3 decodes it with KnownFields, and any
// error the walk did not already explain is mapped to its field by line.
func decode(data []byte, c *Config) (*index, error) {
	idx := &index{lines: map[string]int{}, byLine: map[int][]entry{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return idx, nil // an empty file: all defaults
	} else if err != nil {
		return nil, syntaxError(data, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, syntaxError(data, err)
		}
		return nil, &FieldError{Line: next.Line, Msg: "a config is one YAML document; remove this '---' and what follows"}
	}

	w := &walker{idx: idx, reported: map[int]bool{}, aliased: map[aliasKey]bool{}}
	if len(doc.Content) > 0 {
		w.walk(doc.Content[0], reflect.TypeFor[Config](), "")
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			w.errs = append(w.errs, syntaxError(data, err))
		} else {
			for _, msg := range te.Errors {
				if e := idx.explain(msg); !w.reported[e.Line] || e.Line == 0 {
					w.errs = append(w.errs, e)
				}
			}
		}
	}
	slices.SortStableFunc(w.errs, func(a, b *FieldError) int { return a.Line - b.Line })
	if err := joinErrors(w.errs); err != nil {
		return nil, err
	}
	return idx, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// maxLocateLines bounds the files whose syntax errors locateSyntaxError
// searches for (it parses the file once per line).
const maxLocateLines = 5000

// syntaxError turns "yaml: line 3: mapping values are not allowed in this
// context" into a FieldError on the line where the file goes wrong.
// yaml.v3's line for a parser error is the start of the enclosing
// construct, sometimes off by one, so the line is found again by parsing
// ever longer prefixes of the file: the first that fails with the same
// problem ends at the bad line.
func syntaxError(data []byte, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if l, ok := locateSyntaxError(data, msg); ok {
		line = l
	}
	return &FieldError{Line: line, Msg: msg}
}

func locateSyntaxError(data []byte, msg string) (int, bool) {
	if bytes.Count(data, []byte("\n")) > maxLocateLines {
		return 0, false
	}
	end := 0
	for n := 1; end < len(data); n++ {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data[:end]))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if err == nil {
				continue
			}
			if err != io.EOF {
				got := strings.TrimPrefix(err.Error(), "yaml: ")
				if m := yamlLineRE.FindStringSubmatch(got); m != nil {
					got = m[2]
				}
				if got == msg {
					return n, true
				}
			}
			break
		}
	}
	return 0, false
}

// index maps the fields of a file to lines and back.
type index struct {
	lines  map[string]int  // field path → line
	byLine map[int][]entry // line → the fields whose value is on it
}

type entry struct {
	path string
	node *yaml.Node
}

// explain turns a yaml.v3 type error ("line 7: ...") into a FieldError
// naming the field on that line. Several fields can share a line in flow
// style ({id: 0, host: x}); the one whose value the message quotes wins.
func (idx *index) explain(msg string) *FieldError {
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		return &FieldError{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	e := &FieldError{Line: line, Msg: m[2]}
	cands := idx.byLine[line]
	for i := len(cands) - 1; i >= 0; i-- {
		v := cands[i].node.Value
		if len(v) > 10 {
			v = v[:7] // yaml.v3 clips long values so
		}
		if v != "" && strings.Contains(msg, "`"+v) {
			e.Field = cands[i].path
			return e
		}
	}
	if len(cands) > 0 {
		e.Field = cands[len(cands)-1].path
	}
	return e
}

// walker checks a node tree against the Go type it will be decoded into.
type walker struct {
	idx      *index
	errs     []*FieldError
	reported map[int]bool // lines that already have an error
	aliased  map[aliasKey]bool
}

type aliasKey struct {
	n *yaml.Node
	t reflect.Type
}

var durationType = reflect.TypeFor[time.Duration]()

func (w *walker) bad(n *yaml.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
	w.reported[n.Line] = true
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		// Walk an anchored node once per type: aliases can form cycles
		// (&a [*a]) or expand exponentially, and yaml.v3 reports both.
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		k := aliasKey{n, t}
		if w.aliased[k] {
			return
		}
		w.aliased[k] = true
	}
	if path != "" {
		w.idx.byLine[n.Line] = append(w.idx.byLine[n.Line], entry{path, n})
		if _, ok := w.idx.lines[path]; !ok {
			w.idx.lines[path] = n.Line
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if t.Kind() == reflect.Struct || t.Kind() == reflect.Slice {
			return // an empty section keeps its defaults; an empty list is empty
		}
		if strings.Contains(path, "[") {
			w.bad(n, path, "no value")
		} else {
			w.bad(n, path, "no value (give one, or delete the line to keep the default)")
		}
		return
	}
	switch {
	case t == durationType:
		w.duration(n, path)
	case t.Kind() == reflect.Struct:
		w.mapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.bad(n, path, "want a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		w.scalar(n, t, path)
	}
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.bad(n, path, "want a mapping of %s, got %s", strings.Join(fieldNames(t), ", "), describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			continue // a merge key: yaml.v3 checks what it brings in
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		if line, dup := seen[k.Value]; dup {
			w.bad(k, child, "already set on line %d", line)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fieldByName(t, k.Value)
		if !ok {
			w.bad(k, child, "unknown field%s", suggest(k.Value, fieldNames(t)))
			continue
		}
		w.idx.lines[child] = k.Line
		w.walk(v, f.Type, child)
	}
}

func (w *walker) duration(n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode {
		w.bad(n, path, "want a duration such as \"50ms\", got %s", describe(n))
		return
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		w.bad(n, path, "%s has no unit: write a duration such as \"%sms\" or \"%ss\"", n.Value, n.Value, n.Value)
		return
	}
	if _, err := time.ParseDuration(n.Value); err != nil || n.ShortTag() != "!!str" {
		w.bad(n, path, "%q is not a duration: want a number and a unit (ns, us, ms, s, m, h), e.g. \"50ms\"", n.Value)
	}
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.bad(n, path, "want a single value, got %s", describe(n))
		return
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if tag != "!!int" {
			w.bad(n, path, "%q is not an integer", n.Value)
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			if t.Kind() >= reflect.Uint && strings.HasPrefix(n.Value, "-") {
				w.bad(n, path, "%s is negative", n.Value)
			} else {
				w.bad(n, path, "%s is out of range", n.Value)
			}
		}
	case reflect.Bool:
		if tag != "!!bool" {
			w.bad(n, path, "%q is not true or false", n.Value)
		}
	case reflect.String:
		// Any scalar reads as a string: host: 10.0.0.1 is a string to
		// YAML anyway, and a number-looking data_dir is still a path.
	}
}

// describe names what a node is, for "want X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// fieldByName finds the field that yaml key name decodes into.
func fieldByName(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range fieldsOf(t) {
		if yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for f := range fieldsOf(t) {
		names = append(names, yamlName(f))
	}
	return names
}

func fieldsOf(t reflect.Type) iter.Seq[reflect.StructField] {
	return func(yield func(reflect.StructField) bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.IsExported() && f.Tag.Get("yaml") != "-" && !yield(f) {
				return
			}
		}
	}
}

// yamlName is the key yaml.v3 uses for f: its tag's name, else the
// lowercased field name.
func yamlName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" {
		return name
	}
	return strings.ToLower(f.Name)
}

// suggest returns ` (did you mean "x"?)` for the known name nearest to name,
// or the list of known names when none is near.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known fields: %s)", strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
