package metrics

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHistogram_ObserveSnapshot(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		10 * time.Microsecond,  // first bucket
		50 * time.Microsecond,  // on the bound: still the first
		300 * time.Microsecond, // 0.0005
		2 * time.Millisecond,   // 0.0025
		time.Minute,            // above every bound
	} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if s.Count != 5 {
		t.Errorf("Count = %d, want 5", s.Count)
	}
	if want := (10*time.Microsecond + 50*time.Microsecond + 300*time.Microsecond + 2*time.Millisecond + time.Minute).Seconds(); math.Abs(s.Sum-want) > 1e-9 {
		t.Errorf("Sum = %v, want %v", s.Sum, want)
	}
	at := func(bound float64) uint64 {
		for i, b := range s.Bounds {
			if b == bound {
				return s.Cumulative[i]
			}
		}
		t.Fatalf("no bound %v", bound)
		return 0
	}
	for _, tt := range []struct {
		bound float64
		want  uint64
	}{{0.00005, 2}, {0.0001, 2}, {0.0005, 3}, {0.001, 3}, {0.0025, 4}, {10, 4}} {
		if got := at(tt.bound); got != tt.want {
			t.Errorf("le %v: %d, want %d", tt.bound, got, tt.want)
		}
	}
}

func TestHistogram_Concurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				h.Observe(time.Duration(i) * time.Microsecond)
				_ = h.Snapshot()
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 4000 {
		t.Errorf("Count = %d, want 4000", s.Count)
	}
}

func TestWriter_ParsesBack(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Family("app_puts_total", TypeCounter, "Puts answered.\nAll of them, with a \\ in the help.")
	w.Sample(12345678901)
	w.Family("app_sent_total", TypeCounter, "Messages sent, by kind.")
	w.Sample(3, L("kind", "ack"))
	w.Sample(0, L("kind", `a "quoted"\ kind`+"\nwith a newline"))
	w.Family("app_ratio", TypeGauge, "A gauge.")
	w.Sample(0.25)
	w.Sample(math.Inf(1), L("x", "inf"))
	w.Family("app_latency_seconds", TypeHistogram, "Latency.")
	var h Histogram
	h.Observe(time.Millisecond)
	h.Observe(time.Hour)
	w.Histogram(h.Snapshot(), L("op", "put"))
	w.Histogram(HistogramSnapshot{Bounds: LatencyBuckets, Cumulative: make([]uint64, len(LatencyBuckets))}, L("op", "get"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# HELP app_puts_total Puts answered.\\nAll of them, with a \\\\ in the help.\n# TYPE app_puts_total counter\napp_puts_total 12345678901\n",
		`app_sent_total{kind="a \"quoted\"\\ kind\nwith a newline"} 0` + "\n",
		`app_latency_seconds_bucket{op="put",le="0.001"} 1` + "\n",
		`app_latency_seconds_bucket{op="put",le="+Inf"} 2` + "\n",
		`app_latency_seconds_count{op="get"} 0` + "\n",
		`app_ratio{x="inf"} +Inf` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	fams, err := Parse(strings.NewReader(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(fams) != 4 || fams[0].Help != "Puts answered.\nAll of them, with a \\ in the help." ||
		fams[1].Samples[1].Labels["kind"] != `a "quoted"\ kind`+"\nwith a newline" || fams[3].Type != TypeHistogram {
		t.Errorf("Parse = %+v", fams)
	}
}

func TestParse_Refuses(t *testing.T) {
	const head = "# HELP m_total Help.\n# TYPE m_total counter\n"
	const hist = "# HELP h Help.\n# TYPE h histogram\n"
	for _, tt := range []struct{ name, text, want string }{
		{"no TYPE", "# HELP m_total Help.\nm_total 1\n", "before the TYPE"},
		{"no family", "m_total 1\n", "outside its family"},
		{"another family's sample", head + "other 1\n", "outside its family"},
		{"family again", head + "m_total 1\n# HELP g Help.\n# TYPE g gauge\ng 1\n# HELP m_total Again.\n", "comes back"},
		{"TYPE after samples", head + "m_total 1\n# TYPE m_total counter\n", "after its samples"},
		{"unknown type", "# TYPE m_total countr\n", "unknown type"},
		{"bad name", "# TYPE 1m counter\n", "bad metric name"},
		{"bad label name", head + "m_total{1a=\"x\"} 1\n", "bad label name"},
		{"unquoted label", head + "m_total{a=x} 1\n", "not quoted"},
		{"unterminated label", head + "m_total{a=\"x} 1\n", "unterminated"},
		{"bad escape", head + "m_total{a=\"\\t\"} 1\n", "bad escape"},
		{"duplicate sample", head + "m_total{a=\"x\"} 1\nm_total{a=\"x\"} 2\n", "twice"},
		{"bad value", head + "m_total one\n", "bad value"},
		{"negative counter", head + "m_total -1\n", "counter"},
		{"no value", head + "m_total\n", "no value"},
		{"histogram without +Inf", hist + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf"},
		{"histogram falling", hist + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "out of order"},
		{"histogram count", hist + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", "differs"},
		{"histogram no sum", hist + "h_bucket{le=\"+Inf\"} 1\nh_count 1\n", "no _sum"},
		{"histogram plain sample", hist + "h 1\n", "outside its family"},
	} {
		if _, err := Parse(strings.NewReader(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestWriter_PanicsOnMisuse(t *testing.T) {
	for name, f := range map[string]func(w *Writer){
		"bad name":          func(w *Writer) { w.Family("a-b", TypeCounter, "") },
		"sample before":     func(w *Writer) { w.Sample(1) },
		"histogram sample":  func(w *Writer) { w.Family("h", TypeHistogram, ""); w.Sample(1) },
		"reserved label":    func(w *Writer) { w.Family("g", TypeGauge, ""); w.Sample(1, L("__x", "")) },
		"counter histogram": func(w *Writer) { w.Family("c", TypeCounter, ""); w.Histogram(HistogramSnapshot{}) },
		"bad label name":    func(w *Writer) { w.Family("g", TypeGauge, ""); w.Sample(1, L("a b", "")) },
		"unknown type":      func(w *Writer) { w.Family("g", "summary", "") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(NewWriter(&bytes.Buffer{}))
		}()
	}
}
