# The course toolkit's everyday commands. `make grade` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
A1 := a1_execution_modes
TEST_JOBS ?= 2  # pytest-xdist workers for `make test`, each grading on its own slot (tests/conftest.py); 0 = serial
SLUGS := $(notdir $(patsubst %/,%,$(dir $(wildcard assignments/*/assignment.toml))))

.PHONY: help venv grade test bench gpu-check verify starters zips clean

help:
	@echo "make grade     grade the bundled a1 reference and starter, print both summaries"
	@echo "make test      run the framework's tests (includes an end-to-end run of the Gradescope zip)"
	@echo "make verify    reference = full marks, starter = 0, same tests, for every assignment"
	@echo "make starters  regenerate starter/ from the reference solution blocks"
	@echo "make zips      build dist/<slug>/autograder.zip and starter.zip for every assignment"
	@echo "make bench     isolation cost and perf-threshold discrimination (ratios measured in the same run)"
	@echo "make gpu-check on a GPU machine: a1's public and perf tests on CUDA"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m autograder sandbox-setup
	touch $(STAMP)

venv: $(STAMP)

grade: venv
	$(PY) -m autograder grade $(A1) --submission reference/$(A1) --json results/$(A1)-reference.json
	$(PY) -m autograder grade $(A1) --submission starter/$(A1) --json results/$(A1)-starter.json

test: venv
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile

bench: venv
	$(PY) bench/isolation.py
	$(PY) bench/perf_discrimination.py

gpu-check: venv
	$(PY) bench/gpu_check.py

verify: venv
	@for slug in $(SLUGS); do $(PY) -m autograder verify $$slug || exit 1; done

starters: venv
	@for slug in $(SLUGS); do $(PY) -m autograder starter $$slug || exit 1; done

zips: venv
	@for slug in $(SLUGS); do $(PY) -m autograder build $$slug && $(PY) -m autograder release $$slug || exit 1; done

clean:
	rm -rf dist results .pytest_cache
