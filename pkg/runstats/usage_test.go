package runstats

import (
	"os/exec"
	"syscall"
	"testing"
)

func TestUsage_AddSubTotal(t *testing.T) {
	a := Usage{Procs: 1, UserS: 1.5, SysS: 0.5, VoluntaryCtxsw: 10, InvoluntaryCtxsw: 2}
	b := Usage{Procs: 2, UserS: 0.25, SysS: 0.25, VoluntaryCtxsw: 3, InvoluntaryCtxsw: 1}
	c := CPU{Master: a, Servers: b, Clients: b}
	tot := c.Total()
	if tot.Procs != 5 || tot.CPUS() != 3 || tot.Ctxsw() != 20 {
		t.Errorf("total %+v", tot)
	}
	if d := a.Sub(b); d.Procs != 1 || d.UserS != 1.25 || d.SysS != 0.25 || d.VoluntaryCtxsw != 7 || d.InvoluntaryCtxsw != 1 {
		t.Errorf("sub %+v", d)
	}
}

func TestUsageOf(t *testing.T) {
	ru := &syscall.Rusage{Utime: syscall.Timeval{Sec: 1, Usec: 250000}, Stime: syscall.Timeval{Usec: 500}, Nvcsw: 7, Nivcsw: 3}
	u := UsageOf(ru)
	if u.Procs != 1 || u.UserS != 1.25 || u.SysS != 0.0005 || u.VoluntaryCtxsw != 7 || u.InvoluntaryCtxsw != 3 {
		t.Errorf("UsageOf = %+v", u)
	}
}

func TestProcessUsage_OfAChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	u, ok := ProcessUsage(cmd.ProcessState)
	if !ok || u.CPUS() <= 0 || u.Ctxsw() <= 0 {
		t.Errorf("ProcessUsage = %+v, %v; want CPU time and context switches", u, ok)
	}
	if _, ok := ProcessUsage(nil); ok {
		t.Error("ProcessUsage(nil) reported a usage")
	}
	if s, ok := SelfUsage(); !ok || s.CPUS() <= 0 {
		t.Errorf("SelfUsage = %+v, %v", s, ok)
	}
}
