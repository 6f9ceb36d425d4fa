package main

import "gossipkv/pkg/runstats"

// Usage is the rusage of a set of processes (package runstats).
type Usage = runstats.Usage

// clusterCPU is what a run's processes cost, from their rusage.
type clusterCPU struct {
	// total is every process of the run: the master as bench reaped it
	// (its own usage and that of every process it reaped, which covers the
	// watchdogs, the servers they reaped, and the clients), plus what bench
	// started itself (extra).
	total Usage
	// roles splits it: the master's own usage as it read it at its end,
	// the watchdogs with their servers, the clients.
	roles runstats.CPU
}

// clusterUsage puts together the master's usage as bench reaped it, the
// roles of its -stats (nil: none), and what bench did or reaped itself:
// watchdogs and clients it started (in other hosts' namespaces, or the
// clients of bench concurrent), and, as the master's role, bench's own
// work where it issued the puts in the master's place.
func clusterUsage(master Usage, stats *runstats.CPU, extra runstats.CPU) clusterCPU {
	c := clusterCPU{total: master}
	if stats != nil {
		c.roles = *stats
	}
	c.total.Add(extra.Master)
	c.total.Add(extra.Servers)
	c.total.Add(extra.Clients)
	c.roles.Master.Add(extra.Master)
	c.roles.Servers.Add(extra.Servers)
	c.roles.Clients.Add(extra.Clients)
	return c
}

// setCPU fills in r's CPU figures of a run of puts successful puts: the
// cluster's CPU per put (of c), the floor's (floorCPUS seconds over
// floorPuts puts), their ratio, context switches per put.
func (r *Result) setCPU(c clusterCPU, puts int, floorCPUS float64, floorPuts int) {
	if puts <= 0 {
		return
	}
	n := float64(puts)
	ms := func(s float64) float64 { return s * 1000 / n }
	r.CPUMsPerPut = ms(c.total.CPUS())
	r.UserMsPerPut = ms(c.total.UserS)
	r.SysMsPerPut = ms(c.total.SysS)
	r.MasterCPUMsPerPut = ms(c.roles.Master.CPUS())
	r.ServersCPUMsPerPut = ms(c.roles.Servers.CPUS())
	r.ClientsCPUMsPerPut = ms(c.roles.Clients.CPUS())
	r.CtxswPerPut = float64(c.total.Ctxsw()) / n
	if floorPuts > 0 {
		r.FloorCPUMsPerPut = floorCPUS * 1000 / float64(floorPuts)
	}
	r.CPURatio = ratio(r.CPUMsPerPut, r.FloorCPUMsPerPut)
}

// setFloorProcs fills in the floor across processes of the same run
// (rate puts/s, cpuS seconds over puts puts) and the CPU ratio to it;
// setCPU must have run.
func (r *Result) setFloorProcs(rate, cpuS float64, puts int) {
	r.FloorProcsPutsPerS = rate
	r.FloorProcsCPUMsPerPut, r.FloorProcsCPURatio = r.cpuAgainst(cpuS, puts)
}

// setFloorPeers is setFloorProcs for the floor with peers.
func (r *Result) setFloorPeers(rate, cpuS float64, puts int) {
	r.FloorPeersPutsPerS = rate
	r.FloorPeersCPUMsPerPut, r.FloorPeersCPURatio = r.cpuAgainst(cpuS, puts)
}

// cpuAgainst is a floor's CPU per put (cpuS seconds over puts puts; 0
// without puts) and the cluster's CPU per put over it.
func (r *Result) cpuAgainst(cpuS float64, puts int) (msPerPut, cpuRatio float64) {
	if puts > 0 {
		msPerPut = cpuS * 1000 / float64(puts)
	}
	return msPerPut, ratio(r.CPUMsPerPut, msPerPut)
}
