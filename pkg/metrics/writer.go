package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ContentType is the media type of what Writer writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's type, as its TYPE line spells it.
type Type string

const (
	TypeCounter   Type = "counter"
	TypeGauge     Type = "gauge"
	TypeHistogram Type = "histogram"
)

// Label is one name="value" pair of a sample.
type Label struct{ Name, Value string }

// L is a shorthand for a Label.
func L(name, value string) Label { return Label{name, value} }

// Writer writes metric families in the Prometheus text format: for each
// family a HELP and a TYPE line, then its samples. Call Family once per
// family, then Sample (or Histogram) for each of its samples, before the
// next Family. The first write error is kept and returned by Flush; the
// writes after it do nothing.
type Writer struct {
	w    *bufio.Writer
	name string
	typ  Type
	err  error
}

// NewWriter writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

var nameRe = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Family starts a family. A name or type the format does not allow is a
// programming error: it panics.
func (w *Writer) Family(name string, typ Type, help string) {
	if !nameRe.MatchString(name) {
		panic(fmt.Sprintf("metrics: bad metric name %q", name))
	}
	switch typ {
	case TypeCounter, TypeGauge, TypeHistogram:
	default:
		panic(fmt.Sprintf("metrics: bad type %q", typ))
	}
	w.name, w.typ = name, typ
	w.printf("# HELP %s %s\n# TYPE %s %s\n", name, helpEscaper.Replace(help), name, typ)
}

// Sample writes one sample of the current counter or gauge family.
func (w *Writer) Sample(value float64, labels ...Label) {
	if w.typ == TypeHistogram || w.typ == "" {
		panic(fmt.Sprintf("metrics: Sample in family %q of type %q", w.name, w.typ))
	}
	w.sample(w.name, labels, value)
}

// Histogram writes one histogram of the current histogram family: its
// cumulative buckets (le="+Inf" last, equal to the count), sum and count.
func (w *Writer) Histogram(h HistogramSnapshot, labels ...Label) {
	if w.typ != TypeHistogram {
		panic(fmt.Sprintf("metrics: Histogram in family %q of type %q", w.name, w.typ))
	}
	withLe := append(labels[:len(labels):len(labels)], Label{"le", ""})
	for i, b := range h.Bounds {
		withLe[len(labels)].Value = formatFloat(b)
		w.sample(w.name+"_bucket", withLe, float64(h.Cumulative[i]))
	}
	withLe[len(labels)].Value = "+Inf"
	w.sample(w.name+"_bucket", withLe, float64(h.Count))
	w.sample(w.name+"_sum", labels, h.Sum)
	w.sample(w.name+"_count", labels, float64(h.Count))
}

func (w *Writer) sample(name string, labels []Label, value float64) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if !labelRe.MatchString(l.Name) || strings.HasPrefix(l.Name, "__") {
				panic(fmt.Sprintf("metrics: bad label name %q", l.Name))
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.Name)
			b.WriteString(`="`)
			b.WriteString(valueEscaper.Replace(l.Value))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(value))
	b.WriteByte('\n')
	w.printf("%s", b.String())
}

func (w *Writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// Flush writes what is buffered and returns the first error.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// The format escapes \ and newline in HELP text, and \, " and newline in
// label values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat writes a value as the format reads it: integers without an
// exponent (counters stay exact up to 2^53), +Inf, -Inf and NaN spelled so.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
