"""The zygote: a fork server for workers.

It is forked from the engine's main process right after ``import torch`` and
before anything imports a hidden test or a reference solution, so a worker
forked from it starts in milliseconds with torch ready and has nothing secret
in its memory.  It never touches CUDA (a process that has cannot fork CUDA
workers) and runs one thread.

Each grader process owns one SEQPACKET socket to it.  A request is a JSON spec
plus three file descriptors (the worker's channel, its output pipe, a status
pipe); the zygote forks a *keeper* (``_keeper``) and answers with its pid.  The
keeper enters new namespaces (rootless: a user namespace first, ``sandbox.enter_namespaces``)
and forks the worker, which is then PID 1 of its
PID namespace: when the worker dies the kernel kills everything it started.
The keeper reports the worker's pid and, later, its exit status on the status
pipe, then exits.  Keeper and worker die with their parent (PDEATHSIG), so a
``kill -9`` of the engine takes every worker down with it.
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket

from autograder.engine import sandbox


def start(slots: int) -> tuple[int, list[socket.socket]]:
    """Fork the zygote; returns its pid and one socket per grader slot."""
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(slots)]
    pid = os.fork()
    if pid == 0:
        try:
            for mine, _ in pairs:
                mine.close()
            _serve([theirs for _, theirs in pairs])
        finally:
            os._exit(0)
    for _, theirs in pairs:
        theirs.close()
    return pid, [mine for mine, _ in pairs]


def _serve(socks: list[socket.socket]) -> None:
    sandbox.die_with_parent()
    # Every object alive now (torch and the engine: hundreds of MB, shared copy-on-write with each
    # worker) leaves the garbage collector's care: a collection in a worker would otherwise walk them
    # all and write to each one's header, copying page after page of this process's memory into the
    # worker (issue 16).  They live as long as the zygote anyway; garbage made later is collected as before.
    gc.freeze()
    sandbox.adopt_orphans()
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the engine's to handle
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)    # keepers (and orphans) are reaped by the kernel
    live = list(socks)
    while live:
        ready, _, _ = select.select(live, [], [])
        for sock in ready:
            try:
                msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
            except OSError:
                msg, fds = b"", []
            if not msg:
                live.remove(sock)
                sock.close()
                continue
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                sock.send(b'{"error": "expected three descriptors"}')
                continue
            spec = json.loads(msg)
            pid = os.fork()
            if pid == 0:
                _keeper(spec, fds, socks)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())


def _keeper(spec: dict, fds: list[int], socks: list[socket.socket]) -> None:
    chan, out_w, status_w = fds
    try:
        os.setsid()                      # its own process group: the grader can kill the group
        sandbox.die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for s in socks:
            s.close()
        if spec["sandbox"]:
            sandbox.enter_namespaces(spec["uid"])     # (rootless: a user namespace first; single-threaded here)
        pid = os.fork()
    except BaseException as exc:  # noqa: BLE001
        os.write(status_w, f"E{exc}\n".encode()[:900])
        os._exit(1)
    if pid == 0:
        os.close(status_w)
        from autograder.engine import worker   # imported at engine start: no disk access here
        worker.start(chan, out_w, spec)
        os._exit(0)
    os.close(chan)
    os.close(out_w)
    os.write(status_w, f"P{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    os.write(status_w, f"S{status}\n".encode())
    os._exit(0)


class Client:
    """A grader's handle on the zygote (one per grader process)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def spawn(self, spec: dict) -> tuple[int, socket.socket, int, int]:
        """(keeper pid, channel socket, output pipe read end, status pipe read end)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            socket.send_fds(self.sock, [json.dumps(spec).encode()], [theirs.fileno(), out_w, status_w])
            reply = json.loads(self.sock.recv(1 << 16) or b'{"error": "the zygote is gone"}')
        finally:
            theirs.close()
            os.close(out_w)
            os.close(status_w)
        if "pid" not in reply:
            for fd in (out_r, status_r):
                os.close(fd)
            mine.close()
            raise RuntimeError(f"could not start a worker: {reply.get('error')}")
        return reply["pid"], mine, out_r, status_r
