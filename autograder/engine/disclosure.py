"""What a student may learn about the hidden inputs, and the cap on what crosses back in their own words.

The hidden tests' inputs are sent to the student's function (it must compute on them), so a
student can always see them inside the worker; what matters is what comes back out to them.
The public feedback (the suites' own messages) shows the inputs' shapes, dtypes and devices, the
argument names, and for a wrong result the first differing position with the expected and the
received value there: enough to debug, never a whole tensor.

The one channel the student writes is the message of an exception their code raises, which
their feedback quotes (it is their own text, and "your code raised ValueError: ..." is the most
useful line a learner gets).  A student could put the test's inputs in it
(``raise ValueError(repr(x.tolist()))``), so :func:`student_text` caps it at ``MAX_CHARS``
characters and ``MAX_NUMBERS`` numbers: an honest message (``mat1 and mat2 shapes cannot be
multiplied (6x4 and 3x20)``) keeps every word; a dumped tensor keeps its first few values.
"""
from __future__ import annotations

import re

MAX_CHARS = 300      # characters of a student's own message in their feedback, per test
MAX_NUMBERS = 12     # numbers of it (a shape is 2 to 4; a hidden input tensor is dozens to thousands)

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def student_text(text: str) -> str:
    """``text`` (a message of student origin) as far as the feedback may quote it."""
    cut, note = len(text), ""
    for count, number in enumerate(_NUMBER.finditer(text), 1):
        if count > MAX_NUMBERS:
            cut, note = number.start(), f" [cut: feedback quotes at most {MAX_NUMBERS} numbers of your message]"
            break
    if cut > MAX_CHARS:
        cut, note = MAX_CHARS, f" [cut: feedback quotes the first {MAX_CHARS} characters of your message]"
    return text if cut == len(text) else text[:cut].rstrip() + note
