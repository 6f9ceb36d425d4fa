package raftkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"gossipkv/pkg/model"
)

func TestForward_FramesRoundTrip(t *testing.T) {
	for _, v := range []any{
		&request{Op: opCAS, Key: []byte("k"), Value: []byte("v"), Old: []byte("o"), Origin: 4, Timeout: time.Second},
		&request{Op: opAddVoter, PeerID: 3, PeerAddr: "127.0.0.1:7103", Timeout: time.Millisecond},
		&response{Status: statusOK, Version: model.Version{Wall: 9, Origin: 2}, Value: []byte("x"), Found: true},
		&response{Status: statusError, Err: "boom"},
	} {
		var buf bytes.Buffer
		if err := writeFrame(&buf, v); err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := readFrame(&buf, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %+v gave %+v", v, got)
		}
	}
}

func TestForward_GarbageFrames(t *testing.T) {
	huge := binary.BigEndian.AppendUint32(nil, maxForwardFrame+1)
	lying := append(binary.BigEndian.AppendUint32(nil, 6), 0x81, 0xa1, 'k', 0xc6, 0xff, 0xff)
	for name, b := range map[string][]byte{"huge": huge, "lying header": lying, "short": {0, 0}} {
		var r request
		if err := readFrame(bytes.NewReader(b), &r); err == nil {
			t.Errorf("%s: frame accepted", name)
		}
	}
}

// TestForward_FollowerNeverRelays: a request that reaches a node that does
// not lead is refused as not run, not forwarded again, so a request never
// goes round in circles and the caller may try it elsewhere.
func TestForward_FollowerNeverRelays(t *testing.T) {
	c := newCluster(t, 3, testConfig())
	c.bootstrapAll()
	f := c.node(c.follower(c.leader()))
	ctx, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	for _, req := range []request{{Op: opPut, Key: []byte("k")}, {Op: opGet, Key: []byte("k")}} {
		if _, err := f.local(ctx, req); !errors.Is(err, errNotLeader) {
			t.Errorf("%v at a follower: %v, want errNotLeader", req.Op, err)
		}
	}
	if v, _ := c.localValue(0, "k"); v != "" {
		t.Errorf("the refused put was applied")
	}
}
