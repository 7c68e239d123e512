"""Kernel-level confinement of a worker process (Linux), through ctypes.

Python 3.11 has no ``os.unshare``; these are thin wrappers over libc.  Two modes, chosen by
the grader's uid, with the same steps in the same order:

* **root**: the keeper enters new mount, PID, network, IPC and UTS namespaces; the worker
  gives up root for a uid of its own (61000 + grader slot, no groups).
* **rootless** (any other uid, where the kernel lets unprivileged users create user
  namespaces): the keeper first enters a new *user* namespace in the same ``unshare`` call,
  with one id mapped: the slot's uid inside (61000 + slot, as under root) is the grader's
  uid outside, likewise for the gid.  The keeper holds every capability *inside* that
  namespace only, which is enough to build the mount plan; the worker then drops them all.

Steps (:func:`enter_namespaces` in the keeper, so that the worker it forks is PID 1 of its
namespace and its death kills everything it started; the rest in the worker):

1. :func:`enter_namespaces`;
2. :func:`hide_paths`: empty read-only tmpfs over the kit, the class, the grades and the
   homes, with the Python installation bound back read-only; a private writable tmpfs on
   /tmp; a fresh /proc that shows only the worker's processes; every other mount read-only
   (also /sys, so a rootless worker cannot write to the grader's own cgroup), checked after;
3. :func:`limit` (rlimits) and :func:`drop_privileges`: the uid (root mode), every
   capability (also the bounding set), not dumpable (its /proc files are root's),
   ``no_new_privs`` (no setuid binary regains anything) and a seccomp filter
   (:func:`deny_keyrings`).

The keyring syscalls are the one kernel surface a worker reaches that no namespace separates:
keys live per uid (all students of a slot share it under root; every worker shares the
grader's kernel uid rootless) and a session keyring is inherited from the grader, so one
student could leave data for a later one, or read the TA's keys.  Nothing else is denied:
files, processes, IPC, network and host names are namespaced, and what needs a capability
(bpf, perf beyond one's own processes, module loading, mounts) is gone with the capabilities.

Bubblewrap is not a fallback for hosts that forbid unprivileged user namespaces (Ubuntu's
``kernel.apparmor_restrict_unprivileged_userns``).  It confines a program it *executes*: a
worker would be a new Python process importing torch (3-5 s measured on this kit's 2-core
machines, against a few milliseconds for a fork of the zygote), per student and device.
Running the whole zygote under one bwrap instead keeps the fork but loses what separates
students from one another (one PID namespace, one /tmp, one network namespace for all of
them), since inside bwrap's namespaces the zygote cannot create new ones on such a host.
The remedy on those hosts is one sysctl or one AppArmor rule (see :func:`probe`).
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import resource
import struct
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
LOCKABLE = MS_NOSUID | MS_NODEV | MS_NOEXEC     # flags a user namespace may not clear on a remount
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_SECCOMP = 24, 47, 4, 22
PR_SET_DUMPABLE = 4
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


class SandboxError(OSError):
    pass


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise SandboxError(e, f"{what}: {os.strerror(e)}")


def rootless() -> bool:
    """Whether the grader confines workers in a user namespace of its own (it is not root)."""
    return os.geteuid() != 0


def unshare(flags: int = NAMESPACES) -> None:
    _check(_libc.unshare(flags), "unshare")


def _write_proc(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise SandboxError(exc.errno, f"open {path}: {exc.strerror}") from None
    try:
        os.write(fd, text.encode())      # one write: the kernel takes a map in one piece
    except OSError as exc:
        raise SandboxError(exc.errno, f"write {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def enter_namespaces(inside_id: int) -> None:
    """The keeper's step: new namespaces; rootless, a user namespace first, in which ``inside_id``
    is the grader's uid and gid (the only ids that exist there; setgroups is denied, as the kernel
    requires for an unprivileged gid map, so the grader's supplementary groups stay)."""
    if not rootless():
        unshare(NAMESPACES)
        return
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | NAMESPACES)
    _write_proc("/proc/self/uid_map", f"{inside_id} {uid} 1\n")
    _write_proc("/proc/self/setgroups", "deny")
    _write_proc("/proc/self/gid_map", f"{inside_id} {gid} 1\n")


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


# -- probe: can this host confine a worker, and if not, why ----------------------------------------

PROBE_ID = 61999

SYSCTLS = {
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns": "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
}
UNSAFE = "for code you trust only: make grade UNSAFE=1 (python -m autograder grade --unsafe-no-sandbox)"


def sysctl(name: str) -> str | None:
    """A sysctl's value, or None where this kernel has no such setting."""
    try:
        with open(SYSCTLS[name]) as f:
            return f.read().strip()
    except OSError:
        return None


def _report(w: int, exc: BaseException | None) -> None:
    os.write(w, b"ok" if exc is None else f"{getattr(exc, 'errno', 0) or 0} {exc}".encode()[:500])


