// Command watchdog runs the watchdog of one gossipkv server id: it starts and
// kills that server for the master until SIGTERM or SIGINT, and then kills
// the server before it exits.
//
// Exit codes: 0 after a clean stop, 1 when it cannot serve, 2 on bad flags
// or config.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/config"
	"gossipkv/pkg/watchdog"
)

func main() { os.Exit(run()) }

func run() int {
	configPath := flag.String("config", "config.yaml", "cluster config file (or GOSSIPKV_CONFIG)")
	id := flag.Int("id", -1, "the id of the server this watchdog runs (required)")
	serverBin := flag.String("server-bin", "", `server executable (default: gossipkv-server or server next to this one, else gossipkv-server on PATH)`)
	run := flag.String("run", "", "the master run this process belongs to (the master passes it); it refuses every other run. Empty: any run of the config's cluster")
	logFormat := config.LogFormat("text")
	flag.Var(&logFormat, "log-format", "format of the log file: text or json (or GOSSIPKV_LOG_FORMAT)")
	showVersion := flag.Bool("version", false, "print the build's version and exit")
	if err := config.FlagsFromEnv(flag.CommandLine); err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		return 2
	}
	flag.Parse()
	if *showVersion {
		fmt.Println("gossipkv watchdog", buildinfo.Version())
		return 0
	}
	if *id < 0 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if *run != "" {
		if err := config.ValidName(*run); err != nil {
			fmt.Fprintln(os.Stderr, "watchdog: -run:", err)
			return 2
		}
	}
	if *serverBin == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err == nil {
			*serverBin, err = config.FindBinary(filepath.Dir(self), "server")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "watchdog: cannot find the server binary:", err)
			return 2
		}
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchdog:", err)
		return 2
	}
	cfg.Runtime.Apply()
	logger, logFile, err := cfg.OpenLog("watchdog", uint32(*id), logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchdog:", err)
		return 1
	}
	defer logFile.Close()

	w, err := watchdog.Listen(cfg, uint32(*id), watchdog.Options{
		ServerBin:  *serverBin,
		ConfigPath: *configPath,
		Run:        *run,
		LogFormat:  logFormat,
		Logger:     logger,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchdog:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	logger.Info("stopping", "signal", (<-sig).String())
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "watchdog:", err)
		return 1
	}
	return 0
}
