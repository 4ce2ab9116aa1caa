# LSTM Gate Lab. `make run` starts the app; `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
ADDRESS ?= 127.0.0.1
RAY_ADDRESS ?=

.PHONY: run test test-fast bench pretrained sweep sweep-ray measure-init measure-text judge-text lag-race lint screenshots chromium \
  clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.ray: requirements-ray.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-ray.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian's chromium drives the browser tests (playwright cannot download its own browser here).
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "the browser tests need /usr/bin/chromium: run 'sudo apt-get install chromium'"; exit 1; fi

# The app and its worker pool (LAB_WORKERS processes, default one per core). With RAY_ADDRESS=<cluster> the workers
# run as actors on that Ray cluster instead (installs requirements-ray.txt first).
run: $(VENV)/.runtime $(if $(RAY_ADDRESS),$(VENV)/.ray)
	OMP_NUM_THREADS=1 RAY_ADDRESS=$(RAY_ADDRESS) $(PY) -m streamlit run app.py --server.address $(ADDRESS) \
	  --server.port $(PORT)

test: $(VENV)/.dev chromium
	$(PY) -m ruff check .
	OMP_NUM_THREADS=1 $(PY) -m pytest

test-fast: $(VENV)/.dev
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not browser"

lint: $(VENV)/.dev
	$(PY) -m ruff check .

bench: $(VENV)/.dev chromium
	OMP_NUM_THREADS=1 $(PY) -m bench.run_all

# Lesson checkpoints shipped in datasets/pretrained, made through the command line.
pretrained: $(VENV)/.runtime
	OMP_NUM_THREADS=1 $(PY) -m datasets.make_pretrained

sweep: $(VENV)/.runtime
	OMP_NUM_THREADS=1 $(PY) -m lstm_core sweep --task recall --models lstm,rnn,gru --lags 10,20,50,100,200 --steps 20000 \
	  --seeds 0,1,2,3,4 --max-seconds 30 --clock cpu --target 0.99 --jobs 2 --out bench/results/sweep.csv

# What PyTorch's default LSTM initialisation does on the headline lesson (the Gates page says it): 30 s per run.
measure-init: $(VENV)/.runtime
	OMP_NUM_THREADS=1 $(PY) -m lstm_core sweep --task recall --models lstm --lags 20,100 --seeds 0,1,2,3,4 \
	  --gate-init default --max-seconds 30 --clock cpu --target 0.99 --steps 20000 --out datasets/measured/init_default.csv

# The Lag race page's shipped results (datasets/lag_race.csv): the app's defaults, 105 runs of at most 30 CPU
# seconds each; about an hour on 2 busy cores.
lag-race: $(VENV)/.runtime
	OMP_NUM_THREADS=1 nice -n 5 $(PY) -m lstm_core sweep --task recall --models lstm,rnn,gru \
	  --lags 5,10,20,50,100,150,200 --seeds 0,1,2,3,4 --steps 20000 --max-seconds 30 --clock cpu --target 0.99 \
	  --jobs 2 --out datasets/lag_race.csv

measure-text: $(VENV)/.runtime
	OMP_NUM_THREADS=1 $(PY) -m bench.measure_text_lesson

# Issue 10's judged comparison on a corpus the project does not ship (TEXT=<file>, else 1.26 MB of prose from
# Debian's `fortunes` package, 16 of its files in the order bench/judge_text.py names): about 10 minutes.
FORTUNES := songs-poems people science politics work men-women law wisdom literature humorists education sports \
  tao platitudes food love
TEXT ?= /tmp/fortunes-prose.txt
judge-text: $(VENV)/.runtime
	@if [ ! -f "$(TEXT)" ]; then \
	  if [ ! -f /usr/share/games/fortunes/love ]; then echo "give a text: make judge-text TEXT=book.txt (or install Debian's fortunes)"; exit 1; fi; \
	  (cd /usr/share/games/fortunes && cat $(FORTUNES)) > "$(TEXT)"; fi
	$(PY) -m bench.judge_text --text-file "$(TEXT)"

# The same sweep spread over a Ray cluster (RAY_ADDRESS=<cluster>, else a Ray started on this machine).
sweep-ray: $(VENV)/.ray
	OMP_NUM_THREADS=1 RAY_ADDRESS=$(RAY_ADDRESS) $(PY) -m lstm_core sweep --engine ray --task recall \
	  --models lstm,rnn,gru --lags 10,20,50,100,200 --steps 20000 --seeds 0,1,2,3,4 --max-seconds 30 --clock cpu \
	  --target 0.99 --out bench/results/sweep.csv

screenshots: $(VENV)/.dev chromium
	$(PY) -m tests.screenshots screenshots

clean:
	rm -rf $(VENV) .pytest_cache screenshots
