// Command server runs one gossipkv server: it recovers its store from disk,
// joins the other servers over memberlist and serves clients and the master
// over net/rpc, and standard clients on the ports config.yaml gives it (if
// any: Redis on resp_port, HTTP on http_port, memcache on memcache_port),
// until SIGTERM or SIGINT (or SIGKILL, which it survives on disk: every
// acknowledged put was committed first).
//
// Exit codes: 0 after a clean stop, 1 when it cannot start, 2 on bad flags
// or config.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/config"
	"gossipkv/pkg/cpuprofile"
	"gossipkv/pkg/server"
	"gossipkv/pkg/storage"
)

func main() { os.Exit(run()) }

func run() int {
	configPath := flag.String("config", "config.yaml", "cluster config file (or GOSSIPKV_CONFIG)")
	id := flag.Int("id", -1, "this server's id (required)")
	run := flag.String("run", "", "the master run this server belongs to (its watchdog passes it): it refuses every other run and gossips only with that run's servers")
	logFormat := config.LogFormat("text")
	flag.Var(&logFormat, "log-format", "format of the log file: text or json (or GOSSIPKV_LOG_FORMAT)")
	consistency := flag.String("consistency", "", "eventual or linearizable: overrides the config's consistency (the master passes its -consistency)")
	group := flag.String("raft-group", "", "linearizable mode: the cluster's Raft group (the master passes it): Raft state of another group is dropped before the node starts")
	bootstrap := flag.Bool("raft-bootstrap", false, "linearizable mode: start the cluster's Raft group, of this server alone, if it holds no Raft state (the master asks it of one server in a cluster's life)")
	showVersion := flag.Bool("version", false, "print the build's version and exit")
	if err := config.FlagsFromEnv(flag.CommandLine); err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		return 2
	}
	flag.Parse()
	if *showVersion {
		fmt.Println("gossipkv server", buildinfo.Version())
		return 0
	}
	if *id < 0 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	server.UseGCPercent()
	if *run != "" {
		if err := config.ValidName(*run); err != nil {
			fmt.Fprintln(os.Stderr, "server: -run:", err)
			return 2
		}
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	if *consistency != "" {
		cfg.Consistency = *consistency
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "server: -consistency:", err)
			return 2
		}
	}
	cfg.Runtime.Apply()
	if key := os.Getenv("GOSSIPKV_SECRET_KEY"); key != "" {
		cfg.Security.SecretKey = key
	}
	opts, err := server.OptionsFromConfig(cfg, uint32(*id))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts.Run = *run
	opts.RaftBootstrap = *bootstrap
	opts.RaftGroup = *group
	// GOSSIPKV_FAULT plants a deliberate bug, for the tests that prove the
	// history checker catches it (pkg/server/fault.go). Never set it
	// otherwise.
	if opts.Fault, err = server.ParseFault(os.Getenv("GOSSIPKV_FAULT")); err != nil {
		fmt.Fprintln(os.Stderr, "server: GOSSIPKV_FAULT:", err)
		return 2
	}
	if opts.Fault != server.NoFault {
		fmt.Fprintf(os.Stderr, "server %d: running with the deliberate fault %v (GOSSIPKV_FAULT)\n", *id, opts.Fault)
	}
	// GOSSIPKV_POWER_LOSS=1 makes a kill of this server lose what its log
	// wrote and did not sync, as a power loss would: for harness runs that
	// check a missing sync loses acknowledged writes. Nothing else changes.
	holdUnsynced := os.Getenv("GOSSIPKV_POWER_LOSS") == "1"
	if holdUnsynced && !cfg.Durability.Fsync {
		// Nothing would ever be synced: a kill would lose the whole log
		// while bbolt kept its unsynced commits, which no power loss does.
		fmt.Fprintf(os.Stderr, "server %d: GOSSIPKV_POWER_LOSS=1 needs durability.fsync: true (without fsync nothing survives a power loss, and the simulation would keep bbolt's commits anyway)\n", *id)
		return 2
	}
	if holdUnsynced {
		fmt.Fprintf(os.Stderr, "server %d: a kill loses what the log did not sync (GOSSIPKV_POWER_LOSS)\n", *id)
	}
	logger, logFile, err := cfg.OpenLog("server", uint32(*id), logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	defer logFile.Close()
	dbPath := filepath.Join(cfg.ServerDir(uint32(*id)), "store.db")
	opts.Syncs = new(atomic.Uint64)
	open := func() (storage.Backend, error) {
		return storage.OpenBolt(dbPath, storage.BoltOptions{NoSync: !cfg.Durability.Fsync, Syncs: opts.Syncs, HoldUnsynced: holdUnsynced})
	}
	db, err := open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "server %d: %v\n", *id, err)
		return 1
	}
	opts.Backend, opts.Reopen, opts.Logger = db, open, logger
	s, err := server.New(opts)
	if err != nil {
		db.Close()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, _ := cfg.Server(uint32(*id))
	// The fronts open first: once the rpc port answers (what the master
	// waits for), every port of the server does.
	fr, err := openFronts(cfg, uint32(*id), *run, s, logger)
	if err != nil {
		s.Shutdown()
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	ln, err := server.ServeRPC(s, srv.RPCAddr())
	if err != nil {
		fr.Close()
		s.Shutdown()
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	stopProfile, err := cpuprofile.FromEnv(fmt.Sprintf("server-%d", *id))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	defer stopProfile()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	code := 0
	select {
	case got := <-sig:
		logger.Info("stopping", "signal", got.String())
	case <-s.Done():
		fmt.Fprintf(os.Stderr, "server %d stopped by itself; see its log\n", *id)
		code = 1
	}
	ln.Close()
	// Before the store stops: commands in flight finish.
	if err := fr.Close(); err != nil {
		logger.Warn("closing the fronts", "err", err)
	}
	if err := s.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 1
	}
	return code
}
