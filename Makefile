# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12
# machine as root: `deps` installs whatever Debian packages are missing.

BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
EXAMPLE    ?= examples/microfinance

PACKAGES = build-essential cmake pkg-config liblua5.4-dev libsqlite3-dev \
           libuv1-dev libcmocka-dev libhttp-parser-dev libjansson-dev \
           libcsv-dev libcurl4-openssl-dev libicu-dev libedit-dev libsodium-dev \
           time $(PG_PACKAGES) $(OPS_PACKAGES) $(TEST_PACKAGES)
# The PostgreSQL store: libpq to build it; the server for its tests, which
# run a throwaway cluster of their own (tests/pg/cluster.sh), never the
# system's.
PG_PACKAGES = libpq-dev postgresql
# For the tests of contrib/: systemd-analyze checks the units; nginx (run
# by the test on its own ports and configuration, never the system's) and
# openssl put TLS in front of the service.
OPS_PACKAGES = systemd nginx openssl
# For the test of /metrics: promtool (Debian's prometheus package) lints a
# live scrape; the sqlite3 shell reads books in checkpoint_kill and
# pg_migrate_store. Only tests run them; the service needs neither.
TEST_PACKAGES = prometheus sqlite3

.PHONY: all deps contract-deps browser-deps build san run simulate test test-fast release bench bench-simulate bench-deps fuzz clean vendor

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The HTTP contract's tools (lint, trace validation, generated requests):
# Node from Debian (18 on Debian 12) when there is none, and the npm
# packages pinned in tests/contract/package-lock.json when not installed.
CONTRACT = tests/contract
contract-deps: deps
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  echo "installing: nodejs npm"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }
	@[ -d $(CONTRACT)/node_modules ] || { \
	  echo "installing: $(CONTRACT)/node_modules (npm ci)"; \
	  cd $(CONTRACT) && npm ci --no-audit --no-fund --loglevel=error; }

# The console's browser tests (tests/browser): Debian's Chromium, a CJK
# font for the zh-CN screenshots and libfaketime (a book served at a set
# hour: the guard's contact hours) (Debian packages, installed when missing),
# Node as for contract-deps, and playwright-core pinned in
# tests/browser/package-lock.json (1.61.x, the last that runs on Node 18;
# it drives /usr/bin/chromium and never downloads a browser of its own).
BROWSER = tests/browser
BROWSER_PACKAGES = chromium fonts-noto-cjk libfaketime
browser-deps: contract-deps
	@missing=""; for p in $(BROWSER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@[ -d $(BROWSER)/node_modules ] || { \
	  echo "installing: $(BROWSER)/node_modules (npm ci)"; \
	  cd $(BROWSER) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; }

$(BUILD)/Makefile: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug -DRECOUP_WERROR=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

san: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRECOUP_WERROR=ON -DRECOUP_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)

# The service on the bundled example: import its sample portfolio into
# var/run/recoup.db (first time only; its due dates moved to fall as far
# before today as they fall before the portfolio's own day, 2026-01-05), add a demo console user for each role
# when missing (password NAME-demo), then serve it and the console on
# 127.0.0.1:8080 with demo tokens. Ctrl-C (or SIGTERM) drains and stops it.
RUN_DIR    ?= var/run
RUN_LISTEN ?= 127.0.0.1:8080
export RECOUP_INGEST_TOKEN ?= demo-ingest
export RECOUP_AGENT_TOKEN  ?= demo-agent
export RECOUP_READ_TOKEN   ?= demo-read
export RECOUP_ADMIN_TOKEN  ?= demo-admin
# name:role:queues — the queues are the example workflow's (scripts/standard.lua).
DEMO_USERS = li.wei:agent:phone,hardship,legal wang.fang:agent:field \
             zhang.min:supervisor: zhao.read:read: root.admin:admin:

