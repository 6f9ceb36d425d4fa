package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"gossipkv/pkg/runstats"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestClusterUsage_AddsWhatBenchReaped(t *testing.T) {
	master := Usage{Procs: 1, UserS: 3, SysS: 1, VoluntaryCtxsw: 100, InvoluntaryCtxsw: 10}
	stats := &runstats.CPU{
		Master:  Usage{Procs: 1, UserS: 0.2, SysS: 0.1},
		Servers: Usage{Procs: 2, UserS: 2, SysS: 0.5},
		Clients: Usage{Procs: 2, UserS: 0.5, SysS: 0.2},
	}
	c := clusterUsage(master, stats, runstats.CPU{})
	if c.total != master || c.roles != *stats {
		t.Errorf("the master started everything: total %+v roles %+v", c.total, c.roles)
	}
	// Watchdogs and clients bench started itself (other hosts' namespaces)
	// are not the master's children: they add to the total and the roles.
	extra := runstats.CPU{Servers: Usage{Procs: 2, UserS: 1, SysS: 1, VoluntaryCtxsw: 5}, Clients: Usage{Procs: 1, UserS: 0.5}}
	c = clusterUsage(Usage{Procs: 1, UserS: 0.3}, &runstats.CPU{Master: Usage{Procs: 1, UserS: 0.3}}, extra)
	if !near(c.total.CPUS(), 2.8) || c.total.VoluntaryCtxsw != 5 || c.roles.Servers.Procs != 2 || !near(c.roles.Clients.UserS, 0.5) {
		t.Errorf("with bench's processes: total %+v roles %+v", c.total, c.roles)
	}
	// Where bench issued the puts, its own work is the master's role.
	c = clusterUsage(Usage{Procs: 1, UserS: 0.3}, &runstats.CPU{Master: Usage{Procs: 1, UserS: 0.3}}, runstats.CPU{Master: Usage{UserS: 0.2, SysS: 0.1}})
	if !near(c.total.CPUS(), 0.6) || !near(c.roles.Master.CPUS(), 0.6) {
		t.Errorf("with bench issuing the puts: total %+v roles %+v", c.total, c.roles)
	}
	// A master without cpu in its -stats: the total only.
	c = clusterUsage(master, nil, runstats.CPU{})
	if c.total != master || c.roles.Master.Procs != 0 {
		t.Errorf("no roles: %+v", c)
	}
}

func TestSetCPU_PerPutAndRatio(t *testing.T) {
	c := clusterCPU{
		total: Usage{UserS: 3, SysS: 1, VoluntaryCtxsw: 7000, InvoluntaryCtxsw: 1000},
		roles: runstats.CPU{Master: Usage{UserS: 0.2}, Servers: Usage{UserS: 2, SysS: 0.8}, Clients: Usage{UserS: 0.6, SysS: 0.2}},
	}
	var r Result
	r.setCPU(c, 2000, 0.5, 1000) // floor: 0.5 s over 1000 puts
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"cpu", r.CPUMsPerPut, 2}, {"user", r.UserMsPerPut, 1.5}, {"sys", r.SysMsPerPut, 0.5},
		{"master", r.MasterCPUMsPerPut, 0.1}, {"servers", r.ServersCPUMsPerPut, 1.4}, {"clients", r.ClientsCPUMsPerPut, 0.4},
		{"floor", r.FloorCPUMsPerPut, 0.5}, {"ratio", r.CPURatio, 4}, {"ctxsw", r.CtxswPerPut, 4},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s: %v, want %v", f.name, f.got, f.want)
		}
	}
	if sum := r.MasterCPUMsPerPut + r.ServersCPUMsPerPut + r.ClientsCPUMsPerPut; sum > r.CPUMsPerPut {
		t.Errorf("roles add up to %v > total %v", sum, r.CPUMsPerPut)
	}
	// No puts: nothing per put, and no division by zero.
	var z Result
	z.setCPU(c, 0, 0.5, 1000)
	if z.CPUMsPerPut != 0 || z.CPURatio != 0 {
		t.Errorf("no puts: %+v", z)
	}
}

func TestSummarize_CPUFigures(t *testing.T) {
	runs := []Result{
		{CPUMsPerPut: 1.2, FloorCPUMsPerPut: 0.3, CPURatio: 4, FsyncsPerPut: 2.0, CtxswPerPut: 30, ServersCPUMsPerPut: 0.9},
		{CPUMsPerPut: 1.0, FloorCPUMsPerPut: 0.2, CPURatio: 5, FsyncsPerPut: 2.2, CtxswPerPut: 20, ServersCPUMsPerPut: 0.7},
		{CPUMsPerPut: 1.5, FloorCPUMsPerPut: 0.5, CPURatio: 3, FsyncsPerPut: 1.8, CtxswPerPut: 40, ServersCPUMsPerPut: 1.1},
	}
	m := Summarize(runs)
	if m.CPUMsPerPut != 1.2 || m.FloorCPUMsPerPut != 0.3 || m.FsyncsPerPut != 2.0 || m.CtxswPerPut != 30 || m.ServersCPUMsPerPut != 0.9 {
		t.Errorf("medians %+v", m)
	}
	// The median of the runs' own ratios (4), not 1.2/0.3.
	if m.CPURatio != 4 {
		t.Errorf("cpu ratio %v, want 4", m.CPURatio)
	}
}

