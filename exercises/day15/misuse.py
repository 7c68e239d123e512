"""Misuse recipes: a PyTorch mistake written down as plain data, and the runner that commits it.

``provoke(kind)`` (Day 15 and Day 16, advanced) returns a *recipe*: which module to build, which
tensors to feed it and which steps to take, with the one mistake of ``kind`` in it (a wrong
shape, dtype or device, a missing ``detach``, a flag...). ``run_misuse(recipe)`` builds it with
real PyTorch, runs it and returns the exception PyTorch raised (``None`` if nothing failed).
The grader runs the recipe with its own copy of this file: only an error that PyTorch raises
there counts.

A recipe is a dict (lists may be tuples; sizes are Python ints, never bools)::

    {
      "model":   {"module": "RNN",              # RNN, GRU, LSTM, RNNCell, GRUCell or LSTMCell
                  "input_size": 3, "hidden_size": 4,
                  # optional: "num_layers", "bias", "batch_first", "bidirectional", "nonlinearity",
                  #           "device" ("cpu" or "meta"), "dtype" (see DTYPES; default "float32")
                 },
      "input":   {"shape": [5, 2, 3]},          # a tensor spec (below); required
      "hidden":  None,                          # optional: a tensor spec, or [h0 spec, c0 spec] for an LSTM
      "lengths": [5, 2],                        # optional, for "pack": a list of ints, or
                                                #   {"values": [5, 2], "dtype": "int64", "device": "cpu"}
      "head":    {"out_features": 2},           # optional: an nn.Linear(model's output features, 2) on the output
      "loss":    "MSELoss",                     # optional: one of LOSSES
      "target":  {"shape": [5, 2, 2]},          # optional: a tensor spec, for "loss"
      "steps":   ["forward"],                   # optional (default ["forward"]): see STEPS
    }

A tensor spec is ``{"shape": [...], "dtype": "float32", "device": "cpu", "fill": ...}``; dtype and
device are optional (float32, cpu). "fill" says what the values are: "randn" (the default for
floating dtypes), "rand" (in [0, 1), e.g. probabilities for BCELoss), "zeros", or "classes"
(random class indices in [0, C): the default for integer dtypes; C is the spec's "classes", else
the size of the prediction's last dimension). Devices are "cpu" and "meta" only (``meta`` holds
shapes but no data and stands in for a second device), so a recipe runs the same on every machine.

Steps, each a name or ``{"op": name, ...options}``, run in order on one state (the model, an
SGD optimizer over the model's and the head's parameters with lr 0.1, the carried hidden state,
the current prediction and loss):

- "forward": prediction = head(model(input, state)); the returned state is carried to the next
  forward. Options: "time": [start, stop] and "batch": [start, stop] (run on that slice of the
  input, and later compare with the same slice of the target), "no_grad": true (under
  ``torch.no_grad()``). A cell (RNNCell...) takes its input as it is (no time dimension).
- "pack": pack_padded_sequence(input, lengths, batch_first=model's batch_first,
  enforce_sorted=option "enforce_sorted", default true); the next forward gets the packed batch.
- "detach_state": the carried state becomes ``state.detach()`` (h and c for an LSTM).
- "reset_state": the carried state becomes None.
- "sigmoid": prediction = sigmoid(prediction).
- "detach_output": prediction = prediction.detach().
- "inplace_clamp": prediction.clamp_(0.001, 0.999), in place.
- "flatten": prediction = prediction.reshape(-1, its last dimension).
- "flatten_target": the target is reshaped to one dimension from now on.
- "loss": loss = loss_fn(prediction, target).
- "backward": loss.backward() (option "retain_graph": true).
- "zero_grad", "step": the optimizer's.

Bounds (so that a recipe stays small): every size and dimension <= 64, at most 5 dimensions and
MAX_ELEMENTS elements per tensor, num_layers <= 4, at most MAX_STEPS steps, at most 64 lengths.
A recipe outside this format makes ``run_misuse`` raise ``RecipeError`` (never a PyTorch error).
"""
from __future__ import annotations

import contextlib
import math
import warnings

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

MODULES = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
LOSSES = ("MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss")
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8")
DEVICES = ("cpu", "meta")
STEPS = ("forward", "pack", "detach_state", "reset_state", "sigmoid", "detach_output", "inplace_clamp", "flatten",
         "flatten_target", "loss", "backward", "zero_grad", "step")
FILLS = ("randn", "rand", "zeros", "classes")
MAX_SIZE = 64
MAX_RANK = 5
MAX_ELEMENTS = 64 * 64 * 16
MAX_STEPS = 20
MAX_LAYERS = 4

