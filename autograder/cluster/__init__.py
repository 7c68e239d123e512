"""Grading on many machines with Dask distributed (``make grade CLUSTER=local:4`` or ``CLUSTER=tcp://host:8786``).

Process layout::

    TA's process (the CLI): discovers the class, resume keys, reads each student's files, writes OUT
     └─ Dask client ──► scheduler ──► Dask worker × N (one task = one whole student)
                                        └─ grading host (python -m autograder.cluster.host, one per worker)
                                            ├─ zygote ── keeper ── sandboxed worker (student code runs here only)
                                            └─ the hidden suites, as a grader of the one-machine engine

Why a host process beside each Dask worker instead of an engine inside it: a Dask worker runs
several threads (event loop, executor, profiler), and the zygote must be forked from a
single-threaded process that holds nothing secret (``autograder/engine/seal.py``).  The host is a
fresh interpreter that starts its engine before it reads anything; the Dask worker only carries
JSON lines between the scheduler and it (``worker.py``, no torch).  What travels through Dask is
one student's own code (read by the TA's process, as plain JSON text) and plain results back; the
TA's process writes every file, atomically, so resume, determinism and the progress bar are the
one-machine ones (``ta.py``).

Dask is used, not a home-made scheduler: it reschedules the task of a worker that dies (a ``kill -9``
mid-student: that student is graded again elsewhere and recorded once) and ``dask-jobqueue``
starts workers on Slurm/PBS clusters.
"""
