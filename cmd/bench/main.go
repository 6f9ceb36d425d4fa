// Command bench runs gossipkv's benchmarks through the real master,
// watchdogs, servers and clients, and measures in the same invocation the
// floor a put cannot beat on this machine (pkg/floor), so that the ratio
// compares like with like.
//
//	bench single    [flags]  the assignment benchmark on this machine (loopback)
//	bench multiple  [flags]  the same with every server and client on its own host
//	                         (network namespaces made here; needs root and iproute2)
//	bench partition [flags]  tens of thousands of 8-10 KB puts while links are cut
//	                         and restored, a kill and a restart, then stabilize
//	bench scaling   [flags]  single at 5, 10, 20 servers x 100 B, 1 KB, 10 KB values;
//	                         writes a plot
//	bench concurrent [flags] 1, 8, 64 clients putting at once, each on a server of
//	                         its own or all on one
//	bench floor     [flags]  only the floor
//	bench redis     [flags]  redis-benchmark against the Redis front of a cluster
//	                         that is up, and in turn against a durable redis-server
//	bench http      [flags]  wrk against its HTTP front, and in turn against a
//	                         one-member etcd's HTTP/JSON gateway
//	bench memcache  [flags]  memaslap against its memcache front, and in turn
//	                         against memcached (not durable: an upper bound)
//
// The report goes to stdout, progress to stderr. Exit codes: 0 done, 1 a
// run failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gossipkv/pkg/buildinfo"
	"gossipkv/pkg/config"
	"gossipkv/pkg/floor"
	"gossipkv/pkg/server"
)

func main() { os.Exit(run(os.Args[1:])) }

// options are every mode's flags; each mode reads the ones it needs.
type options struct {
	servers, clients, puts, size, runs int
	seed                               uint64
	floorPuts                          int
	dataDir, binDir, jsonPath          string

	// single: eventual, or linearizable (then eventual and a 5-member etcd
	// are measured in turn with it)
	consistency string

	// multiple
	delay       time.Duration
	hostsConfig string

	// partition
	minSize, maxSize, cutEvery, killPuts int

	// scaling
	serverList, sizeList []int
	plotPath             string

	// concurrent
	clientList []int
	placements []string
	verify     bool

	// redis, http, memcache
	requests int
	connList []int
	duration time.Duration
	keys     int
}

const usage = `usage: bench single|multiple|partition|scaling|concurrent|floor|redis|http|memcache [flags]
run "bench MODE -h" for the flags of a mode`