_RECIPE_KEYS = {"model", "input", "hidden", "lengths", "head", "loss", "target", "steps"}
_MODEL_KEYS = {"module", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional",
               "nonlinearity", "device", "dtype"}
_CELL_KEYS = {"module", "input_size", "hidden_size", "bias", "nonlinearity", "device", "dtype"}
_SPEC_KEYS = {"shape", "dtype", "device", "fill", "classes"}
_STEP_OPTIONS = {"forward": {"time", "batch", "no_grad"}, "pack": {"enforce_sorted"}, "backward": {"retain_graph"}}


class RecipeError(Exception):
    """The recipe is not in the format above (not an error of PyTorch's)."""


# ------------------------------------------------------------------------------------ validation

def _need(condition: bool, message: str) -> None:
    if not condition:
        raise RecipeError(message)


def _is_int(value) -> bool:
    return type(value) is int


def _size(value, what: str, low: int = 1, high: int = MAX_SIZE) -> int:
    _need(_is_int(value) and low <= value <= high, f"{what} must be an int from {low} to {high}, got {value!r:.40}")
    return value


def _flag(value, what: str) -> bool:
    _need(type(value) is bool, f"{what} must be true or false, got {value!r:.40}")
    return value


def _choice(value, allowed, what: str) -> str:
    _need(type(value) is str and value in allowed, f"{what} must be one of {', '.join(allowed)}; got {value!r:.40}")
    return value


def _sequence(value, what: str, most: int) -> list:
    _need(type(value) in (list, tuple), f"{what} must be a list, got {type(value).__name__}")
    _need(len(value) <= most, f"{what} has {len(value)} entries; at most {most}")
    return list(value)


def _mapping(value, what: str, allowed: set) -> dict:
    _need(type(value) is dict, f"{what} must be a dict, got {type(value).__name__}")
    _need(len(value) <= len(allowed), f"{what} has {len(value)} keys; allowed: {', '.join(sorted(allowed))}")
    unknown = [k for k in value if k not in allowed]
    _need(not unknown, f"{what} has unknown keys {sorted(map(str, unknown))[:5]}; allowed: {', '.join(sorted(allowed))}")
    return value


def _spec(value, what: str) -> dict:
    spec = _mapping(value, what, _SPEC_KEYS)
    _need("shape" in spec, f"{what} needs a 'shape'")
    shape = [_size(d, f"{what}['shape'] entries", low=0) for d in _sequence(spec["shape"], f"{what}['shape']", MAX_RANK)]
    _need(math.prod(shape) <= MAX_ELEMENTS, f"{what} has {math.prod(shape)} elements; at most {MAX_ELEMENTS}")
    out = {"shape": shape, "dtype": _choice(spec.get("dtype", "float32"), DTYPES, f"{what}['dtype']"),
           "device": _choice(spec.get("device", "cpu"), DEVICES, f"{what}['device']")}
    integer = out["dtype"] in ("int64", "int32", "uint8")
    out["fill"] = _choice(spec.get("fill", "classes" if integer else "randn"), FILLS, f"{what}['fill']")
    out["classes"] = None if "classes" not in spec else _size(spec["classes"], f"{what}['classes']")
    return out


def _span(value, what: str) -> tuple[int, int]:
    pair = _sequence(value, what, 2)
    _need(len(pair) == 2, f"{what} must be [start, stop]")
    start, stop = (_size(v, f"{what} entries", low=0) for v in pair)
    _need(start < stop, f"{what} must have start < stop, got {pair}")
    return start, stop


