# Thin wrapper over CMake. `make run` and `make test` work on a fresh Debian 12
# machine as root: `deps` installs whatever Debian packages are missing.

BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
EXAMPLE    ?= examples/microfinance

PACKAGES = build-essential cmake pkg-config liblua5.4-dev libsqlite3-dev \
           libuv1-dev libcmocka-dev libhttp-parser-dev libjansson-dev \
           libcsv-dev libcurl4-openssl-dev libicu-dev libedit-dev

.PHONY: all deps build san run test test-fast bench clean

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

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug -DRECOUP_WERROR=ON

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

san: deps
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRECOUP_WERROR=ON -DRECOUP_SANITIZE=ON
	cmake --build $(SAN_BUILD) -j $(JOBS)

# Until the service lands, `run` does the real work a lender would do by hand:
# check the example institution, run its specs, import its sample portfolio
# into var/recoup.db and tick the simulated clock forward 30 days.
run: build
	$(BUILD)/recoup check $(EXAMPLE)
	$(BUILD)/recoup test $(EXAMPLE)
	mkdir -p var
	rm -f var/recoup.db var/recoup.db-wal var/recoup.db-shm
	$(BUILD)/recoup import $(EXAMPLE)/data/portfolio.csv $(EXAMPLE) --db var/recoup.db --now 2026-01-05T09:00
	$(BUILD)/recoup tick $(EXAMPLE) --db var/recoup.db --now 2026-02-04T09:00 --deliver
	$(BUILD)/recoup report $(EXAMPLE) --db var/recoup.db

test: build san
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release
	cmake --build build-release -j $(JOBS)
	sh tests/bench/run.sh build-release

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-release
