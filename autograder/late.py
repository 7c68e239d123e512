"""Late work: a due time, a policy, and what each student's lateness costs.

    make grade SUBMISSIONS=... DUE=2026-12-01T23:59 LATE_POLICY=10%/day,cap=50%,grace=15m
    make grade SUBMISSIONS=... DUE=2026-12-01T23:59 LATE_POLICY=zero-after=2026-12-03T23:59

The policy is a comma-separated list of
    N%/day          N percent of the maximum points off per day late, each day begun counting
                    (as Canvas's late policy does: a percentage of the points possible)
    cap=N%          the penalty never exceeds N percent of the maximum
    grace=N[smhd]   a submission at most this long after the due time is on time (15m, 2h, 1d)
    zero-after=T    a submission after time T scores 0 (T an ISO date and time, after the due time)
Lateness counts from the due time (not from the end of the grace period); the final score is never
below 0.  Times are compared as written, in the LMS's local time (the LMS names its files in it);
a time with a zone (``Z``, ``+01:00``) is converted to UTC and compared with times that carry one.

When a student submitted: the time the LMS wrote into the upload's name (Blackboard, ``_attempt_``
names), else the upload's time inside the LMS's download (Canvas marks late uploads ``LATE`` but
writes no time; Moodle writes none: the files' modification times in the download are used), else
the time in the ``make submit`` manifest (the student's machine wrote it), else nbgrader's
``timestamp.txt`` in ``submitted/<student>/<assignment>/``.  The student's feedback says which; a
student whose time is unknown is not penalised and the TA is told.

This module only reads text it is given (it is imported to check the options before the engine
starts); :mod:`autograder.lms` finds each student's time.  Nothing here changes results.json (the engine's raw points, also what Gradescope reads): the penalty
lives in the gradebook's columns, the LMS files and feedback.html.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from autograder.textsafe import clean

DAY = timedelta(days=1)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
POLICY_HELP = ("LATE_POLICY is a comma-separated list of N%/day, cap=N%, grace=N[s|m|h|d] and zero-after=<ISO time>, "
               "e.g. 10%/day,cap=50%,grace=15m")


class LateError(ValueError):
    """A due time or policy that cannot be read; the message says what is wrong and how to write it."""


def parse_time(text: str, what: str) -> datetime:
    """An ISO date and time (``2026-12-01T23:59``, ``2026-12-01 23:59:00``, ``2026-12-01``: end of day
    not assumed, midnight); with a zone it is converted to UTC, naive otherwise."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LateError(f"{what} {text!r} is not a date and time: write it as 2026-12-01T23:59") from None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


@dataclass(frozen=True)
class Policy:
    per_day: float = 0.0               # fraction of the maximum per day begun
    cap: float = 1.0                   # fraction of the maximum at most
    grace: timedelta = timedelta(0)
    zero_after: datetime | None = None

    def describe(self) -> str:
        parts = []
        if self.per_day:
            parts.append(f"{self.per_day * 100:g}% of the points off per day late (each day begun counts)")
        if self.cap < 1:
            parts.append(f"at most {self.cap * 100:g}% off")
        if self.grace:
            parts.append(f"a grace period of {_duration(self.grace)}")
        if self.zero_after:
            parts.append(f"0 points after {self.zero_after.isoformat(sep=' ', timespec='minutes')}")
        return "; ".join(parts) or "no penalty"


def _percent(text: str, item: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text.strip())
    if not m or not 0 <= float(m[1]) <= 100:
        raise LateError(f"{item!r}: write a percentage between 0% and 100% ({POLICY_HELP})")
    return float(m[1]) / 100