def validate(recipe) -> dict:
    """The recipe, checked against the format and the bounds, with defaults filled in."""
    recipe = _mapping(recipe, "the recipe", _RECIPE_KEYS)
    _need("model" in recipe and "input" in recipe, "a recipe needs a 'model' and an 'input'")
    model = _mapping(recipe["model"], "recipe['model']", _MODEL_KEYS)
    module = _choice(model.get("module"), MODULES, "recipe['model']['module']")
    if module.endswith("Cell"):
        _mapping(model, f"recipe['model'] of an {module}", _CELL_KEYS)
    config = {"input_size": _size(model.get("input_size"), "input_size"),
              "hidden_size": _size(model.get("hidden_size"), "hidden_size")}
    if "num_layers" in model:
        config["num_layers"] = _size(model["num_layers"], "num_layers", high=MAX_LAYERS)
    for key in ("bias", "batch_first", "bidirectional"):
        if key in model:
            config[key] = _flag(model[key], key)
    if "nonlinearity" in model:
        _need(module in ("RNN", "RNNCell"), "only RNN and RNNCell take a nonlinearity")
        config["nonlinearity"] = _choice(model["nonlinearity"], ("tanh", "relu"), "nonlinearity")
    out = {"module": module, "config": config,
           "device": _choice(model.get("device", "cpu"), DEVICES, "recipe['model']['device']"),
           "dtype": _choice(model.get("dtype", "float32"), DTYPES[:4], "recipe['model']['dtype']"),
           "input": _spec(recipe["input"], "recipe['input']")}
    hidden = recipe.get("hidden")
    if hidden is None or type(hidden) is dict:
        out["hidden"] = None if hidden is None else _spec(hidden, "recipe['hidden']")
    else:
        pair = _sequence(hidden, "recipe['hidden']", 2)
        _need(len(pair) == 2, "recipe['hidden'] as a list must be [h0 spec, c0 spec]")
        out["hidden"] = [_spec(s, f"recipe['hidden'][{i}]") for i, s in enumerate(pair)]
    lengths = recipe.get("lengths")
    if lengths is None:
        out["lengths"] = None
    elif type(lengths) is dict:
        spec = _mapping(lengths, "recipe['lengths']", {"values", "dtype", "device"})
        values = _sequence(spec.get("values"), "recipe['lengths']['values']", MAX_SIZE)
        out["lengths"] = {"values": [_size(v, "lengths", low=-MAX_SIZE) for v in values],
                          "dtype": _choice(spec.get("dtype", "int64"), DTYPES, "recipe['lengths']['dtype']"),
                          "device": _choice(spec.get("device", "cpu"), DEVICES, "recipe['lengths']['device']")}
    else:
        out["lengths"] = [_size(v, "lengths", low=-MAX_SIZE) for v in _sequence(lengths, "recipe['lengths']", MAX_SIZE)]
    head = recipe.get("head")
    out["head"] = None if head is None else _size(
        _mapping(head, "recipe['head']", {"out_features"}).get("out_features"), "head out_features")
    out["loss"] = None if recipe.get("loss") is None else _choice(recipe["loss"], LOSSES, "recipe['loss']")
    out["target"] = None if recipe.get("target") is None else _spec(recipe["target"], "recipe['target']")
    steps = []
    for i, step in enumerate(_sequence(recipe.get("steps", ["forward"]), "recipe['steps']", MAX_STEPS)):
        if type(step) is str:
            step = {"op": step}
        _need(type(step) is dict, f"step {i} must be a name or a dict with an 'op'")
        op = _choice(step.get("op"), STEPS, f"step {i}'s op")
        _mapping(step, f"step {i} ({op})", {"op"} | _STEP_OPTIONS.get(op, set()))
        clean = {"op": op}
        for key in ("time", "batch"):
            if key in step:
                clean[key] = _span(step[key], f"step {i}'s {key}")
        for key in ("no_grad", "enforce_sorted", "retain_graph"):
            if key in step:
                clean[key] = _flag(step[key], f"step {i}'s {key}")
        steps.append(clean)
    out["steps"] = steps
    return out


# ------------------------------------------------------------------------------------ running

def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _tensor(spec: dict, classes: int) -> torch.Tensor:
    shape, dtype = spec["shape"], _dtype(spec["dtype"])
    fill, n = spec["fill"], spec["classes"] or classes
    if fill == "classes":
        values = torch.randint(0, max(n, 1), shape)
    elif fill == "zeros":
        values = torch.zeros(shape)
    elif fill == "rand":
        values = torch.rand(shape, dtype=torch.float64)
    else:
        values = torch.randn(shape, dtype=torch.float64)
    return values.to(dtype).to(spec["device"])


def _slice(t, time, batch, time_dim: int, batch_dim: int):
    if t is None:
        return None
    index = [slice(None)] * t.dim()
    for span, dim in ((time, time_dim), (batch, batch_dim)):
        if span is not None and dim < t.dim():
            index[dim] = slice(*span)
    return t[tuple(index)]


