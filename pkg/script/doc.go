// Package script parses the master's script language (SPEC §2): one command
// a line, read from stdin, so that partitions, crashes and recoveries can be
// written down, replayed and diffed.
//
// It checks syntax only: the command name, the number of fields, that ids
// are non-negative 32-bit integers and that quoted strings are well formed.
// Whether an id is a server or a client, and whether it is running, depends
// on the cluster and is checked by the master.
//
// # Syntax
//
// Fields are separated by runs of blank space: the ASCII space and tab, and
// the other ASCII white-space bytes (\v, \f, \r, \n). Blank space at either
// end of a line is ignored. Unicode spaces such as U+00A0 are not blank:
// keys and values are byte strings, and a separator that looks like a
// letter's neighbour would silently split or join keys in surprising ways.
//
// A line whose first non-blank character is '#' is a comment, and a blank
// line is skipped. There are no trailing comments: '#' later in a line is an
// ordinary character, so that keys and values may contain it.
//
// A field that starts with '"' is a Go double-quoted string ("a b\n\x00") and
// must be complete: its closing quote must be followed by blank space or the
// end of the line, and every escape must be one Go accepts. Bytes between
// the quotes that are not escapes are taken as they are, even if they are
// not valid UTF-8. A '"' anywhere else in a field is an ordinary character,
// so that a value such as {"a":1} needs no quoting.
//
// Command names are case-sensitive (joinServer, not joinserver); a near miss
// gets a suggestion in the error. Every field, the command name and ids
// included, may be quoted, and means its unquoted bytes.
//
// A key must not be empty; a value may be (""). Limits on their sizes are
// the cluster's (config.Limits) and are checked by the master.
//
// Lines may be of any length: values of several megabytes are read whole.
// Errors quote at most 200 bytes of a line, so that such a line does not
// flood stderr.
package script
