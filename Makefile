# keytrail — make demo runs the main job, make test runs every test.
# Both install what they need (scripts/setup.sh) on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
KEYTRAIL_CACHE ?= $(HOME)/.cache/keytrail
export KEYTRAIL_CACHE
export CHDB_LIB_PATH ?= $(KEYTRAIL_CACHE)/chdb-26.5.3/libchdb.so
BIN := bin/keytrail
GO_TEST_FLAGS ?= -count=1 -timeout 25m
# The version every binary names (keytrail version, the evidence pack's cover
# and manifest): git describe, e.g. v0.3.0, v0.3.0-4-g1a2b3c4, 1a2b3c4-dirty.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all setup setup-test build version image test test-short vet lint demo migrate status bench bench-scale faults fuzz dashboards clean

all: build

setup:
	@scripts/setup.sh chdb

setup-test:
	@scripts/setup.sh test

build: setup
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/keytrail

# Prints the version make build stamps.
version:
	@echo $(VERSION)

# The server image (Dockerfile), stamped with the same version.
image:
	docker build --build-arg VERSION=$(VERSION) -t keytrail:$(VERSION) .

# All tests, on the embedded engine and a private ClickHouse server; a missing
# engine is a failure, never a skip.
# The fault tests run here over a 50,000-event organisation (about 95k provider
# records); make faults runs them at issue 14's 200,000 and more.
TEST_FAULT_EVENTS ?= 50000
test: setup-test lint
	KEYTRAIL_FAULT_EVENTS=$(TEST_FAULT_EVENTS) KEYTRAIL_REQUIRE_ENGINES=1 go test $(GO_TEST_FLAGS) ./...

# gofmt, go vet and staticcheck (a pinned release, fetched through the module proxy).
STATICCHECK_VERSION ?= v0.8.2
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The main job: a realistic organisation through ingest, correlation and the
# evidence pack, on the embedded store under DEMO_DIR.
DEMO_DIR ?= keytrail-demo
DEMO_FLAGS ?=
demo: build
	$(BIN) demo --out $(DEMO_DIR) $(DEMO_FLAGS)

migrate: build
	$(BIN) migrate

status: build
	$(BIN) status

# Benchmarks print figures; they assert nothing about speed. One table, each
# benchmark beside the peer it measured in the same run; also saved to
# out/bench.md (copy it into docs/benchmarks.md when you publish figures).
# Normalizers run for BENCHTIME_FAST, store-backed benchmarks once each.
# KEYTRAIL_BENCH_EVENTS sizes the correlate and report benchmarks;
# KEYTRAIL_BENCH_E2E_PEOPLE and KEYTRAIL_BENCH_E2E_DAYS the organisation of the
# end-to-end benchmark's throughput rows (cmd/keytrail BenchmarkEndToEnd:
# emulators → collectors → bus → store; 7 days of 8 people are 214,696 events),
# KEYTRAIL_BENCH_E2E_RATE and KEYTRAIL_BENCH_E2E_SECONDS its latency mode's
# pace (records/s) and length; ./pipeline/ BenchmarkSink is the bus and sink
# alone.
BENCHTIME_FAST ?= 1s
export KEYTRAIL_BENCH_EVENTS ?= 1000000
export KEYTRAIL_BENCH_E2E_PEOPLE ?= 8
export KEYTRAIL_BENCH_E2E_DAYS ?= 7
bench: setup-test
	@mkdir -p out
	@set -o pipefail; { \
	  go test -run='^$$' -bench=. -benchtime=$(BENCHTIME_FAST) -count=1 ./ingest/... ./alert/ ./correlate/ ./demo/ && \
	  KEYTRAIL_REQUIRE_ENGINES=1 go test -run='^$$' -bench=. -benchtime=1x -count=1 -timeout 60m ./store/... ./warehouse/ ./pipeline/ ./pipeline/correlation/ ./report/ ./cmd/keytrail/ && \
	  go test -run='^$$' -bench=WebhookIntake -benchtime=5000x -count=1 ./server/ && \
	  KEYTRAIL_REQUIRE_ENGINES=1 go test -run='^$$' -bench=CorrelationsPage -benchtime=1x -count=1 -timeout 60m ./server/ ; \
	} 2>&1 | go run ./cmd/benchtable | tee out/bench.md

# Batch correlation at 10M and 30M stored events (a month and a quarter of
# the bench organisation), for its peak RSS: it must not grow with the period.
# Long (an hour or more on 2 cores); also saved to out/bench-scale.md.
bench-scale: setup-test
	@mkdir -p out
	@set -o pipefail; for n in 10000000 30000000; do \
	  KEYTRAIL_BENCH_EVENTS=$$n KEYTRAIL_REQUIRE_ENGINES=1 go test -run='^$$' -bench='^BenchmarkCorrelate$$' -benchtime=1x -count=1 -timeout 5h ./pipeline/correlation/ || exit 1; \
	done 2>&1 | go run ./cmd/benchtable | tee out/bench-scale.md

# The fault tests (ClickHouse server killed, sink crashed mid-batch, collector
# restarted mid-pagination, keytrail process killed) over a larger
# organisation than make test's: 200,000 events by default (FAULT_EVENTS=1000000
# for a million; about 15 minutes at 200,000 on 2 cores).
FAULT_EVENTS ?= 200000
faults: setup-test
	KEYTRAIL_FAULT_EVENTS=$(FAULT_EVENTS) KEYTRAIL_REQUIRE_ENGINES=1 go test -count=1 -timeout 2h -v \
	  -run '^(TestKafkaFaultsAtScale|TestCollectFaults)$$' ./pipeline/ ./cmd/keytrail/

# Short fuzzing of every decoder of outside input.
FUZZTIME ?= 15s
fuzz: setup
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; go test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Regenerates the Grafana dashboards (dashboards/json) and the alert rule
# (dashboards/provisioning/alerting) from the code in ./dashboards; commit the
# result (a test fails while the committed files differ from the generated).
dashboards:
	go generate ./dashboards

clean:
	rm -rf bin
