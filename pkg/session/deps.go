package session

import "gossipkv/pkg/model"

// Deps is, per key, the newest version a session has written or read.
// The zero value is an empty session, ready to use.
type Deps struct {
	newest map[string]model.Version
}

// Of is the session's dependency on key: the zero version when it has
// none.
func (d *Deps) Of(key []byte) model.Version { return d.newest[string(key)] }

// Observe makes the session depend on version v of key, unless it
// already depends on a newer one.
func (d *Deps) Observe(key []byte, v model.Version) {
	if v.IsZero() {
		return // a key never written: nothing to depend on
	}
	if cur, ok := d.newest[string(key)]; ok && !cur.Less(v) {
		return
	}
	if d.newest == nil {
		d.newest = map[string]model.Version{}
	}
	d.newest[string(key)] = v
}
