# Cumulo developer entry points.  `make run` and `make test` each do all the
# set-up they need on a fresh Debian machine (see README.md).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help deps venv build proto docs run test test-unit test-pure verify fix bench bench-checksum \
	bench-agents bench-ring bench-objectserver bench-objects clean postgres libvirtd

help:
	@echo "make run      start the all-in-one cloud on loopback and show it working"
	@echo "make test     install what is missing and run every test tier"
	@echo "make verify   ruff, mypy, cython-lint, proto and layout checks"
	@echo "make fix      apply ruff's fixes and formatting"
	@echo "make bench    run the benchmarks (JSON on stdout)"
	@echo "make bench-agents  1,000 simulated agents against one controller (JSON on stdout)"
	@echo "make bench-objects Cumulo's object proxy against a Swift all-in-one (JSON on stdout)"

# System packages (only when root and only what is missing).
deps:
	@$(PYTHON) tools/install_deps.py

$(BIN)/activate: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(BIN)/activate

venv: deps $(BIN)/activate

# Recompile the Cython extensions in place (after editing a .pyx).
build: venv
	$(PY) setup.py -q build_ext --inplace

# Regenerate docs/configuration.md's key table from cumulo/config.py.
docs: venv
	$(PY) tools/config_docs.py

# Regenerate the protobuf/gRPC code from proto/ (the result is committed).
proto: venv
	$(PY) tools/protogen.py

postgres: deps
	@$(PYTHON) tools/start_postgres.py | tail -n 1 > .postgres-url

# libvirtd and virtlogd (no init system here: started directly, as root).
libvirtd: venv
	@$(PY) tools/start_libvirtd.py

run: venv build
	$(BIN)/cumulo up --demo

# Every tier against the compiled extensions (PostgreSQL required when root, as
# in CI), then the unit tier again against the pure-Python twins.
test: venv build postgres libvirtd
	CUMULO_TEST_PG_URL="$$(cat .postgres-url)" CUMULO_REQUIRE_EXTENSIONS=1 \
		CUMULO_REQUIRE_PG=$$( [ "$$(id -u)" = 0 ] && echo 1 || echo 0 ) \
		$(PY) -m pytest -q -p no:cacheprovider tests
	CUMULO_NO_EXTENSIONS=1 $(PY) -m pytest -q -p no:cacheprovider tests/unit

test-unit: venv build
	$(PY) -m pytest -q tests/unit

verify: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cython-lint --max-line-length 100 _native
	$(PY) tools/protogen.py --check
	$(PY) tools/check_layout.py
	$(PY) tools/config_docs.py --check

fix: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-checksum bench-objectserver

bench-checksum: venv build
	$(PY) bench/checksum.py

# Swift is installed into the venv for this comparison only (never a dependency).
# RING_BENCH_ARGS="--part-power 18" for the issue's headline figure.
SWIFT_VERSION ?= 2.38.3
bench-ring: venv
	@$(PY) setup.py -q build_ext --inplace 1>&2
	@$(PY) -c "import swift" 2>/dev/null || $(PY) -m pip install -q "swift==$(SWIFT_VERSION)" 1>&2
	@$(PY) bench/ring.py $(RING_BENCH_ARGS)

# AGENTS=1000 PROCESSES=4 by default; see docs/agents.md for the numbers measured.
bench-agents: venv build
	$(PY) bench/agents.py --agents $${AGENTS:-1000} --processes $${PROCESSES:-4}

bench-objectserver: venv build
	$(PY) bench/objectserver.py

# Cumulo's object proxy against a Swift all-in-one (Swift installed into the venv for
# this only, never a dependency); alternating rounds; docs/loadtest.md.
# BENCH_OBJECTS_ARGS="--duration 5 --rounds 1" for a quick run.
bench-objects: venv
	@$(PY) setup.py -q build_ext --inplace 1>&2
	@$(PY) -c "import swift" 2>/dev/null || $(PY) -m pip install -q "swift==$(SWIFT_VERSION)" 1>&2
	@$(PY) bench/objects_compare.py $(BENCH_OBJECTS_ARGS)

clean:
	rm -rf build $(VENV) _native/*.c _native/*.so *.egg-info .postgres-url
