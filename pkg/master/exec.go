package master

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/check"
	"gossipkv/pkg/rpcconn"
	"gossipkv/pkg/script"
)

// exec runs one parsed command. Its error, if any, is what is wrong with
// the line; the run goes on.
func (m *master) exec(ctx context.Context, c script.Command) error {
	m.line, m.lineStart = c.Line, time.Now()
	switch c.Kind {
	case script.JoinServer:
		return m.joinServer(c.IDs[0])
	case script.KillServer:
		return m.killServer(c.IDs[0])
	case script.JoinClient:
		return m.joinClient(c.IDs[0], c.IDs[1])
	case script.BreakConnection:
		return m.link(c.IDs[0], c.IDs[1], false)
	case script.CreateConnection:
		return m.link(c.IDs[0], c.IDs[1], true)
	case script.Stabilize:
		t0 := time.Now()
		m.polls = 0
		err := m.stabilize(ctx)
		if err == nil {
			m.stabilizes = append(m.stabilizes, time.Since(t0))
		}
		m.noteStabilize(ctx, err, t0)
		return err
	case script.PrintStore:
		return m.printStore(c.IDs[0])
	case script.Put:
		return m.put(c.IDs[0], c.Key, c.Value)
	case script.Get:
		return m.get(c.IDs[0], c.Key)
	case script.Delete:
		return m.del(c.IDs[0], c.Key)
	case script.CAS:
		return m.cas(c.IDs[0], c.Key, c.Old, c.Value)
	case script.SkewClock:
		return m.skewClock(c.IDs[0], c.Skew)
	case script.PauseServer:
		return m.pause(c.IDs[0], true)
	case script.ResumeServer:
		return m.pause(c.IDs[0], false)
	}
	return fmt.Errorf("unknown command kind %v", c.Kind)
}

// ---- checks on ids

func (m *master) isServer(id uint32) bool { _, ok := m.servers[id]; return ok }
func (m *master) isClient(id uint32) bool { _, ok := m.clients[id]; return ok }

// known checks that id is in the config at all.
func (m *master) known(id uint32) error {
	if !m.isServer(id) && !m.isClient(id) {
		return fmt.Errorf("id %d is not in %s", id, m.cfgName)
	}
	return nil
}

func (m *master) needServer(id uint32) error {
	if err := m.known(id); err != nil {
		return err
	}
	if !m.isServer(id) {
		return fmt.Errorf("%d is a client, not a server", id)
	}
	return nil
}

func (m *master) needLiveServer(id uint32) error {
	if err := m.needServer(id); err != nil {
		return err
	}
	if !m.view.Live(id) {
		return fmt.Errorf("server %d is not running", id)
	}
	return nil
}

func (m *master) needClient(id uint32) error {
	if err := m.known(id); err != nil {
		return err
	}
	if !m.isClient(id) {
		return fmt.Errorf("%d is a server, not a client", id)
	}
	return nil
}

func (m *master) needJoined(id uint32) error {
	if err := m.needClient(id); err != nil {
		return err
	}
	if _, ok := m.joined[id]; !ok {
		return fmt.Errorf("client %d has not joined", id)
	}
	return nil
}

// raftGroupMarker, in the data directory, names the cluster's Raft group
// (linearizable mode): drawn when a server is asked to start it, kept for
// -keep-data runs, which must not start another, and removed by a run that
// wipes data.
const raftGroupMarker = "raft.group"

// raftGroupFor says what the server about to start is told of the Raft
// group: its name, and whether it is to start it (the first server started
// while no server holds the group's state). Each run that wipes data
// starts a new group; a -keep-data run goes on with the one the marker
// names. A server whose Raft state is of another group drops it (see
// api.StartArgs.RaftGroup): two groups would each begin a log of their
// own, which Raft cannot reconcile once one leader adds a member of the
// other.
func (m *master) raftGroupFor() (group string, bootstrap bool, err error) {
	marker := filepath.Join(m.cfg.DataDir, raftGroupMarker)
	if !m.opts.KeepData && !m.raftMarkerChecked {
		// Wiped servers hold no group; any left unwiped hold an old one.
		if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", false, fmt.Errorf("remove %s: %w", marker, err)
		}
	}
	if m.opts.KeepData && !m.raftMarkerChecked {
		if b, err := os.ReadFile(marker); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			m.raftGroupID, m.raftGroupStarted = strings.TrimSpace(string(b)), true
		}
	}
	m.raftMarkerChecked = true
	if !m.cfg.Linearizable() {
		return "", false, nil
	}
	if m.raftGroupID == "" {
		m.raftGroupID = rpcconn.NewRun() // a random name
		// Recorded before the start: a server that starts the group and
		// dies before the master hears of it must not leave the next
		// -keep-data run to start another.
		if err := os.WriteFile(marker, []byte(m.raftGroupID+"\n"), 0o644); err != nil {
			return "", false, fmt.Errorf("record the raft group in %s: %w", marker, err)
		}
	}
	return m.raftGroupID, !m.raftGroupStarted, nil
}

