# gossipkv: `make` builds every binary into bin/, `make test` runs all tests.
GO ?= go
BINARIES := master server client watchdog bench

.PHONY: all build install test clean cleanup single multiple partition scaling concurrent floor redis http memcache mutants

all: build

build:
	$(GO) build -o bin/ $(addprefix ./cmd/,$(BINARIES))

# install puts the binaries in INSTALL_DIR (GOBIN, else GOPATH/bin) under
# their installed names, gossipkv-master, gossipkv-server, ...: the master
# and the watchdog find the others by those names (see config.FindBinary).
INSTALL_DIR ?= $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)

install:
	mkdir -p $(INSTALL_DIR)
	for b in $(BINARIES); do $(GO) build -o $(INSTALL_DIR)/gossipkv-$$b ./cmd/$$b || exit 1; done

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# mutants plants each deliberate bug of cmd/mutants/mutants.yaml in turn,
# runs generated scenarios through `master -check` against it, and prints
# which seed caught it. Override like: make mutants SEEDS=1-10
# ONLY=wal-no-fdatasync,session-physical-only TESTS=1 (also unit tests).
SEEDS ?= 1-6,9
mutants:
	$(GO) run ./cmd/mutants -seeds $(SEEDS) $(if $(ONLY),-only $(ONLY)) $(if $(TESTS),-tests)

clean: cleanup
	rm -rf bin data

# cleanup kills what a crashed run left behind, by the pid files the master
# writes; never by process name.
cleanup:
	@if [ -x bin/master ]; then bin/master cleanup || true; fi

# Benchmarks through the real processes (bin/bench; BENCHMARKS.md has the
# figures). Override like: make single SERVERS=10 PUTS=8000 SIZE=100 RUNS=5.
# The report gives medians over RUNS, each against the floor measured in the
# same run. multiple needs root and iproute2; DELAY=0.2ms adds netem delay.
SERVERS ?= 5
CLIENTS ?= $(SERVERS)
PUTS ?= 4000
SIZE ?= 1024
RUNS ?= 3
DELAY ?= 0s
BENCH_FLAGS = -servers $(SERVERS) -clients $(CLIENTS) -puts $(PUTS) -size $(SIZE) -runs $(RUNS)

single: build
	bin/bench single $(BENCH_FLAGS) $(if $(CONSISTENCY),-consistency $(CONSISTENCY))

multiple: build
	bin/bench multiple $(BENCH_FLAGS) -delay $(DELAY)

# 20000 puts of 8-10 KB with links cut and restored, a kill and a restart.
partition: build
	bin/bench partition -servers $(SERVERS) -clients $(CLIENTS) -runs $(RUNS) $(if $(PARTITION_PUTS),-puts $(PARTITION_PUTS))

# 5, 10, 20 servers x 100 B, 1 KB, 10 KB values; writes bench/scaling.png.
scaling: build
	bin/bench scaling -puts $(PUTS) -runs $(RUNS) -json bench/scaling.json

# 1, 8 and 64 clients putting at once, each on a server (round-robin) and
# all on server 0; PUTS in all at each point, shared among the clients.
CLIENTS_LIST ?= 1,8,64
concurrent: build
	bin/bench concurrent -servers $(SERVERS) -clients-list $(CLIENTS_LIST) -puts $(PUTS) -size $(SIZE) -runs $(RUNS)

floor: build
	bin/bench floor -size $(SIZE) -runs $(RUNS)

# redis-benchmark against the Redis front of a 5-server cluster that is up,
# in turn with a durable redis-server (Debian's redis-server and redis-tools).
redis: build
	bin/bench redis -servers $(SERVERS) -size $(SIZE) -runs $(RUNS)

# wrk against the HTTP front of a 5-server cluster that is up, in turn with
# a one-member etcd through its HTTP/JSON gateway (Debian's wrk and
# etcd-server).
DURATION ?= 5s
http: build
	bin/bench http -servers $(SERVERS) -size $(SIZE) -runs $(RUNS) -duration $(DURATION)

# memaslap against the memcache front of a 5-server cluster that is up, in
# turn with memcached (Debian's libmemcached-tools and memcached). memcached
# is not durable: its figures bound what a store that fsyncs could reach.
memcache: build
	bin/bench memcache -servers $(SERVERS) -size $(SIZE) -runs $(RUNS) -duration $(DURATION)
