package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeExe(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// The prefixed name beats the bare one in the directory, the directory
// beats PATH, and PATH is searched for the prefixed name only.
func TestFindBinary(t *testing.T) {
	dir, onPath := t.TempDir(), t.TempDir()
	t.Setenv("PATH", onPath)
	if _, err := FindBinary(dir, "server"); err == nil || !strings.Contains(err.Error(), "no server binary") {
		t.Errorf("nothing anywhere: %v", err)
	}
	writeExe(t, filepath.Join(onPath, "server")) // some other program's "server"
	if p, err := FindBinary(dir, "server"); err == nil {
		t.Errorf("a bare name was taken from PATH: %s", p)
	}
	writeExe(t, filepath.Join(onPath, "gossipkv-server"))
	if p, err := FindBinary(dir, "server"); err != nil || p != filepath.Join(onPath, "gossipkv-server") {
		t.Errorf("on PATH: %q, %v", p, err)
	}
	writeExe(t, filepath.Join(dir, "server"))
	if p, err := FindBinary(dir, "server"); err != nil || p != filepath.Join(dir, "server") {
		t.Errorf("bare name in the directory: %q, %v", p, err)
	}
	writeExe(t, filepath.Join(dir, "gossipkv-server"))
	if p, err := FindBinary(dir, "server"); err != nil || p != filepath.Join(dir, "gossipkv-server") {
		t.Errorf("prefixed name in the directory: %q, %v", p, err)
	}
	// A file that is not executable is not a binary.
	if err := os.WriteFile(filepath.Join(dir, "gossipkv-client"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := FindBinary(dir, "client"); err == nil {
		t.Errorf("a file without exec permission: %s", p)
	}
}
