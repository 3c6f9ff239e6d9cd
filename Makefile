# The single entry point. `make run` installs and starts rivetqd on ./data with the UI
# (`make run ARGS="--http-addr :8081 --grpc-addr :9091"` passes flags to rivetqd);
# `make test` installs everything and runs every test (Python, Go SDK, UI).
VENV ?= .venv
ARGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DIST ?= dist
SITE ?= site
DOCS_ADDR ?= 127.0.0.1:8000

.PHONY: install run test lint typecheck pytest test-go test-ui test-docker ui proto bench clean dist wheelhouse docker docs docs-build

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,grpc,bench,dev,docs]'
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

test: lint typecheck docs-build pytest test-go test-ui test-docker

# Release artifacts: an sdist and a wheel (with the built admin UI and the generated gRPC
# code) in $(DIST)/; `wheelhouse` adds every wheel the server needs, for offline installs.
dist: ui
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .

wheelhouse: dist
	$(PY) -m pip wheel -q --wheel-dir $(DIST)/wheelhouse "$$(ls $(DIST)/rivetq-*.whl)[server]"

# The Docker image (from the wheelhouse), tested end to end through docker/docker-compose.yml.
docker: wheelhouse
	bash scripts/docker-build.sh

test-docker: docker
	RIVETQ_TEST_DOCKER=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/docker

# The documentation site (mkdocs.yml, docs/): `docs` serves it with live reload,
# `docs-build` builds it into $(SITE)/ and fails on any warning (broken link, page outside the nav).
docs-build: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir $(SITE)

docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr $(DOCS_ADDR)

proto: install
	bash scripts/gen-proto.sh

bench: install
	$(PY) bench/engine.py

clean:
	rm -rf $(VENV) data ui/node_modules ui/out $(DIST) $(SITE)