def _trial(w: int) -> None:
    """Every step of a worker's confinement, on nothing that matters (in a throw-away child that
    plays the keeper; its child plays the worker); the outcome goes to ``w``."""
    try:
        enter_namespaces(PROBE_ID)
        pid = os.fork()
    except BaseException as exc:  # noqa: BLE001 - reported to the grader
        _report(w, exc)
        return
    if pid == 0:
        try:
            hide_paths([], {"/tmp": 1 << 20}, [])
            drop_privileges(PROBE_ID)
            outcome = None
        except BaseException as exc:  # noqa: BLE001
            outcome = exc
        _report(w, outcome)
        os._exit(0)
    os.waitpid(pid, 0)


def probe() -> str | None:
    """None when workers can be confined here, else the cause and its remedy (one paragraph)."""
    if sys.platform != "linux":
        return (f"grading confines student code with Linux namespaces, and this is {sys.platform}. Remedy: grade "
                "in a Linux VM or container (the student tools, make check and make submit, run anywhere)")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            _trial(w)
        finally:
            os._exit(0)
    os.close(w)
    msg = os.read(r, 600).decode(errors="replace")
    os.close(r)
    os.waitpid(pid, 0)
    if msg == "ok":
        return None
    code, _, what = msg.partition(" ")
    return explain(int(code) if code.isdigit() else 0, what or "the trial child died")


def explain(err: int, what: str) -> str:
    """Why namespaces failed (``err``/``what`` from the trial), read from the settings that decide it."""
    seen = f"({what})"
    if not rootless():
        return (f"the grader runs as root but cannot create namespaces {seen}: a container without "
                "CAP_SYS_ADMIN, or whose seccomp profile denies unshare and mount (Docker's default). Remedy: "
                "grade as an ordinary user on the host, or run the container with --cap-add SYS_ADMIN "
                "--security-opt seccomp=unconfined (or --privileged)")
    if sysctl("kernel.unprivileged_userns_clone") == "0":
        return (f"unprivileged user namespaces are disabled by the sysctl kernel.unprivileged_userns_clone=0 {seen}. "
                "Remedy: sudo sysctl -w kernel.unprivileged_userns_clone=1 (to keep it, a line "
                "kernel.unprivileged_userns_clone=1 in /etc/sysctl.d/90-userns.conf), or grade as root")
    if sysctl("user.max_user_namespaces") == "0":
        return (f"user namespaces are disabled by the sysctl user.max_user_namespaces=0 {seen}. Remedy: "
                "sudo sysctl -w user.max_user_namespaces=15000 (to keep it, in /etc/sysctl.d/90-userns.conf), "
                "or grade as root")
    if sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return ("Ubuntu's AppArmor restricts unprivileged user namespaces "
                f"(kernel.apparmor_restrict_unprivileged_userns=1) {seen}. Remedy: sudo sysctl -w "
                "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows `userns,` "
                f"for {os.path.realpath(sys.executable)}, or grade as root")
    if err == errno.ENOSPC:
        limit = sysctl("user.max_user_namespaces")
        return (f"the limit on user namespaces is reached (user.max_user_namespaces={limit}) {seen}. "
                "Remedy: raise it with sudo sysctl -w user.max_user_namespaces=15000")
    if "proc" in what and err == errno.EPERM:
        return (f"a fresh /proc cannot be mounted {seen}: the container hides parts of /proc (Docker's masked "
                "paths). Remedy: run the container with --security-opt systempaths=unconfined, or grade as root")
    if err in (errno.EPERM, errno.EACCES, errno.ENOSYS):
        return (f"creating a user namespace is refused {seen}: a container without CAP_SYS_ADMIN or whose seccomp "
                "profile denies unshare (Docker's default), or a security module. Remedy: run the container with "
                "--security-opt seccomp=unconfined (or grade on the host or in a VM), or grade as root")
    return f"Linux namespaces are not available {seen}. Remedy: grade as root, or on a host with user namespaces"


