package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"gossipkv/pkg/script"
)

// parse reads a generated script with the master's own parser, so a
// script the master would refuse fails here.
func parse(t *testing.T, b []byte) []script.Command {
	t.Helper()
	r := script.NewReader(bytes.NewReader(b))
	var cmds []script.Command
	for {
		c, err := r.Next()
		if errors.Is(err, io.EOF) {
			return cmds
		}
		if err != nil {
			t.Fatalf("generated script does not parse: %v", err)
		}
		cmds = append(cmds, c)
	}
}

func render(t *testing.T, w interface{ Write(io.Writer) error }) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSpec_Deterministic(t *testing.T) {
	s := Spec{Servers: 3, Clients: 3, Puts: 50, ValueSize: 20, Seed: 7}
	a, b := render(t, s), render(t, s)
	if !bytes.Equal(a, b) {
		t.Fatal("one seed gave two scripts")
	}
	s.Seed = 8
	if bytes.Equal(a, render(t, s)) {
		t.Fatal("two seeds gave one script")
	}
}

func TestSpec_Shape(t *testing.T) {
	const servers, clients, puts, size = 5, 7, 23, 100
	cmds := parse(t, render(t, Spec{Servers: servers, Clients: clients, Puts: puts, ValueSize: size, Seed: 1}))
	if want := servers + clients + puts + 1; len(cmds) != want {
		t.Fatalf("%d commands, want %d", len(cmds), want)
	}
	for i := range servers {
		if c := cmds[i]; c.Kind != script.JoinServer || c.IDs[0] != uint32(i) {
			t.Fatalf("command %d: %q, want joinServer %d", i, c.Text, i)
		}
	}
	for i := range clients {
		c := cmds[servers+i]
		if c.Kind != script.JoinClient || c.IDs[0] != uint32(servers+i) || c.IDs[1] != uint32(i%servers) {
			t.Fatalf("command %d: %q, want joinClient %d %d", servers+i, c.Text, servers+i, i%servers)
		}
	}
	for i := range puts {
		c := cmds[servers+clients+i]
		if c.Kind != script.Put {
			t.Fatalf("command %q, want a put", c.Text)
		}
		if want := uint32(servers + i%clients); c.IDs[0] != want {
			t.Fatalf("put %d by client %d, want %d (clients take turns)", i, c.IDs[0], want)
		}
		if len(c.Key) != 3 || strings.Trim(string(c.Key), keyLetters) != "" {
			t.Fatalf("put %d: key %q, want 3 letters of %s", i, c.Key, keyLetters)
		}
		if len(c.Value) != size {
			t.Fatalf("put %d: value of %d bytes, want %d", i, len(c.Value), size)
		}
	}
	if last := cmds[len(cmds)-1]; last.Kind != script.Stabilize {
		t.Fatalf("last command %q, want stabilize", last.Text)
	}
}

func TestSpec_BadLayout(t *testing.T) {
	for _, s := range []Spec{{Servers: 0, Clients: 1, Puts: 1, ValueSize: 1}, {Servers: 1, Clients: 0, Puts: 1, ValueSize: 1}, {Servers: 1, Clients: 1, Puts: 1, ValueSize: 0}} {
		if err := s.Write(io.Discard); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

func TestPartition_Deterministic(t *testing.T) {
	p := Partition{Servers: 4, Clients: 4, Puts: 200, MinValue: 10, MaxValue: 20, CutEvery: 7, KillPuts: 30, Seed: 3}
	if !bytes.Equal(render(t, p), render(t, p)) {
		t.Fatal("one seed gave two scripts")
	}
}

// TestPartition_Shape replays the script's link events and checks the
// story: cuts only between live servers and never twice, restores only of
// cut links, every link whole again before the kill, no put by a client of
// the dead server, and the restart and a stabilize at the end.
func TestPartition_Shape(t *testing.T) {
	p := Partition{Servers: 5, Clients: 6, Puts: 3000, MinValue: 80, MaxValue: 100, CutEvery: 25, KillPuts: 300, Seed: 11}
	cmds := parse(t, render(t, p))
	cmds = cmds[p.Servers+p.Clients:]
	cut := map[[2]uint32]bool{}
	var puts, cuts, restores, putsWhileDead int
	dead := -1
	for i, c := range cmds {
		switch c.Kind {
		case script.Put:
			puts++
			if n := len(c.Value); n < p.MinValue || n > p.MaxValue {
				t.Fatalf("%q: value of %d bytes outside %d..%d", c.Text[:20], n, p.MinValue, p.MaxValue)
			}
			if dead >= 0 {
				putsWhileDead++
				if int(c.IDs[0]-uint32(p.Servers))%p.Servers == dead {
					t.Fatalf("put by client %d of dead server %d", c.IDs[0], dead)
				}
			}
		case script.BreakConnection, script.CreateConnection:
			a, b := c.IDs[0], c.IDs[1]
			if a >= b || b >= uint32(p.Servers) {
				t.Fatalf("%q: want two servers, smaller first", c.Text)
			}
			if dead >= 0 {
				t.Fatalf("%q after the kill", c.Text)
			}
			l := [2]uint32{a, b}
			if c.Kind == script.BreakConnection {
				if cut[l] {
					t.Fatalf("%q: link already cut", c.Text)
				}
				cut[l] = true
				cuts++
			} else {
				if !cut[l] {
					t.Fatalf("%q: link not cut", c.Text)
				}
				delete(cut, l)
				restores++
			}
		case script.KillServer:
			if len(cut) > 0 {
				t.Fatalf("kill with links still cut: %v", cut)
			}
			dead = int(c.IDs[0])
		case script.JoinServer:
			if int(c.IDs[0]) != dead || cmds[i+1].Kind != script.Stabilize || i+2 != len(cmds) {
				t.Fatalf("%q: want joinServer %d then a final stabilize", c.Text, dead)
			}
		}
	}
	if puts != p.Puts || putsWhileDead != p.KillPuts {
		t.Fatalf("%d puts, %d while a server was down; want %d and %d", puts, putsWhileDead, p.Puts, p.KillPuts)
	}
	if cuts < 10 || restores < 10 {
		t.Fatalf("%d cuts and %d restores: the workload should keep cutting and restoring", cuts, restores)
	}
}

func TestPartition_BadParameters(t *testing.T) {
	good := Partition{Servers: 3, Clients: 3, Puts: 10, MinValue: 1, MaxValue: 2, CutEvery: 1, KillPuts: 1}
	for _, mod := range []func(*Partition){
		func(p *Partition) { p.Servers = 1 },
		func(p *Partition) { p.MaxValue = 0 },
		func(p *Partition) { p.CutEvery = 0 },
		func(p *Partition) { p.KillPuts = 11 },
	} {
		p := good
		mod(&p)
		if err := p.Write(io.Discard); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	if err := good.Write(io.Discard); err != nil {
		t.Fatalf("good parameters: %v", err)
	}
}