func run(args []string) int {
	if len(args) > 0 && (args[0] == "-version" || args[0] == "--version") {
		fmt.Println("gossipkv bench", buildinfo.Version())
		return 0
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	if args[0] == floorPartMode {
		return floorPart(args[1:])
	}
	mode := args[0]
	var o options
	fs := flag.NewFlagSet("bench "+mode, flag.ContinueOnError)
	fs.IntVar(&o.servers, "servers", 5, "number of servers")
	fs.IntVar(&o.clients, "clients", 0, "number of clients (default: as many as servers)")
	defaultPuts := 4000
	if mode == "partition" {
		defaultPuts = 20000
	}
	fs.IntVar(&o.puts, "puts", defaultPuts, "puts per run")
	o.size = 1024
	if mode != "partition" {
		fs.IntVar(&o.size, "size", o.size, "value size in bytes")
	}
	fs.IntVar(&o.runs, "runs", 1, "runs; the report gives medians")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the script generator")
	fs.IntVar(&o.floorPuts, "floor-puts", 2000, "puts of each floor measurement")
	fs.StringVar(&o.dataDir, "data", "data/bench", "`dir`ectory for data, scripts and logs (keep it on the disk the servers would use: a tmpfs makes fsync free)")
	fs.StringVar(&o.binDir, "bin", "bin", "`dir`ectory of the master, watchdog, server and client binaries")
	fs.StringVar(&o.jsonPath, "json", "", "also save the results as JSON in `file`")
	switch mode {
	case "multiple":
		fs.DurationVar(&o.delay, "delay", 0, "netem delay on every host's link (e.g. 0.2ms, like a LAN); needs tc")
		fs.StringVar(&o.hostsConfig, "hosts-config", "", "run on real hosts: the cluster `file` listing their addresses (its watchdogs and clients must already run there); no namespaces are made")
	case "partition":
		fs.IntVar(&o.minSize, "min-size", 8192, "smallest value in bytes")
		fs.IntVar(&o.maxSize, "max-size", 10240, "largest value in bytes")
		fs.IntVar(&o.cutEvery, "cut-every", 500, "puts between two link events (a cut or a restore)")
		fs.IntVar(&o.killPuts, "kill-puts", -1, "puts while one server is down (-1: a tenth of -puts)")
	case "scaling":
		fs.Func("servers-list", "comma-separated server counts (default 5,10,20)", intList(&o.serverList))
		fs.Func("sizes", "comma-separated value sizes in bytes (default 100,1024,10240)", intList(&o.sizeList))
		fs.StringVar(&o.plotPath, "plot", "bench/scaling.png", "write the plot to this PNG `file` (empty: none)")
	case "redis":
		fs.IntVar(&o.requests, "requests", 20000, "requests of each redis-benchmark test")
		fs.Func("conns", "comma-separated numbers of connections (default 1,50)", intList(&o.connList))
	case "http", "memcache":
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each test runs, in whole seconds")
		if mode == "http" {
			fs.IntVar(&o.keys, "keys", 10000, "keys written before the first run, among which each request picks one at random")
		}
		fs.Func("conns", "comma-separated numbers of connections (default 1,50)", intList(&o.connList))
	case "concurrent":
		fs.Func("clients-list", "comma-separated numbers of clients putting at once (default 1,8,64); -puts is the total of each point", intList(&o.clientList))
		fs.Func("placements", "comma-separated placements of the clients: spread (client i on server i mod -servers), one (all on server 0) (default spread,one)", placementList(&o.placements))
		fs.BoolVar(&o.verify, "verify", false, "after the stabilize, check that every server holds every acknowledged put (its printStores count in the CPU figures)")
	case "single":
		fs.StringVar(&o.consistency, "consistency", config.ConsistencyEventual, "eventual, or linearizable: then each run also measures eventual mode and an etcd cluster of as many members, in turn (needs Debian's etcd-server)")
	case "floor":
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown mode %q\n%s\n", mode, usage)
		return 2
	}
	if err := config.FlagsFromEnv(fs); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if mode == "concurrent" && o.clients != 0 {
		fmt.Fprintln(os.Stderr, "bench: concurrent takes -clients-list, not -clients")
		return 2
	}
	if o.clients == 0 {
		o.clients = o.servers
	}
	if o.killPuts < 0 {
		o.killPuts = o.puts / 10
	}
	if len(o.serverList) == 0 {
		o.serverList = []int{5, 10, 20}
	}
	if len(o.sizeList) == 0 {
		o.sizeList = []int{100, 1024, 10240}
	}
	if len(o.connList) == 0 {
		o.connList = []int{1, 50}
	}
	if len(o.clientList) == 0 {
		o.clientList = []int{1, 8, 64}
	}
	if len(o.placements) == 0 {
		o.placements = []string{Spread, OneServer}
	}
	if mode == "concurrent" && o.puts < slices.Max(o.clientList) {
		fmt.Fprintf(os.Stderr, "bench: -puts %d is fewer than %d clients: every client needs a put\n", o.puts, slices.Max(o.clientList))
		return 2
	}
	if (mode == "http" || mode == "memcache") && o.duration < time.Second {
		fmt.Fprintln(os.Stderr, "bench: -duration must be at least 1s")
		return 2
	}
	if mode == "http" && o.keys < 1 {
		fmt.Fprintln(os.Stderr, "bench: -keys must be at least 1")
		return 2
	}
	if mode == "single" {
		switch o.consistency {
		case config.ConsistencyEventual:
		case config.ConsistencyLinearizable:
			if _, err := lookEtcd(); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s\n", etcdMissing)
				return 2
			}
		default:
			fmt.Fprintf(os.Stderr, "bench: -consistency %q: want %s or %s\n", o.consistency, config.ConsistencyEventual, config.ConsistencyLinearizable)
			return 2
		}
	}
	if o.runs < 1 || o.servers < 1 || o.clients < 1 || o.puts < 1 || o.size < 1 || o.floorPuts < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs, -servers, -clients, -puts, -size and -floor-puts must be at least 1")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, mode, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", mode, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// errUsage marks an error in what the user asked for.
var errUsage = errors.New("usage")

func intList(dst *[]int) func(string) error {
	return func(s string) error {
		*dst = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a positive number", f)
			}
			*dst = append(*dst, n)
		}
		return nil
	}
}

