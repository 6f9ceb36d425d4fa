package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
	"gossipkv/pkg/transport"
)

// reconcileEvery is how often the membership loop of linearizable mode
// looks at memberlist besides its events: a member a failed AddVoter left
// out is tried again within it.
const reconcileEvery = 100 * time.Millisecond

// startRaft builds the server's Raft node (linearizable mode) in
// Options.Raft.Dir. Its streams start with transport.RaftMagic and go
// through the cuttable transport, on the gossip port, under the gossip
// label: cuts, kills and the cluster's name apply to Raft as to gossip.
func (s *Server) startRaft() error {
	o := s.opts
	cfg := *o.Raft
	cfg.ID = o.ID
	cfg.Addr = o.Peers[o.ID]
	cfg.Label = gossipLabel(o.Cluster, o.Run)
	cfg.Logger = s.log
	cfg.Faults = o.Fault.raft() // FAULT hook: none unless a raft- fault
	byAddr := make(map[string]uint32, len(o.Peers))
	for id, addr := range o.Peers {
		byAddr[addr] = id
	}
	demux := s.data.demux
	cfg.Dial = func(addr string, timeout time.Duration) (net.Conn, error) {
		id, ok := byAddr[addr]
		if !ok {
			return nil, fmt.Errorf("server %d: raft: %s is no server's address", o.ID, addr)
		}
		return demux.Dial(transport.RaftMagic, memberlist.Address{Addr: addr, Name: transport.Names(id)}, timeout)
	}
	if err := s.claimRaftDir(cfg.Dir); err != nil {
		return fmt.Errorf("server %d: %w", o.ID, err)
	}
	n, err := raftkv.New(cfg)
	if err != nil {
		return fmt.Errorf("server %d: %w", o.ID, err)
	}
	demux.Route(transport.RaftMagic, n.Handle)
	s.raft = n
	if o.RaftBootstrap && !n.HasState() {
		self := raftkv.Peer{ID: o.ID, Addr: o.Peers[o.ID]}
		if err := n.Bootstrap([]raftkv.Peer{self}); err != nil && !errors.Is(err, raftkv.ErrBootstrapped) {
			return fmt.Errorf("server %d: raft bootstrap: %w", o.ID, err)
		}
		s.log.Info("raft: started the cluster's group, of this server alone")
	}
	return nil
}

// raftGroupFile, in the Raft directory, names the group its state is of.
const raftGroupFile = "group"