run: build
	$(BUILD)/recoup check $(EXAMPLE)
	mkdir -p $(RUN_DIR)
	@if [ ! -f $(RUN_DIR)/recoup.db ]; then \
	  sh scripts/demo_portfolio.sh $(EXAMPLE)/data/portfolio.csv >$(RUN_DIR)/portfolio.csv && \
	  $(BUILD)/recoup import $(RUN_DIR)/portfolio.csv $(EXAMPLE) --db $(RUN_DIR)/recoup.db; \
	fi
	@have=$$($(BUILD)/recoup user list $(EXAMPLE) --db $(RUN_DIR)/recoup.db | awk 'NR > 1 { print $$1 }'); \
	for u in $(DEMO_USERS); do \
	  name=$${u%%:*}; rest=$${u#*:}; role=$${rest%%:*}; queues=$${rest#*:}; \
	  echo "$$have" | grep -qx "$$name" && continue; \
	  printf '%s\n' "$$name-demo" | $(BUILD)/recoup user add "$$name" --role "$$role" \
	    $${queues:+--queues "$$queues"} $(EXAMPLE) --db $(RUN_DIR)/recoup.db || exit 1; \
	done
	@echo
	@echo "recoup is serving $(EXAMPLE) at http://$(RUN_LISTEN)"
	@echo "  console: http://$(RUN_LISTEN)/  sign in as"
	@for u in $(DEMO_USERS); do \
	  name=$${u%%:*}; rest=$${u#*:}; role=$${rest%%:*}; queues=$${rest#*:}; \
	  printf '    %-10s %-10s / %-16s %s\n' "$$role" "$$name" "$$name-demo" "$${queues:+(queues $$queues)}"; \
	done | sed 's/ *$$//'
	@echo "  API:   curl -H 'Authorization: Bearer $(RECOUP_READ_TOKEN)' http://$(RUN_LISTEN)/v1/cases/MF00001"
	@echo "         curl -H 'Authorization: Bearer $(RECOUP_AGENT_TOKEN)' 'http://$(RUN_LISTEN)/v1/tasks?status=open'"
	@echo "         curl -H 'Authorization: Bearer $(RECOUP_READ_TOKEN)' http://$(RUN_LISTEN)/v1/reports/summary"
	@echo "  outbox (SMS, letters): $(EXAMPLE)/var/outbox-*.jsonl    database: $(RUN_DIR)/recoup.db"
	@echo "  stop with Ctrl-C"
	@echo
	$(BUILD)/recoup serve $(EXAMPLE) --db $(RUN_DIR)/recoup.db --listen $(RUN_LISTEN)

# The console's browser libraries (ECharts), pinned in
# console/package-lock.json, copied with their licences into console/vendor/
# (committed: building never needs npm). Run after changing the pin.
vendor:
	sh tools/vendor.sh

# A month of collection on the example, simulated in seconds.
simulate: build
	mkdir -p var
	rm -f var/simulate.db var/simulate.db-wal var/simulate.db-shm
	$(BUILD)/recoup import $(EXAMPLE)/data/portfolio.csv $(EXAMPLE) --db var/simulate.db --now 2026-01-05T09:00
	$(BUILD)/recoup tick $(EXAMPLE) --db var/simulate.db --now 2026-02-04T09:00
	$(BUILD)/recoup report $(EXAMPLE) --db var/simulate.db

test: contract-deps browser-deps build san
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

test-fast: contract-deps browser-deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The peer benchmark (BullMQ on Redis) needs redis-server from Debian and
# Node with npm, the import's peer python3; installed only when missing.
bench-deps: deps
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	@command -v python3 >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3; }
	@[ -d tests/bench/peer/node_modules ] || { \
	  echo "installing: tests/bench/peer/node_modules (npm ci)"; \
	  cd tests/bench/peer && npm ci --no-audit --no-fund --loglevel=error; }

# The build to install (docs/operations.md "Install"): Release, guided by a
# profile of its own run. Built twice in build-release: once counting
# (RECOUP_PGO=generate; only what the training runs), trained by
# tools/pgo_train.sh (about a minute),
# then again laid out by the counts. Counts from an earlier source are
# removed first: stale ones would be merged with the new. A training that
# fails leaves no binary to install: the counting one, slower and writing
# its counts under build-release/pgo at each exit, was left where
# docs/operations.md "Install" copies the binary from; and its cache, left
# at generate, had a later `cmake --build build-release` build the
# counting binary again: it goes back to a plain Release.
release: deps
	rm -rf build-release/pgo
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DRECOUP_PGO=generate
	cmake --build build-release -j $(JOBS) --target recoup bench_sweep bench_http
	sh tools/pgo_train.sh build-release || { rm -f build-release/recoup; \
	  cmake -S . -B build-release -DRECOUP_PGO= > /dev/null; \
	  echo "make release: the training failed (above); build-release/recoup, a counting build not to install, removed; build-release is a plain Release build again (cmake --build build-release builds one without the profile)" >&2; exit 1; }
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DRECOUP_PGO=use
	cmake --build build-release -j $(JOBS)

# The figures are of the build a lender installs (`make release`).
bench: bench-deps release
	sh tests/bench/run.sh build-release
	sh tests/bench/simulate.sh build-release

# `recoup simulate` alone at size (100k cases, 60 days, two arms).
bench-simulate: release
	sh tests/bench/simulate.sh build-release

# Each fuzz target for FUZZ_SECONDS (clang and libFuzzer needed; not part
# of `make test`, which replays the corpora instead).
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECOUP_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	@for t in http json import template time lua; do \
	  mkdir -p build-fuzz/corpus-$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
	  build-fuzz/tests/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build-fuzz/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-release build-fuzz
