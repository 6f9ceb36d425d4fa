// Package netns turns one Linux machine into several "hosts" for the
// multiple-host benchmark: each host is a network namespace with its own
// address on a private subnet, joined to the others by a bridge, so that
// every server and client of the cluster talks over a real (virtual)
// network interface, optionally with a netem delay like a LAN's.
//
// Layout: the bridge lives in a namespace of its own (gkv-lan), so the root
// namespace's firewall (br_netfilter, a FORWARD policy of DROP) never sees
// bridged traffic. Host i is namespace gkv-h<i> with eth0 at 10.77.0.<i+2>,
// its veth peer attached to the bridge. The root namespace, where the
// master runs, gets one veth gkv-m0 with 10.77.0.1 on the same bridge.
// Every address of the subnet belongs only to these namespaces.
//
// Everything is computed first as a Plan (names, addresses and the exact ip
// and tc commands), which tests check without root; Setup runs it, and
// Teardown removes every namespace and link whose name starts with the
// prefix, also ones left by a crashed run.
//
// Caveats: it needs root and iproute2 (ip; tc for a delay). Deleting a
// namespace does not stop the processes inside it: stop them first
// (Teardown SIGKILLs, by pid, whatever is still running in them).
package netns
