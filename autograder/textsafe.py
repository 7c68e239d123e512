"""Strings of student origin made safe to show: terminal, feedback, CSV, HTML.

A student controls their exception messages, their file and archive names and
whatever their code returns; any of it may carry terminal escape sequences (ESC,
CSI), a carriage return that rewrites the line it is on, or Unicode bidi controls
that reorder what a reader sees.  Every such string passes through :func:`clean`
before it is written anywhere a person reads it.  Control characters are not
dropped silently but shown as visible escapes (``\\x1b``), so a TA can see that
something was attempted.
"""
from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, zero-width and bidi formatting characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: object, *, one_line: bool = False) -> str:
    """``text`` as a string with every control character shown as an escape; tab and newline are kept
    unless ``one_line`` (a terminal line, a CSV cell: a newline there could fake another student's line)."""
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_visible, str(text))
