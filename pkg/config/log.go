package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// OpenLog opens (appending) the log file of one process, role-ID.log in the
// log directory, and returns a logger writing to it at the configured level
// with the process's role and id on every line. The caller closes the file.
func (c *Config) OpenLog(role string, id uint32) (*slog.Logger, *os.File, error) {
	if err := os.MkdirAll(c.LogDir(), 0o755); err != nil {
		return nil, nil, fmt.Errorf("config: log directory: %w", err)
	}
	path := filepath.Join(c.LogDir(), fmt.Sprintf("%s-%d.log", role, id))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("config: log file: %w", err)
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: c.SlogLevel()})
	return slog.New(h).With(role, id), f, nil
}
