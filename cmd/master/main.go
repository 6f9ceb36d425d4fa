// Command master reads a script on stdin and drives a gossipkv cluster: it
// starts the local watchdogs and clients, runs each line, prints what get
// and printStore return, and stops what it started. See pkg/master.
//
// `master up` starts the cluster and keeps it up until Ctrl-C, printing
// every server's endpoints; a script run with the same config (or with
// -attach) then runs on that cluster. At a terminal, the master prompts
// for each line, with line editing and history.
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

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/config"
	"gossipkv/pkg/cpuprofile"
	"gossipkv/pkg/master"
)

func main() { os.Exit(run(os.Args[1:])) }

// subcommands, in the order help lists them.
var subcommands = []struct {
	name, what string
	main       func(args []string) int
}{
	{"up", "start the cluster, print its endpoints and keep it up until Ctrl-C", upMain},
	{"gen", "print a random script from a seed", genMain},
	{"shrink", "cut a script that fails -check down to a small one that still fails", shrinkMain},
	{"cleanup", "kill what a master that died hard left running", cleanupMain},
	{"config", "print a config.yaml for N servers and M clients on this machine", configMain},
	{"help", "this text; `master help SUBCOMMAND` for the flags of one", nil}, // helpMain
}

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "help":
			return helpMain(args[1:])
		case "-version", "--version", "version":
			fmt.Println("gossipkv master", buildinfo.Version())
			return 0
		}
		for _, sc := range subcommands {
			if args[0] == sc.name {
				return sc.main(args[1:])
			}
		}
	}
	return runMain(args)
}

// runFlags are the master's flags for a script.
type runFlags struct {
	cfgPath, binDir                  string
	echo, keep, check, attach, quiet bool
	statsPath, historyPath           string
	historyHTMLPath                  string
	consistency                      string
	logFormat                        config.LogFormat
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.binDir = exeDir()
	fs.StringVar(&f.cfgPath, "config", defaultConfig(f.binDir), "cluster configuration `file`")
	fs.BoolVar(&f.echo, "echo", false, "print each script line as \"> LINE\" before its output")
	fs.BoolVar(&f.keep, "keep-data", false, "keep the servers' data from earlier runs")
	fs.StringVar(&f.binDir, "bin", f.binDir, "`dir`ectory of the watchdog and client binaries")
	fs.BoolVar(&f.quiet, "q", false, "print only errors on stderr: no summary, metrics or progress notes, and the check's verdict only when it fails")
	fs.BoolVar(&f.quiet, "quiet", false, "the same as -q")
	logFormatFlag(fs, &f.logFormat)
	fs.BoolVar(&f.check, "check", false, "record the run's history and judge it at the end; exit 3 if it broke the model")
	fs.StringVar(&f.statsPath, "stats", "", "write the run's metrics as JSON to `file`")
	fs.StringVar(&f.historyPath, "history", "", "with -check, write the recorded history to `file` (JSON Lines: one operation or cluster event a line)")
	fs.StringVar(&f.historyHTMLPath, "history-html", "", "with -check, write the linearizability check's visualization (porcupine's HTML page) to `file`")
	consistencyFlag(fs, &f.consistency)
	fs.BoolVar(&f.attach, "attach", false, "run the script on the cluster that \"master up\" keeps up on the config's data directory, and never start one (exit 2 if none is up)")
}

