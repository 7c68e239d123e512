"""`make mutants`: mutation testing of the reference solutions against the hidden suites (cosmic-ray).

    .venv/bin/python bench/mutants.py run                    # every exercise: bench/mutants.md + .json
    .venv/bin/python bench/mutants.py run --only day15/basic  # one level file
    .venv/bin/python bench/mutants.py run --label after       # name this run in the kill-rate history

What happens:

* ``solutions/`` is copied to ``build/mutants/target/``; cosmic-ray (a maintained mutation tool, pinned in
  ``requirements-dev.txt``) mutates that copy, one level file per session, and ``cr-filter-lines``
  keeps only the mutants inside ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions.  The references
  the hidden suites compare with stay the untouched ``solutions/``: a mutated reference compared with
  itself would survive every test.
* cosmic-ray's test command for each mutant is ``bench/mutants.py test``: a small client that asks a
  server, started once with torch and pytest imported, to fork and run the hidden suite of that level
  (``--target build/mutants/target --device cpu -x``), only the tests graded for the exercise whose
  function the mutant changed.  A fork costs milliseconds where a fresh ``pytest`` costs ~5 s of
  ``import torch``; the child has a time and memory limit (a mutant may loop or allocate forever).
* The report lists per exercise the mutants generated, killed and surviving, each survivor with a
  stable id (``day/level:function:L<line in the region>:C<column>:<operator>:<hash of the mutant's line>``).
  A survivor that no test can kill (same behaviour as the reference) is marked equivalent in
  ``bench/mutants_equivalent.toml`` with the reason; the line is stored too, so an entry whose code
  changed is reported stale instead of hiding a new survivor.  Every run is also appended to the
  kill-rate history in ``bench/mutants.json`` (replaced when the suites and solutions did not change).
"""
from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import build  # noqa: E402  (no torch: the client must start fast)
from autograder.catalogue import CATALOGUE, DAYS, LEVELS, levels_of  # noqa: E402

WORK = ROOT / "build" / "mutants"
TARGET = WORK / "target"          # the copy cosmic-ray mutates
PRISTINE = WORK / "pristine"      # the same copy, never mutated: regions, lines, which function a mutant changed
BENCH = ROOT / "bench"
REPORT_MD, REPORT_JSON = BENCH / "mutants.md", BENCH / "mutants.json"
EQUIVALENT = BENCH / "mutants_equivalent.toml"
HISTORY_NOTES = BENCH / "mutants_history.md"     # hand-written: rendered under the kill-rate history
SOCKET_ENV = "RNNKIT_MUTANTS_SOCKET"
CHILD_SECONDS = 30          # one mutant's test run (the honest suites take < 2 s a level)
CHILD_MEMORY = 3 << 30      # bytes a mutant may allocate beyond the server's own address space
CR_TIMEOUT = 60.0
# Replacing + - * / with a bitwise or shift operator only ever raises on float tensors: always killed,
# never informative, and a third of all mutants.  Left out (cr-filter-operators), and said in the report.
EXCLUDED_OPERATORS = [r"core/ReplaceBinaryOperator_.*_(BitAnd|BitOr|BitXor|LShift|RShift)$",
                      r"core/ReplaceBinaryOperator_(BitAnd|BitOr|BitXor|LShift|RShift)_.*"]


# --------------------------------------------------------------------------------------------- regions

