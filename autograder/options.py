"""The grading command's options, checked before anything runs: a wrong value is one clear line.

Each ``parse_*`` takes the text a TA typed (on the command line or in a Makefile variable) and
returns the value, or raises ``ValueError`` with what was expected, what was given and, where it
helps, why (``--timeout 0`` would time out every call of every student: a class graded zero).
``argparse`` shows that message as ``argument --jobs: ...`` and exits with status 2.
"""
from __future__ import annotations

import math

from autograder.catalogue import CATALOGUE, DAYS

DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda", "all": "all"}
MIN_TIMEOUT_S = 1.0          # the slowest honest call of the suites takes ~1.5 s on 2 busy cores
MAX_TIMEOUT_S = 600.0        # a worker's CPU budget (scheduler.Options.cpu_s): more could never be used
MIN_MEMORY_MIB = 256         # below this, torch's own allocations for the smallest test fail
EXERCISES = {(day, name) for day in DAYS for level in CATALOGUE[day].values() for name in level}


def _shown(text: str) -> str:
    return repr(text) if text.strip() == text and text else repr(text) + " (blank or padded)"


def parse_jobs(text: str) -> int:
    try:
        jobs = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"JOBS/--jobs is how many students are graded at once: a whole number, 1 or more, "
                         f"not {_shown(str(text))}") from None
    if jobs < 1:
        raise ValueError(f"JOBS/--jobs is how many students are graded at once: 1 or more, not {jobs} "
                         "(leave it out for one per CPU core)")
    return jobs


def parse_timeout(text: str) -> float:
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ValueError(f"--timeout is the seconds one call of a student's function may take: a number, "
                         f"not {_shown(str(text))}")
    if not MIN_TIMEOUT_S <= seconds <= MAX_TIMEOUT_S:
        raise ValueError(f"--timeout must be between {MIN_TIMEOUT_S:g} and {MAX_TIMEOUT_S:g} seconds, not {seconds:g}: "
                         f"honest calls take up to ~1.5 s, so a shorter limit fails correct code, and a "
                         f"worker may not use more than {MAX_TIMEOUT_S:g} s of CPU")
    return seconds


def parse_memory(text: str) -> int:
    try:
        mib = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"MEMORY/--memory is the memory of a student's process in MiB: a whole number, "
                         f"not {_shown(str(text))}") from None
    if mib < MIN_MEMORY_MIB:
        raise ValueError(f"MEMORY/--memory must be at least {MIN_MEMORY_MIB} MiB, not {mib}: with less, "
                         "correct code fails for lack of memory")
    return mib


def parse_device(text: str) -> str:
    device = DEVICES.get(str(text).strip().lower())
    if device is None:
        raise ValueError(f"DEVICE/--device must be cpu, cuda (or gpu) or all, not {_shown(str(text))}")
    return device


def split_list(values) -> list[str]:
    """``--student a,b --student c`` -> ``["a", "b", "c"]`` (blanks dropped, order kept, no repeats)."""
    out = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def parse_exercises(values) -> list[tuple[str, str]]:
    """``rnn_cell`` (on whichever day it is), ``day16:provoke`` or ``day16/provoke`` -> [(day, name)]."""
    chosen = []
    for item in split_list(values):
        day, sep, name = item.replace("/", ":").rpartition(":")
        matches = sorted((d, n) for d, n in EXERCISES if n == name and (not sep or d == day))
        if not matches:
            known = ", ".join(sorted({n for _, n in EXERCISES}))
            raise ValueError(f"EXERCISE/--exercise: no exercise {_shown(item)} (known: {known}; "
                             f"day16:provoke names one day's)")
        chosen += [m for m in matches if m not in chosen]
    return sorted(chosen, key=lambda m: (DAYS.index(m[0]), m[1]))


def parse_day(text: str) -> str:
    """``15``, ``day15`` or ``Day 15`` -> ``day15``: the day of loose uploads (a bare ``basic.py``)."""
    import re
    m = re.fullmatch(r"\s*(?:day[\s_-]*)?(\d+)\s*", str(text), re.I)
    day = f"day{m[1]}" if m else None
    if day not in DAYS:
        raise ValueError(f"DAY/--day is the day of the uploads: {' or '.join(d[3:] for d in DAYS)} "
                         f"(or {', '.join(DAYS)}), not {_shown(str(text))}")
    return day


def parse_cluster(text: str):
    """``CLUSTER``: ``local:N`` -> ``("local", N)`` (a LocalCluster of N processes on this machine),
    ``tcp://host:8786`` (or ``tls://``) -> that address (a running Dask scheduler); blank -> None (no cluster)."""
    text = str(text or "").strip()
    if not text:
        return None
    expected = ("CLUSTER/--cluster is local:N (N worker processes on this machine, e.g. local:4) or the address "
                "of a running Dask scheduler (tcp://host:8786)")
    kind, sep, rest = text.partition(":")
    if kind == "local" and sep:
        try:
            n = int(rest)
        except ValueError:
            raise ValueError(f"{expected}, not {_shown(text)}: N is a whole number") from None
        if n < 1:
            raise ValueError(f"{expected}, not {_shown(text)}: at least 1 worker")
        return ("local", n)
    if kind in ("tcp", "tls") and rest.startswith("//"):
        host, _, port = rest[2:].rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return text
        raise ValueError(f"{expected}, not {_shown(text)}: the address needs a host and a port (tcp://host:8786)")
    raise ValueError(f"{expected}, not {_shown(text)}")
