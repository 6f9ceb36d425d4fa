package shrink

import "strings"

// Minimize returns a subsequence of lines (order kept) for which fails
// still reports true, removing as much as it can. lines itself must fail;
// Minimize does not check that. progress, if not nil, is told of each
// smaller failing candidate found and of each trial's outcome.
func Minimize(lines []string, fails func([]string) bool, progress func(trials, size int)) []string {
	cur := lines
	tried := map[string]bool{}
	trials := 0
	test := func(c []string) bool {
		k := strings.Join(c, "\n")
		if _, done := tried[k]; done {
			return false // already known to pass (a failing one became cur)
		}
		trials++
		failed := fails(c)
		tried[k] = failed
		if progress != nil {
			size := len(cur)
			if failed {
				size = len(c)
			}
			progress(trials, size)
		}
		return failed
	}
	n := 2
	for len(cur) >= 2 {
		chunk := (len(cur) + n - 1) / n
		reduced := false
		for start := 0; start < len(cur); start += chunk {
			end := min(start+chunk, len(cur))
			c := make([]string, 0, len(cur)-(end-start))
			c = append(c, cur[:start]...)
			c = append(c, cur[end:]...)
			if test(c) {
				cur = c
				n = max(n-1, 2)
				reduced = true
				break
			}
		}
		if reduced {
			continue
		}
		if n >= len(cur) {
			break
		}
		n = min(2*n, len(cur))
	}
	if len(cur) == 1 && test(nil) {
		cur = nil
	}
	return cur
}
