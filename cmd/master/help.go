package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gossipkv/pkg/config"
	"gossipkv/pkg/master"
)

// usage is the master's help: what it does, its subcommands and flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: master [flags] < SCRIPT
       master SUBCOMMAND [flags]

Runs a script, one command a line (see README), on a gossipkv cluster: it
starts the local watchdogs and clients of the config, runs each line, prints
what get and printStore return on stdout, and stops what it started. When
`+"`master up`"+` keeps a cluster up on the config's data directory, the script
runs on that cluster instead. At a terminal it prompts for each line, with
line editing and history; Ctrl-D ends the script, Ctrl-C interrupts it.

Exit status: 0 every line ran, 1 a line failed, 2 the master could not
start, 3 -check found the system breaking its promises, 130 interrupted
(SIGINT or Ctrl-C; 143 for SIGTERM), once it has stopped what it started.

Subcommands:
`)
	for _, sc := range subcommands {
		fmt.Fprintf(w, "  %-8s %s\n", sc.name, sc.what)
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	envHelp(w)
}

// envHelp lists the environment variables that set flags.
func envHelp(w io.Writer) {
	fmt.Fprintln(w, "\nEnvironment (for every subcommand that has the flag; a flag given wins):")
	for _, name := range config.EnvFlags {
		fmt.Fprintf(w, "  %-22s -%s\n", config.EnvName(name), name)
	}
}

// parseFlags sets fs's flags from the environment (config.FlagsFromEnv),
// then parses args into it, so that a flag given wins over its variable;
// when ok is false the command exits with code: 0 after -h, 2 after a bad
// flag or variable (the flag package, or the error, said what).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := config.FlagsFromEnv(fs); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", fs.Name(), err)
		return master.ExitStart, false
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return master.ExitOK, false
	case err != nil:
		return master.ExitStart, false
	}
	return 0, true
}

// noArgs fails (exit 2) on words after the flags of a command that takes
// none: a stray word must not start a cluster.
func noArgs(fs *flag.FlagSet, name string) bool {
	if fs.NArg() == 0 {
		return true
	}
	fmt.Fprintf(os.Stderr, "%s: unexpected argument %q: `master help` lists the subcommands, which come first, and each one's flags\n", name, fs.Arg(0))
	return false
}

// helpMain is `master help [SUBCOMMAND]`.
func helpMain(args []string) int {
	if len(args) > 0 {
		for _, sc := range subcommands {
			if args[0] == sc.name && sc.main != nil {
				return sc.main([]string{"-h"})
			}
		}
		fmt.Fprintf(os.Stderr, "master help: no subcommand %q\n", args[0])
		return master.ExitStart
	}
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	usage(os.Stdout, fs)
	return master.ExitOK
}
