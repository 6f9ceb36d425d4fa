// Command master reads a script on stdin and drives a gossipkv cluster: it
// starts the local watchdogs and clients, runs each line, prints what get
// and printStore return, and stops what it started. See pkg/master.
//
// With -check it also judges the run (pkg/check) and exits 3 if the system
// broke the model. Two subcommands help find such runs: `master gen` prints
// a random script from a seed (pkg/gen), and `master shrink FILE` cuts a
// script that fails the check down to a small one that still fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"gossipkv/pkg/config"
	"gossipkv/pkg/master"
)

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "gen":
			return genMain(os.Args[2:])
		case "shrink":
			return shrinkMain(os.Args[2:])
		case "cleanup":
			return cleanupMain(os.Args[2:])
		case "config":
			return configMain(os.Args[2:])
		}
	}
	binDir := exeDir()
	cfgPath := flag.String("config", defaultConfig(binDir), "cluster configuration `file`")
	echo := flag.Bool("echo", false, "print each script line as \"> LINE\" before its output")
	keep := flag.Bool("keep-data", false, "keep the servers' data from earlier runs")
	flag.StringVar(&binDir, "bin", binDir, "`dir`ectory of the watchdog and client binaries")
	checkRun := flag.Bool("check", false, "record the run's history and judge it at the end; exit 3 if it broke the model")
	statsPath := flag.String("stats", "", "write the run's metrics as JSON to `file`")
	historyPath := flag.String("history", "", "with -check, write the recorded history to `file` (one event a line)")
	flag.Parse()
	if *historyPath != "" && !*checkRun {
		fmt.Fprintln(os.Stderr, "master: -history records what -check judges: give -check too")
		return master.ExitStart
	}
	if *checkRun && *keep {
		fmt.Fprintln(os.Stderr, "master: -check assumes every server starts empty: it cannot be used with -keep-data")
		return master.ExitStart
	}

	// Started processes get the config by absolute path: their working
	// directory need not be ours.
	path, err := filepath.Abs(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master: %v\n", err)
		return master.ExitStart
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master: %v\n", err)
		return master.ExitStart
	}
	cfg.Runtime.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return master.Run(ctx, master.Options{
		Config: cfg, ConfigPath: path, BinDir: binDir,
		Echo: *echo, KeepData: *keep, Stdout: os.Stdout, Stderr: os.Stderr,
		Check: *checkRun, StatsFile: *statsPath, HistoryFile: *historyPath,
	}, os.Stdin)
}

// exeDir is the directory of the running binary, where the others are.
func exeDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(exe)
}

// defaultConfig is config.yaml in the working directory if there is one,
// else the repository's, next to the bin/ directory of the binary.
func defaultConfig(binDir string) string {
	if _, err := os.Stat("config.yaml"); err == nil {
		return "config.yaml"
	}
	return filepath.Join(binDir, "..", "config.yaml")
}

// cleanupMain kills what a master that died hard left running: the
// processes recorded in the pid files of the config's data directory. It
// refuses (exit 2) while a live master holds that directory.
func cleanupMain(args []string) int {
	fs := flag.NewFlagSet("master cleanup", flag.ContinueOnError)
	cfgPath := fs.String("config", defaultConfig(exeDir()), "cluster configuration `file`")
	if err := fs.Parse(args); err != nil {
		return master.ExitStart
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master cleanup: %v\n", err)
		return master.ExitStart
	}
	n, err := master.CleanupDataDir(cfg.DataDir, *cfgPath, os.Stderr)
	var inUse *master.InUseError
	if errors.As(err, &inUse) {
		fmt.Fprintf(os.Stderr, "master cleanup: %v: it would kill that master's processes; stop it instead (SIGTERM or Ctrl-C stops it and everything it started)\n", err)
		return master.ExitStart
	}
	fmt.Fprintf(os.Stderr, "master cleanup: %d processes killed\n", n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master cleanup: %v\n", err)
		return master.ExitFailed
	}
	return master.ExitOK
}

// configMain is `master config`: a config.yaml for N servers and M clients
// on one machine, every knob at its default, for scripts with more ids than
// the default layout (servers 0..N-1, then the clients), or for a second
// cluster beside the first (its own ports and data directory).
func configMain(args []string) int {
	fs := flag.NewFlagSet("master config", flag.ContinueOnError)
	servers := fs.Int("servers", 5, "servers, ids 0..N-1")
	clients := fs.Int("clients", 5, "clients, the ids after the servers")
	port := fs.Int("port", 7000, "base `port`: server rpc port+id, gossip port+100+id, watchdog port+200+id, Redis protocol port+400+id; client rpc port+300+id")
	dataDir := fs.String("data-dir", "data", "data `dir`ectory, relative to the file written")
	cluster := fs.String("cluster", "gossipkv", "cluster `name`")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return master.ExitStart
	}
	if *servers < 1 || *clients < 0 || *servers+*clients > 100 || *port < 1 || *port+config.LocalPortSpan-1 > 65535 {
		fmt.Fprintf(os.Stderr, "master config: need 1 or more servers, 0 or more clients, at most 100 ids in all, and ports port..port+%d in 1..65535\n", config.LocalPortSpan-1)
		return master.ExitStart
	}
	cfg := config.Local(*servers, *clients, *port)
	cfg.DataDir, cfg.Cluster = *dataDir, *cluster
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "master config:", err)
		return master.ExitStart
	}
	b, err := cfg.Marshal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "master config:", err)
		return master.ExitFailed
	}
	os.Stdout.Write(b)
	return master.ExitOK
}
