package runstats

import (
	"math"
	"time"
)

// CPU is what the processes of a run cost in CPU time and context
// switches, by role, from their rusage. The master reaps every process it
// started, and a watchdog the server it started, so each figure comes from
// the kernel's own accounting of processes that have ended (wait4); only
// the master's is read while it still runs, after it has reaped the rest.
type CPU struct {
	// Master is the master's own usage (RUSAGE_SELF), read once every
	// process it started has been reaped.
	Master Usage `json:"master"`
	// Servers is the usage of the watchdogs the master started, with the
	// servers each reaped (every run of its server): a watchdog idles
	// between its rpcs, so nearly all of it is the servers'.
	Servers Usage `json:"servers"`
	// Clients is the usage of the clients the master started.
	Clients Usage `json:"clients"`
}

// Usage is the rusage of a set of processes.
type Usage struct {
	// Procs is how many processes were counted (a watchdog counts one,
	// with its servers in its figures).
	Procs int     `json:"procs"`
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
	// Voluntary context switches are waits (a read that blocks, an
	// fdatasync); involuntary ones are preemptions.
	VoluntaryCtxsw   int64 `json:"voluntary_ctxsw"`
	InvoluntaryCtxsw int64 `json:"involuntary_ctxsw"`
}

// CPUS is user plus system time, in seconds.
func (u Usage) CPUS() float64 { return u.UserS + u.SysS }

// Ctxsw is voluntary plus involuntary context switches.
func (u Usage) Ctxsw() int64 { return u.VoluntaryCtxsw + u.InvoluntaryCtxsw }

// Add adds v to u.
func (u *Usage) Add(v Usage) {
	u.Procs += v.Procs
	u.UserS += v.UserS
	u.SysS += v.SysS
	u.VoluntaryCtxsw += v.VoluntaryCtxsw
	u.InvoluntaryCtxsw += v.InvoluntaryCtxsw
}

// Sub is u less v (what a process used between two readings of its own
// rusage); Procs is u's.
func (u Usage) Sub(v Usage) Usage {
	return Usage{Procs: u.Procs, UserS: u.UserS - v.UserS, SysS: u.SysS - v.SysS,
		VoluntaryCtxsw: u.VoluntaryCtxsw - v.VoluntaryCtxsw, InvoluntaryCtxsw: u.InvoluntaryCtxsw - v.InvoluntaryCtxsw}
}

// Total is the three roles together.
func (c CPU) Total() Usage {
	var t Usage
	t.Add(c.Master)
	t.Add(c.Servers)
	t.Add(c.Clients)
	return t
}

// usage makes a Usage of one process from its user and system times.
func usage(user, sys time.Duration, nvcsw, nivcsw int64) Usage {
	s := func(d time.Duration) float64 { return math.Round(d.Seconds()*1e6) / 1e6 }
	return Usage{Procs: 1, UserS: s(user), SysS: s(sys), VoluntaryCtxsw: nvcsw, InvoluntaryCtxsw: nivcsw}
}
