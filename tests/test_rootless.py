"""The sandbox without root: user namespaces, the probe's diagnosis, the keyring filter, UNSAFE.

Runs as root and as an ordinary user (CI runs it both ways).  Under root, the rootless path
is exercised by a child that gives up root first (uid 65534), so both modes are proved on
every run where namespaces are available.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.engine import report, sandbox
from autograder.engine.scheduler import Engine, EngineError

KIT = Path(__file__).resolve().parents[1]
REF15 = (KIT / "solutions" / "day15" / "basic.py").read_text()
NOBODY = 65534
INSIDE = 61007                                   # a slot's worker uid, as the keeper maps it

linux_with_namespaces = pytest.mark.skipif(sys.platform != "linux" or sandbox.probe() is not None,
                                           reason="no namespaces here: the probe's message says why")


# ------------------------------------------------------------------------------------------------
# The probe names the cause and the remedy
# ------------------------------------------------------------------------------------------------

def _refuse(err: int, what: str = "unshare"):
    def refused(inside_id):
        raise sandbox.SandboxError(err, f"{what}: {os.strerror(err)}")
    return refused


CASES = {   # name -> (rootless, errno, failing step, sysctls, words the message must hold)
    "userns_clone sysctl": (True, errno.EPERM, "unshare", {"kernel.unprivileged_userns_clone": "0"},
                            ["kernel.unprivileged_userns_clone=0", "sysctl -w kernel.unprivileged_userns_clone=1"]),
    "max_user_namespaces=0": (True, errno.ENOSPC, "unshare", {"user.max_user_namespaces": "0"},
                              ["user.max_user_namespaces=0", "sysctl -w user.max_user_namespaces="]),
    "Ubuntu AppArmor": (True, errno.EPERM, "write /proc/self/uid_map",
                        {"kernel.apparmor_restrict_unprivileged_userns": "1", "user.max_user_namespaces": "63000"},
                        ["AppArmor", "kernel.apparmor_restrict_unprivileged_userns=0", "userns,"]),
    "namespace limit reached": (True, errno.ENOSPC, "unshare", {"user.max_user_namespaces": "5"},
                                ["limit on user namespaces is reached", "user.max_user_namespaces=5"]),
    "container seccomp": (True, errno.EPERM, "unshare", {},
                          ["CAP_SYS_ADMIN", "seccomp", "--security-opt seccomp=unconfined"]),
    "masked /proc": (True, errno.EPERM, "mount /proc", {}, ["/proc", "systempaths=unconfined"]),
    "root without CAP_SYS_ADMIN": (False, errno.EPERM, "unshare", {},
                                   ["runs as root", "CAP_SYS_ADMIN", "--cap-add SYS_ADMIN"]),
}


@pytest.mark.skipif(sys.platform != "linux", reason="the trial forks a Linux child")
@pytest.mark.parametrize("case", list(CASES))
def test_probe_names_the_cause_and_the_remedy(case, monkeypatch):
    rootless, err, step, sysctls, words = CASES[case]
    monkeypatch.setattr(sandbox, "rootless", lambda: rootless)
    monkeypatch.setattr(sandbox, "sysctl", lambda name: sysctls.get(name))
    if step == "unshare" or step.startswith("write"):
        monkeypatch.setattr(sandbox, "enter_namespaces", _refuse(err, step))
    else:   # the namespaces work, mounting fails (in the worker's half of the trial)
        monkeypatch.setattr(sandbox, "enter_namespaces", lambda inside_id: None)
        monkeypatch.setattr(sandbox, "hide_paths", lambda *a: (_ for _ in ()).throw(
            sandbox.SandboxError(err, f"{step}: {os.strerror(err)}")))
    why = sandbox.probe()
    assert why is not None
    for word in words:
        assert word in why, f"{case}: {word!r} missing from the probe's message: {why}"
    assert step in why, f"the failing step is named: {why}"


def test_probe_says_a_vm_is_needed_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    why = sandbox.probe()
    assert why is not None and "darwin" in why and "Linux VM or container" in why
    assert "run anywhere" in why


@pytest.mark.skipif(sys.platform != "linux", reason="the trial forks a Linux child")
def test_the_command_stops_with_the_cause_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "rootless", lambda: True)
    monkeypatch.setattr(sandbox, "sysctl", lambda name: {"kernel.unprivileged_userns_clone": "0"}.get(name))
    monkeypatch.setattr(sandbox, "enter_namespaces", _refuse(errno.EPERM))
    with pytest.raises(EngineError) as caught:
        Engine(1)
    assert "kernel.unprivileged_userns_clone=0" in str(caught.value)
    assert "make grade UNSAFE=1" in str(caught.value)
    (tmp_path / "ann" / "day15").mkdir(parents=True)
    (tmp_path / "ann" / "day15" / "basic.py").write_text(REF15)
    from autograder import cli
    rc = cli.main(["grade", str(tmp_path / "ann"), "--out", str(tmp_path / "out"), "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "cannot confine student code" in err and "kernel.unprivileged_userns_clone" in err


# ------------------------------------------------------------------------------------------------
# The rootless confinement itself, step by step as keeper and worker take them
# ------------------------------------------------------------------------------------------------

CHECKS = r'''
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
def err_of(fn):
    try:
        fn()
        return 0
    except OSError as exc:
        return exc.errno
def add_key():
    payload = b"rootless-key"
    ret = libc.syscall(ADD_KEY, b"user", b"rnnkit-test", payload, ctypes.c_size_t(len(payload)), ctypes.c_long(-4))
    return ctypes.get_errno() if ret < 0 else 0
def mount_tmpfs():
    ret = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None)
    return ctypes.get_errno() if ret else 0
def unmount_cover():
    ret = libc.umount2(b"/tmp", ctypes.c_int(2))   # (MNT_DETACH; /tmp's cover hides the host's /tmp)
    return ctypes.get_errno() if ret else 0
def write(path):
    with open(path, "w") as f:
        f.write("x")
REPORT = {
    "pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(),
    "cap_eff": status("CapEff"), "cap_prm": status("CapPrm"), "cap_bnd": status("CapBnd"),
    "no_new_privs": status("NoNewPrivs"), "seccomp": status("Seccomp"),
    "secret_listing": os.listdir(SECRET) if os.path.isdir(SECRET) else "absent",   # (absent: under /tmp's cover)
    "secret_file": err_of(lambda: open(SECRET + "/answer.txt").read()),
    "write_root": err_of(lambda: write("/rnnkit-rootless-test")),
    "write_etc": err_of(lambda: write("/etc/rnnkit-test")),
    "write_tmp": err_of(lambda: write("/tmp/ok")), "add_key": add_key(),
    "environ": err_of(lambda: open("/proc/self/environ", "rb").read()),
    "mount": mount_tmpfs(), "umount_cover": unmount_cover(),
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
}
'''


def _confine_and_check(w: int, secret: str) -> None:
    """Child of the test: the keeper's step, then a worker that runs CHECKS; never returns."""
    try:
        if os.geteuid() == 0:              # prove the rootless path: give up root first
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)   # PR_SET_DUMPABLE, as a process started as that user is
        sandbox.enter_namespaces(INSIDE)
        pid = os.fork()
        if pid == 0:
            sandbox.hide_paths([secret], {"/tmp": 1 << 20}, [])
            sandbox.drop_privileges(INSIDE)
            scope = {"SECRET": secret, "ADD_KEY": {"x86_64": 248, "aarch64": 217}[os.uname().machine]}
            exec(CHECKS, scope)
            os.write(w, json.dumps(scope["REPORT"]).encode())
            os._exit(0)
        os.waitpid(pid, 0)
    except BaseException as exc:  # noqa: BLE001 - the test shows it
        os.write(w, json.dumps({"error": repr(exc)}).encode())
    os._exit(0)


