package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"syscall"
	"testing"

	"gossipkv/pkg/master"
)

// The run's flags come from GOSSIPKV_* when not given, and a flag given
// wins; a bad variable stops the master with exit 2.
func TestParseFlags_Environment(t *testing.T) {
	newFS := func() (*flag.FlagSet, *runFlags) {
		fs := flag.NewFlagSet("master", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f runFlags
		f.register(fs)
		return fs, &f
	}
	t.Setenv("GOSSIPKV_CONFIG", "env.yaml")
	t.Setenv("GOSSIPKV_QUIET", "1")
	t.Setenv("GOSSIPKV_LOG_FORMAT", "json")
	t.Setenv("GOSSIPKV_BIN", "/opt/gossipkv/bin")
	fs, f := newFS()
	if _, ok := parseFlags(fs, []string{"-config", "flag.yaml", "-q=false"}); !ok {
		t.Fatal("parseFlags failed")
	}
	if f.cfgPath != "flag.yaml" || f.quiet || f.logFormat != "json" || f.binDir != "/opt/gossipkv/bin" {
		t.Errorf("config %q quiet %v log format %q bin %q; want flag.yaml, false, json, /opt/gossipkv/bin", f.cfgPath, f.quiet, f.logFormat, f.binDir)
	}

	t.Setenv("GOSSIPKV_CHECK", "sometimes")
	fs, _ = newFS()
	if code, ok := parseFlags(fs, nil); ok || code != master.ExitStart {
		t.Errorf("bad GOSSIPKV_CHECK: ok %v, code %d; want exit %d", ok, code, master.ExitStart)
	}
}

// A run a signal interrupted exits 128 + the signal's number; any other
// end keeps its code.
func TestExitCode(t *testing.T) {
	ended := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		code, out int
	}{
		{"SIGINT", ended(signalCause{syscall.SIGINT}), master.ExitInterrupted, 130},
		{"SIGTERM", ended(signalCause{syscall.SIGTERM}), master.ExitInterrupted, 143},
		{"Ctrl-C at the prompt", ended(errCtrlC), master.ExitInterrupted, 130},
		{"finished before the signal", ended(signalCause{syscall.SIGTERM}), master.ExitFailed, master.ExitFailed},
		{"no signal", context.Background(), master.ExitOK, master.ExitOK},
		{"other cause", ended(errors.New("x")), master.ExitCheck, master.ExitCheck},
	} {
		if got := exitCode(tc.ctx, tc.code); got != tc.out {
			t.Errorf("%s: exitCode(%d) = %d, want %d", tc.name, tc.code, got, tc.out)
		}
	}
}
