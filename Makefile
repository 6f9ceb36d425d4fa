# gossipkv: `make` builds every binary into bin/, `make test` runs all tests.
GO ?= go
BINARIES := master server client watchdog

.PHONY: all build test race vet clean cleanup

all: build

build:
	$(GO) build -o bin/ $(addprefix ./cmd/,$(BINARIES))

test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

clean: cleanup
	rm -rf bin data

# cleanup kills what a crashed run left behind, by the pid files the master
# writes; never by process name.
cleanup:
	@if [ -x bin/master ]; then bin/master cleanup || true; fi
