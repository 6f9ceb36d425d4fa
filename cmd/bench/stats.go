package main

import "gossipkv/pkg/runstats"

// The record `master -stats FILE` writes (package runstats).
type (
	Stats       = runstats.Stats
	Latency     = runstats.Latency
	Stabilize   = runstats.Stabilize
	ServerStats = runstats.Server
	MsgsPerPut  = runstats.MsgsPerPut
)

func readStats(path string) (*Stats, error) { return runstats.Read(path) }
