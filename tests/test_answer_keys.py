"""The references' answer keys (autograder/hidden/answer_keys.py): a cached reference call leaves the
arguments, the result and torch's random state exactly as the real call does, and what a hit could
not reproduce is never cached."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from autograder.engine import boundary
from autograder.hidden import answer_keys
from autograder.stateful import stateful_objects

KIT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# What "the same" means: every tensor of the arguments (value, dtype, strides, Parameter-ness,
# requires_grad, .grad), every module's training flags, every optimizer's state_dict; the result
# likewise; torch's random state.
# ---------------------------------------------------------------------------------------------

def _same_tensor(a, b) -> bool:
    if type(a) is not type(b) or a.dtype != b.dtype or a.shape != b.shape or a.stride() != b.stride():
        return False
    if a.requires_grad != b.requires_grad or a.device != b.device:
        return False
    a, b = a.detach(), b.detach()
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return torch.equal(a, b)


def same_value(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and _same_tensor(a, b)
    if type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a) is float and a != a:
        return b != b
    return a == b


def arguments_state(args, kwargs):
    _, _, table = boundary._pickle_call(args, kwargs)
    tensors = [(t, None if t.grad is None else t.grad) for t in table]
    flags, optimizers = [], []
    for obj in stateful_objects(args, kwargs):
        if isinstance(obj, nn.Module):
            flags.append([(n, m.training) for n, m in obj.named_modules()])
        else:
            optimizers.append(obj.state_dict())
    return [tensors, flags, optimizers]


# ---------------------------------------------------------------------------------------------
# Every reference call of the hidden suites, on the solutions: real call vs. cached call
# ---------------------------------------------------------------------------------------------

CHECKER = textwrap.dedent('''
    import collections, copy, json, sys
    import pytest, torch
    sys.path.insert(0, {tests!r})
    from test_answer_keys import arguments_state, same_value
    from autograder.engine import boundary
    from autograder.hidden import answer_keys

    original = answer_keys.AnswerKeys.call
    stats = collections.defaultdict(collections.Counter)
    problems = []

    def checked(self, fn, args, kwargs):
        """Each call three times from the same start: real (no cache) on a copy, through the cache on a
        second copy (a miss fills it), through the cache on the test's own arguments (a hit when cacheable)."""
        name = fn.__name__
        try:
            real_args, primed_args, spare = (twin(args, kwargs) for _ in range(3))
        except Exception:              # (a tensor with a graph among them: never cached, see below)
            before = self.hits
            result = original(self, fn, args, kwargs)
            stats[name]["uncopyable"] += 1
            if self.hits != before:
                problems.append(f"{{name}}: arguments with a graph answered from the cache")
            return result
        rng = torch.get_rng_state()
        try:
            expected, failed = fn(*real_args[0], **real_args[1]), None
        except Exception as exc:
            expected, failed = None, exc
        rng_after = torch.get_rng_state()
        for attempt in (primed_args, (args, kwargs)):
            torch.set_rng_state(rng)
            hits, size = self.hits, len(self.entries)
            try:
                got = original(self, fn, attempt[0], attempt[1])
            except Exception as exc:
                if failed is None or type(exc) is not type(failed) or str(exc) != str(failed):
                    problems.append(f"{{name}}: raised {{exc!r}}, the real call {{failed!r}}")
                if len(self.entries) != size:
                    problems.append(f"{{name}}: an exception was cached")
                got = exc
            hit = self.hits > hits
        stats[name]["hit" if hit else "real"] += 1
        if not same_value(arguments_state(args, kwargs), arguments_state(*real_args)):
            problems.append(f"{{name}}: the arguments differ from the real call's after a {{'hit' if hit else 'miss'}}")
        if not torch.equal(torch.get_rng_state(), rng_after):
            problems.append(f"{{name}}: torch's random state differs from the real call's")
        if failed is not None:
            raise got
        if not same_value(got, expected):
            problems.append(f"{{name}}: the result differs from the real call's")
        if hit and got is not None and not isinstance(got, (bool, int, float, str)):
            torch.set_rng_state(rng)
            again = original(self, fn, *spare)     # (a hit again: a fresh copy each time)
            torch.set_rng_state(rng_after)
            # (an empty tuple is one object; an empty tensor's storage has no address)
            if again is got and got != () or any(
                    type(v) is torch.Tensor and v.numel()
                    and v.untyped_storage().data_ptr() == w.untyped_storage().data_ptr()
                    for v, w in zip(flat(again), flat(got))):
                problems.append(f"{{name}}: a hit returned the same object twice")
        if _has_graph(expected) and hit:
            problems.append(f"{{name}}: a result with a graph was answered from the cache")
        return got

    def twin(args, kwargs):
        """A deep copy, .grad included (a Parameter's deepcopy drops it)."""
        copied = copy.deepcopy((args, kwargs))
        for t, c in zip(boundary._pickle_call(args, kwargs)[2], boundary._pickle_call(*copied)[2]):
            if t.grad is not None and c.grad is None:
                c.grad = t.grad.detach().clone()
        return copied

    def flat(v):
        if isinstance(v, (list, tuple)):
            return [w for x in v for w in flat(x)]
        if isinstance(v, dict):
            return [w for x in v.values() for w in flat(x)]
        return [v]

    def _has_graph(v):
        return any(isinstance(t, torch.Tensor) and (t.requires_grad or t.grad_fn is not None) for t in flat(v))

    answer_keys.AnswerKeys.call = checked
    code = pytest.main(["autograder/hidden", "--target", "solutions", "--device", "cpu", "-q",
                        "-p", "no:cacheprovider", "-x"])
    print("RESULT " + json.dumps({{"code": int(code), "stats": stats, "problems": problems}}))
