package server

import (
	"log/slog"
	"testing"

	"gossipkv/pkg/model"
	"gossipkv/pkg/wire"
)

func TestDelegate_NotifyMsg_RefusesGarbageAndStrangers(t *testing.T) {
	d := &delegate{self: 0, known: map[uint32]string{0: "a", 1: "b"}, inbox: newQueue[inbound](),
		events: newQueue[memberEvent](), log: slog.New(slog.DiscardHandler)}
	ack := []model.Message{model.Ack{Src: 7}}
	fromKnown, _ := wire.Encode(1, ack)
	fromStranger, _ := wire.Encode(9, ack)
	fromSelf, _ := wire.Encode(0, ack)
	for name, buf := range map[string][]byte{
		"garbage":              {0x01, 0xdd, 0xff, 0xff, 0xff, 0xff},
		"empty":                nil,
		"truncated":            fromKnown[:len(fromKnown)-1],
		"server not in config": fromStranger,
		"claims to be us":      fromSelf,
	} {
		d.NotifyMsg(buf)
		if got := d.inbox.drain(); len(got) != 0 {
			t.Errorf("%s: delivered %+v", name, got)
		}
	}
	d.NotifyMsg(fromKnown)
	got := d.inbox.drain()
	if len(got) != 1 || got[0].from != 1 || got[0].msgs[0].(model.Ack).Src != 7 {
		t.Fatalf("valid message from server 1: %+v", got)
	}
}
