"""What the zygote may hold when it forks: nothing a student must not see.

A worker is a fork of the zygote, and the zygote a fork of the engine process:
a worker's memory is whatever the engine process held at ``Engine()`` (frames up
the stack, every module and its globals, every live object, freed heap pages).
So the engine starts first, before its process reads a submission, stages an
archive, builds the demo class or imports a hidden suite, a reference solution or
a fingerprint; ``Engine()`` calls :func:`ensure_sealed` just before it forks and
refuses to start otherwise.  This is a check that fails loudly, not a convention:
code that loads the class first cannot start an engine.

What the zygote does inherit, and why each is harmless: torch, pytest and the
engine's own modules (public code); the caller's frames (``cli.main``: the parsed
command line, i.e. paths the worker's mount namespace hides anyway); the
environment (emptied and overwritten in the worker: ``worker._forget_environment``).
"""
from __future__ import annotations

import sys
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]

# Modules that read the class, the solutions or earlier grades when they are used: loaded before the
# fork, their data (a Staged class, the demo's cached solution tree, a gradebook) could be too.
READS_SECRETS = (
    "autograder.archives",     # stages LMS downloads: every classmate's bytes
    "autograder.demo",         # caches the solution tree to build the demo class
    "autograder.build",        # reads solutions/ into memory
    "autograder.course",       # nbgrader courses: source/ (solutions), gradebook.db
    "autograder.submit",
    "autograder.selfcheck",
    "autograder.loading",      # imports reference solutions
    "autograder.summary",      # reads every student's results
    "autograder.lms",          # reads every student's results and nbgrader's timestamps
    "autograder.hidden",
    "autograder.fingerprints",
    "solutions",
)
# A submission's own module names (a day's files are imported as these) and the shipped helpers
# that live beside them.
SUBMISSION_NAMES = ("basic", "intermediate", "advanced", "project", "checking", "public_tests")
# Folders whose code or text a student must never see (the kit's own tests embed the solutions).
SECRET_FOLDERS = ("solutions", "autograder/hidden", "autograder/fingerprints", "tests")


def _inside(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder)
        return True
    except (ValueError, OSError):
        return False


def loaded_secrets() -> list[str]:
    """Names of the loaded modules that hold, or may have read, something secret."""
    folders = [KIT / f for f in SECRET_FOLDERS]
    found = []
    for name, module in list(sys.modules.items()):
        if name in SUBMISSION_NAMES or any(name == s or name.startswith(s + ".") for s in READS_SECRETS):
            found.append(name)
            continue
        where = getattr(module, "__file__", None)
        if isinstance(where, str) and any(_inside(where, f) for f in folders):
            found.append(f"{name} ({where})")
    return sorted(found)


def ensure_sealed(error: type[Exception] = RuntimeError) -> None:
    """Raise ``error`` when this process already holds something a forked worker must not inherit."""
    found = loaded_secrets()
    if found:
        raise error("refusing to start the engine: this process has already loaded "
                    + ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
                    + ". Every worker is forked from the engine and would hold it in memory: start the "
                    "Engine before reading submissions, staging archives, building the demo class or "
                    "importing hidden suites, references or fingerprints (autograder/engine/seal.py)")