def parse_policy(text: str, due: datetime | None) -> Policy:
    """``10%/day,cap=50%,grace=15m,zero-after=2026-12-03T23:59`` as a :class:`Policy` (LateError says why not)."""
    if due is None:
        raise LateError("LATE_POLICY needs DUE (the due time: DUE=2026-12-01T23:59)")
    fields: dict = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq and item.lower().endswith("/day"):
            key, value = "per_day", item[:-4]
        if key in fields:
            raise LateError(f"{item!r}: {key} is given twice ({POLICY_HELP})")
        if key == "per_day":
            fields[key] = _percent(value, item)
        elif key == "cap":
            fields[key] = _percent(value, item)
        elif key == "grace":
            m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value.strip().lower())
            if not m:
                raise LateError(f"{item!r}: write the grace period as a number and a unit: 30s, 15m, 2h, 1d")
            fields[key] = timedelta(seconds=float(m[1]) * UNITS[m[2]])
        elif key == "zero-after":
            cut = parse_time(value, "zero-after")
            if cut < due:
                raise LateError(f"{item!r}: the cut-off is before the due time {due.isoformat(sep=' ')}")
            fields["zero_after"] = cut
        else:
            raise LateError(f"{item!r} is not a late policy item ({POLICY_HELP})")
    if not fields:
        raise LateError(f"LATE_POLICY {text!r} says nothing ({POLICY_HELP})")
    return Policy(**fields)


def _duration(d: timedelta) -> str:
    s = int(round(d.total_seconds()))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days} day{'s' * (days != 1)}" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else "", f"{s} s" if s and not days else ""]
    return " ".join(p for p in parts if p) or "0 s"


@dataclass
class Lateness:
    submitted: str            # ISO time, '' unknown
    source: str               # where it comes from
    late_by: timedelta        # 0 when on time (or within the grace period)
    days: int                 # days begun (the penalty's unit)
    penalty: float            # points off
    final: float              # score after the penalty
    note: str                 # one sentence for the student (and the TA)


def assess(raw: float, maximum: float, submitted: str, source: str, due: datetime, policy: Policy,
           lms_late: bool = False) -> Lateness:
    """What ``submitted`` (ISO, '' unknown) costs a score of ``raw`` out of ``maximum``."""
    if not submitted:
        said = " (the LMS marked it late)" if lms_late else ""
        return Lateness("", "", timedelta(0), 0, 0.0, raw,
                        f"The time of your submission is not known{said}: no late penalty was applied.")
    when = parse_time(submitted, "submission time")
    shown = when.isoformat(sep=" ", timespec="minutes")
    due_shown = due.isoformat(sep=" ", timespec="minutes")
    late_by = when - due
    if late_by <= timedelta(0):
        # (Canvas marks a late upload LATE but writes no time: the time used is then the download's)
        doubt = " The LMS marked it late: the time used may not be the submission's, no penalty was applied." \
            if lms_late else ""
        return Lateness(submitted, source, timedelta(0), 0, 0.0, raw,
                        f"Submitted {shown} ({source}), on time (due {due_shown}).{doubt}")
    if late_by <= policy.grace:
        return Lateness(submitted, source, late_by, 0, 0.0, raw,
                        f"Submitted {shown} ({source}), {_duration(late_by)} after the due time {due_shown}: "
                        f"within the grace period of {_duration(policy.grace)}, no penalty.")
    days = math.ceil(late_by / DAY)
    if policy.zero_after and when > policy.zero_after:
        penalty = raw
        cost = f"after the cut-off {policy.zero_after.isoformat(sep=' ', timespec='minutes')}: 0 points"
    else:
        fraction = min(policy.per_day * days, policy.cap)
        penalty = min(raw, round(fraction * maximum, 4))
        cost = (f"{days} day{'s' * (days != 1)} late at {policy.per_day * 100:g}% a day"
                + (f" (capped at {policy.cap * 100:g}%)" if policy.per_day * days > policy.cap else "")
                + f": {penalty:g} points off")
    return Lateness(submitted, source, late_by, days, penalty, raw - penalty,
                    f"Submitted {shown} ({source}), {_duration(late_by)} after the due time {due_shown}; {cost} "
                    f"({raw:g} -> {raw - penalty:g} / {maximum:g}).")


def parse_options(due: str | None, policy: str | None) -> tuple[datetime | None, Policy | None]:
    """``--due`` and ``--late-policy`` as given (strings or None): (due time, policy), LateError if wrong.
    A due time alone reports lateness at no cost; a policy alone is an error (late after what?)."""
    if not due:
        if policy:
            raise LateError("--late-policy (LATE_POLICY) needs --due (DUE=2026-12-01T23:59): late after what?")
        return None, None
    when = parse_time(due, "--due (DUE)")
    return when, parse_policy(policy, when) if policy else Policy()
