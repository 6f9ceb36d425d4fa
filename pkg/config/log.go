package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// OpenLog opens (appending) the log file of one process, role-ID.log in the
// log directory, and returns a logger writing to it at the configured level,
// in format (LogFormats; empty is text), with the process's role and id on
// every line: the packages it is handed to add neither. The caller closes
// the file.
func (c *Config) OpenLog(role string, id uint32, format LogFormat) (*slog.Logger, *os.File, error) {
	if format == "" {
		format = "text"
	}
	if err := CheckLogFormat(string(format)); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if err := os.MkdirAll(c.LogDir(), 0o755); err != nil {
		return nil, nil, fmt.Errorf("config: log directory: %w", err)
	}
	path := filepath.Join(c.LogDir(), fmt.Sprintf("%s-%d.log", role, id))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("config: log file: %w", err)
	}
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	var h slog.Handler = slog.NewTextHandler(f, opts)
	if format == "json" {
		h = slog.NewJSONHandler(f, opts)
	}
	return slog.New(h).With(role, id), f, nil
}
