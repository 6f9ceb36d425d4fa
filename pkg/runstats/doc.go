// Package runstats is the record of one master run that `master -stats
// FILE` writes and the benchmark tool (cmd/bench) reads: one definition of
// the JSON for both sides.
package runstats
