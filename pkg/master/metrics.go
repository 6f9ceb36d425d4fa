package master

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/runstats"
)

// metrics are the figures of a run that the master measures itself
// (latency around each client call, stabilize times) or collects from the
// servers (their Stats, their peak RSS) before it stops them.
type metrics struct {
	puts, gets     opStats
	deletes        opStats
	errDep, errCon int
	stabilizes     []stabStat
	servers        map[uint32]*serverStat
}

// opStats are the latencies of one kind of call and the span from the first
// call's start to the last call's end, over which its rate is measured.
type opStats struct {
	ok          int
	latency     []time.Duration
	first, last time.Time
}

func (o *opStats) observe(t0, t1 time.Time, ok bool) {
	if o.first.IsZero() {
		o.first = t0
	}
	o.last = t1
	if ok {
		o.ok++
		o.latency = append(o.latency, t1.Sub(t0))
	}
}

func (o *opStats) rate() float64 {
	if span := o.last.Sub(o.first).Seconds(); span > 0 {
		return float64(o.ok) / span
	}
	return 0
}

type stabStat struct {
	line  int
	dur   time.Duration
	polls int
}

// serverStat is what the master knows of one server id over the run. A
// server's counters start again at each start, so the counters of ended
// runs of it are kept in prior, and cur is the newest reply of the running
// one.
type serverStat struct {
	pid    int
	peakKB int64
	cur    api.StatsReply
	prior  api.StatsReply
	last   api.StatsReply // the last reply collected, of any run
}

func newMetrics() *metrics { return &metrics{servers: map[uint32]*serverStat{}} }

func (mt *metrics) server(id uint32) *serverStat {
	s := mt.servers[id]
	if s == nil {
		s = &serverStat{}
		mt.servers[id] = s
	}
	return s
}

// started records a new process of server id.
func (mt *metrics) started(id uint32, pid int) {
	s := mt.server(id)
	addStats(&s.prior, s.cur)
	s.cur = api.StatsReply{}
	s.pid = pid
}

// statsTimeout bounds a Stats call: a server answers it from counters at
// once, and one that does not (stopped, hung) must not hold up the kill
// that follows.
const statsTimeout = 500 * time.Millisecond

// collectStats asks the live servers ids for their Stats and reads their
// peak RSS, before they are killed. A server that does not answer (dead,
// or one that has no Stats) keeps what was collected before.
func (m *master) collectStats(ids []uint32) {
	replies := make([]api.StatsReply, len(ids))
	errs := make([]error, len(ids))
	calls := make([]func() error, len(ids))
	for i, id := range ids {
		conn := m.servers[id]
		calls[i] = func() error {
			errs[i] = conn.CallTimeout(api.ServerStats, api.Empty{}, &replies[i], min(m.rpcTimeout, statsTimeout))
			return nil
		}
	}
	_ = fanOut(calls)
	for i, id := range ids {
		s := m.met.server(id)
		if errs[i] == nil {
			s.cur, s.last = replies[i], replies[i]
		}
		if sc, _ := m.cfg.Server(id); s.pid > 0 && m.isLocal(sc.Host) {
			if kb, ok := peakRSS(s.pid); ok && kb > s.peakKB {
				s.peakKB = kb
			}
		}
	}
}

// peakRSS reads the peak resident set of a local process, in KB.
func peakRSS(pid int) (int64, bool) {
	return runstats.PeakRSSKB("/proc/" + strconv.Itoa(pid) + "/status")
}

func addStats(a *api.StatsReply, b api.StatsReply) {
	a.Puts += b.Puts
	a.Gets += b.Gets
	a.Commits += b.Commits
	a.Fsyncs += b.Fsyncs
	a.Batches += b.Batches
	a.Bytes += b.Bytes
	a.Writes += b.Writes
	a.Relayed += b.Relayed
	a.Acks += b.Acks
	a.Deltas += b.Deltas
	a.DeltaEntries += b.DeltaEntries
	a.SendFailures += b.SendFailures
}

