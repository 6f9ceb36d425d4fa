// Package config describes a gossipkv cluster: which ids are servers and
// which are clients, where each listens, where servers keep their data, and
// the timing and durability knobs. It is the only package that reads YAML.
//
// Every knob has a default chosen for the harness on one machine (see the
// comment on each field in Default); a file only needs to say what differs.
// Unknown fields are errors, so a typo in a knob's name is never silently
// ignored, and every error names the field (and, for a file, its line).
//
// The cluster knob names the cluster: every process refuses calls and gossip
// from another cluster (the master's run id, drawn per run, keeps apart two
// masters with the same file). It is a name, not a secret.
//
// Durations are written with a unit ("50ms", "1s"). A bare number is an
// error rather than nanoseconds: "probe_interval: 200" is far more likely to
// mean milliseconds than 200ns.
//
// A key with no value ("probe_interval:") is an error too; delete the line
// to keep the default. A section with nothing in it ("timing:" with every
// knob commented out) keeps all its defaults.
package config
