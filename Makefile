# The single entry point. `make run` installs and starts rivetqd on ./data with the UI
# (`make run ARGS="--http-addr :8081 --grpc-addr :9091"` passes flags to rivetqd);
# `make test` installs everything and runs every test (Python, Go SDK, UI).
VENV ?= .venv
ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest test-go test-ui ui proto bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,grpc,bench,dev]'
	touch $(STAMP)

install: $(STAMP)

ui: install
	bash scripts/build-ui.sh

run: ui
	$(VENV)/bin/rivetqd --data-dir ./data $(ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

# Every test of a real rivetqd runs with two workers (a storage owner behind two front
# processes), then the end-to-end suite again with one process.
pytest: install
	RIVETQ_TEST_WORKERS=2 $(VENV)/bin/pytest -q -p no:cacheprovider
	RIVETQ_TEST_WORKERS=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/e2e --ignore=tests/e2e/test_workers.py

test-go: install
	bash scripts/test-go.sh

test-ui: ui
	bash scripts/test-ui.sh

test: lint typecheck pytest test-go test-ui

proto: install
	bash scripts/gen-proto.sh

bench: install
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) data ui/node_modules ui/out
