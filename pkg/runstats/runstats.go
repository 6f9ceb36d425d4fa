package runstats

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gossipkv/pkg/api"
)

// Stats is the whole record.
type Stats struct {
	Commands     int     `json:"commands"`
	Errors       int     `json:"errors"`
	ElapsedS     float64 `json:"elapsed_s"`
	CommandsPerS float64 `json:"commands_per_s"`
	Puts         int     `json:"puts"`
	PutsPerS     float64 `json:"puts_per_s"`
	Gets         int     `json:"gets"`
	GetsPerS     float64 `json:"gets_per_s"`
	Deletes      int     `json:"deletes"`
	PutLatencyMs Latency `json:"put_latency_ms"`
	GetLatencyMs Latency `json:"get_latency_ms"`
	// DeleteLatencyMs is zero when the run deleted nothing.
	DeleteLatencyMs Latency           `json:"delete_latency_ms"`
	Stabilize       []Stabilize       `json:"stabilize"`
	Servers         map[string]Server `json:"servers"`
	MsgsPerPut      MsgsPerPut        `json:"msgs_per_put"`
	BytesPerPut     float64           `json:"bytes_per_put"`
	// FsyncsPerPut is the fdatasyncs and fsyncs of every server's store
	// (api.StatsReply.Fsyncs, over every run of each server) per
	// successful put.
	FsyncsPerPut float64 `json:"fsyncs_per_put"`
	// CPU is the run's rusage by role; absent where there is none.
	CPU        *CPU `json:"cpu,omitempty"`
	ErrDep     int  `json:"err_dep"`
	ErrConn    int  `json:"err_conn"`
	StaleReads int  `json:"stale_reads"`
	// Check is the verdict of -check; absent without it.
	Check *Check `json:"check,omitempty"`
	// Linearizability is the linearizability verdict of a -check run.
	Linearizability *Linearizability `json:"linearizability,omitempty"`
}

// Check is the verdict of the history checker (package check) on the run.
type Check struct {
	// OK: the run did nothing the model forbids. False when the check was
	// skipped.
	OK bool `json:"ok"`
	// Skipped says why the check did not judge the run (it was
	// interrupted); empty when it did.
	Skipped string `json:"skipped,omitempty"`
	// Violations counts them all; Classes splits them by class, in the
	// checker's order, naming each as stderr does ("lost-write").
	Violations int          `json:"violations"`
	Classes    []ClassCount `json:"classes"`
	Counts     CheckCounts  `json:"counts"`
	// Repairs is how long the stabilizes that had repair to wait for
	// took, each from the heal, restart or resume that reconnected
	// servers (check.Repairs); absent when the check was skipped.
	Repairs *Repairs `json:"repairs,omitempty"`
}

// Repairs sums up the run's repairs: how many, the median and the
// slowest in milliseconds, and the lines of the slowest one's stabilize
// and of the event it ran from.
type Repairs struct {
	Count    int     `json:"count"`
	MedianMs float64 `json:"median_ms"`
	MaxMs    float64 `json:"max_ms"`
	MaxLine  int     `json:"max_line,omitempty"`
	MaxFrom  int     `json:"max_from,omitempty"`
	// Each is every repair in script order, so that two runs of one
	// script compare repair by repair.
	Each []RepairTime `json:"each,omitempty"`
}

// RepairTime is one repair: the lines of its stabilize and of the event
// it ran from, how long it took in milliseconds, and how many client
// operations ran between the two (their time is in Ms).
type RepairTime struct {
	Line int     `json:"line"`
	From int     `json:"from"`
	Ms   float64 `json:"ms"`
	Ops  int     `json:"ops,omitempty"`
}

// ClassCount is how many violations of one class the run had.
type ClassCount struct {
	Class      string `json:"class"`
	Violations int    `json:"violations"`
}

// CheckCounts are the checker's figures of the run (check.Counts).
type CheckCounts struct {
	Puts               int `json:"puts"`
	PutsFailed         int `json:"puts_failed"`
	Deletes            int `json:"deletes"`
	DeletesFailed      int `json:"deletes_failed"`
	Gets               int `json:"gets"`
	ErrConn            int `json:"err_conn"`
	Stabilizes         int `json:"stabilizes"`
	Groups             int `json:"groups"`
	ErrDep             int `json:"err_dep"`
	ErrDepNecessary    int `json:"err_dep_necessary"`
	ErrDepSpurious     int `json:"err_dep_spurious"`
	ErrDepUndetermined int `json:"err_dep_undetermined"`
	StaleReads         int `json:"stale_reads"`
}

// Linearizability is what package linz found of a checked run.
type Linearizability struct {
	// Result: "linearizable", "not linearizable" or "undetermined".
	Result string `json:"result"`
	// Required: a run that is not linearizable fails the check.
	Required bool `json:"required"`
	Ops      int  `json:"ops"`
	Keys     int  `json:"keys"`
	// FailedKeys counts the keys that are not linearizable; Key, Line and
	// Op name the first operation that no order could place.
	FailedKeys int    `json:"failed_keys,omitempty"`
	Key        string `json:"key,omitempty"`
	Line       int    `json:"line,omitempty"`
	Op         string `json:"op,omitempty"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// LatencyOf gives p50, p99 and max of ds in milliseconds, rounded to the
// microsecond; nearest rank, so every figure is one of the samples.
func LatencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latency{P50: ms(rank(0.50)), P99: ms(rank(0.99)), Max: ms(s[len(s)-1])}
}

// Stabilize is one stabilize command of the script.
type Stabilize struct {
	Line    int     `json:"line"`
	Seconds float64 `json:"seconds"`
	Polls   int     `json:"polls"`
}

// Server is one server of the run: its last counters before it stopped.
type Server struct {
	Pid       int            `json:"pid"`
	PeakRSSKB int64          `json:"peak_rss_kb"`
	Stats     api.StatsReply `json:"stats"`
}

// MsgsPerPut is the replication cost per successful put.
type MsgsPerPut struct {
	Total      float64 `json:"total"`
	Writes     float64 `json:"writes"`
	Relays     float64 `json:"relays"`
	Acks       float64 `json:"acks"`
	Deltas     float64 `json:"deltas"`
	Membership float64 `json:"membership"`
}

// Write saves s as indented JSON.
func Write(path string, s Stats) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Read loads a record written by Write.
func Read(path string) (*Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Stats
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// PeakRSSKB reads VmHWM, a process's peak resident set in KB, from its
// /proc/PID/status file (statusPath).
func PeakRSSKB(statusPath string) (int64, bool) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
