package server

import (
	"context"
	"log/slog"
	"strings"
)

// memberlistLog takes memberlist's log output (it logs through a
// *log.Logger, each line starting with its level in brackets) and logs each
// line at that level, without the brackets and memberlist's own prefix: the
// logger it is given says the component.
type memberlistLog struct{ log *slog.Logger }

// memberlistLevels are memberlist's level prefixes; a line with none is
// logged at info.
var memberlistLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

func (m memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	level := slog.LevelInfo
	for _, l := range memberlistLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, level = strings.TrimLeft(rest, " "), l.level
			break
		}
	}
	ctx := context.Background()
	if m.log.Enabled(ctx, level) {
		m.log.Log(ctx, level, strings.TrimPrefix(line, "memberlist: "))
	}
	return len(p), nil
}