@linux_with_namespaces
def test_a_rootless_worker_is_confined_like_a_root_one():
    secret = tempfile.mkdtemp(prefix="rootless-secret-", dir=KIT / "build" if (KIT / "build").is_dir() else KIT)
    try:
        os.chmod(secret, 0o755)
        Path(secret, "answer.txt").write_text("42")
        os.chmod(Path(secret, "answer.txt"), 0o644)            # readable by anyone: hiding it is the sandbox's job
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _confine_and_check(w, secret)
        os.close(w)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
    finally:
        Path(secret, "answer.txt").unlink()
        os.rmdir(secret)
    got = json.loads(data)
    assert "error" not in got, got
    assert (got["pid"], got["processes"]) == (1, [1]), "PID 1 of its own namespace, alone in it"
    assert (got["uid"], got["gid"]) == (INSIDE, INSIDE), "the slot's uid inside, as under root"
    assert int(got["cap_eff"], 16) == int(got["cap_prm"], 16) == int(got["cap_bnd"], 16) == 0, got
    assert got["no_new_privs"] == "1" and got["seccomp"] == "2", got
    assert got["secret_listing"] in ([], "absent") and got["secret_file"] == errno.ENOENT
    assert got["environ"] == errno.EACCES, "its own /proc/self/environ (the grader's environment) is not readable"
    assert got["write_root"] == got["write_etc"] == errno.EROFS, "everything outside its tmpfs is read-only"
    assert got["write_tmp"] == 0
    assert got["add_key"] == errno.EPERM, "the keyring syscalls are denied"
    assert got["mount"] == errno.EPERM and got["umount_cover"] == errno.EPERM, "no capability left to undo the plan"


