# The kit's front door. `make grade` and `make test` work on a fresh clone.
# The first python3 (3.10+, with venv) that runs for this user: for a user other than root, a
# python3 on PATH may be a shim into a home folder they cannot read; /usr/bin/python3 then works.
PYTHON ?= $(shell for p in python3 /usr/bin/python3 /usr/local/bin/python3; do \
            $$p -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 10)' >/dev/null 2>&1 \
            && command -v $$p && break; done)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

DAY    ?=
LEVEL  ?=
DEVICE ?= all
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
OUT    ?= grades
SUBMISSIONS ?=
STUDENT ?=
EXERCISES ?= exercises
FORCE  ?=
UNSAFE ?=

COURSE ?= build/course

.PHONY: help venv exercises check check-solutions test grade submit course clean mutants

help:
	@echo "make grade        grade the bundled demo class (or SUBMISSIONS=path) into $(OUT)/"
	@echo "                  (Linux: as root, or as any user where user namespaces are allowed;"
	@echo "                  UNSAFE=1 grades without the sandbox, for code you trust only)"
	@echo "make test         run the kit's own tests"
	@echo "make check        run the public checks on exercises/ (DAY=15 LEVEL=basic to narrow)"
	@echo "make submit       STUDENT=<id> DAY=15: check your exercises and zip them for upload into submissions/"
	@echo "make exercises    regenerate exercises/ (stubs and notebooks) from solutions/"
	@echo "make course       lay out an nbgrader course in $(COURSE) (COURSE=dir to choose)"

$(STAMP): requirements.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3 (3.10 or newer, with venv) found: install python3 and" \
	    "python3-venv, or give PYTHON=/path/to/python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

exercises: $(STAMP)
	$(PY) -m autograder.build

check: $(STAMP)
	$(PY) -m autograder.selfcheck --day "$(DAY)" --level "$(LEVEL)"

check-solutions: $(STAMP)
	$(PY) -m autograder.selfcheck --path solutions --day "$(DAY)" --level "$(LEVEL)" --strict

submit: $(STAMP)
	$(PY) -m autograder.submit --student "$(STUDENT)" --day "$(DAY)" --exercises "$(EXERCISES)" $(if $(FORCE),--force)

test: $(STAMP)
	$(PY) -m pytest

grade: $(STAMP)
	$(PY) -m autograder grade $(if $(SUBMISSIONS),"$(SUBMISSIONS)",--demo) --device $(DEVICE) --jobs $(JOBS) --out "$(OUT)" \
	    $(if $(UNSAFE),--unsafe-no-sandbox)

course: $(STAMP)
	$(PY) -m autograder.course "$(COURSE)"
	@echo "next: cd $(COURSE) && PATH=$(abspath $(VENV))/bin:\$$PATH nbgrader generate_assignment day15 (see README)"

mutants: $(STAMP)   # mutation testing of solutions/ against the hidden suites: bench/mutants.md
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) bench/mutants.py run

clean:
	rm -rf $(OUT) build .pytest_cache
