package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryPrefix is the prefix of the binaries' installed names
// (gossipkv-master, gossipkv-server, ...; `make install`), which keeps them
// apart from other programs in a shared bin directory. `go install
// ./cmd/...` and `make` name them without it (master, server, ...).
const BinaryPrefix = "gossipkv-"

// FindBinary finds the gossipkv binary name ("server", "watchdog",
// "client") that a master or a watchdog starts: BinaryPrefix+name in dir,
// else name in dir, else BinaryPrefix+name on PATH. A bare name is never
// looked up on PATH, where it would find another program of that name.
func FindBinary(dir, name string) (string, error) {
	for _, file := range []string{BinaryPrefix + name, name} {
		path := filepath.Join(dir, file)
		if fi, err := os.Stat(path); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	path, err := exec.LookPath(BinaryPrefix + name)
	if err == nil {
		return path, nil
	}
	if errors.Is(err, exec.ErrDot) {
		// A relative PATH entry: still a binary of that name.
		return filepath.Abs(path)
	}
	return "", fmt.Errorf("no %s binary: neither %s nor %s in %s, and no %s on PATH",
		name, BinaryPrefix+name, name, dir, BinaryPrefix+name)
}
