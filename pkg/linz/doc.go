// Package linz judges whether a run's client operations were linearizable:
// whether some single order of them, one that respects real time (an
// operation that returned before another was called comes first) and in
// which every key behaves as a register, explains every answer. It uses
// porcupine (github.com/anishathalye/porcupine) with a per-key register
// model, partitioned by key, and writes porcupine's HTML visualization of
// the result.
//
// # The register model
//
// Each key is a register that is either absent or holds a value, absent at
// first. A put stores its value; a delete makes the key absent; a get
// returns the value, or "absent" for a missing or deleted key (ERR_KEY); a
// cas (compare-and-set) stores its new value if and only if the key holds
// the expected value, and reports whether it did.
//
// A write without an acknowledgement (Op.Unknown: ERR_CONN, ERR_FAILED, a
// timeout) may or may not have taken effect, at any moment after its call.
// As porcupine expects, it is given an infinite return time and an unknown
// output that the model accepts whatever the state: it can be ordered
// anywhere after its call, including after every other operation, which is
// the same as never. A get that read nothing (ERR_DEP, ERR_CONN) constrains
// nothing and is left out.
//
// # Caveats
//
// Times are the master's, around its call to the client: an operation took
// effect somewhere inside that interval, which is all linearizability
// assumes. The check is NP-hard in general; Options.Timeout bounds it, and
// a search cut short says Undetermined rather than guess. The verdict is
// about the register model only: an eventually consistent run may fail it
// without breaking any promise of its own (package check judges those).
package linz
