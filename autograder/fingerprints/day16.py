"""Day 16's known mistakes: each function is the reference with one classic bug."""
from __future__ import annotations

import re

import torch

from autograder.fingerprints import variant
from autograder.fingerprints.day15 import _reference, _run_misuse

D = "day16"


# ------------------------------------------------------------------------------------ bptt

def _bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output, *, tanh_grad=True, recurrent=True, dW_hh_h_t=False,
          recurrent_before_tanh=False, recurrent_W_hh_T=False):
    """The reference bptt, with switches for the classic mistakes."""
    with torch.no_grad():
        h_init = h0[0] if h0.dim() == 3 else h0
        hs, h = [], h_init
        for t in range(x.shape[0]):
            a = x[t] @ W_ih.T + h @ W_hh.T
            if b_ih is not None:
                a = a + b_ih
            if b_hh is not None:
                a = a + b_hh
            h = torch.tanh(a)
            hs.append(h)
        dx, dW_ih, dW_hh = torch.zeros_like(x), torch.zeros_like(W_ih), torch.zeros_like(W_hh)
        db = torch.zeros_like(W_hh[0])
        dh_next = torch.zeros_like(h_init)
        for t in reversed(range(x.shape[0])):
            dh = grad_output[t] + (dh_next if recurrent else 0)
            da = dh * (1 - hs[t] ** 2) if tanh_grad else dh
            h_prev = hs[t - 1] if t > 0 else h_init
            dx[t] = da @ W_ih
            dW_ih += da.T @ x[t]
            dW_hh += da.T @ (hs[t] if dW_hh_h_t else h_prev)
            db += da.sum(0)
            back = dh if recurrent_before_tanh else da
            dh_next = back @ (W_hh.T if recurrent_W_hh_T else W_hh)
        return {"x": dx, "h0": dh_next.reshape(h0.shape), "W_ih": dW_ih, "W_hh": dW_hh,
                "b_ih": None if b_ih is None else db.clone(), "b_hh": None if b_hh is None else db.clone()}


BPTT_BUGS = {
    "missing_tanh_derivative": (dict(tanh_grad=False), "the (1 - h_t**2) factor is missing: da_t = dh_t, as if "
                                "there were no tanh.", "da_t = dh_t * (1 - h_t**2): tanh'(a) = 1 - tanh(a)**2"),
    "missing_recurrent_term": (dict(recurrent=False), "the recurrent term is missing: dh_t is only grad_output[t], "
                               "nothing flows back from step t+1.",
                               "dh_t = grad_output[t] + da_{t+1} @ W_hh: carry da @ W_hh back to the previous step"),
    "recurrent_term_skips_tanh": (dict(recurrent_before_tanh=True), "the recurrent term is dh_t @ W_hh instead of "
                                  "da_t @ W_hh: it skips the tanh derivative.",
                                  "send da_t = dh_t * (1 - h_t**2) back through W_hh, not dh_t"),
    "recurrent_W_hh_transposed": (dict(recurrent_W_hh_T=True), "the recurrent term uses W_hh.T: da_t @ W_hh.T "
                                  "instead of da_t @ W_hh.",
                                  "the forward pass multiplies by W_hh.T, so the backward pass multiplies by W_hh"),
    "dW_hh_with_h_t": (dict(dW_hh_h_t=True), "dW_hh accumulates da_t.T @ h_t: it must be the state that went into "
                       "step t, h_{t-1} (h0 at t = 0).", "dW_hh += da_t.T @ h_{t-1}"),
}

for _name, (_s, _explanation, _hint) in BPTT_BUGS.items():
    def _f(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output, _s=_s):
        return _bptt(x, h0, W_ih, W_hh, b_ih, b_hh, grad_output, **_s)
    variant(D, "bptt", _name, "bptt: " + _explanation, _hint)(_f)


# ------------------------------------------------------------------------------------ train_step

def _prediction(model, x):
    p = model(x)
    return p[0] if isinstance(p, tuple) else p


@variant(D, "train_step", "no_zero_grad",
         "train_step: optimizer.zero_grad() is missing, so this step's gradients are added to the old ones.",
         "call optimizer.zero_grad() before the forward pass: backward() adds into .grad")
