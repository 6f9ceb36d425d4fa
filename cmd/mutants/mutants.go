package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"gossipkv/pkg/server"
)

// defaultList is the project's own set of mutants.
//
//go:embed mutants.yaml
var defaultList []byte

// Mutant is one deliberate bug: source edits to a copy of the project, or
// a GOSSIPKV_FAULT of the real servers.
type Mutant struct {
	Name  string `yaml:"name"`
	Area  string `yaml:"area"`
	Bug   string `yaml:"bug"`
	Fault string `yaml:"fault"`
	Edits []Edit `yaml:"edits"`
	// BeyondScenarios, when set, says why no generated scenario can be
	// expected to catch the bug (what it costs is below what a run's
	// timing can tell, or it needs an event no script can make). The
	// scenarios still run against it; if they miss it, the unit tests of
	// the packages it edits must catch it instead, and always run.
	BeyondScenarios string `yaml:"beyond_scenarios"`
}

// Edit replaces From, which must occur exactly once in File (relative to
// the module root), by To.
type Edit struct {
	File string `yaml:"file"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// parseList reads a list of mutants and checks each names one bug, by
// edits or by a fault, under a name of its own.
func parseList(data []byte, source string) ([]Mutant, error) {
	var ms []Mutant
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ms); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	seen := map[string]bool{}
	for i, m := range ms {
		where := fmt.Sprintf("%s: mutant %d (%q)", source, i+1, m.Name)
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("%s: no name", where)
		case seen[m.Name]:
			return nil, fmt.Errorf("%s: the name is taken by an earlier one", where)
		case m.Area == "" || m.Bug == "":
			return nil, fmt.Errorf("%s: area and bug must say what it breaks", where)
		case (m.Fault == "") == (len(m.Edits) == 0):
			return nil, fmt.Errorf("%s: give either edits or a fault, not both or neither", where)
		case m.BeyondScenarios != "" && len(m.Edits) == 0:
			return nil, fmt.Errorf("%s: beyond_scenarios needs edits, whose packages' unit tests must catch it instead", where)
		}
		// A fault the servers do not know stops them at start, and every
		// run would fail for that alone.
		if m.Fault != "" {
			if _, err := server.ParseFault(m.Fault); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		for j, e := range m.Edits {
			if e.File == "" || e.From == "" || e.From == e.To || filepath.IsAbs(e.File) || strings.HasPrefix(filepath.Clean(e.File), "..") {
				return nil, fmt.Errorf("%s: edit %d: want a file inside the module and a from that the edit changes", where, j+1)
			}
		}
		seen[m.Name] = true
	}
	return ms, nil
}

// selectMutants picks the mutants named in only (comma-separated; all if empty).
func selectMutants(ms []Mutant, only string) ([]Mutant, error) {
	if only == "" {
		return ms, nil
	}
	byName := map[string]Mutant{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	var out []Mutant
	for _, name := range strings.Split(only, ",") {
		m, ok := byName[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("-only: no mutant named %q", name)
		}
		out = append(out, m)
	}
	return out, nil
}

// apply makes m's edits to the tree at root (a copy of the module).
func (m Mutant) apply(root string) error {
	for i, e := range m.Edits {
		path := filepath.Join(root, e.File)
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("mutant %s: edit %d: %w", m.Name, i+1, err)
		}
		if n := bytes.Count(src, []byte(e.From)); n != 1 {
			return fmt.Errorf("mutant %s: edit %d: its text occurs %d times in %s, want once: the code changed, and the mutant must follow it", m.Name, i+1, n, e.File)
		}
		src = bytes.Replace(src, []byte(e.From), []byte(e.To), 1)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			return fmt.Errorf("mutant %s: edit %d: %w", m.Name, i+1, err)
		}
	}
	return nil
}

// editsMaster reports whether m is a bug of the master (its stabilize),
// whose binary then comes from the mutated copy too.
func (m Mutant) editsMaster() bool {
	for _, e := range m.Edits {
		if dir := filepath.ToSlash(filepath.Dir(e.File)); dir == "pkg/master" || dir == "cmd/master" {
			return true
		}
	}
	return false
}

// packages lists the directories m edits, for its unit tests.
func (m Mutant) packages() []string {
	var out []string
	for _, e := range m.Edits {
		dir := "./" + filepath.ToSlash(filepath.Dir(e.File))
		if !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	return out
}
