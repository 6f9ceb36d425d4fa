package main

import "testing"

// Review: a run that fails for reasons that are not the mutant's counts
// as a catch. runScenario reports -1 when it cannot make its directory or
// find free ports, or when the scenario outlives -run-timeout on a busy
// machine, and the master exits 2 when it could not start (a port that
// LocalFreePorts probed and released is taken by someone else before the
// servers bind it, a watchdog that does not answer in time). catches
// counts every one of these as "caught"; and confirmed does the same for
// a second run. The real build's runs abort the tool on such an exit, but
// a mutant's runs turn it into a kill.
func TestReview_EnvironmentFailuresAreNotCatches(t *testing.T) {
	real := timings{stabilize: map[int]float64{}, repair: map[int]float64{}}
	for _, o := range []outcome{
		{code: -1, stderr: "config: finding a free port in 10000-32767: address already in use"},
		{code: -1, stderr: "the scenario ran longer than 3m0s"},
		{code: 2, stderr: "master: watchdog of server 0: port 127.0.0.1:23456 is held by something that is not gossipkv"},
	} {
		if how, caught := o.catches(real, 3); caught {
			t.Errorf("exit %d (%q) counted as caught: %q", o.code, o.detail(), how)
		}
	}
}

// Review: parseList takes any fault name; the servers refuse an unknown
// GOSSIPKV_FAULT and exit 2 at start, every run then fails, and catches
// counts that as the mutant caught. A typo in a list is a "kill".
func TestReview_UnknownFaultIsRefusedByTheList(t *testing.T) {
	if _, err := parseList([]byte("- {name: x, area: a, bug: b, fault: drop-write}"), "list.yaml"); err == nil {
		t.Error("a mutant with the unknown fault \"drop-write\" was accepted; its runs can only fail at the servers' start, which counts as caught")
	}
}