def regions(path: Path) -> dict[str, tuple[int, int]]:
    """{exercise: (first, last)} 1-based lines strictly inside its solution region."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = {}
    tree = ast.parse(text)
    for begin, end in build._regions(lines, path):      # 0-based marker lines
        owner = next(n.name for n in tree.body if isinstance(n, ast.FunctionDef)
                     and n.lineno - 1 < begin and end <= (n.end_lineno or 0) + 1)
        out[owner] = (begin + 2, end)
    return out


def changed_exercises(mutated: Path, pristine: Path, names) -> list[str]:
    """Catalogue functions whose code differs between the two files (the one a mutant changed)."""
    def defs(path):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            return None
        return {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names}
    a, b = defs(mutated), defs(pristine)
    if a is None or b is None:
        return list(names)
    return [n for n in names if a.get(n) != b.get(n)]


# --------------------------------------------------------------------------------------------- server

class _OnlyExercise:
    """pytest plugin: keep the tests graded for the given exercises; remember the first failure."""

    def __init__(self, exercises):
        self.exercises = set(exercises)
        self.selected = 0
        self.failure = None

    def pytest_collection_modifyitems(self, config, items):
        keep = []
        for item in items:
            marker = item.get_closest_marker("grade")
            if marker and marker.args and marker.args[0] in self.exercises:
                keep.append(item)
        items[:] = keep
        self.selected = len(keep)

    def pytest_runtest_logreport(self, report):
        if report.failed and self.failure is None:
            text = str(report.longrepr).strip().splitlines()
            self.failure = {"test": report.nodeid.split("::")[-1], "when": report.when,
                            "message": (text[-1] if text else "")[:300]}


def _run_child(request: dict, out_fd: int) -> None:
    """In a forked child: run the level's hidden suite on the mutated target, write the outcome."""
    import pytest
    os.setpgid(0, 0)
    signal.alarm(CHILD_SECONDS)
    soft = _address_space() + CHILD_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (soft, soft))
    day, level = request["day"], request["level"]
    exercises = changed_exercises(TARGET / day / f"{level}.py", PRISTINE / day / f"{level}.py",
                                  CATALOGUE[day][level]) or list(CATALOGUE[day][level])   # (none: the baseline)
    plugin = _OnlyExercise(exercises)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(ROOT),
                        "-c", str(ROOT / "pyproject.toml"), "-o", "addopts=", "-W", "ignore",
                        str(ROOT / "autograder" / "hidden" / day / f"test_{level}.py"),
                        "--target", str(TARGET), "--device", "cpu"], plugins=[plugin])
    os.write(out_fd, json.dumps({"code": int(code), "exercises": exercises, "selected": plugin.selected,
                                 "failure": plugin.failure}).encode())
    os._exit(0)


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(path: str) -> None:
    """Answer one test request at a time with a forked child (torch and pytest imported once, here)."""
    sys.dont_write_bytecode = True        # a mutant of the same size and second must never hit a stale .pyc
    import pytest  # noqa: F401
    import torch
    torch.set_num_threads(1)
    import solutions.checking  # noqa: F401
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            request = json.loads(conn.makefile().readline())
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    _run_child(request, w)
                finally:
                    os._exit(3)
            os.close(w)
            data = b""
            while chunk := os.read(r, 65536):
                data += chunk
            os.close(r)
            _, status = os.waitpid(pid, 0)
            try:
                os.killpg(pid, signal.SIGKILL)      # whatever the mutant left running
            except OSError:
                pass
            if data:
                answer = json.loads(data)
            elif os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                answer = {"code": -sig, "failure": {"test": "(the whole run)", "when": "call",
                                                     "message": "timed out" if sig == signal.SIGALRM
                                                     else f"killed by {signal.Signals(sig).name}"}}
            else:
                answer = {"code": -1, "failure": {"test": "(the whole run)", "when": "call",
                                                  "message": f"the test process exited with {os.WEXITSTATUS(status)}"}}
            conn.sendall(json.dumps(answer).encode() + b"\n")


