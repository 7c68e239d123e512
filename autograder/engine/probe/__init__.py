"""The engine's self-test material: a probe "student" and the hidden suite that checks the boundary with it.

``student.py`` is graded as a student's ``day15/basic.py`` against ``suite.py`` installed as
``<suites>/day15/test_basic.py`` (see tests/test_engine_grading.py). Not imported by the engine.
"""
