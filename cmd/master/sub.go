package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gossipkv/pkg/config"
	"gossipkv/pkg/gen"
	"gossipkv/pkg/master"
)

// genMain is `master gen`: a random script from a seed, on stdout.
func genMain(args []string) int {
	fs := flag.NewFlagSet("master gen", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: master gen [flags] > script.txt\n\nPrints a random script; the same seed and flags give the same script. Flags:")
		fs.PrintDefaults()
	}
	d := gen.DefaultOptions()
	o := d
	fs.Int64Var(&o.Seed, "seed", d.Seed, "random `seed`")
	fs.IntVar(&o.Servers, "servers", d.Servers, "servers, ids 0..N-1 (as config.yaml lays them out)")
	fs.IntVar(&o.Clients, "clients", d.Clients, "clients, the ids after the servers")
	fs.IntVar(&o.Ops, "ops", d.Ops, "puts, deletes and gets")
	fs.IntVar(&o.Keys, "keys", d.Keys, "distinct keys")
	fs.IntVar(&o.ValueSize, "value-size", d.ValueSize, "bytes per value")
	fs.IntVar(&o.Faults, "faults", d.Faults, "how many fault episodes (of the kinds -fault-kinds names)")
	kinds := fs.String("fault-kinds", "all", "which kinds of fault, comma-separated: "+strings.Join(gen.Kinds, ",")+", or all")
	fs.DurationVar(&o.MaxClockOffset, "max-clock-offset", 5*time.Second, "the config's timing.max_clock_offset, which skews are drawn within and beyond")
	consistency := fs.String("consistency", "eventual", "the `mode` the script is for: eventual, or linearizable (cas among the writes, no clock skews; run it with master -consistency linearizable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArgs(fs, "master gen") {
		return 2
	}
	switch *consistency {
	case "eventual":
	case "linearizable":
		o.Linearizable = true
	default:
		fmt.Fprintf(os.Stderr, "master gen: -consistency %q: want eventual or linearizable\n", *consistency)
		return 2
	}
	var err error
	if o.Kinds, err = gen.ParseKinds(*kinds); err != nil {
		fmt.Fprintf(os.Stderr, "master gen: %v\n", err)
		return 2
	}
	if o.MaxClockOffset == 5*time.Second {
		o.MaxClockOffset = 0 // the default: the header need not name it
	}
	lines, err := gen.Generate(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master gen: %v\n", err)
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "master gen: %v\n", err)
		return 1
	}
	return 0
}

// shrinkMain is `master shrink FILE`: the smallest script found that still
// fails the check, on stdout.
func shrinkMain(args []string) int {
	fs := flag.NewFlagSet("master shrink", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: master shrink [flags] FILE > smaller.txt\n\n"+
			"Runs the script in FILE with -check, then removes lines while the check still fails\n"+
			"the same way, and prints the smallest failing script. Flags:")
		fs.PrintDefaults()
	}
	binDir := exeDir()
	cfgPath := fs.String("config", defaultConfig(binDir), "cluster configuration `file`")
	fs.StringVar(&binDir, "bin", binDir, "`dir`ectory of the watchdog and client binaries")
	stabTimeout := fs.Duration("stabilize-timeout", 5*time.Second,
		"stabilize gives up after this in each trial (a cut can make a script that never converges)")
	runs := fs.Int("runs", 2, "a smaller script counts as failing only if it fails this many runs in a row")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "master shrink: %v\n", err)
		return 2
	}
	path, err := filepath.Abs(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master shrink: %v\n", err)
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "master shrink: %v\n", err)
		return 2
	}
	if *stabTimeout > 0 {
		cfg.Timing.StabilizeTimeout = *stabTimeout
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kept, classes, err := master.Shrink(ctx, master.Options{Config: cfg, ConfigPath: path, BinDir: binDir}, string(text), *runs, os.Stderr)
	if errors.Is(err, master.ErrPasses) {
		fmt.Fprintf(os.Stderr, "master shrink: %v\n", err)
		return 1
	}
	if kept != nil {
		names := make([]string, len(classes))
		for i, c := range classes {
			names[i] = c.String()
		}
		fmt.Printf("# shrunk from %s: %d lines that still fail the check (%s)\n", fs.Arg(0), len(kept), strings.Join(names, ", "))
		for _, l := range kept {
			fmt.Println(l)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "master shrink: %v\n", err)
		return 1
	}
	return 0
}
