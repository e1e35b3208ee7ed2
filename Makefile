# ip_conntrack: top-level entry points. Each target delegates to scripts/.
# `make check` is what CI runs (.ci/run); `make demo` shows a router at work.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps check host-check host-test clippy fuzz-short

all: module

deps:
	@scripts/deps.sh

## Host side: engine unit/integration/property tests, lints, a short fuzz run.
host-test: deps
	@echo "[check] engine builds as no_std (cargo build --no-default-features)"
	$(CARGO) build --quiet --no-default-features --lib
	@echo "[check] host tests (cargo test)"
	$(CARGO) test

clippy: deps
	@echo "[check] clippy on the engine (no unwrap/indexing/overflow lints)"
	$(CARGO) clippy --all-targets -- -D warnings

fuzz-short: deps
	@scripts/fuzz.sh 20

# Long fuzzing run: FUZZ_SECONDS per target (default 600); keeps the
# minimized corpus in fuzz/corpus/ and crash inputs in fuzz/regressions/.
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz: deps
	@scripts/fuzz.sh --keep $(FUZZ_SECONDS)

host-check: host-test clippy fuzz-short

## Everything: host checks, then guest scenarios on the normal kernel, then
## the fast subset on the debug kernel.
check: host-check
	@$(MAKE) --no-print-directory module clippy-module
	@$(MAKE) --no-print-directory runner-selftest vm-tests vm-tests-debug
	@echo "[check] all checks passed"

## Soak: SOAK_MINUTES (default 10) of mixed traffic, floods, sysctl
## changes and reloads on the debug kernel, then kmemleak and taint checks.
SOAK_MINUTES ?= 10
.PHONY: soak
soak: deps
	@scripts/soak.sh $(SOAK_MINUTES)

## Kernel and module (scripts/kernel.sh, scripts/module.sh). KDIR=/path
## builds the module against any Rust-enabled 6.12 kernel build tree.
.PHONY: kernel kernel-debug module module-debug clippy-module

kernel: deps
	@scripts/kernel.sh normal

kernel-debug: deps
	@scripts/kernel.sh debug

module: deps
	@scripts/module.sh $(if $(KDIR),--kdir $(KDIR),normal)

module-debug: deps
	@scripts/module.sh debug

clippy-module: deps
	@scripts/module.sh --clippy $(if $(KDIR),--kdir $(KDIR),normal)

## Guest: the router demo, scenarios under tests/vm (one boot each), the
## runner's own test. Each builds what it needs (deps, kernel, module, initramfs).
.PHONY: demo vm-tests vm-tests-debug runner-selftest pkt-test

demo: deps
	@scripts/demo.sh

vm-tests: deps
	@scripts/vm-tests.sh

vm-tests-debug: deps
	@scripts/vm-tests.sh --debug

runner-selftest: deps pkt-test
	@tests/runner-selftest.sh

# The guest's packet tool (tools/pkt): builder tests with golden bytes.
pkt-test: deps
	@echo "[check] tools/pkt unit tests"
	$(CARGO) test --quiet --locked --manifest-path tools/pkt/Cargo.toml

## Benchmarks (not tests: no timing is asserted anywhere): host engine
## benchmarks, then no tracker / nf_conntrack / ip_conntrack in the guest;
## results in bench/results/, plots in bench/. QUICK=1 for a short run.
.PHONY: bench
bench: deps
	@scripts/bench.sh $(if $(QUICK),--quick)

## Profiles (docs/profiling.md): instructions per kernel function of one
## established forwarded packet in the guest (TCG plugin, -icount), and the
## engine benchmarks under callgrind on the host.
.PHONY: profile profile-host
PACKETS ?= 50000
FLOWS ?= 1
profile: deps
	@scripts/profile.sh $(PACKETS) $(FLOWS)

profile-host: deps
	@scripts/profile-host.sh
