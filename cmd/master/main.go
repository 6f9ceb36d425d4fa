// Command master reads a script on stdin and drives a gossipkv cluster: it
// starts the local watchdogs and clients, runs each line, prints what get
// and printStore return, and stops what it started. See pkg/master.
package main

import (
	"context"
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
	binDir := "."
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		binDir = filepath.Dir(exe)
	}
	cfgPath := flag.String("config", defaultConfig(binDir), "cluster configuration `file`")
	echo := flag.Bool("echo", false, "print each script line as \"> LINE\" before its output")
	keep := flag.Bool("keep-data", false, "keep the servers' data from earlier runs")
	flag.StringVar(&binDir, "bin", binDir, "`dir`ectory of the watchdog and client binaries")
	flag.Parse()

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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return master.Run(ctx, master.Options{
		Config: cfg, ConfigPath: path, BinDir: binDir,
		Echo: *echo, KeepData: *keep, Stdout: os.Stdout, Stderr: os.Stderr,
	}, os.Stdin)
}

// defaultConfig is config.yaml in the working directory if there is one,
// else the repository's, next to the bin/ directory of the binary.
func defaultConfig(binDir string) string {
	if _, err := os.Stat("config.yaml"); err == nil {
		return "config.yaml"
	}
	return filepath.Join(binDir, "..", "config.yaml")
}
