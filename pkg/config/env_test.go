package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func envFlagSet() (*flag.FlagSet, *string, *bool, *LogFormat) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := fs.String("config", "config.yaml", "")
	echo := fs.Bool("echo", false, "")
	f := LogFormat("text")
	fs.Var(&f, "log-format", "")
	fs.String("stats", "", "") // not in EnvFlags: GOSSIPKV_STATS is nobody's
	return fs, cfg, echo, &f
}

// A variable sets its flag; a flag given on the command line wins over it.
func TestFlagsFromEnv_FlagWins(t *testing.T) {
	t.Setenv("GOSSIPKV_CONFIG", "from-env.yaml")
	t.Setenv("GOSSIPKV_ECHO", "true")
	t.Setenv("GOSSIPKV_LOG_FORMAT", "json")
	t.Setenv("GOSSIPKV_STATS", "nobody.json")
	fs, cfg, echo, f := envFlagSet()
	if err := FlagsFromEnv(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-config", "given.yaml"}); err != nil {
		t.Fatal(err)
	}
	if *cfg != "given.yaml" || !*echo || *f != "json" {
		t.Errorf("config %q echo %v log format %q; want given.yaml, true, json", *cfg, *echo, *f)
	}
	if v := fs.Lookup("stats").Value.String(); v != "" {
		t.Errorf("-stats = %q from a variable that is not one of EnvFlags", v)
	}
}

// An empty variable is as good as none.
func TestFlagsFromEnv_EmptyIsUnset(t *testing.T) {
	t.Setenv("GOSSIPKV_CONFIG", "")
	t.Setenv("GOSSIPKV_ECHO", "")
	fs, cfg, echo, _ := envFlagSet()
	if err := FlagsFromEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *cfg != "config.yaml" || *echo {
		t.Errorf("config %q echo %v, want the defaults", *cfg, *echo)
	}
}

// A value the flag refuses is an error naming the variable and the value.
func TestFlagsFromEnv_BadValueNamesTheVariable(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"GOSSIPKV_ECHO", "yes please", `GOSSIPKV_ECHO="yes please": want true or false`},
		{"GOSSIPKV_LOG_FORMAT", "xml", `GOSSIPKV_LOG_FORMAT="xml": log format "xml": want text or json`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			fs, _, _, _ := envFlagSet()
			err := FlagsFromEnv(fs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"config": "GOSSIPKV_CONFIG", "log-format": "GOSSIPKV_LOG_FORMAT"} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}
