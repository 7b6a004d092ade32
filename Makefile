# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    install the app's requirements into .venv and launch it on the bundled data
#   make test   also install the test extras and Debian's Chromium, then run every test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench screenshot chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.app-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.app-installed
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

run: $(VENV)/.app-installed
	$(BIN)/python app.py

test: $(VENV)/.test-installed chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.app-installed
	$(BIN)/python -m playground bench

screenshot: $(VENV)/.test-installed chromium
	$(BIN)/python tests/screenshot.py assets/screenshots.png
