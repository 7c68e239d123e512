"""Kernel-level confinement of a worker process (Linux, root), through ctypes.

Python 3.11 has no ``os.unshare``; these are thin wrappers over libc.  The
worker's set-up (``worker.serve``) calls them in this order, each step needing
the privileges the next one drops:

1. new mount, PID, network, IPC and UTS namespaces (:func:`unshare`, done by the
   worker's parent so that the worker itself is PID 1 of its namespace: when it
   dies the kernel kills everything it started);
2. :func:`hide_paths`: empty read-only tmpfs over the kit, the class, the grades
   and the homes, with the Python installation bound back read-only; a private
   writable tmpfs on /tmp; a fresh /proc that shows only the worker's processes;
   every other mount read-only;
3. :func:`limit` (rlimits) and :func:`drop_privileges` (an unprivileged uid,
   no supplementary groups, no_new_privs so no setuid binary can regain root).
"""
from __future__ import annotations

import ctypes
import errno
import os
import resource

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SandboxError(OSError):
    pass


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise SandboxError(e, f"{what}: {os.strerror(e)}")


def unshare(flags: int = NAMESPACES) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (a killed grader leaves nothing behind)."""
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PDEATHSIG)")
    if os.getppid() != parent:   # the parent died before the prctl
        os._exit(1)


def adopt_orphans() -> None:
    """Become the parent of orphaned descendants (a worker whose keeper was killed first), so
    they are reaped here at once instead of waiting as zombies for the system's init."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(CHILD_SUBREAPER)")


def probe() -> str | None:
    """None when namespaces work here, else why not (checked in a throw-away child)."""
    if os.geteuid() != 0:
        return "the grader is not running as root (namespaces and a separate uid need root)"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            unshare(NAMESPACES)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            os.write(w, b"ok")
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(w, str(exc).encode()[:500])
        os._exit(0)
    os.close(w)
    msg = os.read(r, 600).decode(errors="replace")
    os.close(r)
    os.waitpid(pid, 0)
    return None if msg == "ok" else f"Linux namespaces are not available: {msg}"


def _mount_options() -> dict[str, tuple[str, int]]:
    """mount point -> (fstype, nosuid/nodev/noexec flags) from /proc/self/mountinfo."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            point = fields[4].encode().decode("unicode_escape")
            opts = fields[5].split(",")
            flags = (MS_NOSUID if "nosuid" in opts else 0) | (MS_NODEV if "nodev" in opts else 0) | \
                    (MS_NOEXEC if "noexec" in opts else 0)
            out[point] = (right.split()[0], flags)
    return out


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def hide_paths(hidden: list[str], writable: dict[str, int], keep: list[str]) -> None:
    """Cover ``hidden`` with empty read-only tmpfs, ``writable`` (path -> size in bytes) with
    fresh writable ones, bind ``keep`` back read-only, remount everything else read-only."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)   # nothing we do here leaks to the host
    covers = {os.path.realpath(p): None for p in hidden if os.path.isdir(p)}
    covers.update({os.path.realpath(p): size for p, size in writable.items() if os.path.isdir(p)})
    roots = sorted(covers)
    roots = [r for r in roots if not any(_under(r, o) and r != o for o in roots)]
    keep = sorted({os.path.realpath(k) for k in keep if os.path.isdir(k)})
    keep = [k for k in keep if any(_under(k, r) for r in roots)        # only what a cover hides,
            and not any(_under(c, k) for c in covers)]                    # never a folder holding a cover
    keep = [k for k in keep if not any(_under(k, o) and k != o for o in keep)]
    # O_PATH handles taken before the covers go on: they still reach the real directories.
    handles = {k: os.open(k, os.O_PATH | os.O_DIRECTORY) for k in keep}
    for root in roots:
        size = covers[root]
        data = f"size={size},mode=1777" if size else "size=64k,mode=755"
        mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, data)
    for k, fd in handles.items():
        os.makedirs(k, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)
        mount(None, k, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    for root in roots:
        if not covers[root]:
            mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    # A /proc of the new PID namespace: the worker sees its own processes only.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Every other file system read-only: the worker can write nowhere but its own tmpfs.
    writable_roots = [r for r in roots if covers[r]]
    for point, (fstype, flags) in _mount_options().items():
        if fstype in ("proc", "sysfs", "devtmpfs", "devpts", "mqueue", "cgroup", "cgroup2") \
                or _under(point, "/proc") or _under(point, "/sys") or _under(point, "/dev") \
                or any(_under(point, w) for w in writable_roots):
            continue
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except SandboxError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES, errno.ENOENT):  # (under a cover)
                raise


def limit(*, cpu_s: int, address_space: int | None, nproc: int, fsize: int, nofile: int) -> None:
    """Resource limits; ``address_space`` None where CUDA runs (RLIMIT_AS breaks its start-up)."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def vm_size() -> int:
    """Bytes of address space this process maps now (the base RLIMIT_AS is added to)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (the CUDA worker's memory watchdog)."""
    total, todo, seen = 0, [pid], set()
    while todo and len(seen) < 4096:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * resource.getpagesize()
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total