func placementList(dst *[]string) func(string) error {
	return func(s string) error {
		*dst = nil
		for _, f := range strings.Split(s, ",") {
			p := strings.TrimSpace(f)
			if p != Spread && p != OneServer {
				return fmt.Errorf("%q is not %s or %s", f, Spread, OneServer)
			}
			*dst = append(*dst, p)
		}
		return nil
	}
}

func dispatch(ctx context.Context, mode string, o options) error {
	e, err := newEnv(o.binDir, o.dataDir, os.Stderr, mode != "floor")
	if err != nil {
		return err
	}
	var runs, medians []Result
	switch mode {
	case "floor":
		return runFloor(e, o)
	case "redis", "http", "memcache":
		front := map[string]func(*env, options) (frontBench, error){"redis": redisFront, "http": httpFront, "memcache": memcacheFront}[mode]
		fb, err := front(e, o)
		if err != nil {
			return err
		}
		return runFront(ctx, e, o, mode, fb)
	case "single":
		if o.consistency == config.ConsistencyLinearizable {
			return runLinearizable(ctx, e, o)
		}
		runs, err = e.repeat(ctx, o.runs, specJob(o, o.servers, o.clients, o.size))
	case "partition":
		runs, err = e.repeat(ctx, o.runs, partitionJob(o))
	case "multiple":
		runs, err = runMultiple(ctx, e, o)
	case "scaling":
		runs, medians, err = runScaling(ctx, e, o)
	case "concurrent":
		runs, medians, err = runConcurrent(ctx, e, o)
	}
	// scaling and concurrent report each of their points themselves.
	if len(runs) > 0 && mode != "scaling" && mode != "concurrent" {
		WriteReport(os.Stdout, runs)
		medians = []Result{Summarize(runs)}
	}
	if o.jsonPath != "" && len(runs) > 0 {
		saved := Saved{Command: "bench " + strings.Join(os.Args[1:], " "), Median: medians, Runs: runs}
		if jerr := saveJSON(o.jsonPath, saved); jerr != nil {
			err = errors.Join(err, jerr)
		}
	}
	return err
}

// specJob is the assignment benchmark on this machine.
func specJob(o options, servers, clients, size int) job {
	return job{
		tmpl:      Result{Workload: "spec", Hosts: "single", Consistency: o.consistency, Servers: servers, Clients: clients, Puts: o.puts, ValueSize: size},
		script:    Spec{Servers: servers, Clients: clients, Puts: o.puts, ValueSize: size, Seed: o.seed}.Write,
		floorPuts: o.floorPuts, floorSize: size,
		cluster: localClusterIn(servers, clients, o.consistency),
	}
}

// partitionJob is the partition workload on this machine; the floor is
// measured at the mean value size.
func partitionJob(o options) job {
	p := Partition{Servers: o.servers, Clients: o.clients, Puts: o.puts, MinValue: o.minSize, MaxValue: o.maxSize,
		CutEvery: o.cutEvery, KillPuts: o.killPuts, Seed: o.seed}
	mean := (o.minSize + o.maxSize) / 2
	return job{
		tmpl: Result{Workload: "partition", Hosts: "single", Servers: o.servers, Clients: o.clients, Puts: o.puts,
			ValueSize: mean, ValueMin: o.minSize, ValueMax: o.maxSize},
		script:    p.Write,
		floorPuts: o.floorPuts, floorSize: mean,
		cluster: localCluster(o.servers, o.clients),
	}
}

