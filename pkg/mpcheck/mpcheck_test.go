package mpcheck

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheck_AcceptsWhatMsgpackWrites(t *testing.T) {
	type inner struct {
		A []uint32          `msgpack:"a"`
		B map[string][]byte `msgpack:"b"`
	}
	values := []any{
		nil, true, false, 0, 127, -1, -33, 200, 70000, 1 << 40, -1 << 40, 1.5, float32(2.5),
		"", "short", string(bytes.Repeat([]byte("x"), 300)), string(bytes.Repeat([]byte("y"), 70000)),
		[]byte{}, bytes.Repeat([]byte{0}, 70000), []int{}, make([]int, 20), make([]int, 70000),
		map[string]int{"a": 1}, inner{A: []uint32{1, 2, 3}, B: map[string][]byte{"k": {1, 2}}},
		[]inner{{}, {A: make([]uint32, 40)}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b); err != nil {
			t.Errorf("Check(%T) = %v", v, err)
		}
	}
}

func TestCheck_RefusesLiesAndTruncation(t *testing.T) {
	good, _ := msgpack.Marshal(map[string]any{"k": []int{1, 2, 3}, "v": "value"})
	deep := append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0x00)
	for name, b := range map[string][]byte{
		"empty":                  nil,
		"array of 4e9, 4 bytes":  {0xdd, 0xff, 0xff, 0xff, 0xff},
		"map of 65535, no items": {0xde, 0xff, 0xff},
		"str32 longer than data": {0xdb, 0, 1, 0, 0, 'a'},
		"bin8 truncated length":  {0xc4},
		"never-used byte":        {0xc1},
		"truncated":              good[:len(good)-2],
		"trailing bytes":         append(append([]byte{}, good...), 0x00),
		"too deep":               deep,
		"fuzzer's crash":         []byte("\x92nݬ\xbd\xb2~"),
	} {
		if err := Check(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Check = %v, want ErrInvalid", name, err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	good, _ := msgpack.Marshal(map[string]any{"k": []int{1, 2, 3}})
	f.Add(good)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if Check(b) != nil {
			return
		}
		// Whatever Check accepts, msgpack decodes without a panic and
		// without allocating more than the input can describe.
		var v any
		_ = msgpack.Unmarshal(b, &v)
	})
}
