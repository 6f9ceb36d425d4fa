package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"gossipkv/pkg/config"
	"gossipkv/pkg/master"
)

// upMain is `master up`: the cluster of the config, up until Ctrl-C.
func upMain(args []string) int {
	fs := flag.NewFlagSet("master up", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: master up [flags]

Starts the cluster of the config (the local watchdogs and clients, then
every server; client number i joins server number i mod the number of
servers), waits until it has converged, prints every server's endpoints,
and keeps it up until Ctrl-C or SIGTERM, when it stops everything it
started and exits 0 (1 if a server could not be stopped, 2 if the cluster
did not come up or another master holds the data directory).

While it is up, `+"`master -config FILE < SCRIPT`"+` with the same config runs the
script on this cluster (one script at a time) and prints its transcript
as a run would. At a terminal, up also prompts for commands; Ctrl-D there
stops the cluster as Ctrl-C does. A stdin that is not a terminal is not
read.

Flags:
`)
		fs.PrintDefaults()
	}
	binDir := exeDir()
	cfgPath := fs.String("config", defaultConfig(binDir), "cluster configuration `file`")
	keep := fs.Bool("keep-data", false, "keep the servers' data from earlier runs")
	fs.StringVar(&binDir, "bin", binDir, "`dir`ectory of the watchdog and client binaries")
	var logFormat config.LogFormat
	logFormatFlag(fs, &logFormat)
	var consistency string
	consistencyFlag(fs, &consistency)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(fs, "master up") {
		return master.ExitStart
	}
	path, cfg, ok := loadConfig("master up", *cfgPath)
	if !ok || !applyConsistency("master up", cfg, consistency) {
		return master.ExitStart
	}
	// A closed terminal stops the cluster too, unless the master was
	// started to outlive it (nohup).
	sigs := []os.Signal{syscall.SIGINT, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ctx, cancel := signalContext(sigs...)
	defer cancel(nil)
	std := stdio(ctx, cfg, cancel)
	defer std.close()
	return master.Up(ctx, master.Options{
		Config: cfg, ConfigPath: path, BinDir: binDir, KeepData: *keep, LogFormat: logFormat,
		Consistency: consistency, Stdout: std.stdout, Stderr: std.stderr,
	}, std.local)
}
