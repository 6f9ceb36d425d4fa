package server

import (
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/raftkv"
)

func TestParseFault_Names(t *testing.T) {
	for _, f := range []Fault{NoFault, FaultDropWrites, FaultIgnoreDeps, FaultAckBeforeCommit, FaultNoCausality,
		FaultIgnoreWriteDeps, FaultRaftLocalRead, FaultRaftAckBeforeCommit, FaultRaftStaleLeader} {
		name := f.String()
		if f == NoFault {
			name = ""
		}
		got, err := ParseFault(name)
		if err != nil || got != f {
			t.Errorf("ParseFault(%q) = %v, %v; want %v", name, got, err, f)
		}
	}
	if _, err := ParseFault("drop-write"); err == nil {
		t.Error("a misspelt fault was accepted")
	}
}

// The raft- faults reach the Raft node each as its own hook, and no other
// fault touches it.
func TestFault_RaftHooks(t *testing.T) {
	want := map[Fault]raftkv.Faults{
		FaultRaftLocalRead:       {LocalReads: true},
		FaultRaftAckBeforeCommit: {AckOnPropose: true},
		FaultRaftStaleLeader:     {StaleLeaderReads: true},
	}
	for f := range faultNames {
		if got := f.raft(); got != want[f] {
			t.Errorf("%v.raft() = %+v, want %+v", f, got, want[f])
		}
	}
}

func TestFault_NoneChangesNothing(t *testing.T) {
	var f faultState
	dep := model.Version{Wall: 5, Origin: 1}
	if f.dep(dep) != dep || f.ackEarly() || f.holdCommit(0) {
		t.Error("NoFault altered a get, a put or a commit")
	}
	w := model.Writes{Entries: []model.Entry{{Key: []byte("k"), Version: dep, Seq: 1, Src: 1}}}
	if got := f.filter(model.NewReplica(0, 0, nil, model.Meta{}), w).(model.Writes); len(got.Entries) != 1 {
		t.Error("NoFault filtered a write")
	}
}

func TestFault_DropWrites_OneInTen(t *testing.T) {
	s := &Server{opts: Options{ID: 3, Now: func() int64 { return 100 }}}
	s.node = model.NewNode(model.NodeConfig{ID: 3}, model.NewReplica(3, 3, nil, model.Meta{}))
	s.fault.kind = FaultDropWrites
	dropped := 0
	for range 30 {
		r := request{kind: reqPut}
		if s.fault.dropPut(s, &r) {
			dropped++
			if r.dep.IsZero() || r.dep.Origin != 3 {
				t.Errorf("a dropped put is answered with version %v", r.dep)
			}
		}
	}
	if dropped != 3 {
		t.Errorf("dropped %d of 30 puts, want 3", dropped)
	}
}

func TestFault_NoCausality_FirstArrivalWins(t *testing.T) {
	r := model.NewReplica(0, 0, nil, model.Meta{})
	old := model.Entry{Key: []byte("k"), Value: []byte("old"), Version: model.Version{Wall: 1, Origin: 1}, Seq: 1, Src: 1}
	r.Apply(old)
	f := faultState{kind: FaultNoCausality}
	newer := model.Entry{Key: []byte("k"), Value: []byte("new"), Version: model.Version{Wall: 2, Origin: 2}, Seq: 1, Src: 2}
	other := model.Entry{Key: []byte("j"), Value: []byte("x"), Version: model.Version{Wall: 3, Origin: 2}, Seq: 2, Src: 2}
	got := f.filter(r, model.Writes{Entries: []model.Entry{newer, other}}).(model.Writes)
	if len(got.Entries) != 1 || string(got.Entries[0].Key) != "j" {
		t.Fatalf("kept %v, want only the write of a new key", got.Entries)
	}
	if !r.Seen().Contains(newer.Dot()) {
		t.Error("the ignored write is not recorded as held: its sender would resend it forever")
	}
	if e, _ := r.Get([]byte("k"), model.Version{}); string(e.Value) != "old" {
		t.Errorf("k = %q, want the first arrival", e.Value)
	}
}

func TestFault_IgnoreDeps_AndAckBeforeCommit(t *testing.T) {
	f := faultState{kind: FaultIgnoreDeps}
	if !f.dep(model.Version{Wall: 9}).IsZero() {
		t.Error("ignore-deps honoured the dependency")
	}
	f = faultState{kind: FaultAckBeforeCommit}
	if !f.ackEarly() {
		t.Error("ack-before-commit does not answer early")
	}
	if f.holdCommit(0) {
		t.Error("the first commit was held")
	}
	if !f.holdCommit(0) {
		t.Error("a commit right after another, with nobody waiting, was not held")
	}
	if f.holdCommit(1) {
		t.Error("a commit that a request waits on was held")
	}
}
