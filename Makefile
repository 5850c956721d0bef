# Phantom-DB build, test and dev targets. `make dev` runs everything in one
# process on its embedded defaults; `make test` is what CI runs.
GO      ?= go
BIN     := bin/phantom
PKGS    := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/phantom-db/phantom/internal/buildinfo.Version=$(VERSION)

.PHONY: all build dev test fmt-check vet unit e2e fuzz-smoke proto clean bench bench-deps slt-record bench-tpch

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/phantom

dev: build
	./$(BIN) dev

test: fmt-check vet unit e2e fuzz-smoke

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Unit tests that start real processes (bench/logbench, bench/tpch) use
# bin/phantom; bench/tpch also needs PostgreSQL 15's server binaries.
unit: build
	PHANTOM_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 10m $$($(GO) list ./... | grep -v /test/e2e)

e2e: build
	PHANTOM_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 10m -v ./test/e2e/...

# Every decoder of untrusted bytes has a fuzz target; each runs briefly here
# (FUZZTIME per target) on top of its seed corpus, which `unit` already runs.
FUZZTIME ?= 4s
FUZZLOG  := $(or $(TMPDIR),/tmp)/phantom-fuzz-$(shell id -u).log
FUZZ_TARGETS := \
	./compute/sql:FuzzExecute \
	./compute/httpapi:FuzzSQLRequest \
	./compute/pgwire:FuzzMessages \
	./compute/pgwire:FuzzCopyRecords \
	./logservice:FuzzDecodeRecord \
	./pageserver:FuzzDecodeScanResponse \
	./internal/rowcodec:FuzzDecode \
	./internal/natsbus:FuzzDecodeHeartbeat \
	./sdk/phantom:FuzzDecodeResult

fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		if ! $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg >$(FUZZLOG) 2>&1; then \
			cat $(FUZZLOG); \
			if git status --porcelain -- "$$pkg/testdata/fuzz" | grep -q .; then exit 1; fi; \
			echo "no crasher was written (a fuzzing-engine hiccup under load?); running $$name once more"; \
			$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -parallel 1 $$pkg; \
		fi; \
	done

# Re-record the expected answers of test/sql from a throwaway PostgreSQL 15
# (FILES= to record only some).
slt-record:
	$(GO) run ./test/sql/record $(FILES)

proto:
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	cd internal/wirepb && PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative phantom.proto

# etcd 3.4 (Debian's etcd-server), the peer `phantom bench logservice`
# measures against.
bench-deps:
	command -v etcd >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server)

# The log service benchmark with its defaults (about 3 minutes); results go
# in docs/benchmarks.md.
bench: build bench-deps
	./$(BIN) bench logservice

# TPC-H on phantom, DuckDB and PostgreSQL 15 (SF=1 by default; results go in
# docs/benchmarks.md).
SF ?= 1
bench-tpch: build
	./$(BIN) bench tpch --sf $(SF)

clean:
	rm -rf bin

# Longer seeded fault-injection runs of test/chaos (make test runs a few short
# ones). CHAOS_RUNS seeds per test, CHAOS_DURATION of faults per run.
CHAOS_RUNS     ?= 20
CHAOS_DURATION ?= 20s
.PHONY: chaos
chaos: build
	PHANTOM_BIN=$(CURDIR)/$(BIN) PHANTOM_CHAOS_RUNS=$(CHAOS_RUNS) PHANTOM_CHAOS_DURATION=$(CHAOS_DURATION) \
		$(GO) test -count=1 -timeout 120m -v ./test/chaos/...
