# Two commands from a fresh clone: `make run` (server, UI, worker, demo) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Where `make run` keeps its data, and its ports: override any of them (make run DATA=/tmp/f TEMPORAL_PORT=7300 ...)
# to run a second copy beside the first.
DATA ?= .flipside
TEMPORAL_PORT ?= 7233
UI_PORT ?= 8233
PORTAL_PORT ?= 8000
CODEC_PORT ?= 8081
RUN_ENV := TEMPORAL_ADDRESS=127.0.0.1:$(TEMPORAL_PORT) FLIPSIDE_DATA_DIR=$(DATA) \
	FLIPSIDE_PORTAL_URL=http://localhost:$(PORTAL_PORT) FLIPSIDE_CODEC_PORT=$(CODEC_PORT) \
	FLIPSIDE_CODEC_UI_ORIGINS=http://localhost:$(UI_PORT),http://127.0.0.1:$(UI_PORT) FLIPSIDE_UI=http://localhost:$(UI_PORT)
# Until something listens on the port (argument), for at most 30 s; fails if nothing does.
WAIT_FOR_PORT := $(BIN)/python -c "import socket, sys, time; port = int(sys.argv[1]); \
	sys.exit(0 if any(socket.socket().connect_ex(('127.0.0.1', port)) == 0 or time.sleep(0.2) for _ in range(150)) else 1)"
SEARCH_ATTRIBUTES := --search-attribute FlipsideProgram=Keyword --search-attribute FlipsidePhase=Keyword \
	--search-attribute FlipsideKind=Keyword --search-attribute FlipsideSummary=Keyword

# Python writes its bytecode cache here even where the environment says not to (some images set
# PYTHONDONTWRITEBYTECODE): without it every process, and the worker's sandbox for every workflow it starts,
# compiles our modules from source again (about 0.1 s of each CLI command; no measurable change to the suite).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast lint bench chromium server worker portal codec stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The dev server keeps its history in a SQLite file, so programs survive a restart of `make run`.
server: $(VENV)/.installed
	@umask 077; mkdir -p $(DATA); chmod 700 $(DATA)
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', $(TEMPORAL_PORT)), 1)" 2>/dev/null; then \
		echo "Temporal is already running on 127.0.0.1:$(TEMPORAL_PORT)"; \
	else \
		echo "Starting Temporal (history in $(DATA)/temporal.db, UI on http://localhost:$(UI_PORT))"; \
		umask 077; nohup $(BIN)/temporal server start-dev --db-filename $(DATA)/temporal.db --ip 127.0.0.1 \
			--port $(TEMPORAL_PORT) --ui-port $(UI_PORT) --ui-codec-endpoint http://localhost:$(CODEC_PORT) \
			$(SEARCH_ATTRIBUTES) --log-level warn > $(DATA)/temporal.log 2>&1 & echo $$! > $(DATA)/temporal.pid; \
	fi
	@# Until Temporal answers, not only listens: on a busy machine the worker could otherwise start too early.
	@for i in $$(seq 300); do \
		$(BIN)/temporal operator cluster health --address 127.0.0.1:$(TEMPORAL_PORT) >/dev/null 2>&1 && exit 0; \
		sleep 0.2; \
	done; echo "Temporal did not answer on 127.0.0.1:$(TEMPORAL_PORT); see $(DATA)/temporal.log"; exit 1

# A fresh worker each time, so it runs the code as it is now.
worker: server
	@if [ -f $(DATA)/worker.pid ]; then kill `cat $(DATA)/worker.pid` 2>/dev/null || true; fi
	@rm -f $(DATA)/worker.log
	@umask 077; $(RUN_ENV) nohup $(BIN)/python worker.py > $(DATA)/worker.log 2>&1 & echo $$! > $(DATA)/worker.pid
	@# Until it polls: on a busy machine the demo's first question could otherwise time out before any worker
	@# is there to answer it.
	@for i in $$(seq 300); do \
		grep -q "worker running" $(DATA)/worker.log 2>/dev/null && exit 0; \
		kill -0 `cat $(DATA)/worker.pid` 2>/dev/null || break; \
		sleep 0.2; \
	done; echo "The worker did not start; the end of $(DATA)/worker.log:"; tail -5 $(DATA)/worker.log; exit 1
	@echo "Worker started (log in $(DATA)/worker.log)"

# The portal where people answer their prompts; the links in every notice point here.
portal: worker
	@if [ -f $(DATA)/portal.pid ]; then kill `cat $(DATA)/portal.pid` 2>/dev/null || true; fi
	@umask 077; $(RUN_ENV) nohup $(BIN)/python -m portal > $(DATA)/portal.log 2>&1 & echo $$! > $(DATA)/portal.pid
	@$(WAIT_FOR_PORT) $(PORTAL_PORT) || { tail -5 $(DATA)/portal.log; exit 1; }
	@echo "Portal started (log in $(DATA)/portal.log)"

# Payloads are encrypted; the codec server lets an engineer who holds $(DATA)/codec.token read them.
codec: $(VENV)/.installed
	@if [ -f $(DATA)/codec.pid ]; then kill `cat $(DATA)/codec.pid` 2>/dev/null || true; fi
	@umask 077; mkdir -p $(DATA); chmod 700 $(DATA)
	@umask 077; $(RUN_ENV) nohup $(BIN)/python codec_server.py > $(DATA)/codec.log 2>&1 & echo $$! > $(DATA)/codec.pid

run: portal codec
	@echo "Temporal UI: http://localhost:$(UI_PORT)"
	@echo "Portal: http://localhost:$(PORTAL_PORT) (sign in with a link from $(DATA)/outbox.jsonl; the demo prints one)"
	@echo "Payloads are encrypted: to read them in the UI, sign in at http://localhost:$(CODEC_PORT)/signin with the token in $(DATA)/codec.token (README, Confidential payloads)"
	$(RUN_ENV) $(BIN)/python -m demo.run
	@echo "Temporal and the worker keep running for you to explore; \`make stop\` stops them."

# The report's browser test drives Debian's Chromium (no browser download works here); installed when missing.
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

# Tests run in several processes (pytest-xdist), each with servers, ports, schemas and folders of its own: many
# tests wait on real time, so more processes than cores keeps both cores busy. Each process is handed one test at
# a time (beside the one it runs), the long ones first (see tests/conftest.py). The 15 slowest are listed last.
TEST_PROCESSES ?= 4
PYTEST := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --maxschedchunk 1

# Lint first: a type error or a format slip fails CI as surely as a broken test.
test: lint chromium
	$(PYTEST) --durations=15

# The inner loop: lint, then the layers that need no real-time server (tests/domain, tests/workflows) and the
# integration tests that wait on none (SQL on SQLite and PostgreSQL, SMTP): no dev server, no process of their
# own, no browser. tests/conftest.py keeps every slow test in tests/integration or tests/browser.
FAST_LAYERS := tests/domain tests/workflows tests/integration
test-fast: lint
	$(PYTEST) $(FAST_LAYERS) -m "not slow"

# Figures go to bench/results/; see README.md, "Performance".
bench: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.lifecycle $(BENCH_ARGS)
	$(BIN)/python -m bench.events
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.portal

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

stop:
	@for p in codec portal worker temporal; do \
		if [ -f $(DATA)/$$p.pid ]; then \
			pid=`cat $(DATA)/$$p.pid`; kill $$pid 2>/dev/null || true; \
			while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; rm -f $(DATA)/$$p.pid; \
		fi; \
	done
	@echo "stopped"

clean: stop
	rm -rf $(DATA) $(VENV)
