"""``python -m autograder grade PATH``: the command a TA runs."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder import options
from autograder.textsafe import clean

KIT = Path(__file__).resolve().parents[1]

DESCRIPTION = """\
Grade Module 8 submissions (day15, day16) with the hidden test suites.

PATH may be
  a class in nbgrader's layout     course/  or  course/submitted/   (submitted/<student>/<day>/...)
  one student's folder             submitted/alice/                 (alice/day15/, alice/day16/)
  one day of one student           submitted/alice/day15/
  one file                         submitted/alice/day15/basic.py  or  .../day15_basic.ipynb
  archives (no nbgrader exchange)  alice_day15.zip (make submit), a folder of such archives, or an
                                   LMS bulk download (Canvas, Moodle, Blackboard): one zip, one file
                                   or folder per student; the latest attempt of each is graded.
                                   Archives are checked and unpacked into --out/.staging/ only.

A day folder holds the filled exercise files (basic.py, intermediate.py, advanced.py) and/or the
filled notebooks (day15_basic.ipynb, ...). Only the code of the notebooks' definitions is graded;
demo cells are never run.

Student code runs in a locked-down process (no access to the hidden tests, the solutions, the
grades or other students; limited time, memory and processes). Every test runs on the CPU, and
on the GPU too when there is one.

Writes, under --out:
  <student>/results.json    Gradescope format (score, tests with name/score/max_score/output)
  <student>/feedback.md     what the student reads: each test, points, message and hint
  gradebook.csv             one row per student: points per exercise, total, max

