// Package mpcodec writes and reads msgpack by hand, field by field, for the
// codecs that must give byte for byte what vmihailenco/msgpack's reflection
// gives for the same struct tags: the wire's batches and the storage's log
// and store records. Reflection over fields and their omitempty checks
// cost more than the values' own bytes on both paths, so each side writes
// its own record structure with an Encoder and reads it with a Decoder,
// and the model types both sides carry (model.Version, model.Seen,
// model.Stable, lists of member ids) are encoded here once.
//
// Caveats: the two sides differ in how reflection wrote their integers
// (see NewEncoder), and what is written must stay what reflection wrote,
// or peers and files already on disk stop reading the same bytes. The
// Decoder trusts msgpack's length headers: its input must have passed
// mpcheck first, or a short input can announce a huge array.
package mpcodec
