// Command client runs one gossipkv client process: it serves the master's
// Client.* calls until SIGTERM or SIGINT.
//
// Exit codes: 0 after a clean stop, 1 when it cannot serve, 2 on bad flags
// or config.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/client"
	"gossipkv/pkg/config"
	"gossipkv/pkg/cpuprofile"
)

func main() { os.Exit(run()) }

func run() int {
	configPath := flag.String("config", "config.yaml", "cluster config file (or GOSSIPKV_CONFIG)")
	id := flag.Int("id", -1, "this client's id (required)")
	run := flag.String("run", "", "the master run this process belongs to (the master passes it); it refuses every other run. Empty: any run of the config's cluster")
	logFormat := config.LogFormat("text")
	flag.Var(&logFormat, "log-format", "format of the log file: text or json (or GOSSIPKV_LOG_FORMAT)")
	showVersion := flag.Bool("version", false, "print the build's version and exit")
	if err := config.FlagsFromEnv(flag.CommandLine); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 2
	}
	flag.Parse()
	if *showVersion {
		fmt.Println("gossipkv client", buildinfo.Version())
		return 0
	}
	if *id < 0 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	if *run != "" {
		if err := config.ValidName(*run); err != nil {
			fmt.Fprintln(os.Stderr, "client: -run:", err)
			return 2
		}
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 2
	}
	cfg.Runtime.Apply()
	logger, logFile, err := cfg.OpenLog("client", uint32(*id), logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	defer logFile.Close()

	c, err := client.Listen(cfg, uint32(*id), *run, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	stopProfile, err := cpuprofile.FromEnv(fmt.Sprintf("client-%d", *id))
	if err != nil {
		c.Close()
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	defer stopProfile()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	logger.Info("stopping", "signal", (<-sig).String())
	c.Close()
	return 0
}
