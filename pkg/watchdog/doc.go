// Package watchdog starts and kills one gossipkv server process on behalf of
// the master, which cannot exec processes on other hosts and must not be the
// parent of servers it kills (a SIGKILL'd server must be reaped by someone
// who is waiting for it, so that killServer can block until the process is
// really gone).
//
// Start execs the server binary and returns only once the new process
// answers Server.Ping with its own pid, so the master's next command finds
// it serving. A server that dies during start-up is reported with the tail
// of its stderr log, which is where a server that cannot start says why.
//
// A watchdog the master started (-run) belongs to that master's run and
// refuses every other; one started by hand (no -run, as bench does on its
// hosts) serves any run of its cluster. The server it starts belongs to the
// run that asked (-run), and refuses every other run in turn.
//
// Caveats: the server is started with Pdeathsig SIGKILL, so it dies with the
// watchdog however the watchdog dies. Linux sends that signal when the
// thread that forked the child exits, not the process; the Go runtime only
// ends a thread when a goroutine locked to it exits, which this package
// never does. A watchdog serves exactly one server id.
package watchdog