def client(day: str, level: str) -> int:
    """cosmic-ray's test command: 0 = every selected test passed (the mutant survived)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(os.environ[SOCKET_ENV])
        s.sendall(json.dumps({"day": day, "level": level}).encode() + b"\n")
        answer = json.loads(s.makefile().readline())
    print(json.dumps(answer))
    if answer.get("selected") == 0 and answer["code"] in (0, 5):
        return 0          # no test grades the exercise: nothing kills it (reported as a survivor)
    return 0 if answer["code"] == 0 else 1      # (2-4, a suite that cannot run: reported as an error)


# --------------------------------------------------------------------------------------------- runs

def _prepare() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    for copy in (TARGET, PRISTINE):
        copy.mkdir(parents=True)
        for path in (ROOT / "solutions").glob("*.py"):
            shutil.copy2(path, copy / path.name)
        for day in DAYS:
            (copy / day).mkdir()
            for path in (ROOT / "solutions" / day).glob("*.py"):
                shutil.copy2(path, copy / day / path.name)


def _cr(*args: str, env=None) -> None:
    exe = Path(sys.executable).parent
    subprocess.run([str(exe / args[0]), *args[1:]], check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class LevelSkipped(Exception):
    """A level whose suite fails without any mutant (a suite being edited): no mutant of it can be judged."""


def run_level(day: str, level: str, env: dict, sample: int | None) -> list[dict]:
    module = TARGET / day / f"{level}.py"
    spans = regions(PRISTINE / day / f"{level}.py")
    config, db = WORK / f"{day}_{level}.toml", WORK / f"{day}_{level}.sqlite"
    command = f"{sys.executable} {Path(__file__).resolve()} test {day} {level}"
    lines = ", ".join(f'"{a}-{b}"' for a, b in spans.values())
    config.write_text(f"""[cosmic-ray]
module-path = "{module}"
timeout = {CR_TIMEOUT}
excluded-modules = []
test-command = "{command}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.line-filter]
lines = {{ "{module}" = [{lines}] }}

[cosmic-ray.filters.operators-filter]
exclude-operators = [{", ".join(json.dumps(e) for e in EXCLUDED_OPERATORS)}]
""", encoding="utf-8")
    baseline = subprocess.run(command.split(), env=env, capture_output=True, text=True)
    if baseline.returncode != 0:
        raise LevelSkipped(f"{day}/{level}: the hidden suite fails on the unmutated references "
                           f"({baseline.stdout.strip()[:300]})")
    _cr("cosmic-ray", "init", str(config), str(db))
    _cr("cr-filter-lines", "--config", str(config), str(db))
    _cr("cr-filter-operators", str(db), str(config))
    generated = _sample(db, spans, day, level, sample)
    _cr("cosmic-ray", "exec", str(config), str(db), env=env)
    found = _collect(day, level, db, spans)
    for function, count in generated.items():
        for m in found:
            if m["exercise"] == function:
                m["population"] = count
    return found


def _sample(db: Path, spans: dict, day: str, level: str, sample: int | None) -> dict[str, int]:
    """Keep at most ``sample`` mutants per exercise, the same ones on every run (ordered by a hash of
    their stable id); the others are skipped.  Returns the mutants per exercise before sampling."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        by_function: dict[str, list] = {}
        for item in work_db.pending_work_items:
            m = item.mutations[0]
            function = next((f for f, (a, b) in spans.items() if a <= m.start_pos[0] <= b), "?")
            key = hashlib.sha1(f"{day}/{level}:{function}:{m.start_pos[0] - spans.get(function, (0, 0))[0]}:"
                               f"{m.start_pos[1]}:{m.operator_name}:{m.occurrence}".encode()).hexdigest()
            by_function.setdefault(function, []).append((key, item.job_id))
        dropped = []
        for items in by_function.values():
            items.sort()
            dropped += [job for _, job in items[sample:]] if sample else []
        if dropped:
            work_db.set_multiple_results(dropped, WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED))
    return {f: len(items) for f, items in by_function.items()}


