package gen

import (
	"testing"
	"time"
)

// Review: a -max-clock-offset below 250ms (which Validate accepts) makes
// twinSkew draw its skew with g.n.Int64N of a non-positive bound, which
// panics, so `master gen -max-clock-offset 200ms` crashes instead of
// generating (shapes.go twinSkew: off*4/5-200ms < 0).
func TestReview_TwinSkew_SmallMaxClockOffset(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		o := DefaultOptions()
		o.Seed, o.Kinds, o.MaxClockOffset = seed, []string{"twinskew"}, 200*time.Millisecond
		if err := o.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("seed %d: Generate panicked: %v", seed, r)
				}
			}()
			if _, err := Generate(o); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}()
	}
}
