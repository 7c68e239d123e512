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
OUT    ?=
SUBMISSIONS ?=
STUDENT ?=
EXERCISE ?=
EXERCISES ?= exercises
TIMEOUT ?=
MEMORY ?=
FORCE  ?=
UNSAFE ?=
CLUSTER ?=
DUE    ?=
LATE_POLICY ?=
LMS_ASSIGNMENT ?=
OMIT ?=
# A course that leaves out optional exercises (OMIT=day16:diagnose): every target reads it through
# autograder/catalogue.py (exercises, check, release, grade, course, gradescope).
ifneq ($(strip $(OMIT)),)
export RNNKIT_OMIT := $(OMIT)
endif

COURSE ?= build/course

.PHONY: help venv exercises check check-solutions test test-slow grade submit course gradescope clean mutants release solutions-release

help:
	@echo "Targets:"
	@echo "  make grade        grade the bundled demo class into grades-demo/, or SUBMISSIONS=path into grades/"
	@echo "                    (Linux: as root, or as any user where user namespaces are allowed)"
	@echo "  make gradescope   write dist/gradescope_autograder.zip (DAY=15: one day's) for Gradescope"
	@echo "  make course       lay out an nbgrader course in COURSE (default $(COURSE))"
	@echo "  make release      write the student bundles (day15, day16, both: folders and zips) into dist/student/"
	@echo "  make solutions-release  solution notebooks with model answers into dist/solutions/ (after the deadline)"
	@echo "  make check        run the public checks on exercises/ (DAY=15 LEVEL=basic to narrow)"
	@echo "  make check-solutions  the public checks on solutions/, strict"
	@echo "  make submit       STUDENT=<id> DAY=15: check your exercises and zip them into submissions/"
	@echo "  make exercises    regenerate exercises/ (stubs and notebooks) from solutions/"
	@echo "  make test         run the kit's own tests, the fast ones (a few minutes)"
	@echo "  make test-slow    the slow end-to-end ones: nbgrader, release installs, mutations, 200-student runs (CI runs both)"
	@echo "  make mutants      mutation testing of solutions/ against the hidden suites (bench/mutants.md)"
	@echo "  make venv         create .venv with the pinned requirements (every target does it first)"
	@echo "  make clean        remove OUT (or grades/ and grades-demo/), build/, dist/"
	@echo "  make help         this list"
	@echo "Variables (make grade unless said):"
	@echo "  SUBMISSIONS=path  the class: nbgrader folder, LMS zip, folder of archives, a student or a file"
	@echo "  OUT=dir           output folder (default: grades/, grades-demo/ for the demo class)"
	@echo "  STUDENT=id[,id]   regrade only these students of SUBMISSIONS, keep the rest (make submit: your id)"
	@echo "  EXERCISE=name[,name]  regrade only these exercises (rnn_cell, day16:provoke), merged into the results"
	@echo "  OMIT=day16:diagnose  every target: leave out the course's optional exercises (stubs, notebooks, points, bundles)"
	@echo "  DEVICE=all|cpu|cuda|gpu  where the tests run (default all: CPU, plus GPU when present)"
	@echo "  JOBS=n            students graded at once, 1 or more (default: CPU cores)"
	@echo "  TIMEOUT=s         seconds per call of a student's function, 1 to 600 (default 5)"
	@echo "  MEMORY=MiB        memory of a student's process, at least 256 (default 2048)"
	@echo "  FORCE=1           regrade every student, even unchanged ones (make submit: zip despite errors)"
	@echo "  UNSAFE=1          grade without the sandbox: for code you trust only"
	@echo "  CLUSTER=local:4   grade on a Dask cluster: local:N worker processes, or tcp://host:8786 (a scheduler)"
	@echo "  DUE=2026-12-01T23:59  due time: lateness of each student in the gradebook and feedback"
	@echo "  LATE_POLICY=10%/day,cap=50%,grace=15m,zero-after=2026-12-03T23:59  what lateness costs (with DUE)"
	@echo "  LMS_ASSIGNMENT='Day 15 (1234)'  the assignment column of canvas_grades.csv (Canvas: name and id)"
	@echo "  DAY=15 LEVEL=basic  narrow make check / make submit / make gradescope; make grade: the day of bare uploaded files"
	@echo "  EXERCISES=dir     the folder make submit zips (default exercises/)"
	@echo "  COURSE=dir        make course's folder"
	@echo "  PYTHON=path VENV=dir  the python3 that builds the virtual environment, and its folder (.venv)"

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

test: $(STAMP)   # the fast default; CI runs test-slow after it
	$(PY) -m pytest -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

grade: $(STAMP)
	$(PY) -m autograder grade $(if $(SUBMISSIONS),"$(SUBMISSIONS)",--demo) $(if $(OUT),--out "$(OUT)") \
	    $(if $(DEVICE),--device "$(DEVICE)") $(if $(JOBS),--jobs "$(JOBS)") $(if $(TIMEOUT),--timeout "$(TIMEOUT)") \
	    $(if $(MEMORY),--memory "$(MEMORY)") $(if $(STUDENT),--student "$(STUDENT)") $(if $(CLUSTER),--cluster "$(CLUSTER)") \
	    $(if $(EXERCISE),--exercise "$(EXERCISE)") $(if $(FORCE),--force) $(if $(UNSAFE),--unsafe-no-sandbox) \
	    $(if $(DUE),--due "$(DUE)") $(if $(LATE_POLICY),--late-policy "$(LATE_POLICY)") $(if $(DAY),--day "$(DAY)") \
	    $(if $(LMS_ASSIGNMENT),--lms-assignment "$(LMS_ASSIGNMENT)")

gradescope: $(STAMP)
	$(PY) -m autograder.gradescope build $(if $(DAY),--day "$(DAY)")

release: $(STAMP)   # the student distribution: no reference code, no hidden test (tests/test_release.py)
	$(PY) -m autograder.release --out dist/student

solutions-release: $(STAMP)   # solution notebooks with model answers, for after the deadline (never in the bundle)
	$(PY) -m autograder.release --solutions --out dist/solutions

course: $(STAMP)
	$(PY) -m autograder.course "$(COURSE)"
	@echo "next: cd $(COURSE) && PATH=$(abspath $(VENV))/bin:\$$PATH nbgrader generate_assignment day15 (see README)"

mutants: $(STAMP)   # mutation testing of solutions/ against the hidden suites: bench/mutants.md
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) bench/mutants.py run

clean:
	rm -rf $(or $(OUT),grades grades-demo) build dist .pytest_cache