// stats builds the -stats object; staleReads comes from the checker.
func (m *master) stats(elapsed time.Duration, staleReads int) runstats.Stats {
	mt := m.met
	secs := elapsed.Seconds()
	st := runstats.Stats{
		Commands: m.commands, Errors: m.failures, ElapsedS: round3(secs),
		Puts: mt.puts.ok, PutsPerS: round3(mt.puts.rate()),
		Gets: mt.gets.ok, GetsPerS: round3(mt.gets.rate()),
		Deletes: mt.deletes.ok, DeleteLatencyMs: runstats.LatencyOf(mt.deletes.latency),
		PutLatencyMs: runstats.LatencyOf(mt.puts.latency), GetLatencyMs: runstats.LatencyOf(mt.gets.latency),
		Stabilize: []runstats.Stabilize{},
		Servers:   map[string]runstats.Server{},
		ErrDep:    mt.errDep, ErrConn: mt.errCon, StaleReads: staleReads,
	}
	if secs > 0 {
		st.CommandsPerS = round3(float64(m.commands) / secs)
	}
	for _, s := range mt.stabilizes {
		st.Stabilize = append(st.Stabilize, runstats.Stabilize{Line: s.line, Seconds: round6(s.dur.Seconds()), Polls: s.polls})
	}
	var total api.StatsReply
	for id, s := range mt.servers {
		st.Servers[strconv.FormatUint(uint64(id), 10)] = runstats.Server{Pid: s.pid, PeakRSSKB: s.peakKB, Stats: s.last}
		addStats(&total, s.prior)
		addStats(&total, s.cur)
	}
	st.CPU = m.cpu()
	if n := float64(mt.puts.ok); n > 0 {
		st.MsgsPerPut = runstats.MsgsPerPut{
			Total: round3(float64(total.Batches) / n), Writes: round3(float64(total.Writes) / n),
			Relays: round3(float64(total.Relayed) / n), Acks: round3(float64(total.Acks) / n),
			Deltas: round3(float64(total.Deltas) / n),
		}
		st.BytesPerPut = round3(float64(total.Bytes) / n)
		st.FsyncsPerPut = round3(float64(total.Fsyncs) / n)
	}
	return st
}

// cpu is the run's rusage by role: the master's own, and that of the
// watchdogs (with their servers) and clients it started and has reaped
// (all of them, once shutdown has run). Nil where there is no rusage.
// Processes the master found running and did not start are not counted.
func (m *master) cpu() *runstats.CPU {
	self, ok := runstats.SelfUsage()
	if !ok {
		return nil
	}
	c := &runstats.CPU{Master: self}
	if m.launch != nil {
		c.Servers = m.launch.reapedUsage("watchdog")
		c.Clients = m.launch.reapedUsage("client")
	}
	return c
}

func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// metricsSummary prints the run's main figures on stderr, after the
// commands line.
func (m *master) metricsSummary(st runstats.Stats) {
	if st.Puts > 0 {
		l := st.PutLatencyMs
		m.notef("%d puts, %.1f puts/s, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms", st.Puts, st.PutsPerS, l.P50, l.P99, l.Max)
	}
	if st.Deletes > 0 {
		l := st.DeleteLatencyMs
		m.notef("%d deletes, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms", st.Deletes, l.P50, l.P99, l.Max)
	}
	if st.Gets > 0 {
		l := st.GetLatencyMs
		m.notef("%d gets, %.1f gets/s, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms", st.Gets, st.GetsPerS, l.P50, l.P99, l.Max)
	}
	if n := len(st.Stabilize); n > 0 {
		polls := 0
		for _, s := range st.Stabilize {
			polls += s.Polls
		}
		m.notef("stabilize polls: %d in all, %.1f per stabilize", polls, float64(polls)/float64(n))
	}
	if st.Puts > 0 && len(st.Servers) > 0 {
		p := st.MsgsPerPut
		m.notef("per put: %.2f messages between servers (%.2f writes, %.2f relays, %.2f acks, %.2f deltas), %.0f bytes",
			p.Total, p.Writes, p.Relays, p.Acks, p.Deltas, st.BytesPerPut)
	}
	var rss []string
	for _, id := range m.cfg.ServerIDs() {
		if s, ok := st.Servers[strconv.FormatUint(uint64(id), 10)]; ok && s.PeakRSSKB > 0 {
			rss = append(rss, fmt.Sprintf("%d: %d", id, s.PeakRSSKB/1024))
		}
	}
	if len(rss) > 0 {
		m.notef("peak RSS (MB) of servers %s", strings.Join(rss, ", "))
	}
	stale := "stale reads: counted with -check"
	if m.hist != nil {
		stale = fmt.Sprintf("%d stale reads", st.StaleReads)
	}
	m.notef("%d ERR_DEP, %d ERR_CONN, %s", st.ErrDep, st.ErrConn, stale)
}