class _Run:
    """The state a recipe's steps act on."""

    def __init__(self, r: dict):
        self.r = r
        cls = getattr(nn, r["module"])
        self.model = cls(**r["config"], device=r["device"], dtype=_dtype(r["dtype"]))
        self.cell = r["module"].endswith("Cell")
        width = r["config"]["hidden_size"] * (2 if r["config"].get("bidirectional") else 1)
        self.head = None if r["head"] is None else nn.Linear(width, r["head"], device=r["device"],
                                                             dtype=_dtype(r["dtype"]))
        self.classes = r["head"] or width
        params = [*self.model.parameters(), *(self.head.parameters() if self.head is not None else [])]
        self.optimizer = torch.optim.SGD(params, lr=0.1)
        self.loss_fn = None if r["loss"] is None else getattr(nn, r["loss"])()
        self.x = _tensor(r["input"], self.classes)
        hidden = r["hidden"]
        if isinstance(hidden, list):
            self.state = tuple(_tensor(s, self.classes) for s in hidden)
        else:
            self.state = None if hidden is None else _tensor(hidden, self.classes)
        self.target = None if r["target"] is None else _tensor(r["target"], self.classes)
        self.flat_target = False
        self.packed = None
        self.prediction = self.loss = None
        self.spans = (None, None)
        batch_first = r["config"].get("batch_first", False)
        self.time_dim, self.batch_dim = (1, 0) if batch_first else (0, 1)

    def lengths(self):
        lengths = self.r["lengths"]
        _need(lengths is not None, "'pack' needs recipe['lengths']")
        if isinstance(lengths, dict):
            return torch.tensor(lengths["values"]).to(_dtype(lengths["dtype"])).to(lengths["device"])
        return lengths

    def do(self, step: dict) -> None:
        op = step["op"]
        if op == "forward":
            self.forward(step)
        elif op == "pack":
            _need(not self.cell, "a cell takes no packed sequence")
            self.packed = pack_padded_sequence(self.x, self.lengths(), batch_first=self.time_dim == 1,
                                               enforce_sorted=step.get("enforce_sorted", True))
        elif op == "detach_state":
            if self.state is not None:
                self.state = tuple(s.detach() for s in self.state) if isinstance(self.state, tuple) \
                    else self.state.detach()
        elif op == "reset_state":
            self.state = None
        elif op == "flatten_target":
            self.flat_target = True
        elif op in ("zero_grad", "step"):
            getattr(self.optimizer, op)()
        else:
            self.on_prediction(op, step)

    def forward(self, step: dict) -> None:
        time, batch = step.get("time"), step.get("batch")
        if self.packed is not None:
            _need(time is None and batch is None, "a packed batch cannot be sliced")
            x, self.packed = self.packed, None
        else:
            x = _slice(self.x, None if self.cell else time, batch, self.time_dim, 0 if self.cell else self.batch_dim)
        self.spans = (time, batch)
        with torch.no_grad() if step.get("no_grad") else contextlib.nullcontext():
            if self.cell:
                state = self.model(x, self.state)
                out = state[0] if isinstance(state, tuple) else state
            else:
                out, state = self.model(x, self.state)
            self.state = state
            if hasattr(out, "data") and type(out).__name__ == "PackedSequence":
                out = out.data
            self.prediction = out if self.head is None else self.head(out)

    def on_prediction(self, op: str, step: dict) -> None:
        if op == "backward":
            _need(self.loss is not None, "'backward' needs a 'loss' step before it")
            self.loss.backward(retain_graph=step.get("retain_graph", False))
            return
        _need(self.prediction is not None, f"'{op}' needs a 'forward' step before it")
        if op == "sigmoid":
            self.prediction = torch.sigmoid(self.prediction)
        elif op == "detach_output":
            self.prediction = self.prediction.detach()
        elif op == "inplace_clamp":
            self.prediction.clamp_(0.001, 0.999)
        elif op == "flatten":
            self.prediction = self.prediction.reshape(-1, self.prediction.shape[-1])
        elif op == "loss":
            _need(self.loss_fn is not None and self.target is not None, "'loss' needs recipe['loss'] and 'target'")
            time, batch = self.spans
            target = _slice(self.target, None if self.cell else time, batch, self.time_dim,
                            0 if self.cell else self.batch_dim)
            if self.flat_target:
                target = target.reshape(-1)
            self.loss = self.loss_fn(self.prediction, target)


def run_misuse(recipe) -> BaseException | None:
    """Build the recipe with PyTorch, run its steps, and return the exception PyTorch raised.

    Returns None when every step ran without an error. Raises ``RecipeError`` when the recipe
    is not in the format of this module (see its docstring). Random values come from a fixed
    seed, without changing the caller's random stream; warnings are recorded, not shown.
    """
    checked = validate(recipe)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings(record=True), torch.enable_grad():
        # (The CPU generator is all a recipe draws from, "cpu" and "meta" its only devices;
        # torch.manual_seed would also queue the seed for CUDA with a copy of the call stack.)
        torch.random.default_generator.manual_seed(0)
        try:
            run = _Run(checked)
            for step in checked["steps"]:
                run.do(step)
        except RecipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - PyTorch's own error is the result
            return exc
    return None


def describe(recipe) -> str:
    """One line saying what ``run_misuse(recipe)`` gives: the error's type and message, or why not."""
    try:
        exc = run_misuse(recipe)
    except RecipeError as bad:
        return f"not a valid recipe: {bad}"
    if exc is None:
        return "no error: every step ran"
    return f"{type(exc).__name__}: {exc}"
