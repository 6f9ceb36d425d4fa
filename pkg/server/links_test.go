package server

import (
	"slices"
	"testing"
	"time"

	"gossipkv/pkg/model"
	"gossipkv/pkg/wire"
)

// A server that hears its own links at a version above the one it
// announces (an earlier life's, which a peer's Ack carries back) announces
// them above it in memberlist's metadata too, not only in its Acks.
func TestServer_OwnLinksAboveAnEarlierLife_InTheMetadata(t *testing.T) {
	c := newCluster(t, 2)
	s := c.servers[0]
	meta := func() wire.Meta {
		b := s.del.meta.Load()
		if b == nil {
			return wire.Meta{}
		}
		m, err := wire.DecodeMeta(*b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	waitFor := func(what string, ok func(wire.Meta) bool) wire.Meta {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if m := meta(); ok(m) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the metadata says %+v", what, meta())
			}
		}
	}
	before := waitFor("links to server 1", func(m wire.Meta) bool { return slices.Equal(m.Links, []uint32{1}) })
	earlier := before.Version + int64(time.Hour)
	s.del.inbox.push(inbound{from: 1, msgs: []model.Message{model.Ack{
		Topology: []model.LinkState{{ID: 0, Version: earlier, Links: []uint32{1}}},
	}}})
	after := waitFor("a version above the earlier life's", func(m wire.Meta) bool { return m.Version > earlier })
	if !slices.Equal(after.Links, []uint32{1}) {
		t.Errorf("links %v after the new version, want [1]", after.Links)
	}
}
