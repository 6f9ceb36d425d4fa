package storage

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
)

// storeRecord's msgpack form is written out by hand, byte for byte what
// its struct tags give through reflection (recordcodec_test checks both
// ways): a checkpoint encodes a record for every key it writes and decodes
// the one it replaces, and reflection over the fields cost more than the
// checksum and copy of a 1 KB value. The decoder takes the fields in any
// order and skips unknown ones, as reflection does.

var (
	_ msgpack.CustomEncoder = (*storeRecord)(nil)
	_ msgpack.CustomDecoder = (*storeRecord)(nil)
)

// EncodeMsgpack writes r as the map {v, t, s, r[, d]}, integers at their
// full widths.
func (r *storeRecord) EncodeMsgpack(enc *msgpack.Encoder) error {
	n := 4
	if r.Deleted {
		n++
	}
	for _, err := range []error{
		enc.EncodeMapLen(n),
		enc.EncodeString("v"), enc.EncodeBytes(r.Value),
		enc.EncodeString("t"), enc.EncodeMapLen(3),
		enc.EncodeString("w"), enc.EncodeInt64(r.Version.Wall),
		enc.EncodeString("l"), enc.EncodeUint32(r.Version.Logical),
		enc.EncodeString("o"), enc.EncodeUint32(r.Version.Origin),
		enc.EncodeString("s"), enc.EncodeUint64(r.Seq),
		enc.EncodeString("r"), enc.EncodeUint64(r.Src),
	} {
		if err != nil {
			return err
		}
	}
	if r.Deleted {
		if err := enc.EncodeString("d"); err != nil {
			return err
		}
		return enc.EncodeBool(true)
	}
	return nil
}

// DecodeMsgpack reads what EncodeMsgpack wrote. With skipValue set it
// leaves Value nil: what a checkpoint compares and collects by needs no
// copy of it.
func (r *storeRecord) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "v":
			if r.skipValue {
				err = dec.Skip()
			} else {
				r.Value, err = dec.DecodeBytes()
			}
		case "t":
			err = decodeRecordVersion(dec, &r.Version)
		case "s":
			r.Seq, err = dec.DecodeUint64()
		case "r":
			r.Src, err = dec.DecodeUint64()
		case "d":
			r.Deleted, err = dec.DecodeBool()
		default:
			err = dec.Skip()
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	return nil
}

func decodeRecordVersion(dec *msgpack.Decoder, v *model.Version) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range max(n, 0) {
		k, err := dec.DecodeString()
		if err != nil {
			return err
		}
		switch k {
		case "w":
			v.Wall, err = dec.DecodeInt64()
		case "l":
			v.Logical, err = dec.DecodeUint32()
		case "o":
			v.Origin, err = dec.DecodeUint32()
		default:
			err = dec.Skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}