def train_step_no_zero_grad(model, x, y, optimizer, loss_fn):
    model.train()
    loss = loss_fn(_prediction(model, x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


@variant(D, "train_step", "zero_grad_after_backward",
         "train_step: zero_grad() is called between backward() and step(), which wipes the gradients it should use.",
         "the order is zero_grad, forward, loss, backward, step")
def train_step_zero_grad_late(model, x, y, optimizer, loss_fn):
    model.train()
    loss = loss_fn(_prediction(model, x), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


@variant(D, "train_step", "step_before_backward",
         "train_step: optimizer.step() runs before loss.backward(), so it uses no (or old) gradients.",
         "the order is zero_grad, forward, loss, backward, step")
def train_step_step_first(model, x, y, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(_prediction(model, x), y)
    optimizer.step()
    loss.backward()
    return loss.item()


@variant(D, "train_step", "no_train_mode",
         "train_step: the model is not put in training mode (model.train() is missing).",
         "call model.train() first: dropout and batch norm behave differently in eval mode")
def train_step_no_train(model, x, y, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(_prediction(model, x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------------------------ tbptt_train

def _tbptt(model, head, stream, k, optimizer, loss_fn, clip=None, *, detach=True, zero_grad=True, carry=True,
           clip_mode="global"):
    inputs, targets = stream
    parameters = [*model.parameters(), *head.parameters()]
    model.train()
    head.train()
    state, losses = None, []
    for start in range(0, inputs.shape[0], k):
        if zero_grad:
            optimizer.zero_grad()
        out, new_state = model(inputs[start:start + k], state if carry else None)
        loss = loss_fn(head(out), targets[start:start + k])
        loss.backward()
        if clip is not None:
            if clip_mode == "global":
                torch.nn.utils.clip_grad_norm_(parameters, clip)
            elif clip_mode == "each":
                for p in parameters:
                    torch.nn.utils.clip_grad_norm_(p, clip)
            else:   # model only
                torch.nn.utils.clip_grad_norm_(list(model.parameters()), clip)
        optimizer.step()
        if detach:
            new_state = tuple(s.detach() for s in new_state) if isinstance(new_state, tuple) else new_state.detach()
        state = new_state
        losses.append(loss.item())
    return losses


TBPTT_BUGS = {
    "no_detach": (dict(detach=False), "the carried hidden state is not detached between chunks, so the next "
                  "backward runs into the previous chunk's graph (already freed).",
                  "after each step: state = state.detach() (each of h and c for an LSTM)"),
    "no_zero_grad": (dict(zero_grad=False), "optimizer.zero_grad() is missing, so every chunk's gradients are "
                     "added to all the earlier ones.", "call optimizer.zero_grad() at the start of every chunk"),
    "state_not_carried": (dict(carry=False), "every chunk starts from the zero state: the hidden state is not "
                          "carried from one chunk to the next.",
                          "pass the (detached) state returned by the previous chunk: model(x_chunk, state)"),
    "clip_each_parameter": (dict(clip_mode="each"), "each parameter's gradient is clipped on its own instead of "
                            "one global norm over all of them.",
                            "one call: clip_grad_norm_([*model.parameters(), *head.parameters()], clip)"),
    "clip_model_only": (dict(clip_mode="model"), "only the recurrent model's gradients are clipped, not the head's.",
                        "clip the parameters of model and head together, in one call"),
}

for _name, (_s, _explanation, _hint) in TBPTT_BUGS.items():
    def _f(model, head, stream, k, optimizer, loss_fn, clip=None, _s=_s):
        return _tbptt(model, head, stream, k, optimizer, loss_fn, clip, **_s)
    variant(D, "tbptt_train", _name, "tbptt_train: " + _explanation, _hint)(_f)


# ------------------------------------------------------------------------------------ clip_grad_norm

def _clip(parameters, max_norm, *, mode="global", clamp=True, return_after=False, combine="l2"):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    with torch.no_grad():
        norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
        total = torch.linalg.vector_norm(norms) if combine == "l2" else norms.sum()
        if mode == "each":
            for g, n in zip(grads, norms):
                s = max_norm / (n + 1e-6)
                g.mul_(torch.clamp(s, max=1.0) if clamp else s)
        else:
            s = max_norm / (total + 1e-6)
            for g in grads:
                g.mul_(torch.clamp(s, max=1.0) if clamp else s)
        if return_after:
            total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    return total


CLIP_BUGS = {
    "clip_each_parameter": (dict(mode="each"), "each gradient is clipped by its own norm instead of one global norm.",
                            "total_norm = sqrt(sum of every gradient's squared entries); one factor for all"),
    "scales_up_small_gradients": (dict(clamp=False), "gradients are always rescaled to max_norm, also when their "
                                  "norm is already smaller (the min(1, ...) is missing).",
                                  "scale = min(1, max_norm / (total_norm + 1e-6))"),
    "returns_norm_after_clipping": (dict(return_after=True), "the returned norm is the one after clipping, not "
                                    "before.", "compute total_norm first, clip, then return that first value"),
    "sum_of_norms": (dict(combine="sum"), "the global norm is the sum of the per-parameter norms, not the L2 norm "
                     "of all entries.", "total_norm = sqrt(sum of squared per-parameter norms)"),
}

for _name, (_s, _explanation, _hint) in CLIP_BUGS.items():
    def _f(parameters, max_norm, _s=_s):
        return _clip(parameters, max_norm, **_s)
    variant(D, "clip_grad_norm", _name, "clip_grad_norm: " + _explanation, _hint)(_f)


# ------------------------------------------------------------------------------------ hidden_grad_norms

def _norms(rnn, x, *, loss="last_top", use_backward=False):
    state, hs = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t:t + 1], state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    if loss == "last_top":
        L = hs[-1][-1].sum()
    elif loss == "last_all_layers":
        L = hs[-1].sum()
    else:   # every step's output
        L = sum(h[-1].sum() for h in hs)
    if use_backward:
        for h in hs:
            h.retain_grad()
        L.backward()
        grads = [h.grad for h in hs]
    else:
        grads = torch.autograd.grad(L, hs)
    return torch.stack([g.norm() for g in grads])


NORMS_BUGS = {
    "loss_over_all_layers": (dict(loss="last_all_layers"), "L sums the last state of every layer, not only the top "
                             "layer's (the last output).", "L = h_{T-1}[-1].sum(): the top layer only"),
    "loss_over_all_steps": (dict(loss="all_steps"), "L sums the outputs of every step, not only the last one.",
                            "L = output[-1].sum(), the last step's output"),
    "gradients_left_on_parameters": (dict(use_backward=True), "loss.backward() leaves gradients on the rnn's "
                                     "parameters.", "use torch.autograd.grad(L, states): it leaves .grad alone"),
}

for _name, (_s, _explanation, _hint) in NORMS_BUGS.items():
    def _f(rnn, x, _s=_s):
        return _norms(rnn, x, **_s)
    variant(D, "hidden_grad_norms", _name, "hidden_grad_norms: " + _explanation, _hint)(_f)


# ------------------------------------------------------------------------------------ provoke

@variant(D, "provoke", "returns_the_error_not_the_recipe",
         "provoke: the mistake is run inside provoke and its exception returned, not the recipe; the grader only "
         "counts an error it sees PyTorch raise when it runs the recipe itself.",
         "return the recipe (a dict in misuse.py's format): the grader calls run_misuse on it")
def provoke_returns_the_error(kind):
    return _run_misuse(_reference(D).provoke(kind))


@variant(D, "provoke", "backward_twice_state_detached",
         "provoke: the backward_twice recipe detaches the carried state between the chunks, which is the fix: "
         "nothing is raised.",
         "carry the state from the first chunk into the second without \"detach_state\"")
def provoke_detached(kind):
    recipe = _reference(D).provoke(kind)
    if kind == "backward_twice":
        steps = list(recipe["steps"])
        second = max(i for i, step in enumerate(steps) if step == "zero_grad")
        recipe = dict(recipe, steps=steps[:second] + ["detach_state"] + steps[second:])
    return recipe


# ------------------------------------------------------------------------------------ diagnose

_PATTERNS = (
    ("backward_twice", r"backward through the graph a second time|saved tensors after they have already been freed"),
    ("inplace_modification", r"modified by an inplace operation|leaf Variable that requires grad is being used in an in-place"),
    ("loss_without_grad", r"does not require grad and does not have a grad_fn"),
    ("target_dtype", r"expected target dtype|expected scalar type Long|floating point type for target"
                     r"|Found dtype \w+ but expected|can't be cast to the desired output type"
                     r"|nll_loss\w*\" not implemented for '(Float|Double|Half|BFloat16)'"),
    ("target_shape", r"target batch_size|Expected target size|target tensor expected|multi-target"
                     r"|Target size .* must be the same as input size|Using a target size"
                     r"|must match the size of tensor b"),
    ("device_mismatch", r"same device|two devices|expected device|device type|to be on (the )?(cpu|cuda|gpu)"),
    ("hidden_shape", r"Expected hidden(\[\d\])? size|hx (and cx )?should also be"
                     r"|hidden\d? has inconsistent hidden_size|doesn't match hidden\d? batch size"
                     r"|Expected (hidden|hx\[\d\]) to be \dD or \dD"),
)


def _diagnose(exc, patterns):
    if not isinstance(exc, (RuntimeError, ValueError)):
        return "unknown"
    for kind, pattern in patterns:
        if re.search(pattern, str(exc), flags=re.IGNORECASE):
            return kind
    return "unknown"


def _moved(first: str, pattern: str):
    return [(first, pattern)] + [(k, p) for k, p in _PATTERNS if k != first]


@variant(D, "diagnose", "graph_errors_as_backward_twice",
         "diagnose: in-place modification errors are named backward_twice (both mention the gradient computation).",
         "'backward through the graph a second time' is backward_twice; 'modified by an inplace operation' is "
         "inplace_modification")
def diagnose_graph(exc):
    return _diagnose(exc, _moved("backward_twice", r"backward|gradient computation|graph"))


@variant(D, "diagnose", "target_dtype_as_target_shape",
         "diagnose: target dtype errors are named target_shape (the word 'target' alone is matched).",
         "match phrases, not single words: 'expected scalar type Long', 'target dtype' are target_dtype")
def diagnose_target(exc):
    return _diagnose(exc, _moved("target_shape", r"target"))


@variant(D, "diagnose", "hidden_shape_as_target_shape",
         "diagnose: hidden-state size errors are named target_shape (the word 'size' is matched).",
         "'Expected hidden size' is hidden_shape; match phrases, not the bare word 'size'")
def diagnose_size(exc):
    return _diagnose(exc, _moved("target_shape", _PATTERNS[4][1] + r"|size"))


# ------------------------------------------------------------------------------------ accumulated_grads

def _global_norm(model, combine="l2"):
    norms = torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters() if p.grad is not None])
    return (torch.linalg.vector_norm(norms) if combine == "l2" else norms.sum()).item()


def _accumulate(model, x, y, loss_fn, steps, *, clear_first=True, clear_each=False, combine="l2"):
    if clear_first:
        model.zero_grad()
    norms = []
    for _ in range(steps):
        if clear_each:
            model.zero_grad()
        loss_fn(_prediction(model, x), y).backward()
        norms.append(_global_norm(model, combine))
    return norms


ACC_BUGS = {
    "zero_grad_every_step": (dict(clear_each=True), "the gradients are cleared before every backward, so nothing "
                             "accumulates (the norms stay flat).",
                             "clear once, before the loop; the point is to show the sum growing"),
    "no_initial_zero_grad": (dict(clear_first=False), "the gradients are not cleared before the first backward, so "
                             "old gradients are counted too.", "call model.zero_grad() once before the loop"),
    "sum_of_norms": (dict(combine="sum"), "the global norm is the sum of the per-parameter norms, not the L2 norm "
                     "of all gradients.", "global norm = sqrt(sum of squared per-parameter norms)"),
}

for _name, (_s, _explanation, _hint) in ACC_BUGS.items():
    def _f(model, x, y, loss_fn, steps, _s=_s):
        return _accumulate(model, x, y, loss_fn, steps, **_s)
    variant(D, "accumulated_grads", _name, "accumulated_grads: " + _explanation, _hint)(_f)
