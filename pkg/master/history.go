package master

import (
	"context"
	"fmt"
	"os"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/check"
	"gossipkv/pkg/config"
	"gossipkv/pkg/model"
)

// history is what a -check run records for check.Check: every command that
// changed the cluster or talked to a client, as the master saw it. The
// master's fields are nil without -check, which then costs nothing (no
// dumps after stabilize).
type history struct {
	events check.History
	// start is when the run began: events carry their times since then,
	// on the monotonic clock.
	start time.Time
}

// record records a cluster event, timed from the start of its script
// command until now.
func (m *master) record(e check.Event) {
	m.recordCall(e, m.lineStart, time.Now())
}

// recordCall records an event that ran from t0 to t1.
func (m *master) recordCall(e check.Event, t0, t1 time.Time) {
	if m.hist != nil {
		e.Line = m.line
		e.Call, e.Return = t0.Sub(m.hist.start), t1.Sub(m.hist.start)
		m.hist.events = append(m.hist.events, e)
	}
}

// noteStart records that server id runs a new process, pid.
func (m *master) noteStart(id uint32, fresh bool, pid int) {
	if srv, _ := m.cfg.Server(id); m.isLocal(srv.Host) {
		// The watchdog chose the binary: the process says which.
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			exe, _ = config.FindBinary(m.launch.binDir, "server")
		}
		m.launch.pids.write(fmt.Sprintf("server-%d", id), pid, exe)
	}
	m.met.started(id, pid)
	m.record(check.Event{Op: check.Start, Server: id, Fresh: fresh})
}

func (m *master) noteKill(id uint32) {
	m.launch.pids.remove(fmt.Sprintf("server-%d", id))
	m.record(check.Event{Op: check.Kill, Server: id})
}

func (m *master) noteLink(a, b uint32, up bool) {
	op := check.Cut
	if up {
		op = check.Heal
	}
	m.record(check.Event{Op: op, Server: a, Peer: b})
}

// notePut records a put whose call to the client ran from t0 to t1; err
// is the call's own failure.
func (m *master) notePut(cid uint32, key, value []byte, r api.ClientReply, err error, t0, t1 time.Time) {
	st := statusOf(r.Status, err)
	m.met.puts.observe(t0, t1, st == check.OK)
	if st == check.Unreachable {
		m.met.errCon++
	}
	m.recordCall(check.Event{Op: check.Put, Client: cid, Server: m.answeredBy(cid, r, st), Key: key, Value: value,
		Status: st, Version: r.Version, Dep: r.Dep}, t0, t1)
}

// noteDelete records a delete whose call ran from t0 to t1.
func (m *master) noteDelete(cid uint32, key []byte, r api.ClientReply, err error, t0, t1 time.Time) {
	st := statusOf(r.Status, err)
	m.met.deletes.observe(t0, t1, st == check.OK)
	if st == check.Unreachable {
		m.met.errCon++
	}
	m.recordCall(check.Event{Op: check.Delete, Client: cid, Server: m.answeredBy(cid, r, st), Key: key,
		Status: st, Version: r.Version, Dep: r.Dep}, t0, t1)
}

// noteCAS records a cas whose call ran from t0 to t1.
func (m *master) noteCAS(cid uint32, key, old, value []byte, r api.ClientReply, err error, t0, t1 time.Time) {
	st := statusOf(r.Status, err)
	m.met.puts.observe(t0, t1, st == check.OK || st == check.Mismatch)
	if st == check.Unreachable {
		m.met.errCon++
	}
	m.recordCall(check.Event{Op: check.CAS, Client: cid, Server: m.answeredBy(cid, r, st), Key: key, Old: old, Value: value,
		Status: st, Version: r.Version, Dep: r.Dep}, t0, t1)
}

// noteGet records a get whose call ran from t0 to t1.
func (m *master) noteGet(cid uint32, key []byte, r api.ClientReply, err error, t0, t1 time.Time) {
	st := statusOf(r.Status, err)
	answered := st == check.OK || st == check.NoKey || st == check.Behind
	m.met.gets.observe(t0, t1, answered)
	switch st {
	case check.Behind:
		m.met.errDep++
	case check.Unreachable:
		m.met.errCon++
	}
	m.recordCall(check.Event{Op: check.Get, Client: cid, Server: m.answeredBy(cid, r, st), Key: key, Value: r.Value,
		Status: st, Version: r.Version, Dep: r.Dep, Stable: r.Stable}, t0, t1)
}

// answeredBy is the server of a put or get: the one that answered, or for
// a call that got no answer, the one the client was pointed at.
func (m *master) answeredBy(cid uint32, r api.ClientReply, st check.Status) uint32 {
	if st == check.OK || st == check.NoKey || st == check.Behind || st == check.Mismatch || st == check.Unavailable {
		return r.Server
	}
	return m.joined[cid]
}

func statusOf(s api.Status, err error) check.Status {
	if err != nil {
		return check.Unreachable
	}
	switch s {
	case api.OK:
		return check.OK
	case api.ErrKey:
		return check.NoKey
	case api.ErrDep:
		return check.Behind
	case api.ErrConn:
		return check.Unreachable
	case api.ErrCAS:
		return check.Mismatch
	case api.ErrUnavailable:
		return check.Unavailable
	}
	return check.Failed
}

// noteStabilize records a stabilize that started at t0 and ended with err,
// after m.polls rounds of Status calls. With -check it then dumps every
// live server, converged or not: the checker judges what is there.
func (m *master) noteStabilize(ctx context.Context, err error, t0 time.Time) {
	if err == nil {
		m.met.stabilizes = append(m.met.stabilizes, stabStat{line: m.line, dur: time.Since(t0), polls: m.polls})
	}
	if m.hist == nil || ctx.Err() != nil {
		return
	}
	e := check.Event{Op: check.Stabilize, Converged: err == nil, Stores: map[uint32][]check.Item{}, Stables: map[uint32]model.Version{}}
	if err != nil {
		e.Err = err.Error()
	}
	live := m.view.ActiveIDs()
	replies := make([]api.DumpReply, len(live))
	errs := make([]error, len(live))
	calls := make([]func() error, len(live))
	for i, id := range live {
		conn := m.servers[id]
		calls[i] = func() error {
			errs[i] = conn.Call(api.ServerDump, api.Empty{}, &replies[i])
			return nil
		}
	}
	_ = fanOut(calls)
	for i, id := range live {
		if errs[i] != nil {
			m.errf("check: dump server %d: %v", id, errs[i])
			continue
		}
		items := make([]check.Item, len(replies[i].Entries))
		for j, kv := range replies[i].Entries {
			items[j] = check.Item{Key: kv.Key, Value: kv.Value, Version: kv.Version, Deleted: kv.Deleted}
		}
		e.Stores[id] = items
		if !replies[i].Stable.IsZero() {
			e.Stables[id] = replies[i].Stable
		}
	}
	m.record(e)
}