def _collect(day: str, level: str, db: Path, spans: dict) -> list[dict]:
    from cosmic_ray.work_db import WorkDB, use_db
    source = (PRISTINE / day / f"{level}.py").read_text(encoding="utf-8").splitlines()
    out = []
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        for item, result in work_db.completed_work_items:
            if result.worker_outcome == "skipped":
                continue
            m = item.mutations[0]
            line, col = m.start_pos
            function = next((f for f, (a, b) in spans.items() if a <= line <= b), m.definition_name or "?")
            operator = m.operator_name.split("/")[-1]
            first = spans.get(function, (line, line))[0]
            answer = {}
            for text in reversed((result.output or "").splitlines()):
                if text.startswith("{"):
                    answer = json.loads(text)
                    break
            if result.worker_outcome != "normal":
                outcome = "incompetent"
            elif answer.get("code") in (2, 3, 4):
                outcome = "error"        # the suite itself could not run (a collection error): not a kill
            elif result.test_outcome == "killed":
                outcome = "killed"
            else:
                outcome = "no test" if answer.get("selected") == 0 else "survived"
            failure = answer.get("failure") or {}
            if result.output == "timeout":
                failure = {"test": "(the whole run)", "message": "timed out"}
            mutated = [ln[1:] for ln in (result.diff or "").splitlines()
                       if ln.startswith("+") and not ln.startswith("+++")]
            after = mutated[0].strip() if mutated else ""
            out.append({
                "id": f"{day}/{level}:{function}:L{line - first + 1}:C{col}:{operator}:"
                      f"{hashlib.sha1(after.encode()).hexdigest()[:6]}",
                "day": day, "level": level, "exercise": function, "line": line, "column": col,
                "operator": operator, "occurrence": m.occurrence, "outcome": outcome,
                "source": source[line - 1].strip(), "mutated": after,
                "killed_by": failure.get("test") if outcome == "killed" else None,
                "message": failure.get("message") if outcome == "killed" else None,
            })
    out.sort(key=lambda r: (r["line"], r["column"], r["operator"]))
    return out


def _inputs_hash() -> str:
    h = hashlib.sha256()
    for folder in (ROOT / "solutions", ROOT / "autograder" / "hidden"):
        for path in sorted(folder.rglob("*.py")):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


def load_equivalent() -> dict[str, dict]:
    if not EQUIVALENT.is_file():
        return {}
    return tomllib.loads(EQUIVALENT.read_text(encoding="utf-8"))


def summarize(mutants: list[dict], equivalent: dict) -> tuple[list[dict], list[str]]:
    """Per exercise counts; entries of the equivalents file whose line changed are stale."""
    stale = []
    for m in mutants:
        entry = equivalent.get(m["id"])
        m["equivalent"] = None
        if entry and m["outcome"] in ("survived", "no test"):
            if entry.get("line", m["source"]) == m["source"]:
                m["equivalent"] = entry.get("reason", "")
            else:
                stale.append(f"{m['id']}: the line is now {m['source']!r}, the entry says {entry.get('line')!r}")
    ids = {m["id"] for m in mutants}
    stale += [f"{k}: no such mutant any more" for k in equivalent if k not in ids]
    rows = []
    for day in DAYS:
        for level in levels_of(day):
            for exercise in CATALOGUE[day][level]:
                mine = [m for m in mutants if m["day"] == day and m["exercise"] == exercise]
                if not mine:
                    continue
                killed = sum(m["outcome"] == "killed" for m in mine)
                eq = sum(m["equivalent"] is not None for m in mine)
                surviving = sum(m["outcome"] in ("survived", "no test") and m["equivalent"] is None for m in mine)
                errors = sum(m["outcome"] in ("error", "incompetent") for m in mine)
                rows.append({"day": day, "level": level, "exercise": exercise,
                             "population": max(m.get("population", len(mine)) for m in mine),
                             "generated": len(mine) - errors, "killed": killed, "equivalent": eq,
                             "surviving": surviving, "errors": errors,
                             "kill_rate": round(killed / max(1, len(mine) - errors - eq), 4)})
    return rows, stale


def _rate(rows) -> tuple[int, int, int, int]:
    g = sum(r["generated"] for r in rows)
    k = sum(r["killed"] for r in rows)
    e = sum(r["equivalent"] for r in rows)
    s = sum(r["surviving"] for r in rows)
    return g, k, e, s