func TestWriteReport_CPURows(t *testing.T) {
	runs := []Result{
		{Workload: "spec", Hosts: "single", CPUMsPerPut: 1.25, UserMsPerPut: 1, SysMsPerPut: 0.25, MasterCPUMsPerPut: 0.1,
			ServersCPUMsPerPut: 0.9, ClientsCPUMsPerPut: 0.2, FloorCPUMsPerPut: 0.25, CPURatio: 5, FsyncsPerPut: 2.5, CtxswPerPut: 31.5},
	}
	var buf bytes.Buffer
	WriteReport(&buf, runs)
	out := buf.String()
	for _, want := range []string{
		"cpu ms/put            1.250   1.250",
		"  sys ms/put          0.250",
		"  servers+wd          0.900",
		"floor cpu ms/put      0.250",
		"cpu ratio              5.00",
		"fsyncs/put             2.50",
		"ctx switches/put       31.5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// The floor across processes has its own rate, CPU per put and ratios,
// reported under a heading of their own.
func TestFloorProcs_PerPutRatiosAndReport(t *testing.T) {
	c := clusterCPU{total: Usage{UserS: 1.5, SysS: 0.5}}
	r := Result{PutsPerS: 900}
	r.setCPU(c, 2000, 0.5, 1000)     // cluster 1 ms/put, floor 0.5
	r.setFloorProcs(1200, 0.8, 1000) // 0.8 ms/put across processes
	r.FloorProcsRatio = ratio(r.PutsPerS, r.FloorProcsPutsPerS)
	if !near(r.FloorProcsCPUMsPerPut, 0.8) || !near(r.FloorProcsCPURatio, 1.25) || !near(r.FloorProcsRatio, 0.75) || !near(r.CPURatio, 2) {
		t.Errorf("floor across processes: %+v", r)
	}
	r.setFloorPeers(1000, 0.625, 500) // 1.25 ms/put with peers
	r.FloorPeersRatio = ratio(r.PutsPerS, r.FloorPeersPutsPerS)
	if !near(r.FloorPeersCPUMsPerPut, 1.25) || !near(r.FloorPeersCPURatio, 0.8) || !near(r.FloorPeersRatio, 0.9) {
		t.Errorf("floor with peers: %+v", r)
	}
	var z Result
	z.setFloorProcs(1200, 0.8, 0)
	z.setFloorPeers(1000, 0.6, 0)
	if z.FloorProcsCPUMsPerPut != 0 || z.FloorProcsCPURatio != 0 || z.FloorPeersCPUMsPerPut != 0 || z.FloorPeersCPURatio != 0 {
		t.Errorf("no floor puts: %+v", z)
	}
	r.Workload, r.Hosts = "spec", "single"
	var buf bytes.Buffer
	WriteReport(&buf, []Result{r})
	for _, want := range []string{
		"  floor in 3 processes:\n    puts/s               1200   1200\n",
		"    ratio               0.750",
		"    cpu ms/put          0.800",
		"    cpu ratio            1.25",
		"  floor with peers:\n    puts/s               1000   1000\n    ratio               0.900",
		"    cpu ms/put          1.250",
		"    cpu ratio            0.80",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

// Of two measurements of the floors, each figure takes its better value:
// the higher rate, the lower CPU, whichever measurement it came from.
func TestFloors_BestFigureByFigure(t *testing.T) {
	before := floors{rate: 2000, cpuS: 0.6, procsRate: 1400, procsCPUS: 1.1, peersRate: 1500, peersCPUS: 1.3}
	after := floors{rate: 2200, cpuS: 0.7, procsRate: 1300, procsCPUS: 1.0, peersRate: 1600, peersCPUS: 1.4}
	want := floors{rate: 2200, cpuS: 0.6, procsRate: 1400, procsCPUS: 1.0, peersRate: 1600, peersCPUS: 1.3}
	if got := before.best(after); got != want {
		t.Errorf("best %+v, want %+v", got, want)
	}
	if got := after.best(before); got != want {
		t.Errorf("best the other way round %+v, want %+v", got, want)
	}
}

// The floor with peers takes its puts through a client on each server the
// job's clients use: one when they all use server 0.
func TestJob_FloorClients(t *testing.T) {
	for _, c := range []struct {
		servers, clients int
		placement        string
		want             int
	}{
		{5, 5, "", 5}, {5, 1, "", 1}, {5, 64, Spread, 5}, {5, 8, OneServer, 1}, {3, 2, Spread, 2},
	} {
		j := job{tmpl: Result{Servers: c.servers, Clients: c.clients, Placement: c.placement}}
		if got := j.floorClients(); got != c.want {
			t.Errorf("%d servers, %d clients, placement %q: %d clients, want %d", c.servers, c.clients, c.placement, got, c.want)
		}
	}
}