def test_the_keyring_filter_covers_the_machine_it_runs_on():
    """The filter's arch table and x86_64's numbers (checked against the kernel's tables by hand)."""
    assert sandbox.KEYRING_SYSCALLS[0xC000003E] == (248, 249, 250)
    assert sandbox.KEYRING_SYSCALLS[0xC00000B7] == (217, 218, 219)
    prog = sandbox.keyring_filter()
    assert len(prog) < 64 and all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in prog)
    assert os.uname().machine in ("x86_64", "aarch64") or sys.platform != "linux"


# ------------------------------------------------------------------------------------------------
# Through the command: keys do not pass from one student to the next; UNSAFE says so everywhere
# ------------------------------------------------------------------------------------------------

def _keyring_student(action: str) -> str:
    """The reference basic.py whose rnn_cell reports what the keyring let it do (in its message)."""
    body = f'''
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ADD_KEY, KEYCTL = {{"x86_64": (248, 250), "aarch64": (217, 219)}}[os.uname().machine]
    said = []
    for ring in (-4, -3):   # the uid's user keyring, the session keyring
        if {action!r} == "add":
            payload = bytes.fromhex("6b722d7061796c6f61642d37373331")
            ret = libc.syscall(ADD_KEY, b"user", b"rnnkit-keyring-test", payload, ctypes.c_size_t(len(payload)),
                               ctypes.c_long(ring))
            said.append(f"add {{ring}}: {{ret}} errno {{ctypes.get_errno() if ret < 0 else 0}}")
        else:
            key = libc.syscall(KEYCTL, ctypes.c_long(10), ctypes.c_long(ring), b"user", b"rnnkit-keyring-test",
                               ctypes.c_long(0))
            buf = ctypes.create_string_buffer(64)
            got = libc.syscall(KEYCTL, ctypes.c_long(11), ctypes.c_long(key), buf, ctypes.c_long(64)) if key > 0 else -1
            said.append(f"read {{ring}}: {{buf.raw[:max(got, 0)]!r}} errno {{ctypes.get_errno()}}")
    raise RuntimeError("keyring report: " + "; ".join(said))
'''
    src = REF15.replace("def rnn_cell(", "def _ref_rnn_cell(", 1).replace("h = rnn_cell(", "h = _ref_rnn_cell(")
    import textwrap
    return src + "\n\ndef rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):\n" + \
        textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def _grade(target: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(target), "--out", str(out), "--jobs", "1",
                           "--device", "cpu", "--quiet", *extra], cwd=KIT, capture_output=True, text=True,
                          timeout=600)


def _feedback(out: Path, student: str) -> str:
    return (out / student / report.FEEDBACK).read_text()


@pytest.mark.slow
@linux_with_namespaces
def test_a_key_left_by_one_student_is_not_read_by_the_next(tmp_path):
    cls = tmp_path / "class"
    for name, action in (("a_writer", "add"), ("b_reader", "read")):   # graded in this order, in one slot
        (cls / name / "day15").mkdir(parents=True)
        (cls / name / "day15" / "basic.py").write_text(_keyring_student(action))
    run = _grade(cls, tmp_path / "out")
    assert run.returncode in (0, 1), run.stderr
    writer, reader = _feedback(tmp_path / "out", "a_writer"), _feedback(tmp_path / "out", "b_reader")
    assert "keyring report: add -4: -1 errno 1; add -3: -1 errno 1" in writer, writer
    assert "payload" not in reader and "keyring report: read -4: b'' errno 1; read -3: b'' errno 1" in reader, reader


@pytest.mark.slow
@linux_with_namespaces
def test_unsafe_grading_says_so_in_the_terminal_the_summary_and_each_result(tmp_path):
    cls = tmp_path / "class"
    for name in ("ann", "bob"):
        (cls / name / "day15").mkdir(parents=True)
        (cls / name / "day15" / "basic.py").write_text(REF15)
    run = _grade(cls, tmp_path / "out", "--unsafe-no-sandbox")
    assert run.returncode == 0, run.stderr
    assert report.UNSAFE_WARNING in run.stderr
    assert report.UNSAFE_WARNING in (tmp_path / "out" / "summary.txt").read_text()
    for name in ("ann", "bob"):
        data = json.loads((tmp_path / "out" / name / report.RESULTS).read_text())
        assert data["warning"] == report.UNSAFE_WARNING and report.UNSAFE_WARNING in data["output"]
        assert report.UNSAFE_WARNING in _feedback(tmp_path / "out", name)
    # The same class graded again with the sandbox is regraded (not "unchanged"), and the warning is gone.
    run = _grade(cls, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert report.UNSAFE_WARNING not in run.stderr
    assert report.UNSAFE_WARNING not in (tmp_path / "out" / "summary.txt").read_text()
    assert "warning" not in json.loads((tmp_path / "out" / "ann" / report.RESULTS).read_text())
