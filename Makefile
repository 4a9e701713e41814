# Needs only Python 3.11+ and make: uv is installed on first use when it is missing.
PYTHON ?= python3
# pip may put uv in ~/.local/bin, off PATH; `python3 -m uv` finds it there all the same.
UV = $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: install dev test fuzz lint format schema bench-peer bench

install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || { \
		echo "installing uv with pip"; \
		$(PYTHON) -m pip install --user --quiet uv \
		|| $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --user --quiet --break-system-packages uv; \
	}
	$(UV) sync --frozen

dev: install
	$(UV) run --frozen studymate dev

test: install
	$(UV) run --frozen pytest $(PYTEST_ARGS)

# Generated operations against the running api (tests/fuzz); the regular suite runs a short sample.
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(UV) run --frozen pytest tests/fuzz -s $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format: install
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

schema: install
	$(UV) run --frozen studymate export-schema

# StudyMate beside PostGraphile in one sitting (~10 min): PEER_DIR is a copy of ../shared/bench/peer on
# which ./setup.sh has run. RESPONSE_CACHE=true measures with the response cache.
# Every performance target beside its reference in one sitting (~15 min on a quiet machine): reads
# against PostGraphile (PEER_DIR as above, set up on first use), fan-out and memory against the bare
# websocket ceiling, ingest against the unnest statement alone. Prints a table of targets met.
bench: install
	$(UV) run --frozen python -m bench.compare --peer-dir $${PEER_DIR:-/tmp/peer} $(BENCH_ARGS)

bench-peer: install
	$(UV) run --frozen python -m bench.peer --peer-dir $${PEER_DIR:-/tmp/peer} $(BENCH_ARGS)
