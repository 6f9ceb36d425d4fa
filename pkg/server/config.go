package server

import (
	"fmt"
	"path/filepath"

	"gossipkv/pkg/config"
	"gossipkv/pkg/raftkv"
)

// OptionsFromConfig derives the options of server id from the cluster
// config; the caller adds Backend and Logger.
func OptionsFromConfig(cfg *config.Config, id uint32) (Options, error) {
	if _, ok := cfg.Server(id); !ok {
		return Options{}, fmt.Errorf("server: id %d is not a server in the config", id)
	}
	peers := map[uint32]string{}
	for _, sid := range cfg.ServerIDs() {
		s, _ := cfg.Server(sid)
		peers[sid] = s.GossipAddr()
	}
	t := cfg.Timing
	key, err := cfg.Security.Key()
	if err != nil {
		return Options{}, fmt.Errorf("server: security.secret_key: %w", err)
	}
	var rc *raftkv.Config
	if cfg.Linearizable() {
		c := raftkv.DefaultConfig()
		c.Dir = filepath.Join(cfg.ServerDir(id), "raft")
		c.Timeout = t.RaftTimeout
		c.HeartbeatTimeout, c.ElectionTimeout = t.RaftHeartbeatTimeout, t.RaftElectionTimeout
		c.LeaderLeaseTimeout, c.CommitTimeout = t.RaftLeaderLeaseTimeout, t.RaftCommitTimeout
		rc = &c
	}
	return Options{
		Raft:      rc,
		SecretKey: key,
		ID:        id,
		Cluster:   cfg.Cluster,
		Peers:     peers,
		Timing: Timing{
			Gossip: t.GossipInterval, Probe: t.ProbeInterval, ProbeTimeout: t.ProbeTimeout,
			PushPull: t.PushPullInterval, SuspicionMult: t.SuspicionMult, Flush: t.FlushInterval, CommitDelay: t.CommitDelay, Checkpoint: t.Checkpoint,
			Resend: t.ResendInterval, Heartbeat: t.HeartbeatInterval, Rejoin: t.RejoinInterval,
		},
		MaxClockOffset:  t.MaxClockOffset,
		MaxKeyBytes:     cfg.Limits.MaxKeyBytes,
		MaxValueBytes:   cfg.Limits.MaxValueBytes,
		CheckpointBytes: int(cfg.Durability.CheckpointBytes),
	}, nil
}
