package session

import (
	"testing"
	"testing/quick"

	"gossipkv/pkg/model"
)

func TestDeps_Observe(t *testing.T) {
	v := func(wall int64, origin uint32) model.Version { return model.Version{Wall: wall, Origin: origin} }
	var d Deps
	if got := d.Of([]byte("k")); !got.IsZero() {
		t.Fatalf("empty session depends on %v", got)
	}
	for _, tt := range []struct {
		observe model.Version
		want    model.Version
	}{
		{model.Version{}, model.Version{}}, // a key never written
		{v(5, 1), v(5, 1)},
		{v(3, 9), v(5, 1)}, // older: kept out
		{v(5, 2), v(5, 2)}, // same wall, later in the conflict order
		{model.Version{}, v(5, 2)},
		{v(6, 0), v(6, 0)},
	} {
		d.Observe([]byte("k"), tt.observe)
		if got := d.Of([]byte("k")); got != tt.want {
			t.Errorf("after Observe(%v): Of = %v, want %v", tt.observe, got, tt.want)
		}
	}
	if got := d.Of([]byte("other")); !got.IsZero() {
		t.Errorf("Of(other) = %v, want none", got)
	}
}

// Of is the newest version observed of each key, against a model that
// keeps every observation.
func TestDeps_NewestObserved(t *testing.T) {
	type obs struct {
		Key   uint8
		Wall  int8
		Logic uint8
		Orig  uint8
	}
	f := func(steps []obs) bool {
		var d Deps
		seen := map[string][]model.Version{}
		for _, s := range steps {
			k := string([]byte{s.Key % 4})
			v := model.Version{Wall: int64(s.Wall), Logical: uint32(s.Logic % 3), Origin: uint32(s.Orig % 3)}
			d.Observe([]byte(k), v)
			seen[k] = append(seen[k], v)
		}
		for k := range 4 {
			key := string([]byte{byte(k)})
			var want model.Version
			for _, v := range seen[key] {
				if !v.IsZero() && (want.IsZero() || want.Less(v)) {
					want = v
				}
			}
			if d.Of([]byte(key)) != want {
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}
