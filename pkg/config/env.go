package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvFlags are the flags that an environment variable may set, on every
// command that has them: GOSSIPKV_ and the flag's name in capitals, dashes
// as underscores (GOSSIPKV_CONFIG, GOSSIPKV_LOG_FORMAT). They say how this
// user or machine runs gossipkv (where the config and the binaries are,
// how the output looks), not what one run does.
var EnvFlags = []string{"config", "bin", "log-format", "quiet", "echo", "check"}

// EnvName is the environment variable of flag name.
func EnvName(flagName string) string {
	return "GOSSIPKV_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// FlagsFromEnv sets each flag of EnvFlags that fs defines from its
// environment variable, when that is set and not empty. Call it before
// fs.Parse: a flag on the command line then wins over the variable. A value
// the flag refuses is an error naming the variable.
func FlagsFromEnv(fs *flag.FlagSet) error {
	for _, name := range EnvFlags {
		if fs.Lookup(name) == nil {
			continue
		}
		env := EnvName(name)
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			if b, ok := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				err = errors.New("want true or false (or 1 or 0)")
			}
			return fmt.Errorf("environment variable %s=%q: %v", env, v, err)
		}
	}
	return nil
}

// LogFormats are the formats of a process's log file (-log-format): text
// is slog's key=value lines, json one JSON object a line.
var LogFormats = []string{"text", "json"}

// LogFormat is a -log-format flag: one of LogFormats, or empty when a
// command leaves the choice to the processes it starts.
type LogFormat string

func (f *LogFormat) String() string { return string(*f) }

// Set refuses a format that is not one of LogFormats.
func (f *LogFormat) Set(s string) error {
	if err := CheckLogFormat(s); err != nil {
		return err
	}
	*f = LogFormat(s)
	return nil
}

// CheckLogFormat refuses a log format that is not one of LogFormats.
func CheckLogFormat(format string) error {
	for _, f := range LogFormats {
		if format == f {
			return nil
		}
	}
	return fmt.Errorf("log format %q: want %s", format, strings.Join(LogFormats, " or "))
}
