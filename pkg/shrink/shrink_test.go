package shrink

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// needs fails when every one of want is present, in order.
func needs(want ...string) func([]string) bool {
	return func(c []string) bool {
		i := 0
		for _, l := range c {
			if i < len(want) && l == want[i] {
				i++
			}
		}
		return i == len(want)
	}
}

func TestMinimize_FindsScatteredLines(t *testing.T) {
	for _, want := range [][]string{{"7"}, {"3", "50"}, {"0", "41", "42", "99"}} {
		got := Minimize(lines(100), needs(want...), nil)
		if !slices.Equal(got, want) {
			t.Errorf("Minimize kept %v, want %v", got, want)
		}
	}
}

func TestMinimize_EveryLineNeeded(t *testing.T) {
	in := lines(9)
	if got := Minimize(in, needs(in...), nil); !slices.Equal(got, in) {
		t.Errorf("kept %v, want all of %v", got, in)
	}
}

func TestMinimize_EmptyFails(t *testing.T) {
	if got := Minimize(lines(10), func([]string) bool { return true }, nil); len(got) != 0 {
		t.Errorf("kept %v, want nothing", got)
	}
}

func TestMinimize_OneMinimal(t *testing.T) {
	// A failure that needs any two lines of a set: the result must fail,
	// and removing any one line of it must pass.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		set := map[string]bool{}
		for range 5 {
			set[fmt.Sprint(r.IntN(60))] = true
		}
		fails := func(c []string) bool {
			n := 0
			for _, l := range c {
				if set[l] {
					n++
				}
			}
			return n >= 2
		}
		got := Minimize(lines(60), fails, nil)
		if !fails(got) {
			t.Fatalf("result %v does not fail", got)
		}
		for i := range got {
			if fails(slices.Delete(slices.Clone(got), i, i+1)) {
				t.Fatalf("result %v is not 1-minimal: line %d can go", got, i)
			}
		}
	}
}

func TestMinimize_NeverRepeatsATrial(t *testing.T) {
	seen := map[string]bool{}
	fails := func(c []string) bool {
		k := fmt.Sprint(c)
		if seen[k] {
			t.Fatalf("candidate %v tried twice", c)
		}
		seen[k] = true
		return needs("5", "6")(c)
	}
	var last int
	Minimize(lines(32), fails, func(trials, size int) { last = trials })
	if last != len(seen) {
		t.Errorf("progress counted %d trials, fails was called %d times", last, len(seen))
	}
}