''')


def test_every_reference_call_of_the_hidden_suites_replays_as_the_real_call(tmp_path):
    script = tmp_path / "check.py"
    script.write_text(CHECKER.format(tests=str(KIT / "tests")), encoding="utf-8")
    env = {**os.environ, "RNNKIT_REFERENCE_CACHE": "1"}
    run = subprocess.run([sys.executable, str(script)], cwd=KIT, capture_output=True, text=True, timeout=900,
                         env=env)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    found = json.loads(lines[-1][len("RESULT "):])
    assert found["code"] == 0, run.stdout[-3000:]          # the solutions still earn every point
    assert not found["problems"], found["problems"][:20]
    stats = found["stats"]
    # The expensive ones (bench/floor.py) must really come from the cache, in-place trainers included.
    # (final_states is not among them: the hidden tests call it on modules whose parameters require grad,
    # so its result carries a graph and is computed for real every time.)
    print(json.dumps(stats, sort_keys=True))
    for name in ("tbptt_train", "hidden_grad_norms", "sample", "accumulated_grads", "train_step", "bptt",
                 "rnn_forward", "clip_grad_norm"):
        assert stats.get(name, {}).get("hit", 0) > 0, (name, stats.get(name))


# ---------------------------------------------------------------------------------------------
# Hand-made references: in place changes replayed, the non-cacheable never cached
# ---------------------------------------------------------------------------------------------

def _fresh(max_bytes: int = answer_keys.MAX_BYTES) -> answer_keys.AnswerKeys:
    return answer_keys.AnswerKeys(max_bytes, adaptive=False)    # (counts below do not depend on timings)


def _trainer(model, x, opt, log):
    """A reference that changes everything it may: values, .grad, requires_grad, mode, optimizer state."""
    model.eval()
    opt.zero_grad()
    loss = model(x + 0.01 * torch.randn_like(x)).pow(2).sum()    # (draws: the random state moves)
    loss.backward()
    opt.step()
    x.mul_(2)
    log.requires_grad_(True)
    return {"loss": loss.item(), "out": model(x).detach(), "pair": (torch.rand(2), 3, "s", None, True)}


def _setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1), nn.Linear(4, 2)).double()
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)          # stale gradients, cleared by the reference
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    return model, torch.randn(5, 3, dtype=torch.float64), opt, torch.zeros(2)


def test_an_in_place_trainer_replays_exactly_and_hands_out_fresh_results():
    keys = _fresh()
    wrapped = keys.wrap(_trainer)
    real_args = _setup()
    torch.manual_seed(5)
    expected = _trainer(*real_args)
    rng = torch.get_rng_state()
    for round_ in range(3):
        args = _setup()
        torch.manual_seed(5)
        got = wrapped(*args)
        assert keys.hits == round_ and keys.misses == 1
        assert same_value(got, expected)
        assert same_value(arguments_state(args, {}), arguments_state(real_args, {}))
        assert torch.equal(torch.get_rng_state(), rng)
        got["out"].add_(100.0)                    # the test's own copy: the next hit is unaffected
        got["pair"][0].zero_()
    # The same optimizer trained on: its replayed state carries on as the real one does.
    torch.manual_seed(6)
    again = wrapped(*args)
    torch.manual_seed(6)
    assert same_value(again, _trainer(*real_args))
    assert same_value(arguments_state(args, {}), arguments_state(real_args, {}))


def _returns_argument(x):
    return x


def _returns_view(x):
    return x[1:]


def _returns_graph(x):
    return x * 2


def _returns_module(model):
    return model


def _returns_object(x):
    return torch.Size([1, 2]), x.sum().item(), object()


def _raises(x):
    raise ValueError("no")


def _swaps_parameter(model):
    model.weight = nn.Parameter(model.weight.detach() + 1)
    return 1.0


def _sets_attribute(model):
    model.seen = True
    return 1.0


def _appends(log):
    log.append(1)
    return 1.0


def _counts(x):
    return sum(1 for _ in x)


NOT_CACHEABLE = [
    (_returns_argument, lambda: (torch.randn(3),)),
    (_returns_view, lambda: (torch.randn(3),)),
    (_returns_graph, lambda: (torch.randn(3, requires_grad=True),)),
    (_returns_module, lambda: (nn.Linear(2, 2),)),
    (_returns_object, lambda: (torch.randn(3),)),
    (_swaps_parameter, lambda: (nn.Linear(2, 2),)),
    (_sets_attribute, lambda: (nn.Linear(2, 2),)),
    (_appends, lambda: ([],)),
    (_counts, lambda: ((v for v in range(4)),)),                         # (a generator: never used up)
    (_returns_graph, lambda: (torch.randn(3, requires_grad=True) * 1,)),  # (an argument with a graph)
]


@pytest.mark.parametrize("fn, make", NOT_CACHEABLE, ids=[f.__name__ + str(i) for i, (f, _) in enumerate(NOT_CACHEABLE)])
def test_what_a_hit_could_not_reproduce_is_never_cached(fn, make):
    keys = _fresh()
    wrapped = keys.wrap(fn)
    for _ in range(2):
        torch.manual_seed(1)
        args = make()
        torch.manual_seed(1)
        expected = fn(*make())
        got = wrapped(*args)
        assert keys.hits == 0 and not keys.entries
        assert type(got) is type(expected)
        if fn is _returns_argument:
            assert got is args[0]                  # the real call's own object, as without the cache
        if fn is _counts:
            assert got == 4


def test_an_exception_is_raised_every_time_and_never_cached():
    keys = _fresh()
    wrapped = keys.wrap(_raises)
    for _ in range(2):
        with pytest.raises(ValueError):
            wrapped(torch.zeros(2))
    assert keys.misses == 2 and keys.hits == 0 and not keys.entries


def _plain_sum(x):
    return x.sum() + torch.rand(())


def test_switched_off_and_cuda_and_other_global_state(monkeypatch):
    keys = _fresh()
    wrapped = keys.wrap(_plain_sum)
    x = torch.ones(3)
    torch.manual_seed(0)
    wrapped(x)
    torch.manual_seed(0)
    wrapped(x)
    assert keys.hits == 1
    torch.manual_seed(1)                  # another random state: another answer
    wrapped(x)
    with torch.no_grad():                 # another grad mode
        torch.manual_seed(0)
        wrapped(x)
    assert keys.hits == 1 and keys.misses == 3
    monkeypatch.setenv(answer_keys.ENV, "0")
    torch.manual_seed(0)
    wrapped(x)
    monkeypatch.delenv(answer_keys.ENV)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)     # GPU grading stays real
    torch.manual_seed(0)
    wrapped(x)
    assert keys.hits == 1 and keys.uncached == 2


def _by_threads(x):
    return x * torch.get_num_threads()    # (stands for a float's last bits, which the thread count moves)


def test_an_answer_kept_under_other_numeric_settings_is_not_served():
    """A test process switched from two threads to one met answers kept under two (CI, stop 11)."""
    keys = _fresh()
    wrapped = keys.wrap(_by_threads)
    threads = torch.get_num_threads()
    x = torch.ones(2)
    try:
        torch.set_num_threads(2)
        torch.manual_seed(0)
        assert wrapped(x).tolist() == [2.0, 2.0]
        torch.set_num_threads(1)
        torch.manual_seed(0)
        assert wrapped(x).tolist() == [1.0, 1.0]
        torch.manual_seed(0)
        assert wrapped(x).tolist() == [1.0, 1.0] and keys.hits == 1
    finally:
        torch.set_num_threads(threads)


def _big(n):
    return torch.zeros(n)


def test_the_cache_is_bounded_least_recently_used_first():
    keys = _fresh()
    wrapped = keys.wrap(_big)
    wrapped(500)
    one = keys.size
    keys.max_bytes = int(2.5 * one)       # room for two answers of this size
    wrapped(501)
    wrapped(500)                          # a hit: 500 is now the most recently used
    assert (keys.hits, keys.misses) == (1, 2)
    wrapped(502)                          # a third answer: 501, the least recently used, goes
    assert len(keys.entries) == 2 and keys.size == sum(e.size for e in keys.entries.values()) <= keys.max_bytes
    wrapped(500)
    assert (keys.hits, keys.misses) == (2, 3)
    wrapped(501)                          # computed again
    assert (keys.hits, keys.misses) == (2, 4)
    wrapped(100_000)                      # larger than the bound: not kept, nothing evicted for it
    assert keys.misses == 5 and len(keys.entries) == 2 and keys.size <= keys.max_bytes


def test_a_reference_never_cacheable_stops_being_looked_up():
    keys = answer_keys.AnswerKeys()
    wrapped = keys.wrap(_returns_graph)
    for n in range(5):
        x = torch.randn(3, requires_grad=True)
        assert wrapped(x).grad_fn is not None
    assert keys.misses == 3 and keys.uncached == 2 and _returns_graph in keys.bypassed
