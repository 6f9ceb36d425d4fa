package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gossipkv/pkg/check"
	"gossipkv/pkg/histfile"
	"gossipkv/pkg/runstats"
)

// TestLinearizability_Reported runs real clusters with -check, -history
// and -history-html. An eventually consistent run passes the check either
// way; the linearizability verdict is reported beside it: yes for a run
// where every read saw the latest write, no (naming the key and the read)
// for a stale read across a cut.
func TestLinearizability_Reported(t *testing.T) {
	bin := buildBinaries(t, moduleRoot(t))
	cases := []struct {
		name, script string
		// verdict is what the report line must match.
		verdict string
		result  string
		key     string
		line    int
	}{
		{"in one group",
			"joinServer 0\njoinServer 1\njoinClient 2 0\njoinClient 3 1\n" +
				"put 2 a 1\nstabilize\nget 3 a\ndelete 3 a\nstabilize\nget 2 a\nget 2 nothing\n",
			`linearizable: 5 operations on 2 keys`, "linearizable", "", 0},
		{"stale read across a cut",
			"joinServer 0\njoinServer 1\njoinClient 2 0\njoinClient 3 1\n" +
				"breakConnection 0 1\nput 2 k v\nget 3 k\ncreateConnection 0 1\nstabilize\nget 3 k\n",
			`NOT linearizable \(1 of 1 keys\): key "k": no order of its 3 operations explains every answer: ` +
				`after line 6: client 2 at server 0: put\("k", "v"\); line 7: client 3 at server 1: get\("k"\) -> absent cannot come next`,
			"not linearizable", "k", 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			hist, html, stats := filepath.Join(dir, "h.jsonl"), filepath.Join(dir, "h.html"), filepath.Join(dir, "stats.json")
			r := runBin(t, bin, "master", "", c.script, "-check", "-history", hist, "-history-html", html, "-stats", stats,
				"-config", checkCluster(t, 2, 2))
			lines := checkLines(r.stderr)
			if r.code != 0 || !strings.Contains(lines, "check: ok: ") {
				t.Fatalf("exit %d, want 0 and check: ok; the checker said:\n%s", r.code, lines)
			}
			if !regexp.MustCompile(`(?m)^check: linearizability, reported only: ` + c.verdict + `$`).MatchString(lines) {
				t.Errorf("no report line matching %q; the checker said:\n%s", c.verdict, lines)
			}

			h, err := histfile.ReadFile(hist)
			if err != nil {
				t.Fatal(err)
			}
			gets := 0
			for i, e := range h {
				if e.Return <= e.Call || i > 0 && e.Call < h[i-1].Return {
					t.Errorf("event %d (%v) runs %v to %v, after one that returned at %v", i, e, e.Call, e.Return, h[max(i-1, 0)].Return)
				}
				if e.Op == check.Get {
					gets++
				}
			}
			if want := strings.Count(c.script, "get "); gets != want {
				t.Errorf("history has %d gets, the script %d", gets, want)
			}
			b, err := os.ReadFile(html)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "<html") || !strings.Contains(string(b), `put(\"`) {
				t.Errorf("%s is not a visualization of the run (%d bytes)", html, len(b))
			}
			st, err := runstats.Read(stats)
			if err != nil {
				t.Fatal(err)
			}
			if l := st.Linearizability; l == nil || l.Result != c.result || l.Key != c.key || l.Line != c.line {
				t.Errorf("-stats linearizability %+v, want result %q key %q line %d", l, c.result, c.key, c.line)
			}
		})
	}
}