// ---- commands

func (m *master) joinServer(id uint32) error {
	if err := m.needServer(id); err != nil {
		return err
	}
	if m.view.Live(id) {
		return fmt.Errorf("server %d is already running", id)
	}
	group, bootstrap, err := m.raftGroupFor()
	if err != nil {
		return err
	}
	args := api.StartArgs{ServerID: id, Fresh: !m.opts.KeepData && !m.started[id], Run: m.self.Run, LogFormat: string(m.opts.LogFormat),
		Consistency: m.opts.Consistency, RaftBootstrap: bootstrap, RaftGroup: group}
	var reply api.StartReply
	if err := m.watchdogs[id].CallTimeout(api.WatchdogStart, args, &reply, m.startTimeout); err != nil {
		return fmt.Errorf("start server %d: %w", id, err)
	}
	m.started[id] = true
	m.raftGroupStarted = m.raftGroupStarted || bootstrap
	m.noteStart(id, args.Fresh, reply.Pid)
	// Live peers still drop the new process's traffic if the master cut
	// them, so heal their ends; the new process is told too, in case a
	// server keeps its cuts across a restart.
	var calls []func() error
	delete(m.deferred, id)
	for _, p := range m.view.Join(id) {
		if m.view.Live(p) && p != id {
			calls = append(calls, m.linkCall(p, api.ServerHeal, id), m.serverCall(id, api.ServerHeal, p))
		}
	}
	// The skew the script gave the server outlives its process: the
	// new one is skewed before the line returns, so before any write of
	// the script reaches it.
	if d := m.skews[id]; d != 0 {
		calls = append(calls, m.skewCall(id, d))
	}
	if err := fanOut(calls); err != nil {
		return err
	}
	if m.cfg.Linearizable() {
		m.awaitVoter(id)
	}
	return nil
}

