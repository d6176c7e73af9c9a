# b2release developer tasks. `make demo` and `make test` are the two commands a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TOOLS := .tools
AZURITE := $(TOOLS)/node_modules/.bin/azurite

.PHONY: install demo test lint bench fuzz clean tools

$(BIN)/b2release: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/b2release

# Node tools the tests use (Azurite). Installed into .tools/, git-ignored.
$(AZURITE):
	@echo "installing Azurite (the Azure Blob emulator the tests use) with npm into $(TOOLS)/; the first time takes a minute or two"
	mkdir -p $(TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) azurite@3.37.0

tools: $(AZURITE)

demo: install
	bash scripts/demo.sh

test: install tools
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check b2release tests benchmarks
	$(BIN)/lint-imports

# Long mutation / fault runs; `make test` runs a bounded, seeded set of the same cases.
fuzz: install tools
	B2RELEASE_FUZZ=1 $(BIN)/python -m pytest tests/formats/test_archive_mutations.py

# Issue #16's table in one run (corpus, then the 2 GiB case: ~10 minutes, ~8 GB of disk under
# $B2RELEASE_BENCH_DIR or /tmp/b2release-bench; BENCH_ARGS=--quick skips the 2 GiB case), then API
# extraction, then many tenants and versions (issue #17).
bench: install tools
	$(BIN)/python benchmarks/bench_release.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_api.py
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf dist releases $(VENV) .pytest_cache
