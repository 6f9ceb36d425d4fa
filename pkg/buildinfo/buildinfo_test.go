package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "v1.2.3"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}, "v1.2.3 0123456789ab"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, "v1.2.3 abc-dirty"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, "v1.2.3"},
	} {
		bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: tc.settings}
		if got := describe(bi); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
	pseudo := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204214645-2c6baa49e424+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "2c6baa49e424aaaa"}, {Key: "vcs.modified", Value: "true"}}}
	if got := describe(pseudo); got != pseudo.Main.Version {
		t.Errorf("describe of a pseudo-version = %q, want it alone", got)
	}
	if Version() == "" {
		t.Error("Version is empty")
	}
}