// awaitVoter waits, within the start timeout, until a leader of the Raft
// group has server id among its voters with every entry of its log
// committed, the configuration that added it included: a script that
// kills the group's first server right after the next joins must find
// them voters, able to elect a leader without it. A server that cannot be
// added (no leader backed by a quorum reaches it) is named on stderr and
// the script goes on.
func (m *master) awaitVoter(id uint32) {
	deadline := time.Now().Add(m.startTimeout)
	for {
		if st, err := m.statusAll(m.view.ActiveIDs()); err == nil {
			for _, s := range st {
				r := s.Raft
				if r != nil && r.State == "Leader" && slices.Contains(r.Voters, id) && r.CommitIndex >= r.LastIndex {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			m.notef("joinServer at line %d: server %d is not a voter of the raft group after %v: no leader backed by a quorum added it", m.line, id, m.startTimeout)
			return
		}
		time.Sleep(m.stabilPoll)
	}
}

func (m *master) killServer(id uint32) error {
	if err := m.needServer(id); err != nil {
		return err
	}
	if !m.view.Live(id) {
		return fmt.Errorf("server %d is not running", id)
	}
	if !m.view.Paused(id) {
		m.collectStats([]uint32{id})
	}
	err := m.watchdogs[id].CallTimeout(api.WatchdogKill, api.KillArgs{ServerID: id}, &api.Empty{}, m.startTimeout)
	var se rpc.ServerError
	if err != nil && !errors.As(err, &se) {
		// Nothing answered: the server may still run.
		return fmt.Errorf("kill server %d: %w", id, err)
	}
	// The watchdog answered, so the server is gone, even if it refused
	// because the server had already died on its own: record that, so a
	// joinServer can start it again.
	m.view.Kill(id)
	delete(m.deferred, id)
	m.noteKill(id)
	// The master's connection to the dead process is broken; forget it
	// so the first call to the restarted server dials afresh.
	m.servers[id].Close()
	if err != nil {
		return fmt.Errorf("kill server %d: %w", id, err)
	}
	return nil
}

func (m *master) joinClient(cid, sid uint32) error {
	if err := m.needClient(cid); err != nil {
		return err
	}
	if err := m.needLiveServer(sid); err != nil {
		return err
	}
	return m.connect(cid, sid)
}

// connect points client cid at server sid.
func (m *master) connect(cid, sid uint32) error {
	s, _ := m.cfg.Server(sid)
	args := api.ConnectArgs{ServerID: sid, Addr: s.RPCAddr(), Run: m.self.Run}
	if err := m.clients[cid].Call(api.ClientConnect, args, &api.Empty{}); err != nil {
		return fmt.Errorf("connect client %d to server %d: %w", cid, sid, err)
	}
	m.joined[cid] = sid
	m.connected[cid] = true
	return nil
}

// link breaks (up=false) or restores (up=true) the link between a and b:
// two servers, or a client and a server in either order.
func (m *master) link(a, b uint32, up bool) error {
	for _, id := range []uint32{a, b} {
		if err := m.known(id); err != nil {
			return err
		}
	}
	if m.isClient(a) && m.isClient(b) {
		return fmt.Errorf("%d and %d are both clients: a link needs a server at one end", a, b)
	}
	if a == b {
		return fmt.Errorf("a link needs two different servers")
	}
	if m.isClient(a) || m.isClient(b) {
		cid, sid := a, b
		if m.isClient(b) {
			cid, sid = b, a
		}
		if up {
			// Connecting is what joinClient does; a client need not
			// have joined before.
			if err := m.needLiveServer(sid); err != nil {
				return err
			}
			return m.connect(cid, sid)
		}
		if err := m.needJoined(cid); err != nil {
			return err
		}
		if m.joined[cid] != sid || !m.connected[cid] {
			return nil // not linked to sid: nothing to break
		}
		if err := m.clients[cid].Call(api.ClientDisconnect, api.Empty{}, &api.Empty{}); err != nil {
			return fmt.Errorf("disconnect client %d: %w", cid, err)
		}
		m.connected[cid] = false
		return nil
	}
	// Both ends must run: joinServer restores every link of the server it
	// starts, so a link to a dead server cannot be cut or healed ahead.
	for _, id := range []uint32{a, b} {
		if err := m.needLiveServer(id); err != nil {
			return err
		}
	}
	method := api.ServerCut
	if up {
		method = api.ServerHeal
		m.view.Heal(a, b)
	} else {
		m.view.Cut(a, b)
	}
	m.noteLink(a, b, up)
	return fanOut([]func() error{m.linkCall(a, method, b), m.linkCall(b, method, a)})
}

// linkCall is serverCall for a Cut or Heal, unless server id is paused:
// then the call waits for resumeServer (the live end's cut already stops
// all traffic between the two), and only the latest for each peer is
// kept.
func (m *master) linkCall(id uint32, method string, peer uint32) func() error {
	if !m.view.Paused(id) {
		return m.serverCall(id, method, peer)
	}
	d := m.deferred[id]
	if d == nil {
		d = &deferredCalls{links: map[uint32]string{}}
		m.deferred[id] = d
	}
	d.links[peer] = method
	return func() error { return nil }
}

// deferredCalls are what a paused server is to be told when it resumes:
// its end of the links cut or healed meanwhile, and its skew.
type deferredCalls struct {
	links map[uint32]string // peer -> ServerCut or ServerHeal
	skew  bool
}

// skewCall sets server id's clock skew, to run in a fan-out.
func (m *master) skewCall(id uint32, d time.Duration) func() error {
	conn := m.servers[id]
	return func() error {
		if err := conn.Call(api.ServerSkew, api.SkewArgs{Skew: d}, &api.Empty{}); err != nil {
			return fmt.Errorf("server %d: skew clock %s: %w", id, script.FormatSkew(d), err)
		}
		return nil
	}
}

// skewClock shifts the clock server id's versions read by d (0: right).
// The master keeps it: a restarted server gets it again (joinServer), and
// a paused one when it resumes.
func (m *master) skewClock(id uint32, d time.Duration) error {
	if err := m.needLiveServer(id); err != nil {
		return err
	}
	if d == 0 {
		delete(m.skews, id)
	} else {
		m.skews[id] = d
	}
	m.record(check.Event{Op: check.Skew, Server: id, Skew: d})
	if m.view.Paused(id) {
		if m.deferred[id] == nil {
			m.deferred[id] = &deferredCalls{links: map[uint32]string{}}
		}
		m.deferred[id].skew = true
		return nil
	}
	return m.skewCall(id, d)()
}

// pause stops (SIGSTOP, through its watchdog) or resumes (SIGCONT)
// server id. A paused server answers nothing: the master's calls to it
// time out, its clients get ERR_CONN, and stabilize leaves it out. On
// resume it is told what it missed of the script (its links' cuts and
// heals, its skew) before the line returns.
func (m *master) pause(id uint32, pause bool) error {
	if err := m.needLiveServer(id); err != nil {
		return err
	}
	if m.view.Paused(id) == pause {
		if pause {
			return fmt.Errorf("server %d is already paused", id)
		}
		return fmt.Errorf("server %d is not paused", id)
	}
	method := api.WatchdogResume
	if pause {
		method = api.WatchdogPause
	}
	if err := m.watchdogs[id].CallTimeout(method, api.KillArgs{ServerID: id}, &api.Empty{}, m.startTimeout); err != nil {
		return fmt.Errorf("%s server %d: %w", map[bool]string{true: "pause", false: "resume"}[pause], id, err)
	}
	if pause {
		m.view.Pause(id)
		m.record(check.Event{Op: check.Pause, Server: id})
		return nil
	}
	m.view.Resume(id)
	m.record(check.Event{Op: check.Resume, Server: id})
	d := m.deferred[id]
	delete(m.deferred, id)
	if d == nil {
		return nil
	}
	var calls []func() error
	peers := make([]uint32, 0, len(d.links))
	for p := range d.links {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	for _, p := range peers {
		calls = append(calls, m.serverCall(id, d.links[p], p))
	}
	if d.skew {
		calls = append(calls, m.skewCall(id, m.skews[id]))
	}
	return fanOut(calls)
}

// serverCall makes a Cut or Heal call of server id about peer, to run in a
// fan-out.
func (m *master) serverCall(id uint32, method string, peer uint32) func() error {
	conn := m.servers[id]
	return func() error {
		if err := conn.Call(method, api.LinkArgs{Peer: peer}, &api.Empty{}); err != nil {
			return fmt.Errorf("server %d: %s %d: %w", id, method, peer, err)
		}
		return nil
	}
}

// fanOut runs calls at once and joins their errors.
func fanOut(calls []func() error) error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (m *master) printStore(id uint32) error {
	if err := m.needLiveServer(id); err != nil {
		return err
	}
	if m.view.Paused(id) {
		return fmt.Errorf("server %d is paused (resumeServer %d first)", id, id)
	}
	var reply api.DumpReply
	if err := m.servers[id].Call(api.ServerDump, api.Empty{}, &reply); err != nil {
		return fmt.Errorf("dump server %d: %w", id, err)
	}
	for _, kv := range reply.Entries {
		if !kv.Deleted {
			m.printKV(kv.Key, kv.Value)
		}
	}
	return nil
}

func (m *master) printKV(key, value []byte) {
	m.out.Write(key)
	m.out.WriteByte(':')
	m.out.Write(value)
	m.out.WriteByte('\n')
}

func (m *master) put(cid uint32, key, value []byte) error {
	if err := m.needJoined(cid); err != nil {
		return err
	}
	var reply api.ClientReply
	t0 := time.Now()
	err := m.clients[cid].Call(api.ClientPut, api.ClientPutArgs{Key: key, Value: value}, &reply)
	t1 := time.Now()
	m.notePut(cid, key, value, reply, err, t0, t1)
	if err != nil {
		return fmt.Errorf("client %d: %w", cid, err)
	}
	if reply.Status != api.OK {
		return statusError("put failed", reply)
	}
	return nil
}

func (m *master) del(cid uint32, key []byte) error {
	if err := m.needJoined(cid); err != nil {
		return err
	}
	var reply api.ClientReply
	t0 := time.Now()
	err := m.clients[cid].Call(api.ClientDelete, api.ClientDeleteArgs{Key: key}, &reply)
	t1 := time.Now()
	m.noteDelete(cid, key, reply, err, t0, t1)
	if err != nil {
		return fmt.Errorf("client %d: %w", cid, err)
	}
	if reply.Status != api.OK {
		return statusError("delete failed", reply)
	}
	return nil
}

// cas prints KEY:OK when the key held old and now holds value, KEY:ERR_CAS
// when it did not; anything else fails the line.
func (m *master) cas(cid uint32, key, old, value []byte) error {
	if !m.cfg.Linearizable() {
		return fmt.Errorf("cas needs consistency: linearizable, and this run is %s (set consistency in the config, or run the master with -consistency linearizable)", m.cfg.Consistency)
	}
	if err := m.needJoined(cid); err != nil {
		return err
	}
	var reply api.ClientReply
	t0 := time.Now()
	err := m.clients[cid].Call(api.ClientCAS, api.ClientCASArgs{Key: key, Old: old, Value: value}, &reply)
	t1 := time.Now()
	m.noteCAS(cid, key, old, value, reply, err, t0, t1)
	if err != nil {
		return fmt.Errorf("client %d: %w", cid, err)
	}
	switch reply.Status {
	case api.OK, api.ErrCAS:
		m.printKV(key, []byte(reply.Status.String()))
		return nil
	}
	return statusError("cas failed", reply)
}

func (m *master) get(cid uint32, key []byte) error {
	if err := m.needJoined(cid); err != nil {
		return err
	}
	var reply api.ClientReply
	t0 := time.Now()
	err := m.clients[cid].Call(api.ClientGet, api.ClientGetArgs{Key: key}, &reply)
	t1 := time.Now()
	m.noteGet(cid, key, reply, err, t0, t1)
	if err != nil {
		return fmt.Errorf("client %d: %w", cid, err)
	}
	switch reply.Status {
	case api.OK:
		m.printKV(key, reply.Value)
	case api.ErrKey, api.ErrDep, api.ErrConn, api.ErrUnavailable:
		// These are answers, not failures of the line.
		m.printKV(key, []byte(reply.Status.String()))
	default:
		m.printKV(key, []byte(reply.Status.String()))
		return statusError("get failed", reply)
	}
	return nil
}

func statusError(what string, r api.ClientReply) error {
	if r.Reason != "" {
		return fmt.Errorf("%s: %v: %s", what, r.Status, r.Reason)
	}
	return fmt.Errorf("%s: %v", what, r.Status)
}

// ---- stabilize

// stabilize polls every live server's Status until the cluster has
// settled: in eventual mode, until within each connected group of the
// master's link view all servers hold the same writes and the same store;
// in linearizable mode, see raftSettled.
//
// Paused servers are left out (neither dead nor converged: they can take
// no part until resumed), and a note on stderr names them.
func (m *master) stabilize(ctx context.Context) error {
	if p := m.view.PausedIDs(); len(p) > 0 {
		m.notef("stabilize at line %d: left out paused servers %v", m.line, p)
	}
	live := m.view.ActiveIDs()
	settled := m.converged(m.view.Groups())
	if m.cfg.Linearizable() {
		settled = func(st map[uint32]api.StatusReply) (bool, string) {
			done, behind, why := m.raftSettled(live, st)
			if done && len(behind) > 0 {
				m.notef("stabilize at line %d: %s; left as they are: servers %v", m.line, why, behind)
			}
			return done, why
		}
	}
	deadline := time.Now().Add(m.stabilizeTimeout)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		statuses, err := m.statusAll(live)
		m.polls++
		if err != nil {
			return err
		}
		done, why := settled(statuses)
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not stable after %v: %s", m.stabilizeTimeout, why)
		}
		timer.Reset(m.stabilPoll)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stabilize: %w", ctx.Err())
		case <-timer.C:
		}
	}
}

