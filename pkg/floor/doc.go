// Package floor measures the least a put can cost on the machine at hand:
// the master's call to a client, the client's call to its server (both
// net/rpc over loopback TCP, as in the real system) and one fsync'd bbolt
// commit at the server, in a sequential chain with nothing else going on.
// No replication, no batching, no memberlist.
//
// Variants measure the same chain with a log append per put instead of the
// bbolt commit (what a server does for its own puts), with its client and
// server in processes of their own (MeasureProcesses), with several such
// servers that each hold only their own clients' puts, the clients taking
// the puts in turn (MeasureUnreplicated), and with several servers that
// each hold a copy of every put, sent in the servers' batches
// (MeasurePeers, RolePeer): the least the cluster's replication costs,
// without its protocol.
//
// The real benchmark (cmd/bench) measures this floor in the same run as the
// cluster, so that the ratio "cluster puts/s / floor puts/s" compares like
// with like on a shared, noisy machine: a disk or CPU that is slower today
// moves both figures.
//
// Caveats: the figure depends on the file system under dir (a tmpfs makes
// fsync free); measure the floor in the same directory tree the servers use.
package floor
