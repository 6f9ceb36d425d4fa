package httpapi

import (
	"bytes"
	"net/http"
	"strconv"

	"gossipkv/pkg/metrics"
)

// serveMetrics writes this server's figures in the Prometheus text
// format. Counters and latencies are read without the owner goroutine;
// the gauges of the store and of the lag take it twice, which a scrape
// every few seconds does not feel.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	st, lag, ok := s.statusAndLag(w)
	if !ok {
		return
	}
	stats, lat := s.store.Stats(), s.store.Latencies()
	var buf bytes.Buffer
	m := metrics.NewWriter(&buf)
	counter := func(name, help string, v uint64) {
		m.Family(name, metrics.TypeCounter, help)
		m.Sample(float64(v))
	}
	gauge := func(name, help string, v float64) {
		m.Family(name, metrics.TypeGauge, help)
		m.Sample(v)
	}

	m.Family("gossipkv_info", metrics.TypeGauge, "Always 1: the server's id, cluster and master run as labels.")
	m.Sample(1, metrics.L("id", strconv.FormatUint(uint64(s.cfg.ID), 10)), metrics.L("cluster", s.cfg.Cluster), metrics.L("run", s.cfg.Run))

	// Every way in (the master's script clients over net/rpc, and the
	// Redis, HTTP and memcache fronts) meets in the server's Put, Delete
	// and Get, where these are counted and timed.
	counter("gossipkv_puts_total", "Puts this server has taken, every way in (script clients and the Redis, HTTP and memcache fronts).", stats.Puts)
	counter("gossipkv_deletes_total", "Deletes this server has taken, every way in.", stats.Deletes)
	counter("gossipkv_gets_total", "Gets this server has answered, every way in.", stats.Gets)
	m.Family("gossipkv_request_duration_seconds", metrics.TypeHistogram,
		"Time from a put, delete or get reaching the server to its answer (for a write: once it is durable), every way in.")
	m.Histogram(lat.Put, metrics.L("op", "put"))
	m.Histogram(lat.Delete, metrics.L("op", "delete"))
	m.Histogram(lat.Get, metrics.L("op", "get"))

	counter("gossipkv_commits_total", "Group commits: appends to the write-ahead log of what changed besides this server's own writes.", stats.Commits)
	counter("gossipkv_checkpoints_total", "Checkpoints: foldings of the write-ahead log into the bbolt file.", stats.Checkpoints)

	counter("gossipkv_sent_batches_total", "Frames sent to other servers, each a batch of messages.", stats.Batches)
	counter("gossipkv_sent_bytes_total", "Bytes of the frames sent to other servers.", stats.Bytes)
	m.Family("gossipkv_sent_messages_total", metrics.TypeCounter, "Messages sent to other servers, by kind: acks (what the sender holds) and deltas (repairs).")
	m.Sample(float64(stats.Acks), metrics.L("kind", "ack"))
	m.Sample(float64(stats.Deltas), metrics.L("kind", "delta"))
	m.Family("gossipkv_sent_writes_total", metrics.TypeCounter, "Writes sent on the fast path, by origin: this server's own, or relayed for another.")
	m.Sample(float64(stats.Writes-stats.Relayed), metrics.L("origin", "own"))
	m.Sample(float64(stats.Relayed), metrics.L("origin", "relayed"))
	counter("gossipkv_sent_delta_entries_total", "Writes sent in deltas (repairs).", stats.DeltaEntries)
	counter("gossipkv_send_failures_total", "Frames that could not be sent (the peer was unreachable).", stats.SendFailures)

	m.Family("gossipkv_keys", metrics.TypeGauge, "Keys this server holds: with a value (live), or deleted (tombstones).")
	m.Sample(float64(st.Live), metrics.L("state", "live"))
	m.Sample(float64(st.Keys-st.Live), metrics.L("state", "deleted"))
	gauge("gossipkv_held_writes", "Writes this server holds (the size of its held-write set).", float64(st.Seen.Count()))
	gauge("gossipkv_links", "Servers this server has a live direct link to.", float64(len(st.Links)))
	gauge("gossipkv_behind_writes", "Writes that some server held, by its last ack, and this server lacks.", float64(lag.Behind))
	m.Family("gossipkv_peer_missing_writes", metrics.TypeGauge, "Per server this server has had acks from: writes it held, by its last ack, that this server lacks.")
	for _, p := range lag.Peers {
		m.Sample(float64(p.Missing), metrics.L("peer", strconv.FormatUint(uint64(p.Peer), 10)))
	}
	m.Family("gossipkv_peer_unacked_writes", metrics.TypeGauge, "Per server this server has had acks from: writes this server holds that it has not acknowledged.")
	for _, p := range lag.Peers {
		m.Sample(float64(p.Unacked), metrics.L("peer", strconv.FormatUint(uint64(p.Peer), 10)))
	}
	gauge("gossipkv_start_time_seconds", "When the server's HTTP front started, in seconds since the Unix epoch.", float64(s.started.UnixNano())/1e9)
	if err := m.Flush(); err != nil {
		plain(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", metrics.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
