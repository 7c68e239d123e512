"""Untouched stubs fail every hidden test with "not yet attempted", never with a crash."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]


def test_untouched_stubs_fail_every_hidden_test_as_not_attempted(tmp_path):
    report = tmp_path / "junit.xml"
    # A separate pytest session: the hidden suites' conftest is already loaded in this one.
    subprocess.run([sys.executable, "-m", "pytest", "autograder/hidden", "--target", "exercises", "--device", "cpu",
                    "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
                   cwd=KIT, capture_output=True, text=True, timeout=600)
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {}
    for case in cases:
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcomes[case.get("name")] = None if failure is None else (failure.get("message") or failure.text or "")
    assert len(outcomes) > 20
    passed = [n for n, msg in outcomes.items() if msg is None]
    assert not passed, f"hidden tests passed on untouched stubs: {passed}"
    # The stub's own exception, not a wrong-answer message that quotes it ("raised NotImplementedError ...;
    # expected ValueError" would grade an untouched stub as failed instead of not attempted).
    crashed = {n: msg for n, msg in outcomes.items()
               if not (msg.startswith("NotImplementedError") and "not yet attempted" in msg)}
    assert not crashed, f"hidden tests crashed instead of reporting 'not yet attempted': {crashed}"
