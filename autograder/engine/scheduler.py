"""Processes and bookkeeping of a grading run.

Process layout (every arrow is a fork)::

    engine (main: torch imported, CUDA never touched, no hidden test ever imported)
     ├─ zygote ── keeper ── worker        (one per student and device; sandboxed; PID 1 of its namespace)
     └─ grader × JOBS                     (hidden suites + references, one student at a time)

The main process discovers the class, takes the lock on the output folder,
skips students whose submission and suites are unchanged since their last
grading (content hashes in ``.state.json``), hands the others to the graders one
by one (so any JOBS gives the same files), draws the progress bar, and writes
the gradebook.  A grader writes a student's files atomically, the state file
last: a ``kill -9`` anywhere loses at most the students being graded, who are
graded again by the next run, exactly once.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import select
import signal
import site
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

# (worker is imported here so that the zygote, forked at Engine(), has it in memory: workers never read disk
# for it.  Nothing imported here is secret; the hidden suites and solutions are imported by graders only.)
from autograder import outputs
from autograder.catalogue import CATALOGUE
from autograder.engine import boundary, extract, regrade, report, runner, sandbox, seal, worker, zygote  # noqa: F401
from autograder.textsafe import clean

KIT = Path(__file__).resolve().parents[2]
ENGINE_VERSION = "1"


class EngineError(Exception):
    """A problem with the grading run itself (bad target, busy output folder, no sandbox)."""


@dataclass
class Options:
    kit: Path = KIT
    suites: Path = KIT / "autograder" / "hidden"
    device: str = "all"                 # what the TA asked for: cpu, cuda or all
    cuda: bool = False                  # CUDA tests run (asked for and present)
    timeout: float = 5.0                # seconds per call of a student function (honest calls: < 1.5 s)
    memory_mb: int = 2048               # memory of one worker beyond its start
    cpu_s: int = 600                    # CPU seconds of one worker
    jobs: int = 1
    sandbox: bool = True
    hide: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    uid: int = 61000                    # worker uid (one per grader slot)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb << 20

    def worker_spec(self, cuda: bool, workdir: str = "") -> dict:
        return {"sandbox": self.sandbox, "uid": self.uid, "cuda": cuda, "hide": self.hide, "keep": self.keep,
                "tmp_bytes": 256 << 20, "unsafe_workdir": workdir,
                "gpu_fraction": max(0.05, 0.8 / max(self.jobs, 1)),
                "limits": {"cpu_s": self.cpu_s, "nproc": 64, "fsize": 16 << 20, "nofile": 256,
                           "memory": self.memory_bytes}}


@dataclass
class Summary:
    graded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)      # grader broke: no files written, retried next run
    problems: list[str] = field(default_factory=list)    # suite problems (not the students')
    skipped: list[str] = field(default_factory=list)     # entries of the class that are not student folders
    kept: list[str] = field(default_factory=list)        # not asked for (--student): results left as they were
    students: list[str] = field(default_factory=list)    # every student of the target: the gradebook's rows
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0


def _python_paths(kit: Path) -> list[str]:
    """Folders the worker must still read (the Python installation), even under a hidden folder."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
                  str(Path(torch.__file__).parents[1]), "/run/nvidia-persistenced", *sys.path}
    kit, venv = os.path.realpath(kit), os.path.realpath(sys.prefix)
    inside = lambda p, root: p == root or p.startswith(root.rstrip("/") + "/")  # noqa: E731
    keep = set()
    for p in filter(None, candidates):
        p = os.path.realpath(p)
        if not os.path.isdir(p) or inside(kit, p):      # the kit itself, or a folder above it
            continue
        if inside(p, kit) and not inside(p, venv):      # in the kit, only its virtual environment
            continue
        keep.add(p)
    return sorted(keep)