def _mount_options() -> dict[str, tuple[str, int]]:
    """mount point -> (fstype, nosuid/nodev/noexec flags) from /proc/self/mountinfo."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])   # (no codec to load)
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
    kept_flags = {k: os.statvfs(k).f_flag & LOCKABLE for k in keep}   # (ST_* flags are the MS_* values)
    for root in roots:
        size = covers[root]
        data = f"size={size},mode=1777" if size else "size=64k,mode=755"
        mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, data)
    for k, fd in handles.items():
        os.makedirs(k, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)
        mount(None, k, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept_flags[k])
        os.close(fd)
    for root in roots:
        if not covers[root]:
            mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    # A /proc of the new PID namespace: the worker sees its own processes only.
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Every other file system read-only (/sys too: rootless, the grader's own cgroup is writable by its
    # uid).  A remount in a user namespace must keep the flags it is locked with (nosuid, nodev, noexec).
    writable_roots = [r for r in roots if covers[r]]
    for point, (fstype, flags) in _mount_options().items():
        if _exempt(point, fstype, writable_roots):
            continue
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except SandboxError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM, errno.EACCES, errno.ENOENT):  # (under a cover)
                raise
    # Checked, not assumed: what the worker reaches at each mount point is read-only.
    for point, (fstype, _) in _mount_options().items():
        if _exempt(point, fstype, writable_roots):
            continue
        try:
            st = os.statvfs(point)
        except OSError:
            continue                                   # under a cover: not reachable
        if not st.f_flag & MS_RDONLY:
            raise SandboxError(errno.EPERM, f"{point} ({fstype}) stays writable for the worker")


def _exempt(point: str, fstype: str, writable_roots: list[str]) -> bool:
    """Mounts the read-only pass leaves alone: the worker's own /proc, the device nodes, its tmpfs."""
    return fstype in ("proc", "devtmpfs", "devpts", "mqueue") or _under(point, "/proc") \
        or _under(point, "/dev") or any(_under(point, w) for w in writable_roots)


def limit(*, cpu_s: int, address_space: int | None, nproc: int, fsize: int, nofile: int) -> None:
    """Resource limits; ``address_space`` None where CUDA runs (RLIMIT_AS breaks its start-up)."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


CAP_LAST_CAP = "/proc/sys/kernel/cap_last_cap"


def drop_privileges(uid: int) -> None:
    """The worker's last step before student code: no uid 0 (root mode), no capability in any
    namespace, no way back through execve, no keyrings.  ``uid`` is the worker's uid, also inside a
    rootless user namespace, where it is the only id and the worker already has it."""
    try:
        with open(CAP_LAST_CAP) as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):          # the bounding set: nothing regained by an executed file
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(CAPBSET_DROP)")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)   # (EINVAL before Linux 4.3)
    if not rootless():
        os.setgroups([])                 # (denied in a rootless user namespace: the groups stay)
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _drop_capabilities()                 # rootless, the uid did not change, so the kernel kept them
    # Not dumpable: its /proc files belong to root, so it cannot read its own /proc/self/environ (the
    # grader's environment at fork time) or mem; under root the uid change did this already.
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # The credential change cleared the parent-death signal: set it again (the keeper dies -> so do we).
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PDEATHSIG)")
    deny_keyrings()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)                  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


# -- seccomp: the keyring syscalls fail with EPERM ---------------------------------------------------

# audit arch -> (add_key, request_key, keyctl): x86_64 and aarch64, and their 32-bit modes (int 0x80 on
# x86_64, AArch32 on aarch64), which a process of the other mode can reach.
KEYRING_SYSCALLS = {
    0xC000003E: (248, 249, 250),     # AUDIT_ARCH_X86_64
    0x40000003: (286, 287, 288),     # AUDIT_ARCH_I386
    0xC00000B7: (217, 218, 219),     # AUDIT_ARCH_AARCH64
    0x40000028: (309, 310, 311),     # AUDIT_ARCH_ARM
}
X32_SYSCALL_BIT = 0x40000000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000


def keyring_filter() -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jt, jf, k).  An unknown architecture is denied every syscall
    (a filter cannot know its numbers); x86_64's x32 numbers are denied (no Python uses them)."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    arches = list(KEYRING_SYSCALLS.items())
    prog = [(_LD_W_ABS, 0, 0, 4)]                                  # seccomp_data.arch
    blocks, offset = [], 0
    for arch, numbers in arches:
        block = [(_LD_W_ABS, 0, 0, 0)]                             # seccomp_data.nr
        if arch == 0xC000003E:
            block.append(("deny-ge", X32_SYSCALL_BIT))
        block += [("deny-eq", n) for n in numbers]
        block.append((_RET_K, 0, 0, SECCOMP_RET_ALLOW))
        blocks.append((offset, block))
        offset += len(block)
    for i, (arch, _) in enumerate(arches):      # jump over the remaining compares and the "unknown" return
        prog.append((_JEQ_K, (len(arches) - 1 - i) + 1 + blocks[i][0], 0, arch))
    prog.append((_RET_K, 0, 0, deny))
    total = offset
    for start, block in blocks:
        for j, ins in enumerate(block):
            here = start + j
            to_deny = total - here - 1                             # the shared deny after the last block
            if ins[0] == "deny-eq":
                prog.append((_JEQ_K, to_deny, 0, ins[1]))
            elif ins[0] == "deny-ge":
                prog.append((_JGE_K, to_deny, 0, ins[1]))
            else:
                prog.append(ins)
    prog.append((_RET_K, 0, 0, deny))
    return prog


def deny_keyrings() -> None:
    """Install :func:`keyring_filter` (needs no_new_privs first; inherited by every child, kept on exec)."""
    prog = keyring_filter()
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HP", len(prog), ctypes.addressof(buf))   # struct sock_fprog
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0), "prctl(SECCOMP)")


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