// converged judges a poll in eventual mode: every group's servers agree
// (else what differs, for the error).
func (m *master) converged(groups [][]uint32) func(map[uint32]api.StatusReply) (bool, string) {
	return func(st map[uint32]api.StatusReply) (bool, string) {
		diverged := divergent(groups, st)
		return len(diverged) == 0, describe(diverged, st)
	}
}

// statusAll asks every server of ids for its Status at once.
func (m *master) statusAll(ids []uint32) (map[uint32]api.StatusReply, error) {
	replies := make([]api.StatusReply, len(ids))
	calls := make([]func() error, len(ids))
	for i, id := range ids {
		conn := m.servers[id]
		calls[i] = func() error {
			if err := conn.Call(api.ServerStatus, api.Empty{}, &replies[i]); err != nil {
				return fmt.Errorf("status of server %d: %w", id, err)
			}
			if replies[i].ID != id {
				return fmt.Errorf("status of server %d: server %d answered at %s", id, replies[i].ID, conn.Addr())
			}
			return nil
		}
	}
	if err := fanOut(calls); err != nil {
		return nil, err
	}
	out := make(map[uint32]api.StatusReply, len(ids))
	for i, id := range ids {
		out[id] = replies[i]
	}
	return out, nil
}

// divergent returns the groups whose members do not all agree.
func divergent(groups [][]uint32, st map[uint32]api.StatusReply) [][]uint32 {
	var out [][]uint32
	for _, g := range groups {
		first := st[g[0]]
		for _, id := range g[1:] {
			s := st[id]
			if s.StoreDigest != first.StoreDigest || !s.Seen.Equal(first.Seen) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// describe says, for an error line, what each server of the diverged
// groups last reported.
func describe(groups [][]uint32, st map[uint32]api.StatusReply) string {
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		servers := make([]string, 0, len(g))
		for _, id := range g {
			s := st[id]
			servers = append(servers, fmt.Sprintf("server %d seen %v digest %016x keys %d", id, s.Seen, s.StoreDigest, s.Keys))
		}
		parts = append(parts, fmt.Sprintf("group %v differs: %s", g, strings.Join(servers, ", ")))
	}
	return strings.Join(parts, "; ")
}

// raftSettled judges one poll of stabilize in linearizable mode: done,
// the live servers left behind, and what it waits for (or, when done, why
// they are left). It is done once a leader backed by a quorum of the
// voters (counting only the live servers it has a direct link to: Raft
// does not relay) has committed its whole log, and every live server with
// a link to it is a voter and has applied that. The servers cut off from
// it are left as they are, and a note on stderr names them; so are all of
// them when no live server reaches a quorum.
func (m *master) raftSettled(live []uint32, st map[uint32]api.StatusReply) (done bool, behind []uint32, why string) {
	// The newest configuration any server reports.
	var voters []uint32
	var newest *api.RaftStatus
	for _, id := range live {
		r := st[id].Raft
		if r == nil {
			return false, nil, fmt.Sprintf("server %d reports no raft node (is it in eventual mode?)", id)
		}
		if newest == nil || r.Term > newest.Term || (r.Term == newest.Term && r.LastIndex > newest.LastIndex) {
			newest = r
		}
	}
	if newest == nil {
		return true, nil, ""
	}
	voters = newest.Voters
	reach := func(l uint32) []uint32 {
		var q []uint32
		for _, id := range live {
			if id == l || !m.view.IsCut(l, id) {
				q = append(q, id)
			}
		}
		return q
	}
	quorum := func(q []uint32) bool {
		n := 0
		for _, id := range q {
			if slices.Contains(voters, id) {
				n++
			}
		}
		return len(voters) > 0 && 2*n > len(voters)
	}
	possible := false
	for _, id := range live {
		if slices.Contains(voters, id) && quorum(reach(id)) {
			possible = true
		}
	}
	if !possible {
		return true, live, fmt.Sprintf("no live server reaches a quorum of the raft voters %v", voters)
	}
	var leader uint32
	var lr *api.RaftStatus
	for _, id := range live {
		r := st[id].Raft
		if r.State == "Leader" && quorum(reach(id)) && (lr == nil || r.Term > lr.Term) {
			leader, lr = id, r
		}
	}
	if lr == nil {
		return false, nil, "waiting for a raft leader backed by a quorum"
	}
	q := reach(leader)
	if lr.CommitIndex < lr.LastIndex {
		return false, nil, fmt.Sprintf("leader %d has committed %d of %d entries", leader, lr.CommitIndex, lr.LastIndex)
	}
	for _, id := range q {
		r := st[id].Raft
		if !slices.Contains(lr.Voters, id) {
			return false, nil, fmt.Sprintf("server %d is not yet a voter of leader %d (voters %v)", id, leader, lr.Voters)
		}
		if r.Applied < lr.CommitIndex {
			return false, nil, fmt.Sprintf("server %d has applied %d of leader %d's %d", id, r.Applied, leader, lr.CommitIndex)
		}
	}
	for _, id := range live {
		if !slices.Contains(q, id) {
			behind = append(behind, id)
		}
	}
	return true, behind, fmt.Sprintf("cut off from raft leader %d and its quorum", leader)
}