def _probe_cuda() -> tuple[bool, str]:
    """CUDA available? Asked in a throw-away child: the engine process itself must never touch CUDA."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ok = torch.cuda.is_available() and torch.cuda.device_count() > 0
            msg = json.dumps([ok, torch.cuda.get_device_name(0) if ok else ""])
        except BaseException as exc:  # noqa: BLE001
            msg = json.dumps([False, str(exc)[:200]])
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    try:
        ok, name = json.loads(data)
        return bool(ok), str(name)
    except ValueError:
        return False, ""


def _private_folders(tgt) -> list[str]:
    """What a worker must not see around the target: the class (a student's classmates too, when one
    student, day or file is graded) and, in nbgrader's layout, the course around ``submitted/``
    (``source/`` with the solutions, ``gradebook.db``)."""
    root = tgt.root if tgt.kind != "file" else tgt.root.parent
    chain = [root] + ([] if tgt.kind == "class" else list(root.parents)[:2])
    chain += [p.parent for p in chain if p.name == "submitted"]
    return [str(p) for p in chain if len(p.parts) > 2]     # never / or a top folder such as /home itself


def _hash_tree(h, root: Path) -> None:
    if root.is_file():
        h.update(root.read_bytes())
        return
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


def resume_inputs(kit: Path, suites: Path, scope, *, devices: list[str], timeout: float, memory_mb: int,
                  cpu_s: int, sandbox: bool) -> str:
    """Digest of everything a grade depends on besides the student's files (with their hash: the resume
    key): the hidden suites, the references, the release (the stubs ``autograder.build`` generates, which
    decide what counts as untouched), the kit's code and version, the Python and torch versions, and
    every option that can change a result.  JOBS is left out on purpose: any JOBS writes the same files."""
    h = hashlib.sha256(json.dumps({
        "engine": ENGINE_VERSION, "python": platform.python_version(), "torch": torch.__version__,
        "devices": list(devices), "timeout": timeout, "memory_mb": memory_mb, "cpu_s": cpu_s,
        "sandbox": sandbox, "scope": [list(s) for s in scope]}, sort_keys=True).encode())
    for part in (suites, kit / "solutions", kit / "autograder", kit / "pyproject.toml"):
        if part.exists():      # (autograder/: engine, fingerprints, catalogue, loading, build, textsafe ...)
            h.update(f"\0{part.relative_to(kit) if part.is_relative_to(kit) else part}\0".encode())
            _hash_tree(h, part)
    for day, level in scope:
        h.update(f"\0release {day}/{level}\0{extract.release_text(kit, day, level)}".encode())
    return h.hexdigest()


class _Lock:
    def __init__(self, out: Path):
        self.path = out / outputs.LOCK
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + 3.0   # (a run killed a moment ago may still be exiting)
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                holder = os.pread(self.fd, 100, 0).decode(errors="replace").strip() or "?"
                os.close(self.fd)
                raise EngineError(f"another grading run (pid {holder}) is writing to {out}: wait for it to "
                                  "finish, or grade into another --out folder") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        os.close(self.fd)


def _warm_up() -> None:
    """Import what torch loads lazily (the first optimizer imports torch._dynamo: 1.5 s) once, here,
    so that neither a grader nor a worker pays for it per student.

    Nothing here may run a backward pass or touch CUDA: on a CUDA build the first backward()
    starts autograd's device threads and initializes the driver, and every process forked
    afterwards fails ("Unable to handle autograd's threading in combination with fork-based
    multiprocessing", "CUDA error: initialization error"; seen on an H200, torch 2.11)."""
    p = torch.nn.Parameter(torch.zeros(3))
    torch.optim.Adam([p], lr=0.1)
    torch.optim.SGD([p], lr=0.1)
    with torch.no_grad():
        lstm = torch.nn.LSTM(3, 3)
        out, _ = lstm(torch.nn.utils.rnn.pack_padded_sequence(torch.randn(2, 2, 3), torch.tensor([2, 1])))
        torch.nn.utils.rnn.pad_packed_sequence(out)
    try:   # notebooks' demo cells import it; 0.5 s per worker otherwise
        os.environ.setdefault("MPLBACKEND", "Agg")
        import matplotlib.pyplot  # noqa: F401
    except Exception:  # noqa: BLE001 - not installed, or broken: the student's import will say so
        pass


class Engine:
    """A zygote plus the means to grade: start once, grade any number of targets."""

    def __init__(self, slots: int | None = None, sandbox_ok: bool = True):
        torch.set_num_threads(1)
        self.slots = slots or os.cpu_count() or 1
        self.sandbox = sandbox_ok
        if sandbox_ok:
            why = sandbox.probe()
            if why:
                raise EngineError(f"cannot confine student code: {why}. Or, {sandbox.UNSAFE}")
        else:
            print(report.UNSAFE_WARNING, file=sys.stderr)
        self._cuda: tuple[bool, str] | None = None
        _warm_up()
        if torch.cuda.is_initialized():
            raise EngineError("CUDA was initialized in the engine process before it forked its workers "
                              "(import the engine before anything uses CUDA)")
        if len(os.listdir("/proc/self/task")) > 1:
            print("warning: the engine process runs several threads; forking it may deadlock", file=sys.stderr)
        seal.ensure_sealed(EngineError)   # every worker inherits this process: nothing secret in it
        self.zygote_pid, self.zsocks = zygote.start(self.slots)

    def cuda(self) -> tuple[bool, str]:
        if self._cuda is None:
            self._cuda = _probe_cuda()
        return self._cuda

    def close(self) -> None:
        for s in self.zsocks:
            s.close()
        try:
            os.kill(self.zygote_pid, signal.SIGKILL)
            os.waitpid(self.zygote_pid, 0)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------------------------------
    def grade(self, target: Path, out: Path, *, device: str = "all", jobs: int | None = None,
              timeout: float = 5.0, memory_mb: int = 2048, suites: Path | None = None, force: bool = False,
              progress=None, private: tuple = (), students=None, exercises=None) -> Summary:
        """``private``: more folders no worker may see (the LMS download a class was staged from).
        ``students``: names (folders) of the target's students to regrade, the others are kept as they are;
        ``exercises``: (day, name) pairs whose tests alone are run again and merged (engine/regrade.py)."""
        started = time.monotonic()
        try:
            tgt = extract.discover(Path(target))
        except extract.TargetError as exc:
            raise EngineError(str(exc)) from None
        out = Path(out).absolute()
        out.mkdir(parents=True, exist_ok=True)
        lock = _Lock(out)
        self._lock_fd = lock.fd          # closed in the graders: only this process holds the lock
        for stale in [*out.glob(".*.tmp"), *out.glob("*/.*.tmp")]:   # half-written by a run killed mid-write
            stale.unlink(missing_ok=True)
        try:
            return self._grade(tgt, out, device, jobs, timeout, memory_mb, suites, force, progress, started,
                               private, students, exercises)
        finally:
            lock.release()

    def _grade(self, tgt, out, device, jobs, timeout, memory_mb, suites, force, progress, started,
               private=(), students=None, exercises=None) -> Summary:
        if device not in ("cpu", "cuda", "all"):
            raise EngineError(f"--device must be cpu, cuda or all, not {device!r}")
        cuda_ok, gpu_name = self.cuda() if device != "cpu" else (False, "")
        if device == "cuda" and not cuda_ok:
            raise EngineError("--device cuda: there is no CUDA device on this machine")
        devices = ["cpu", "cuda"] if cuda_ok and device == "all" else ["cuda"] if device == "cuda" else ["cpu"]
        if "cuda" in devices:
            gpu_note = f"GPU: run on {gpu_name}."
        elif device == "cpu":
            gpu_note = "GPU: not run (graded with --device cpu)."
        else:
            gpu_note = "GPU: not run (no CUDA device on the grading machine)."
        suites = Path(suites or KIT / "autograder" / "hidden").absolute()
        files = [suites / d / f"test_{lv}.py" for d, lv in tgt.scope if (suites / d / f"test_{lv}.py").is_file()]
        if not files:
            raise EngineError(f"no hidden suite under {suites} for {', '.join(sorted({d for d, _ in tgt.scope}))}")
        jobs = max(1, min(jobs or self.slots, self.slots))
        hide = [str(KIT), str(suites), *_private_folders(tgt), *map(str, private), str(out),
                os.path.expanduser("~"), "/root", "/home", "/var/tmp", "/run", "/mnt", "/media", "/srv"]
        opts = Options(KIT, suites, device, cuda_ok, timeout, memory_mb, jobs=jobs, sandbox=self.sandbox,
                       hide=hide, keep=_python_paths(KIT))
        # The resume key: a changed submission, suite, reference or engine means regrade.
        h = hashlib.sha256(json.dumps([ENGINE_VERSION, devices, timeout, memory_mb, tgt.scope, self.sandbox]).encode())
        h.update(resume_inputs(KIT, suites, tgt.scope, devices=devices, timeout=timeout, memory_mb=memory_mb,
                               cpu_s=opts.cpu_s, sandbox=self.sandbox).encode())
        suite_hash = h.hexdigest()
        summary, todo = Summary(students=[ref.name for ref in tgt.students]), []
        chosen = _chosen_students(tgt, students)
        exercises = [tuple(e) for e in exercises or ()]
        missing = [f"{d}:{e}" for d, e in exercises if d not in {day for day, _ in tgt.scope}]
        if missing:
            raise EngineError(f"--exercise {', '.join(missing)}: not part of what {tgt.root} holds "
                              f"({', '.join(sorted({d for d, _ in tgt.scope}))})")
        exercise_files = [f for f in files
                          if any(d == f.parent.name and e in CATALOGUE[d].get(f.stem.removeprefix("test_"), ())
                                 for d, e in exercises)]
        if tgt.kind == "class":   # said, never dropped silently (a symbolic link is not followed)
            summary.skipped = [f"{e.name} ({'a symbolic link, not followed' if e.is_symlink() else 'not a folder'})"
                               for e in sorted(os.scandir(tgt.root), key=lambda e: e.name)
                               if not e.name.startswith(".") and not e.is_dir(follow_symlinks=False)]
        for i, ref in enumerate(tgt.students):
            key = hashlib.sha256(f"{suite_hash}\0{ref.name}\0{extract.submission_hash(ref)}".encode()).hexdigest()
            state = out / ref.name / report.STATE
            if chosen is not None and i not in chosen:
                summary.kept.append(ref.name)
                continue
            if chosen is not None or exercises:      # asked for by name: graded again, whatever changed
                todo.append((i, key))
                continue
            try:
                done = not force and json.loads(state.read_text())["key"] == key \
                    and report.valid_results(json.loads((out / ref.name / report.RESULTS).read_text())) \
                    and (out / ref.name / report.FEEDBACK).is_file()
            except (OSError, ValueError, KeyError, TypeError):
                done = False
            if done:
                summary.unchanged.append(ref.name)
            else:
                todo.append((i, key))
        job = {"tgt": tgt, "out": out, "files": files, "pytest_device": device, "devices": devices,
               "gpu_note": gpu_note, "opts": opts, "exercises": exercises, "exercise_files": exercise_files}
        if todo:
            self._run_graders(job, todo, jobs, summary, progress)
        report.write_atomic(out / report.GRADEBOOK, report.gradebook(out, set(summary.students)))
        summary.seconds = time.monotonic() - started
        return summary

    # ------------------------------------------------------------------------------------------
    def _run_graders(self, job: dict, todo: list, jobs: int, summary: Summary, progress) -> None:
        names = [job["tgt"].students[i].name for i, _ in todo]
        queue = list(todo)
        graders: dict[int, tuple[int, socket.socket]] = {}
        busy: dict[int, tuple[int, str]] = {}
        done = 0

        def start(slot: int) -> None:
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = os.fork()
            if pid == 0:
                # Close what is not this grader's own: its parent's end of its socket, the lock, and the
                # parent's ends of the other graders' sockets (held here, a dead grader's socket would
                # never report its end, and a grader told to quit would never see it).
                mine.close()
                os.close(self._lock_fd)
                for _, other in graders.values():
                    other.close()
                _grader_main(slot, theirs, self.zsocks, job)
            theirs.close()
            graders[slot] = (pid, mine)

        def dispatch(slot: int) -> None:
            if queue:
                i, key = queue.pop(0)
                busy[slot] = (i, key)
                graders[slot][1].send(json.dumps({"student": i, "key": key}).encode())
            else:
                graders[slot][1].send(b'{"quit": true}')

        if progress:
            progress(0, len(todo), None)
        try:
            for slot in range(min(jobs, len(todo))):
                start(slot)
                dispatch(slot)
            while busy:
                socks = {graders[s][1]: s for s in busy}
                ready, _, _ = select.select(list(socks), [], [])
                for sock in ready:
                    slot = socks[sock]
                    i, _ = busy.pop(slot)
                    name = job["tgt"].students[i].name
                    try:
                        msg = json.loads(sock.recv(1 << 20) or b"{}")
                    except (OSError, ValueError):
                        msg = {}
                    summary.problems.extend(p for p in msg.get("problems", []) if p not in summary.problems)
                    if msg.get("done") == i:
                        summary.graded.append(name)
                        summary.scores[name] = (msg["score"], msg["max_score"])
                    else:
                        summary.failed.append(name)
                        summary.problems.append(f"{name}: {msg.get('error') or 'the grader process died'}")
                        pid, s = graders.pop(slot)     # killed before it is waited for: it may be alive
                        s.close()
                        _kill_and_reap(pid)
                        start(slot)
                    done += 1
                    if progress:
                        progress(done, len(todo), (name, summary.scores.get(name)))
                    dispatch(slot)
        finally:   # normally every grader got "quit"; after an interruption they are killed
            for pid, sock in graders.values():
                sock.close()
                try:
                    if busy:
                        os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        summary.graded.sort(key=names.index)


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _grader_main(slot: int, ctrl: socket.socket, zsocks: list[socket.socket], job: dict) -> None:
    """A grader process: hidden suites and references live here, one student at a time."""
    code = 0
    try:
        sandbox.die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for i, s in enumerate(zsocks):
            if i != slot:
                s.close()
        os.chdir(job["opts"].kit)
        opts = replace(job["opts"], uid=job["opts"].uid + slot)
        client = zygote.Client(zsocks[slot])
        suites: dict = {}    # this grader's suite sessions (SuiteSession): configured on its first student
        while True:
            msg = json.loads(ctrl.recv(1 << 16) or b'{"quit": true}')
            if msg.get("quit"):
                break
            i, key = msg["student"], msg["key"]
            ref = job["tgt"].students[i]
            # References on CUDA must not use TF32 either (the workers never do): without this,
            # cuDNN's default moves float32 RNN results by up to 5e-4 (gpu_parity_h200.json).
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            folder = job["out"] / ref.name
            earlier = regrade.previous(folder) if job["exercises"] else None   # None: a full grade
            try:
                if earlier is None:
                    data, problems = _grade_one(ref, job, opts, client, job["files"], suites=suites)
                else:
                    data, problems = _grade_one(ref, job, opts, client, job["exercise_files"], job["exercises"],
                                                suites=suites)
                    data = regrade.merge(earlier, data, job["exercises"])
            except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the class
                ctrl.send(json.dumps({"error": f"internal error: {exc!r}",
                                      "problems": [traceback.format_exc(limit=5)[-1500:]]}).encode())
                continue
            folder.mkdir(exist_ok=True)
            report.write_atomic(folder / report.RESULTS, report.results_json(data))
            report.write_atomic(folder / report.FEEDBACK, report.feedback(data))
            if not problems and earlier is None:   # (broken suite: graded again next run; merged: see regrade)
                report.write_atomic(folder / report.STATE, json.dumps({"key": key}) + "\n")
            ctrl.send(json.dumps({"done": i, "score": data["score"], "max_score": data["max_score"],
                                  "problems": problems}).encode())
        close_suites(suites)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _chosen_students(tgt, names) -> set[int] | None:
    """Indices of the students asked for by ``--student`` (folder names; case ignored when that is not
    ambiguous), or None for all; an unknown name is an error that lists the class."""
    if not names:
        return None
    chosen = set()
    for name in names:
        exact = [i for i, ref in enumerate(tgt.students) if ref.name == name]
        folded = [i for i, ref in enumerate(tgt.students) if ref.name.casefold() == name.casefold()]
        found = exact or (folded if len(folded) == 1 else [])
        if not found:
            known = [clean(ref.name, one_line=True) for ref in tgt.students]
            more = f" ... and {len(known) - 12} more" if len(known) > 12 else ""
            raise EngineError(f"--student {clean(name, one_line=True)!r}: no such student in {tgt.root} "
                              f"(students: {', '.join(known[:12]) or 'none'}{more})")
        chosen.update(found)
    return chosen


def _grade_one(ref, job: dict, opts: Options, client: zygote.Client, files: list[Path],
               exercises=None, suites: dict | None = None) -> tuple[dict, list[str]]:
    code = extract.read_student(ref, job["tgt"].scope, opts.kit)
    return grade_code(code, job, opts, client, files, exercises, suites)


def grade_code(code: extract.StudentCode, job: dict, opts: Options, client: zygote.Client, files: list[Path],
               exercises=None, suites: dict | None = None) -> tuple[dict, list[str]]:
    """One student's code already read (here, or by the TA's process for a Dask worker: engine/cluster.py).

    ``suites``: the calling process's suite sessions, kept from one student to the next (a grader
    process's, cluster/host.py's); None: pytest configured and collected for this student alone."""
    suite = suite_session(suites, files, opts, job["pytest_device"], exercises) if suites is not None else None
    for _attempt in range(3):   # again from the start when a worker was killed from outside (kill -9, OOM)
        session = boundary.Session(client, code, opts)
        try:
            if suite is not None:
                plugin = suite.run(session)
            else:
                plugin = runner.run_suites(session, files, opts.kit, opts.suites, job["pytest_device"], exercises)
        finally:
            session.close()
        if not session.disturbed:
            break
    data = report.results(code.name, plugin.rows, code.notes, job["devices"], job["gpu_note"],
                          unsafe=not opts.sandbox)
    return data, plugin.errors


def suite_session(suites: dict, files: list[Path], opts: Options, device: str, exercises=None) -> runner.SuiteSession:
    """The SuiteSession of ``suites`` for these files, device and exercises, made on first use: a grader
    pays pytest's start-up, configuration and collection once, not once per student."""
    key = (tuple(map(str, files)), str(opts.kit), str(opts.suites), device,
           tuple(sorted(tuple(e) for e in exercises)) if exercises else None)
    if key not in suites:
        if len(suites) >= 4:       # (a long-lived host given job after job: the sessions of past jobs go)
            close_suites(suites)
        suites[key] = runner.SuiteSession(files, opts.kit, opts.suites, device, exercises)
    return suites[key]


def close_suites(suites: dict) -> None:
    for suite in suites.values():
        suite.close()
    suites.clear()


def grade(target, out, **kwargs) -> Summary:
    """Grade once with a fresh engine (the CLI's path)."""
    sandbox_ok = kwargs.pop("sandbox", True)
    with Engine(kwargs.get("jobs"), sandbox_ok) as engine:
        return engine.grade(target, out, **kwargs)
