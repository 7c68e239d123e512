# The kit's front door. `make grade` and `make test` work on a fresh clone.
PYTHON ?= python3
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

COURSE ?= build/course

.PHONY: help venv exercises check check-solutions test grade submit course clean

help:
	@echo "make grade        grade the bundled demo class (or SUBMISSIONS=path) into $(OUT)/"
	@echo "make test         run the kit's own tests"
	@echo "make check        run the public checks on exercises/ (DAY=15 LEVEL=basic to narrow)"
	@echo "make submit       STUDENT=<id> DAY=15: check your exercises and zip them for upload into submissions/"
	@echo "make exercises    regenerate exercises/ (stubs and notebooks) from solutions/"
	@echo "make course       lay out an nbgrader course in $(COURSE) (COURSE=dir to choose)"

$(STAMP): requirements.txt pyproject.toml
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
	$(PY) -m autograder grade $(if $(SUBMISSIONS),"$(SUBMISSIONS)",--demo) --device $(DEVICE) --jobs $(JOBS) --out "$(OUT)"

course: $(STAMP)
	$(PY) -m autograder.course "$(COURSE)"
	@echo "next: cd $(COURSE) && PATH=$(abspath $(VENV))/bin:\$$PATH nbgrader generate_assignment day15 (see README)"

clean:
	rm -rf $(OUT) build .pytest_cache
