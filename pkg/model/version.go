package model

import (
	"fmt"
	"math"
)

// Version places a write in the conflict order: a hybrid logical clock
// (physical nanoseconds, logical counter) with the origin server id breaking
// ties. The order is total (two writes of different origins never compare
// equal, and one origin never issues a version twice) and consistent with
// causality: a server never issues a version below one it has seen, and a
// client's write is issued above every version the client depends on.
//
// On one machine all servers read the same clock, so the put that comes later
// in a script gets the larger version and wins; that keeps transcripts
// deterministic.
type Version struct {
	Wall    int64  `msgpack:"w"`
	Logical uint32 `msgpack:"l"`
	Origin  uint32 `msgpack:"o"`
}

// IsZero reports whether v is the zero version, used for "no dependency".
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	switch {
	case v.Wall != o.Wall:
		return cmp3(v.Wall < o.Wall)
	case v.Logical != o.Logical:
		return cmp3(v.Logical < o.Logical)
	case v.Origin != o.Origin:
		return cmp3(v.Origin < o.Origin)
	}
	return 0
}

func cmp3(less bool) int {
	if less {
		return -1
	}
	return 1
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// Max returns the newer of v and o.
func Max(v, o Version) Version {
	if v.Less(o) {
		return o
	}
	return v
}

// Tick issues the version of a new write at origin, given the physical time
// now and the newest version the origin has seen or the write depends on
// (last). The result is above last in the order whatever the physical clock
// says, so a clock that steps backwards cannot break causality.
func Tick(last Version, now int64, origin uint32) Version {
	if now > last.Wall {
		return Version{Wall: now, Origin: origin}
	}
	if last.Logical == math.MaxUint32 {
		// The counter is full (only a forged or corrupt version gets here):
		// move to the next nanosecond rather than wrap below last.
		return Version{Wall: last.Wall + 1, Origin: origin}
	}
	return Version{Wall: last.Wall, Logical: last.Logical + 1, Origin: origin}
}

func (v Version) String() string {
	if v.IsZero() {
		return "v0"
	}
	return fmt.Sprintf("v%d.%d@%d", v.Wall, v.Logical, v.Origin)
}