Running it again only regrades students whose files (or the hidden suites) changed.
Exit status: 0 when grading completed (even if students failed), 1 when some tests could not be
run because of a problem in the grader or the suites, 2 for a usage problem."""


def _checked(parse):
    """``parse`` as an argparse type: its ValueError's message is what the TA reads (not 'invalid value')."""
    def check(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    check.__name__ = parse.__name__.removeprefix("parse_")
    return check


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, every option checked (a wrong one: a clear line and exit status 2)."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="grade")
    g = sub.add_parser("grade", help="grade a class, a student, or a file", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("path", type=Path, metavar="PATH", nargs="?",
                   help="class, student folder, day folder or file")
    g.add_argument("--demo", action="store_true",
                   help="grade the bundled demo class (rebuilt from the solutions into build/demo_class)")
    g.add_argument("--out", type=Path, default=None,
                   help="output folder (default: ./grades, and ./grades-demo for --demo: the demo class never "
                        "shares a folder with a real one)")
    g.add_argument("--student", action="append", metavar="NAME",
                   help="regrade only this student of PATH (repeat it, or NAME,NAME); the others keep their "
                        "results, the gradebook and summary are rebuilt for the whole class")
    g.add_argument("--exercise", action="append", metavar="NAME",
                   help="regrade only this exercise (rnn_cell, or day16:provoke; repeat it or NAME,NAME): its "
                        "tests run again and replace its rows in each student's results, the rest are kept")
    g.add_argument("--device", type=_checked(options.parse_device), default=os.environ.get("DEVICE") or "all",
                   help="cpu, cuda (or gpu), or all = CPU, plus GPU when present (default: all, or $DEVICE)")
    g.add_argument("--jobs", type=_checked(options.parse_jobs), default=os.environ.get("JOBS") or None,
                   help="students graded at once, 1 or more (default: $JOBS, or the number of CPU cores)")
    g.add_argument("--timeout", type=_checked(options.parse_timeout), default=5.0,
                   help=f"seconds one call of a student's function may take, {options.MIN_TIMEOUT_S:g} to "
                        f"{options.MAX_TIMEOUT_S:g} (default: 5; the slowest honest call of the suites takes "
                        "under 1.5 s on 2 cores)")
    g.add_argument("--memory", type=_checked(options.parse_memory), default=2048, metavar="MIB",
                   help=f"memory a student's process may use, in MiB, at least {options.MIN_MEMORY_MIB} "
                        "(default: 2048)")
    g.add_argument("--force", action="store_true", help="regrade every student, even unchanged ones")
    g.add_argument("--due", metavar="TIME", default=os.environ.get("DUE") or None,
                   help="due time (2026-12-01T23:59, the LMS's local time): each student's lateness, from the "
                        "LMS's names, the download, the manifest or nbgrader's timestamp.txt, in the gradebook "
                        "and the feedback (default: $DUE)")
    g.add_argument("--late-policy", metavar="POLICY", default=os.environ.get("LATE_POLICY") or None,
                   help="what lateness costs, with --due: N%%/day (of the maximum, each day begun), cap=N%%, "
                        "grace=15m, zero-after=2026-12-03T23:59, comma-separated (default: $LATE_POLICY; none: "
                        "lateness is reported at no cost)")
    g.add_argument("--lms-assignment", metavar="NAME", default=None,
                   help="the assignment column of canvas_grades.csv, as Canvas names it ('Day 15 (1234)'; "
                        "default: RNN kit <days graded>)")
    g.add_argument("--day", type=_checked(options.parse_day), default=None,
                   help="15 or 16: the day of exercise files uploaded without one (a bare basic.py, or a "
                        "notebook in an LMS download); default: what the upload or the download's name says "
                        "(day15, 'Day 15'), else such a file is not graded and the terminal says why")
    g.add_argument("--cluster", type=_checked(options.parse_cluster), default=os.environ.get("CLUSTER") or None,
                   metavar="local:N|tcp://HOST:PORT",
                   help="grade on a Dask cluster: local:N = N worker processes on this machine, or the address of a "
                        "running Dask scheduler (each worker grades whole students with its own engine; this "
                        "process writes --out; default: $CLUSTER, none = this machine)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code without the sandbox (where it cannot be set up; the error says why); it can "
                        "then read and change everything you can, and every result says so: "
                        "only for code you trust")
    g.add_argument("--demo-root", type=Path, default=KIT / "build" / "demo_class", help=argparse.SUPPRESS)
    g.add_argument("--demo-student", type=Path, help=argparse.SUPPRESS)   # (tests: see _demo_target)
    args = parser.parse_args(argv)
    if (args.path is None) == (not args.demo):
        parser.error("give PATH, or --demo for the bundled demo class (not both)")
    from autograder import late          # (pure: reads nothing but these two strings)
    try:
        args.due, args.late_policy = late.parse_options(args.due, args.late_policy)
    except late.LateError as exc:
        parser.error(str(exc))
    try:
        args.exercise = options.parse_exercises(args.exercise)
    except ValueError as exc:
        parser.error(str(exc))
    args.student = options.split_list(args.student)
    args.jobs = args.jobs or os.cpu_count() or 1
    args.out = args.out or Path("grades-demo" if args.demo else "grades")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # The engine starts first: every worker is a fork of it, so it must hold nothing secret when it
    # forks, and staging an archive or building the demo class reads the class and the solutions.
    # Engine() refuses to start when this process has loaded them already (autograder/engine/seal.py).
    from autograder.engine import Engine, EngineError   # imports torch: after --help
    try:
        if args.cluster:      # (Dask workers start their own engines: autograder/cluster/)
            from autograder.cluster.ta import ClusterEngine
            engine = ClusterEngine(args.cluster, sandbox_ok=not args.unsafe_no_sandbox)
        else:
            engine = Engine(args.jobs, sandbox_ok=not args.unsafe_no_sandbox)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with engine:
        return _grade(engine, args)


def _grade(engine, args) -> int:
    """Everything that reads the class, the solutions or the grades: only once the engine runs."""
    from autograder.engine import EngineError
    stories = {}
    if args.demo:
        from autograder import demo
        args.path = _demo_target(demo, args)
        stories = {s.name: s.story for s in demo.STUDENTS}

    from autograder import archives
    private = []
    if archives.is_archive_target(args.path):
        # The download holds every classmate's upload: the folder it lies in is hidden from workers
        # like the class itself (an uploads folder is the class; a zip's folder may hold other classes).
        download = args.path.absolute()
        folder = download if download.is_dir() else download.parent
        if len(folder.parts) > 2:          # (never / or a top folder such as /home itself)
            private.append(folder)
        try:
            staged = archives.stage(args.path, args.out, day=args.day)
        except archives.ArchiveError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.path}: {len(staged.students)} student(s) found")
        for line in staged.lines():
            print(f"  {clean(line, one_line=True)}")
        args.path = staged.root
        args.lms_info = {name: st.lms for name, st in staged.students.items()}   # (LMS ids, attempt times)

    bar = None if args.quiet else Progress(sys.stderr)
    try:
        summary = engine.grade(args.path, args.out, device=args.device, jobs=args.jobs, timeout=args.timeout,
                               memory_mb=args.memory, force=args.force, progress=bar, private=private,
                               students=args.student, exercises=args.exercise)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: students graded so far are kept; run again to finish", file=sys.stderr)
        return 130
    if bar:
        bar.finish()
    out = args.out
    kept = f", {len(summary.kept)} kept as they were (not asked for)" if summary.kept else ""
    only = f" (only {', '.join(f'{d}:{e}' for d, e in args.exercise)}, merged into their results)" \
        if args.exercise else ""
    print(f"graded {len(summary.graded)} student(s){only}, {len(summary.unchanged)} unchanged (not regraded){kept}, "
          f"in {summary.seconds:.1f} s; gradebook: {out / 'gradebook.csv'}")
    from autograder import summary as class_summary
    print()
    for line in class_summary.student_lines(out, stories, students=summary.students):
        print(line)
    print()
    print(class_summary.write_summary(out, students=summary.students))
    print(f"\nwritten: {out / 'gradebook.csv'}, {out / 'summary.txt'}, {out / 'summary.png'}, "
          f"{out / 'summary_mistakes.png'}, "
          f"{out}/<student>/results.json, feedback.md and feedback.html")
    _lms_outputs(args, summary)
    course_root = _nbgrader_course(args.path)
    if course_root is not None:
        from autograder import course
        print(f"\nnbgrader course found at {course_root}: writing the engine's points into its gradebook")
        for line in course.record_engine_grades(course_root, out):
            print(f"  {clean(line, one_line=True)}")
    for line in summary.skipped:     # (names and messages of student origin: cleaned of control characters)
        print(f"not graded: {clean(line, one_line=True)}", file=sys.stderr)
    for line in summary.failed:
        print(f"not graded: {clean(line, one_line=True)} (an internal error; the next run grades them again)",
              file=sys.stderr)
    for line in summary.problems:
        print(f"problem: {clean(line)}", file=sys.stderr)
    return 1 if summary.problems or summary.failed else 0


def _lms_outputs(args, summary) -> None:
    """feedback.html per student, the Canvas and Moodle files, late work (autograder/lms.py)."""
    from autograder import lms
    students = getattr(summary, "students", None) or sorted({*summary.graded, *summary.unchanged})
    root = Path(args.path)
    class_root = root / "submitted" if (root / "submitted").is_dir() else root
    grades = lms.collect(args.out, students, getattr(args, "lms_info", {}), class_root, args.due, args.late_policy)
    if args.due is not None:
        print(f"due {args.due.isoformat(sep=' ', timespec='minutes')}: {args.late_policy.describe()}")
    for line in lms.write_all(args.out, grades, args.lms_assignment):
        print(clean(line, one_line=True))


def _demo_target(demo, args) -> Path:
    """The demo class, written under ``--demo-root``.  With ``--demo-student DIR`` (for the kit's tests)
    DIR joins the demo class as one more student and only that student is graded: the demo class is
    built in the same run, so a spy there proves the demo's solution tree never reaches a worker."""
    submitted = demo.write_demo_class(args.demo_root)
    if args.demo_student is None:
        return submitted
    import shutil
    extra = submitted / args.demo_student.name
    shutil.rmtree(extra, ignore_errors=True)
    shutil.copytree(args.demo_student, extra, symlinks=True)
    return extra


def _nbgrader_course(path: Path) -> Path | None:
    """The nbgrader course a graded class belongs to: ``course/submitted`` or ``course`` with a gradebook."""
    for folder in (Path(path), Path(path).parent):
        if (folder / "nbgrader_config.py").is_file() and (folder / "gradebook.db").is_file():
            return folder
    return None


def fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns, cut at a space (never mid-word) with an ellipsis when too long."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[:cut if cut > 0 else width - 1].rstrip() + "…"


class Progress:
    """``grading [#####.....] 12/30  alice 14/16`` on stderr (one line per student when not a terminal)."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, last) -> None:
        width = 30
        filled = width * done // max(total, 1)
        text = f"grading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if last:
            name, score = last
            text += f"  {clean(name, one_line=True)} " + (f"{score[0]:g}/{score[1]:g}" if score else "(failed)")
        if self.tty:
            import shutil
            columns = max(40, shutil.get_terminal_size((120, 24)).columns - 1)
            self.stream.write("\r" + fit(text, columns).ljust(columns))
        elif last or done == 0:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