func runMain(args []string) int {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.Usage = func() { usage(os.Stderr, fs) }
	var f runFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(fs, "master") {
		return master.ExitStart
	}
	if f.historyPath != "" && !f.check {
		fmt.Fprintln(os.Stderr, "master: -history records what -check judges: give -check too")
		return master.ExitStart
	}
	if f.historyHTMLPath != "" && !f.check {
		fmt.Fprintln(os.Stderr, "master: -history-html draws what -check judges: give -check too")
		return master.ExitStart
	}
	if f.check && f.keep {
		fmt.Fprintln(os.Stderr, "master: -check assumes every server starts empty: it cannot be used with -keep-data")
		return master.ExitStart
	}
	path, cfg, ok := loadConfig("master", f.cfgPath)
	if !ok {
		return master.ExitStart
	}
	if !applyConsistency("master", cfg, f.consistency) {
		return master.ExitStart
	}
	ctx, cancel := signalContext(syscall.SIGINT, syscall.SIGTERM)
	defer cancel(nil)
	std := stdio(ctx, cfg, cancel)
	defer std.close()
	opts := master.Options{
		Config: cfg, ConfigPath: path, BinDir: f.binDir,
		Echo: f.echo, KeepData: f.keep, Stdout: std.stdout, Stderr: std.stderr,
		Check: f.check, StatsFile: f.statsPath, HistoryFile: f.historyPath, HistoryHTMLFile: f.historyHTMLPath,
		Quiet: f.quiet, LogFormat: f.logFormat,
		// A linearizable store promises what the porcupine check judges.
		RequireLinearizable: cfg.Linearizable(),
		Consistency:         f.consistency,
	}
	stopProfile, err := cpuprofile.FromEnv("master")
	if err != nil {
		fmt.Fprintln(os.Stderr, "master:", err)
		return master.ExitStart
	}
	defer stopProfile()
	var code int
	if f.attach {
		code = master.Attach(ctx, opts, std.stdin)
	} else {
		code = master.Run(ctx, opts, std.stdin)
	}
	return exitCode(ctx, code)
}

// exitCode is 128 + the signal's number for a run that a signal
// interrupted, as a shell reports a command a signal ended: 130 for SIGINT
// (and Ctrl-C at the prompt), 143 for SIGTERM.
func exitCode(ctx context.Context, code int) int {
	var sc signalCause
	if code == master.ExitInterrupted && errors.As(context.Cause(ctx), &sc) {
		if n, ok := sc.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return code
}

// consistencyFlag registers -consistency.
func consistencyFlag(fs *flag.FlagSet, v *string) {
	fs.StringVar(v, "consistency", "", "eventual or linearizable: overrides the config's consistency for this run (the servers it starts get it too)")
}

// applyConsistency puts a -consistency into the config, and says whether
// the config is still valid (else it has said why).
func applyConsistency(cmd string, cfg *config.Config, consistency string) bool {
	if consistency == "" {
		return true
	}
	cfg.Consistency = consistency
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: -consistency %s: %v\n", cmd, consistency, err)
		return false
	}
	return true
}

// logFormatFlag registers -log-format, for the processes a command starts.
func logFormatFlag(fs *flag.FlagSet, f *config.LogFormat) {
	fs.Var(f, "log-format", "`format` of the logs of the processes it starts: text or json (default: each process's own, text unless its GOSSIPKV_LOG_FORMAT says json)")
}

// loadConfig reads the config; started processes get it by absolute
// path, since their working directory need not be ours.
func loadConfig(name, cfgPath string) (string, *config.Config, bool) {
	path, err := filepath.Abs(cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return "", nil, false
	}
	cfg, err := config.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "%s: %v: give the config with -config FILE or %s=FILE, or run where a config.yaml is (`%s config > config.yaml` writes one for this machine)\n",
			name, err, config.EnvName("config"), filepath.Base(os.Args[0]))
		return "", nil, false
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return "", nil, false
	}
	cfg.Runtime.Apply()
	return path, cfg, true
}

// signalContext is done when one of sigs arrives (its cause is a
// signalCause) or cancel is called.
func signalContext(sigs ...os.Signal) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(signalCause{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func(cause error) {
		cancel(cause)
		signal.Stop(ch)
	}
}

// signalCause is the cause of a context that a signal ended.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return c.sig.String() + " signal received" }

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
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(fs, "master cleanup") {
		return master.ExitStart
	}
	path, cfg, ok := loadConfig("master cleanup", *cfgPath)
	if !ok {
		return master.ExitStart
	}
	n, err := master.CleanupDataDir(cfg.DataDir, path, os.Stderr)
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
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(fs, "master config") {
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