def render(data: dict) -> str:
    rows, mutants = data["exercises"], data["mutants"]
    g, k, e, s = _rate(rows)
    out = ["# Mutation testing of the reference solutions", "",
           "Generated by `make mutants` (`bench/mutants.py`, cosmic-ray "
           f"{data['tool_version']}): every mutant of a solution region is graded by the hidden tests of its "
           "exercise (`--device cpu`); a mutant is killed when one of them fails.  Survivors are either marked "
           "equivalent in `bench/mutants_equivalent.toml` (with the reason) or need a new hidden test.", "",
           f"Last run: {data['date']}, commit {data['commit']}, suites+solutions {data['inputs']}"
           f"{', scope ' + ', '.join(data['scope']) if data['scope'] != 'all' else ''}.", "",
           f"**{k} of {g - e} non-equivalent mutants killed ({100 * k / max(1, g - e):.1f}%); "
           f"{e} equivalent, {s} surviving.**", "",
           "| day | level | exercise | mutants in the regions | tested | killed | equivalent | surviving | "
           "could not run | kill rate |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['day']} | {r['level']} | `{r['exercise']}` | {r.get('population', r['generated'])} | "
                   f"{r['generated']} | {r['killed']} | {r['equivalent']} | {r['surviving']} | {r.get('errors', 0)} | "
                   f"{100 * r['kill_rate']:.1f}% |")
    out += ["", "Operators: cosmic-ray's core set, less the replacements of an arithmetic operator by a bitwise or "
            "shift one (they only ever raise on float tensors)." + (f" Sampled: at most {data['sample']} mutants per "
            "exercise, the same ones every run (by a hash of their id)." if data.get("sample") else ""),
            "A level whose hidden suite fails on the unmutated references is skipped and listed below."]
    if data.get("skipped_levels"):
        out += [""] + [f"- skipped {x}" for x in data["skipped_levels"]]
    out += ["", "## Kill rate over time", "",
            "| run | date | commit | scope | tested | killed | equivalent | surviving | kill rate |",
            "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for h in data["history"]:
        out.append(f"| {h['label']} | {h['date']} | {h['commit']} | {h['scope']} | {h['generated']} | "
                   f"{h['killed']} | {h['equivalent']} | {h['surviving']} | "
                   f"{100 * h['killed'] / max(1, h['generated'] - h['equivalent']):.1f}% |")
    if HISTORY_NOTES.is_file():          # what each run of the history changed, written by hand
        out += [""] + HISTORY_NOTES.read_text(encoding="utf-8").rstrip().splitlines()
    survivors = [m for m in mutants if m["outcome"] in ("survived", "no test") and m["equivalent"] is None]
    out += ["", f"## Surviving mutants ({len(survivors)})", "",
            "Each needs a hidden test that kills it, or an entry in `bench/mutants_equivalent.toml`:", "",
            "```toml", '["<id>"]', 'line = "<the source line, as below>"', 'reason = "<why no test can tell>"',
            "```", ""]
    for exercise in dict.fromkeys(m["exercise"] for m in survivors):
        out += [f"### {exercise}", ""]
        for m in (m for m in survivors if m["exercise"] == exercise):
            note = " (no hidden test grades this exercise)" if m["outcome"] == "no test" else ""
            out.append(f"- `{m['id']}`{note}: `{m['source']}` → `{m['mutated']}`")
        out.append("")
    eqs = [m for m in mutants if m["equivalent"] is not None]
    if eqs:
        out += [f"## Equivalent mutants ({len(eqs)})", ""]
        out += [f"- `{m['id']}`: `{m['source']}` → `{m['mutated']}`: {m['equivalent']}" for m in eqs] + [""]
    if data["stale"]:
        out += ["## Stale entries of bench/mutants_equivalent.toml", ""] + [f"- {x}" for x in data["stale"]] + [""]
    return "\n".join(out).rstrip() + "\n"


def run(only: list[str], label: str | None, sample: int | None) -> int:
    import importlib.metadata
    scope = [(d, lv) for d in DAYS for lv in levels_of(d) if not only or f"{d}/{lv}" in only]
    _prepare()
    sock = str(WORK / "server.sock")
    env = dict(os.environ, **{SOCKET_ENV: sock})
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve", sock], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the mutant server did not start")
        mutants, skipped = [], []
        for day, level in scope:
            started = time.monotonic()
            try:
                found = run_level(day, level, env, sample)
            except LevelSkipped as exc:
                print(f"skipped {exc}", file=sys.stderr, flush=True)
                skipped.append(str(exc))
                continue
            mutants += found
            print(f"{day}/{level}: {len(found)} mutants, {sum(m['outcome'] == 'killed' for m in found)} killed "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        server.kill()
        server.wait()
    previous = json.loads(REPORT_JSON.read_text()) if REPORT_JSON.is_file() else {}
    if only and previous.get("mutants"):      # a partial run replaces only its own levels
        keep = [m for m in previous["mutants"] if (m["day"], m["level"]) not in scope]
        mutants = sorted(keep + mutants, key=lambda m: (DAYS.index(m["day"]), LEVELS.index(m["level"]), m["line"],
                                                       m["column"], m["operator"]))
    rows, stale = summarize(mutants, load_equivalent())
    g, k, e, s = _rate(rows)
    data = {"tool": "cosmic-ray", "tool_version": importlib.metadata.version("cosmic-ray"),
            "date": datetime.date.today().isoformat(), "commit": _git_commit(), "inputs": _inputs_hash(),
            "scope": "all" if not only else [f"{d}/{lv}" for d, lv in scope], "sample": sample,
            "skipped_levels": skipped, "exercises": rows, "mutants": mutants, "stale": stale}
    entry = {"label": label or "run", "date": data["date"], "commit": data["commit"], "inputs": data["inputs"],
             "scope": ("all" if not only else " ".join(only)) + (f", sample {sample}" if sample else "")
             + (f", {len(skipped)} level(s) skipped" if skipped else ""),
             "generated": g, "killed": k, "equivalent": e, "surviving": s}
    history = [h for h in previous.get("history", [])
               if not (h["inputs"] == entry["inputs"] and h["scope"] == entry["scope"])]
    data["history"] = history + [entry]
    REPORT_JSON.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    REPORT_MD.write_text(render(data), encoding="utf-8")
    print(f"{k} of {g - e} non-equivalent mutants killed; {s} surviving: {REPORT_MD.relative_to(ROOT)}")
    return 0


def report_again() -> int:
    """After editing bench/mutants_equivalent.toml: the same run, survivors and equivalents counted again."""
    data = json.loads(REPORT_JSON.read_text(encoding="utf-8"))
    data["exercises"], data["stale"] = summarize(data["mutants"], load_equivalent())
    g, k, e, s = _rate(data["exercises"])
    data["history"][-1].update(generated=g, killed=k, equivalent=e, surviving=s)
    REPORT_JSON.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    REPORT_MD.write_text(render(data), encoding="utf-8")
    print(f"{k} of {g - e} non-equivalent mutants killed; {s} surviving: {REPORT_MD.relative_to(ROOT)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/mutants.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="mutate, test, write bench/mutants.md and bench/mutants.json")
    p.add_argument("--only", action="append", default=[], metavar="DAY/LEVEL", help="e.g. day15/basic (repeatable)")
    p.add_argument("--label", help="name of this run in the history (e.g. before, after)")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="at most N mutants per exercise, the same ones every run (default: all)")
    sub.add_parser("report", help="rewrite bench/mutants.md from bench/mutants.json and the equivalents file")
    p = sub.add_parser("serve", help=argparse.SUPPRESS)
    p.add_argument("socket")
    p = sub.add_parser("test", help=argparse.SUPPRESS)
    p.add_argument("day")
    p.add_argument("level")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.socket)
        return 0
    if args.command == "test":
        return client(args.day, args.level)
    if args.command == "report":
        return report_again()
    bad = [o for o in args.only if o.count("/") != 1 or o.split("/")[0] not in DAYS or o.split("/")[1] not in CATALOGUE.get(o.split("/")[0], ())]
    if bad:
        parser.error(f"--only {bad[0]}: expected DAY/LEVEL such as day15/basic")
    return run(args.only, args.label, args.sample)


if __name__ == "__main__":
    sys.exit(main())
