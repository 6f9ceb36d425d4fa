// Package metrics holds what a server measures of itself for Prometheus:
// latency histograms cheap enough to update on every request (atomic
// counters per bucket, no lock), and a writer of the Prometheus text
// exposition format (version 0.0.4) for the counters, gauges and
// histograms a /metrics page shows.
//
// It has no registry and no global state: whoever serves /metrics asks
// each component for its figures and writes them, family by family, with
// Writer. Names, label names and help texts are the caller's; Writer
// escapes label values and help text as the format requires.
package metrics
