# carecircle: two commands on a fresh machine.
#   make demo   -> .venv, install, run the demo city, outputs under maps/demo/
#   make test   -> .venv, install test deps (+ chromium from apt), run every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint system-deps bench clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing carecircle (with test extras)"
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "carecircle needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	@touch $(STAMP)

demo: $(STAMP)
	@echo "==> running the demo city (outputs in maps/demo/)"
	$(VENV)/bin/carecircle demo

system-deps:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then \
		echo "==> chromium, chromedriver and a CJK font present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing chromium, chromium-driver and fonts-wqy-microhei from apt (browser tests, Chinese labels)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null; \
	else \
		echo "==> chromium not installed and cannot apt-get: browser tests will be skipped"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks examples)
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py

test: $(STAMP) system-deps
	@echo "==> ruff"
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks examples)
	@echo "==> pytest"
	$(PY) -m pytest -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/reach.py
	$(PY) benchmarks/optimize.py

clean:
	rm -rf $(VENV) maps/demo .pytest_cache
