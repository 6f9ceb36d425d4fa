package master

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"gossipkv/pkg/check"
)

func shrinkOpts(t *testing.T, n, m int) Options {
	cfg := testConfig(t, n, m)
	startFakeCluster(t, cfg)
	return Options{Config: cfg, ConfigPath: filepath.Join(t.TempDir(), "config.yaml"), BinDir: t.TempDir()}
}

func TestShrink_KeepsWhatTheFailureNeeds(t *testing.T) {
	// The fake acknowledges puts without a version (a phantom to the
	// checker): the failure needs a server, a client on it and a put.
	opts := shrinkOpts(t, 2, 1)
	script := lines(
		"# a comment, dropped",
		"joinServer 0", "joinServer 1", "joinClient 2 1", "stabilize",
		"breakConnection 0 1", "get 2 nothing", "put 2 a 1", "createConnection 0 1", "stabilize", "printStore 0",
	)
	var log bytes.Buffer
	kept, classes, err := Shrink(context.Background(), opts, script, 2, &log)
	t.Logf("log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"joinServer 1", "joinClient 2 1", "put 2 a 1"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if !slices.Equal(classes, []check.Class{check.Phantom}) {
		t.Errorf("classes %v", classes)
	}
}

func TestShrink_PassingScript(t *testing.T) {
	opts := shrinkOpts(t, 1, 1)
	_, _, err := Shrink(context.Background(), opts, lines("joinServer 0", "stabilize"), 1, &bytes.Buffer{})
	if !errors.Is(err, ErrPasses) {
		t.Errorf("err = %v, want ErrPasses", err)
	}
}
