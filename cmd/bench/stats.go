package main

import (
	"encoding/json"
	"fmt"
	"os"

	"gossipkv/pkg/api"
)

// Stats is what `master -stats FILE` writes at the end of a run; the field
// names are a contract with pkg/master's writer and must match it exactly.
type Stats struct {
	Commands     int                    `json:"commands"`
	Errors       int                    `json:"errors"`
	ElapsedS     float64                `json:"elapsed_s"`
	CommandsPerS float64                `json:"commands_per_s"`
	Puts         int                    `json:"puts"`
	PutsPerS     float64                `json:"puts_per_s"`
	Gets         int                    `json:"gets"`
	GetsPerS     float64                `json:"gets_per_s"`
	PutLatencyMs Latency                `json:"put_latency_ms"`
	GetLatencyMs Latency                `json:"get_latency_ms"`
	Stabilize    []Stabilize            `json:"stabilize"`
	Servers      map[string]ServerStats `json:"servers"`
	MsgsPerPut   MsgsPerPut             `json:"msgs_per_put"`
	BytesPerPut  float64                `json:"bytes_per_put"`
	ErrDep       int                    `json:"err_dep"`
	ErrConn      int                    `json:"err_conn"`
	StaleReads   int                    `json:"stale_reads"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Stabilize is one stabilize command of the script.
type Stabilize struct {
	Line    int     `json:"line"`
	Seconds float64 `json:"seconds"`
	Polls   int     `json:"polls"`
}

// ServerStats is one server of the run.
type ServerStats struct {
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

func readStats(path string) (*Stats, error) {
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