// runFloor prints only the floor, for each run and the median; and, in
// turn with it, the same chain with a log append per put instead of a bbolt
// commit (what a server does for its own puts), both across three
// processes, the same layout as the floor with peers without its copies
// (-servers servers, each holding only its own clients' puts), and the
// floor with -servers peers that each hold every put and -clients clients,
// for comparison.
func runFloor(e *env, o options) error {
	peerClients := specJob(o, o.servers, o.clients, o.size).floorClients()
	floors := []struct {
		name    string // in the run's log line
		title   string // of the median's line
		measure func(puts, valueSize int) (float64, float64, error)
	}{
		{"floor", "floor", e.measureFloor},
		{"with a log append instead of a commit", "floor with a log append per put instead of a bbolt commit",
			func(n, size int) (float64, float64, error) { return e.measureFloorWith(n, size, floor.Log) }},
		{"in 3 processes", "floor with the client and the server in processes of their own, as the cluster runs them", e.measureFloorProcs},
		{"in 3 processes with a log append", "the same with a log append per put",
			func(n, size int) (float64, float64, error) { return e.measureFloorProcsWith(n, size, floor.Log) }},
		{fmt.Sprintf("with %d servers, no copies", o.servers), fmt.Sprintf("with %d servers that each log and checkpoint only their own clients' puts, and %d clients taking turns", o.servers, peerClients),
			func(n, size int) (float64, float64, error) {
				return e.measureFloorUnreplicated(n, size, o.servers, peerClients)
			}},
		{fmt.Sprintf("with %d peers", o.servers), fmt.Sprintf("with %d peers that each log and checkpoint every put, and %d clients taking turns", o.servers, peerClients),
			func(n, size int) (float64, float64, error) {
				return e.measureFloorPeers(n, size, o.servers, peerClients)
			}},
	}
	rates, cpus := make([][]float64, len(floors)), make([][]float64, len(floors))
	for i := range o.runs {
		var parts []string
		for k, f := range floors {
			rate, cpuS, err := f.measure(o.floorPuts, o.size)
			if err != nil {
				return err
			}
			perPut := cpuS * 1000 / float64(o.floorPuts)
			rates[k], cpus[k] = append(rates[k], rate), append(cpus[k], perPut)
			parts = append(parts, fmt.Sprintf("%s %.0f puts/s, %.3f CPU ms/put", f.name, rate, perPut))
		}
		e.logf("run %d/%d: %s", i+1, o.runs, strings.Join(parts, "; "))
	}
	for k, f := range floors {
		fmt.Printf("%s: %.0f puts/s, %.3f CPU ms/put", f.title, median(rates[k]), median(cpus[k]))
		if k == 0 {
			fmt.Printf(" (medians of %d runs of %d puts of %d B)", o.runs, o.floorPuts, o.size)
		}
		fmt.Println()
	}
	return nil
}

// floorPartMode is the mode in which bench runs one hop of the floor chain
// for measureFloorProcs: not for users, so not in the usage.
const floorPartMode = "floor-part"

// floorPart runs a hop of the floor (floor.Serve): args are its role, data
// directory, peers (the client hop's server, a peer's index), the
// run id and the durability (commit or log). It serves until its stdin
// closes.
func floorPart(args []string) int {
	if len(args) != 5 {
		fmt.Fprintf(os.Stderr, "bench %s: want ROLE DIR PEERS RUN DURABILITY, got %q\n", floorPartMode, args)
		return 2
	}
	d, err := floor.ParseDurability(args[4])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", floorPartMode, err)
		return 2
	}
	if args[0] == floor.RoleServer || args[0] == floor.RolePeer {
		server.UseGCPercent() // as the real server's, like for like
	}
	if err := floor.Serve(args[0], args[1], args[2], args[3], d, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", floorPartMode, err)
		return 1
	}
	return 0
}
