"""The worker's cost per student (issue 16) without a change of behaviour.

* the kit's helper modules (checking.py, ...) reach a worker compiled by the grader, as hash-checked
  .pyc files: a worker imports them without compiling, and a source that differs from the pyc is
  still compiled from source;
* the zygote's objects are frozen out of the garbage collector before any worker is forked (a
  collection in the worker would otherwise copy the zygote's memory into it, page after page).
"""
from __future__ import annotations

import builtins
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from autograder.engine import boundary

KIT = Path(__file__).resolve().parents[1]
HELPER = "VALUE = 41\n\ndef answer():\n    return VALUE + 1\n"


def _import_from(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _place(folder: Path, name: str, text: str, pyc: bytes) -> None:
    (folder / f"{name}.py").write_text(text, encoding="utf-8")
    cached = Path(importlib.util.cache_from_source(str(folder / f"{name}.py")))
    cached.parent.mkdir(exist_ok=True)
    cached.write_bytes(pyc)


def test_a_helper_is_imported_from_the_graders_bytecode_without_compiling(tmp_path, monkeypatch):
    files = {"day15": {"checking.py": HELPER, "basic.py": "x = 1\n"}}
    pyc = boundary._helper_bytecode(files, {"day15": {"checking.py": HELPER}})
    assert list(pyc) == ["day15"] and list(pyc["day15"]) == ["checking.py"]    # the student's file is not
    _place(tmp_path, "checking", HELPER, pyc["day15"]["checking.py"])

    def no_compile(*args, **kwargs):
        raise AssertionError("compiled from source")
    monkeypatch.setattr(builtins, "compile", no_compile)
    module = _import_from(tmp_path, "checking")
    monkeypatch.undo()
    assert module.answer() == 42
    assert module.answer.__code__.co_filename == str(tmp_path / "checking.py")   # tracebacks name the file


def test_a_source_that_differs_from_the_bytecode_is_compiled_from_source(tmp_path):
    pyc = boundary._helper_bytecode({"d": {"checking.py": HELPER}}, {"d": {"checking.py": HELPER}})["d"]["checking.py"]
    _place(tmp_path, "checking", HELPER.replace("41", "1"), pyc)
    assert _import_from(tmp_path, "checking").answer() == 2


def test_a_helper_the_student_replaced_gets_no_bytecode():
    assert boundary._helper_bytecode({"d": {"checking.py": "mine = 1\n"}}, {"d": {"checking.py": HELPER}}) == {}


STUDENT = """
import gc, importlib.util, os
import checking

def rnn_cell():
    with open(importlib.util.cache_from_source(os.path.abspath("checking.py")), "rb") as f:
        pyc = f.read()
    return [gc.get_freeze_count(), pyc.hex(), checking.answer()]
"""

# In a process of its own: the engine refuses to start in one that imported tests (seal.py).
IN_A_WORKER = f"""
import json, pickle, sys, tempfile
sys.path.insert(0, {str(KIT)!r})
from autograder.engine import Engine, boundary, scheduler, zygote
from autograder import tensor_table
HELPER, STUDENT = {HELPER!r}, {STUDENT!r}
with Engine(1, sandbox_ok=False) as engine, tempfile.TemporaryDirectory() as workdir:
    opts = scheduler.Options(sandbox=False)
    handle = boundary.WorkerHandle(zygote.Client(engine.zsocks[0]), opts.worker_spec(False, workdir), 30.0, None)
    files = {{"day15": {{"checking.py": HELPER, "basic.py": STUDENT}}}}
    pyc = boundary._helper_bytecode(files, {{"day15": {{"checking.py": HELPER}}}})
    handle.request({{"op": "files", "files": files, "pyc": pyc}}, 30.0)
    header, values = handle.request({{"op": "load", "day": "day15", "level": "basic", "names": ["rnn_cell"]}}, 30.0)
    assert header["functions"] == ["rnn_cell"], values
    header, values = handle.request({{"op": "call", "day": "day15", "fn": "rnn_cell", "seed": 0, "grad": False,
                                     "args": pickle.dumps(((), {{}})), "table": tensor_table.pack([])}}, 30.0)
    assert header["failed"] is False, values
    frozen, used, answer = values["result"]
    handle.close()
    print(json.dumps({{"frozen": frozen, "same_pyc": bytes.fromhex(used) == pyc["day15"]["checking.py"],
                      "answer": answer}}))
"""


def test_a_worker_imports_the_helpers_the_grader_compiled_and_starts_with_the_zygote_frozen():
    run = subprocess.run([sys.executable, "-c", IN_A_WORKER], capture_output=True, text=True, timeout=300, cwd=KIT)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["answer"] == 42
    assert got["same_pyc"], "the worker compiled the helper itself (it would have rewritten the .pyc)"
    assert got["frozen"] > 10_000, "the zygote's objects are not frozen out of the garbage collector"


def test_the_names_of_the_arguments_are_made_only_when_a_change_is_refused():
    import pytest
    import torch
    x = torch.zeros(3)
    made = []

    def names():
        made.append(1)
        return {id(x): "argument x"}
    boundary._apply_mutations([x], [], {"mut": [{"i": 0, "v": torch.ones(3)}], "mods": [], "opts": []}, names)
    assert made == [] and torch.equal(x, torch.ones(3))       # (every call paid for them before)
    with pytest.raises(boundary.ChangedInput, match="replaced argument x"):
        boundary._apply_mutations([x], [], {"mut": [{"i": 0, "v": torch.ones(4)}], "mods": [], "opts": []}, names)
    assert made == [1]
