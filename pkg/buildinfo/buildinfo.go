// Package buildinfo says which build of gossipkv a binary is, from what
// the Go toolchain records in it: the module version and, for a build from
// a git checkout, the commit.
package buildinfo

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Version is the module version (a pseudo-version naming the commit for a
// build from a git checkout, "(devel)" where the build recorded no
// commit), followed by the commit's first 12 hex digits and "-dirty" for
// uncommitted changes when the version does not name them already.
var Version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return describe(bi)
})

func describe(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	// A pseudo-version (v0.0.0-DATE-COMMIT+dirty) already says it all.
	if rev != "" && !strings.Contains(v, rev) {
		v += " " + rev
		if dirty {
			v += "-dirty"
		}
	}
	return v
}