// claimRaftDir makes dir the Raft directory of the group Options.RaftGroup
// names: state of another group, or of none named (a group this server
// was in before the master named groups), is removed first, as the log of
// another history; then the name is written, durably, before Raft starts.
// A run that left this server out may have started a new group with the
// others: joining it with the old log would let Raft take entries of two
// histories that happen to share terms at the indexes it checks.
func (s *Server) claimRaftDir(dir string) error {
	group := s.opts.RaftGroup
	if group == "" {
		return nil
	}
	path := filepath.Join(dir, raftGroupFile)
	had, err := os.ReadFile(path)
	switch {
	case err == nil && strings.TrimSpace(string(had)) == group:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("raft: %w", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		s.log.Warn(fmt.Sprintf("raft: the state in %s is of another group (%q, this cluster's is %q): removed; the group's leader adds this server afresh", dir, strings.TrimSpace(string(had)), group))
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("raft: remove another group's state: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	if err := writeSynced(path, []byte(group+"\n")); err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	return nil
}

// writeSynced writes a small file and makes it and its name durable.
func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// raftMembers keeps the Raft group's voters in step with memberlist:
// the leader adds every live member that is not a voter yet. It looks on
// every membership event and every reconcileEvery. A server never starts
// a group here: one is started once in a cluster's life, at the start the
// master marks (Options.RaftBootstrap), and every other server waits to
// be added.
func (s *Server) raftMembers() {
	defer s.done.Done()
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		case <-s.raftPoke:
		}
		select {
		case <-s.joinedOnce:
		default:
			continue // memberlist has not tried the others yet
		}
		s.reconcileRaft()
	}
}

func (s *Server) reconcileRaft() {
	live := s.liveMembers()
	if !s.raft.HasState() {
		return // the leader of the group adds us
	}
	st := s.raft.Status()
	if st.State != "Leader" {
		return
	}
	voters := make(map[uint32]string, len(st.Voters))
	for _, v := range st.Voters {
		voters[v.ID] = v.Addr
	}
	for _, id := range live {
		addr := s.opts.Peers[id]
		if voters[id] == addr {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Raft.Timeout)
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.raft.AddVoter(ctx, raftkv.Peer{ID: id, Addr: addr})
		cancel()
		if err != nil {
			s.log.Info("raft: add voter", "peer", id, "err", err)
			return
		}
		s.log.Info("raft: added voter", "peer", id)
	}
}

// liveMembers are the other servers memberlist holds alive, less those
// this server's links to are cut (a voter it cannot reach would only raise
// the quorum), sorted.
func (s *Server) liveMembers() []uint32 {
	ids := slices.DeleteFunc(s.del.liveMembers(), s.cut.IsCut)
	slices.Sort(ids)
	return ids
}

// pokeRaft asks the membership loop to look again (membership changed).
func (s *Server) pokeRaft() {
	select {
	case s.raftPoke <- struct{}{}:
	default:
	}
}

// raftWrite runs a put, delete, cas or put-if-absent on the Raft group.
// held, for a put-if-absent only, says the key held a value: the reply is
// then OK with that value's version, as in eventual mode.
func (s *Server) raftWrite(r request) (reply api.PutReply, held bool) {
	ctx := context.Background()
	var v model.Version
	var err error
	switch r.kind {
	case reqPut:
		s.puts.Add(1)
		v, err = s.raft.Put(ctx, r.key, r.value)
	case reqDelete:
		s.deletes.Add(1)
		v, err = s.raft.Delete(ctx, r.key)
	case reqCAS:
		s.puts.Add(1)
		v, err = s.raft.CAS(ctx, r.key, r.old, r.value)
	case reqAdd:
		s.puts.Add(1)
		v, err = s.raft.PutIfAbsent(ctx, r.key, r.value)
	default:
		return api.PutReply{Status: api.ErrFailed, Reason: "not available in linearizable mode"}, false
	}
	switch {
	case err == nil:
		return api.PutReply{Status: api.OK, Version: v}, false
	case errors.Is(err, raftkv.ErrCASFailed) && r.kind == reqAdd:
		return api.PutReply{Status: api.OK, Version: v}, true
	case errors.Is(err, raftkv.ErrCASFailed):
		return api.PutReply{Status: api.ErrCAS, Version: v}, false
	case errors.Is(err, raftkv.ErrUnavailable):
		return api.PutReply{Status: api.ErrUnavailable, Reason: fmt.Sprintf("server %d: %v", s.opts.ID, err)}, false
	}
	return api.PutReply{Status: api.ErrFailed, Reason: fmt.Sprintf("server %d: %v", s.opts.ID, err)}, false
}

// raftGet reads key linearizably through the Raft group.
func (s *Server) raftGet(key []byte) (api.GetReply, error) {
	s.gets.Add(1)
	r, err := s.raft.Get(context.Background(), key)
	switch {
	case errors.Is(err, raftkv.ErrUnavailable):
		return api.GetReply{Status: api.ErrUnavailable}, nil
	case err != nil:
		return api.GetReply{}, fmt.Errorf("server %d: %w", s.opts.ID, err)
	case r.Found:
		return api.GetReply{Status: api.OK, Value: r.Value, Version: r.Version}, nil
	}
	return api.GetReply{Status: api.ErrKey, Version: r.Version}, nil
}

// raftKeys lists keys linearizably through the Raft group, as raftGet
// reads. Without a quorum it fails naming ERR_UNAVAILABLE (the error
// wraps raftkv.ErrUnavailable), rather than list this server's applied
// state, which may be old.
func (s *Server) raftKeys(from []byte, limit int) ([][]byte, bool, error) {
	keys, more, err := s.raft.Keys(context.Background(), from, limit)
	switch {
	case errors.Is(err, raftkv.ErrUnavailable):
		return nil, false, fmt.Errorf("server %d: keys: %v: %w", s.opts.ID, api.ErrUnavailable, err)
	case err != nil:
		return nil, false, fmt.Errorf("server %d: keys: %w", s.opts.ID, err)
	}
	return keys, more, nil
}

// raftStatus fills in the Raft node's part of Status. Its key counts
// replace the gossip store's, which is empty in this mode:
// the fronts' DBSIZE, INFO, /v1/status and memcache stats show the data.
func (s *Server) raftStatus(into *api.StatusReply) {
	st := s.raft.Status()
	into.Keys, into.Live = st.Keys, st.Live
	rs := &api.RaftStatus{
		State: st.State, Leader: st.Leader.ID, HasLeader: st.Leader.Addr != "", Term: st.Term,
		LastIndex: st.LastIndex, CommitIndex: st.CommitIndex, Applied: st.RaftApplied,
	}
	for _, v := range st.Voters {
		rs.Voters = append(rs.Voters, v.ID)
	}
	slices.Sort(rs.Voters)
	into.Raft = rs
}

// raftDump is what this server's Raft node has applied, in Dump's form.
func (s *Server) raftDump() api.DumpReply {
	_, regs := s.raft.Applied()
	kv := make([]api.KV, len(regs))
	for i, r := range regs {
		kv[i] = api.KV{Key: r.Key, Value: r.Value, Version: r.Version, Deleted: r.Deleted}
	}
	return api.DumpReply{Entries: kv}
}

// errNotLinearizable refuses a cas in eventual mode.
var errNotLinearizable = errors.New("cas needs consistency: linearizable; this server runs consistency: eventual")
