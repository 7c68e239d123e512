"""The grading engine: hidden suites in trusted grader processes, student code in sandboxed workers.

Import this before ``torch``: the processes that fork (the engine's main process
and the zygote) must have idle, single-thread pools, so the thread counts are
pinned here.  See ``scheduler.Engine`` for the process layout.
"""
import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
# torch.cuda.is_available() in a process that must stay CUDA-free (it forks workers) uses NVML.
os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")

from autograder.engine.scheduler import Engine, EngineError, Options, Summary, grade  # noqa: E402

__all__ = ["Engine", "EngineError", "Options", "Summary", "grade"]
