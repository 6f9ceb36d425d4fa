// Package histfile writes a run's history (a check.History) as JSON Lines
// and reads it back: the file that `master -check -history FILE` writes,
// for people reading a failed run and for linearizability checkers.
//
// # Format
//
// One JSON object a line, in the order the master ran the events (script
// order). Every object has:
//
//	line       the script line (int)
//	op         what happened: "put", "get", "delete", "cas" (client
//	           operations; cas in linearizable mode only), or "start", "kill",
//	           "cut", "heal", "stabilize", "skew", "pause", "resume"
//	           (cluster events)
//	call_ns    when it began, and
//	return_ns  when it ended, both in nanoseconds since the run began, on
//	           the master's monotonic clock: for a client operation, right
//	           before and right after the call to the client; for a cluster
//	           event, its script command (a stabilize's store dumps
//	           included)
//
// A client operation also has:
//
//	client     the client id
//	server     the server that answered (or, with no answer, the one the
//	           client was pointed at)
//	key        the key
//	input      what the client sent: {"value": V} for a put (and for a
//	           cas, with "expect": E), and "dep": the version the client
//	           depended on for the key, when it had one
//	output     what came back: "status" (OK, ERR_KEY, ERR_DEP, ERR_CONN,
//	           ERR_FAILED, and in linearizable mode ERR_CAS for a cas that
//	           found another value, ERR_UNAVAILABLE), "value" for a get answered OK, "version" of the
//	           write made or read (for ERR_KEY, of the tombstone read, if
//	           any), and for ERR_KEY with no version "stable": the
//	           server's stable point, up to which it held every write of
//	           the key, the newest of them (if any) a delete whose
//	           tombstone it collected
//	unknown    true for a put, delete or cas without an acknowledgement
//	           (ERR_CONN, ERR_FAILED, ERR_UNAVAILABLE, or no answer): it may or may not have
//	           taken effect, at any time after call_ns. return_ns is when
//	           the master stopped waiting; a linearizability checker must
//	           take the operation as never returning, its output unknown.
//
// A get answered ERR_KEY read no value: the key is missing or deleted
// ("absent" to a register model). A get answered ERR_DEP or ERR_CONN read
// nothing and constrains nothing.
//
// A cluster event also has: "server" (the server started, killed, skewed,
// paused or resumed, one end of a cut or healed link), "peer" (the other
// end), "fresh" (a start that wiped the server's data), "skew_ns" for a
// skew (the shift of the server's clock from then on, signed nanoseconds;
// 0 sets it right: while any clock is skewed, versions need not follow
// script or real-time order), and for a stabilize "converged", "err" (why
// not), "stores": every live server's store as dumped after it, by
// server id, a list of {"key", "value", "version", "deleted"}, and
// "stables": each store's stable point, by server id (tombstones at or
// below it were collected and are not in the store). A paused server is
// live but left out of a stabilize's stores: between its "pause" and
// "resume" it neither receives nor serves anything.
//
// Keys and values are byte strings: a JSON string when the bytes are valid
// UTF-8, else {"base64": "..."}. A version is {"wall": ns, "logical": n,
// "origin": server}, left out when zero. Fields that do not apply are left
// out, and readers should ignore fields they do not know.
//
// Example:
//
//	{"line":4,"op":"cut","call_ns":2100311,"return_ns":2400122,"server":0,"peer":1}
//	{"line":5,"op":"put","call_ns":2411003,"return_ns":3902117,"client":5,"server":0,"key":"k","input":{"value":"v"},"output":{"status":"OK","version":{"wall":1718000000000000000,"origin":0}}}
//	{"line":6,"op":"get","call_ns":3950020,"return_ns":4580301,"client":6,"server":1,"key":"k","input":{},"output":{"status":"ERR_KEY"}}
package histfile
