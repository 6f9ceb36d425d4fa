// Package shrink makes a failing input small: given lines and a test that
// says whether a candidate still fails, Minimize removes chunks of lines
// (halves, then quarters, and so on down to single lines) for as long as
// the failure persists, and returns a 1-minimal failing input: removing any
// one more line makes it pass. This is Zeller and Hildebrandt's delta
// debugging (ddmin), reduced to its complement step, which suits scripts:
// a failure usually needs a few scattered lines (a write, a cut, a kill),
// not one contiguous chunk.
//
// The test is assumed deterministic; a flaky one gives a result that fails
// at least once, and Minimize never calls it twice with the same candidate.
package shrink
