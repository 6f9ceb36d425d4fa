package wire

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"gossipkv/pkg/model"
)

// entries is a list of model.Entry with a msgpack form written out by hand:
// each entry an array of its eight fields, in the order below. Decoding the
// struct by reflection cost more than the rest of a batch, and every put is
// decoded by every other server.
type entries []model.Entry

const entryFields = 8

var (
	_ msgpack.CustomEncoder = entries(nil)
	_ msgpack.CustomDecoder = (*entries)(nil)
)

// EncodeMsgpack writes es as an array of entry arrays.
func (es entries) EncodeMsgpack(enc *msgpack.Encoder) error {
	if es == nil {
		return enc.EncodeNil()
	}
	if err := enc.EncodeArrayLen(len(es)); err != nil {
		return err
	}
	for i := range es {
		e := &es[i]
		for _, err := range []error{
			enc.EncodeArrayLen(entryFields),
			enc.EncodeBytes(e.Key),
			enc.EncodeBytes(e.Value),
			enc.EncodeInt(e.Version.Wall),
			enc.EncodeUint(uint64(e.Version.Logical)),
			enc.EncodeUint(uint64(e.Version.Origin)),
			enc.EncodeUint(e.Seq),
			enc.EncodeUint(e.Src),
			enc.EncodeBool(e.Deleted),
		} {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// DecodeMsgpack reads what EncodeMsgpack wrote. The input has passed
// mpcheck, so no length it reads can make it allocate more than the input
// holds.
func (es *entries) DecodeMsgpack(dec *msgpack.Decoder) error {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 0 {
		*es = nil
		return nil
	}
	out := make([]model.Entry, n)
	for i := range out {
		if err := decodeEntry(dec, &out[i]); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	*es = out
	return nil
}

func decodeEntry(dec *msgpack.Decoder, e *model.Entry) (err error) {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n != entryFields {
		return fmt.Errorf("%d fields, want %d", n, entryFields)
	}
	if e.Key, err = dec.DecodeBytes(); err != nil {
		return err
	}
	if e.Value, err = dec.DecodeBytes(); err != nil {
		return err
	}
	if e.Version.Wall, err = dec.DecodeInt64(); err != nil {
		return err
	}
	if e.Version.Logical, err = dec.DecodeUint32(); err != nil {
		return err
	}
	if e.Version.Origin, err = dec.DecodeUint32(); err != nil {
		return err
	}
	if e.Seq, err = dec.DecodeUint64(); err != nil {
		return err
	}
	if e.Src, err = dec.DecodeUint64(); err != nil {
		return err
	}
	e.Deleted, err = dec.DecodeBool()
	return err
}
