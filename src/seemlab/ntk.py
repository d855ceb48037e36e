"""The empirical NTK: Gram matrices of per-sample parameter gradients.

For a scalar network f_θ: ``(N, d) -> (N,)`` (or ``(N, 1)``) with P parameters, let
``Z(X): (P, N)`` stack the per-sample gradients ∇_θ f_θ(x_i) over *all* parameters (weights,
biases, LayerNorm/BatchNorm affines, WeightNorm ``g`` and ``v``). Then

    gram(model, X1, X2) = Z(X1)^T Z(X2): (N1, N2),   rows indexed by X1.

Implementations (``method=``), all exact; tests check each against ``"loop"``:

- ``"closed"``: closed form for a chain of modules: a :class:`seemlab.nets.MLP` without
  batch/weight norm, or an ``nn.Sequential`` (nested ones flattened, e.g. the CORL TD3+BC critic
  Linear-ReLU-Linear-ReLU-Linear, Diffusion-QL's Mish critic, LN critics) of ``nn.Linear`` (with
  or without bias), ``nn.LayerNorm`` over the last axis (with or without affine/bias),
  :class:`seemlab.nets.PsiLayerNorm`, inactive ``nn.Dropout`` and the parameter-free elementwise
  activations of :data:`ROWWISE`, whose last ``nn.Linear`` has one output (then only those
  activations or ``nn.Flatten``). Anything else (an unlisted module, active dropout, shared or
  frozen parameters, hooks) is not closed-form. Per linear layer, (H1 H2^T + 1) ⊙ (D1 D2^T)
  (no + 1 without bias) with H the layer inputs and D the back-propagated signals ∂f/∂z
  (autograd through the actual modules); plus, per affine LayerNorm, (D1⊙N1)(D2⊙N2)^T + D1 D2^T
  with N the normalized activations. One forward and one backward per chunk; O(N1·N2·Σ widths) time,
  O(chunk · Σ widths) memory. The fastest by far.
- ``"func"``: ``torch.func`` Jacobians (vmap of per-sample ``jacrev``; for a network with a
  BatchNorm in train mode, ``jacrev`` of the batched output, so samples share batch statistics
  and rows are the Jacobian of f(X) with X evaluated as one batch). Any ``nn.Module``.
  O(chunk · P) memory, rows chunked so that a chunk holds at most ``max_elems`` numbers.
- ``"loop"``: one backward per sample, stack, Z^T Z (the authors' method; the reference).
- ``"auto"`` (default): ``"closed"`` where it applies, else ``"func"``.

Dropout in train mode makes f random; use ``model.eval()`` for a deterministic kernel.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap
from torch.nn.modules.batchnorm import _BatchNorm

from seemlab.nets import MLP, PsiLayerNorm

METHODS = ("auto", "closed", "func", "loop")
MAX_ELEMS = 2**24  # numbers per chunk of per-sample gradients or features (128 MiB in float64)


# ----------------------------------------------------------------------------- validation
def check_inputs(model: nn.Module, X1: torch.Tensor, X2: torch.Tensor | None) -> None:
    """Raise ``ValueError`` unless ``X1: (N1, d)``, ``X2: (N2, d)`` and ``model`` is scalar."""
    for name, X in (("X1", X1), ("X2", X2)):
        if X is not None and (not torch.is_tensor(X) or X.ndim != 2):
            raise ValueError(f"{name} must be a 2-D tensor (N, d), got {_shape(X)}")
    if X2 is not None and X1.shape[1] != X2.shape[1]:
        raise ValueError(f"feature sizes differ: X1 has d={X1.shape[1]}, X2 has d={X2.shape[1]}")
    in_dim = getattr(model, "in_dim", None)
    if in_dim is not None and X1.shape[1] != in_dim:
        raise ValueError(f"model expects d={in_dim} input features, X1 has d={X1.shape[1]}")
    out_dim = getattr(model, "out_dim", None)
    if out_dim is not None and out_dim != 1:
        raise ValueError(f"the NTK needs a scalar-output model; this one has out_dim={out_dim}")
    if out_dim is None:
        _check_scalar_output(model, X1)


def _shape(X) -> str:
    return f"shape {tuple(X.shape)}" if torch.is_tensor(X) else type(X).__name__


def _check_scalar_output(model: nn.Module, X: torch.Tensor) -> None:
    """Probe a generic module on two rows (buffers copied, so running stats do not move)."""
    with torch.no_grad():
        y = functional_call(model, _state(model), (X[:2],))
    if y.shape not in ((min(2, len(X)),), (min(2, len(X)), 1)):
        raise ValueError(f"the NTK needs a model mapping (N, d) to (N,) or (N, 1); got output {tuple(y.shape)}")


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    return {**params, **buffers}


# ----------------------------------------------------------------------------- public API
def gram(
    model: nn.Module,
    X1: torch.Tensor,
    X2: torch.Tensor | None = None,
    *,
    method: str = "auto",
    max_elems: int = MAX_ELEMS,
) -> torch.Tensor:
    """The NTK Gram matrix ``G(X1, X2) = Z(X1)^T Z(X2)``.

    Args:
        model: maps ``(N, d)`` to ``(N,)`` or ``(N, 1)``.
        X1: ``(N1, d)``.
        X2: ``(N2, d)``; ``None`` means ``X1``.
        method: one of :data:`METHODS` (see the module docstring).
        max_elems: memory bound, numbers per chunk.
    Returns:
        ``(N1, N2)``, in the model's dtype, on X1's device.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed values: {', '.join(METHODS)}")
    check_inputs(model, X1, X2)
    if method == "auto":
        method = "closed" if supports_closed_form(model) else "func"
    if method == "closed":
        try:
            closed_form_modules(model)
        except ValueError as e:
            raise ValueError(f"method 'closed' does not apply to this model: {e}; use 'auto' or 'func'") from None
    fn = {"closed": _gram_closed, "func": _gram_func, "loop": _gram_loop}[method]
    return fn(model, X1, X2, max_elems)


def jacobian(model: nn.Module, X: torch.Tensor, *, max_elems: int = MAX_ELEMS) -> torch.Tensor:
    """``Z(X)^T``: per-sample gradients ``(N, P)``, parameters flattened in ``named_parameters`` order."""
    check_inputs(model, X, None)
    return torch.cat(list(_jac_chunks(model, X, max_elems)), dim=0)


def supports_closed_form(model: nn.Module) -> bool:
    """Whether ``method="closed"`` applies (see :func:`closed_form_modules` and the module docstring)."""
    try:
        closed_form_modules(model)
    except ValueError:
        return False
    return True


def kernel_map(
    model: nn.Module,
    x0: torch.Tensor,
    lo: float = -4.0,
    hi: float = 4.0,
    n: int = 41,
    *,
    method: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k(x0, x) over the square grid [lo, hi]² (Figure 5), for a model with 2 inputs.

    Args:
        x0: ``(2,)`` reference point.
    Returns:
        ``xs: (n,)`` (first coordinate), ``ys: (n,)`` (second coordinate) and
        ``K: (n, n)`` with ``K[i, j] = k(x0, (xs[j], ys[i]))`` (rows are y, as ``imshow`` wants).
    """
    p = next(model.parameters())
    xs = torch.linspace(lo, hi, n, dtype=p.dtype, device=p.device)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    x0 = torch.as_tensor(x0, dtype=p.dtype, device=p.device).reshape(1, -1)
    K = gram(model, x0, grid, method=method)[0].reshape(n, n)
    return xs, xs.clone(), K


def kernel_map_stats(model: nn.Module, x0, xs: torch.Tensor, ys: torch.Tensor, K: torch.Tensor) -> dict[str, float]:
    """Figure 5's numbers for a map from :func:`kernel_map`.

    Returns ``far_ratio`` = k(x0, (xs[-1], ys[-1])) / k(x0, x0); the grid argmax ``(peak_x,
    peak_y)``, whether it lies on the grid boundary and its L∞ distance to x0; and
    ``x0_normalized`` = the min–max normalized value of k(x0, x0) over the grid and x0.
    """
    x0 = torch.as_tensor(x0, dtype=K.dtype, device=K.device).reshape(1, -1)
    k00 = float(gram(model, x0)[0, 0])
    i, j = divmod(int(torch.argmax(K)), K.shape[1])
    peak_x, peak_y = float(xs[j]), float(ys[i])
    lo, hi = min(float(K.min()), k00), max(float(K.max()), k00)
    on_edge = i in (0, K.shape[0] - 1) or j in (0, K.shape[1] - 1)
    return {
        "k00": k00,
        "far_ratio": float(K[-1, -1]) / k00,
        "peak_x": peak_x,
        "peak_y": peak_y,
        "peak_on_boundary": float(on_edge),
        "peak_distance": max(abs(peak_x - float(x0[0, 0])), abs(peak_y - float(x0[0, 1]))),
        "x0_normalized": (k00 - lo) / (hi - lo),
    }


# ----------------------------------------------------------------------------- torch.func
def _single_fn(model: nn.Module) -> Callable:
    def f(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **buffers}, (x.unsqueeze(0),)).reshape(())

    return f


def batch_coupled(model: nn.Module) -> bool:
    """Whether the model's output for one sample depends on the rest of its batch (BatchNorm in
    train mode); Gram rows are then Jacobians of ``f`` over the whole batch they come in."""
    return any(isinstance(m, _BatchNorm) and m.training for m in model.modules())


def _jac_chunks(model: nn.Module, X: torch.Tensor, max_elems: int):
    """Yield per-sample gradient rows ``(n_chunk, P)`` covering ``X`` in order."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    if batch_coupled(model):
        def f_batch(p, b):
            return functional_call(model, {**p, **b}, (X,)).reshape(-1)

        P = sum(v.numel() for v in params.values())
        jac = jacrev(f_batch, chunk_size=max(1, max_elems // max(P, 1)))(params, buffers)
        yield torch.cat([jac[k].reshape(len(X), -1) for k in params], dim=1)
        return
    per_sample = vmap(jacrev(_single_fn(model)), in_dims=(None, None, 0), randomness="different")
    for Xc in _row_chunks(X, max_elems // max(sum(v.numel() for v in params.values()), 1)):
        jac = per_sample(params, buffers, Xc)
        yield torch.cat([jac[k].reshape(len(Xc), -1) for k in params], dim=1)


def _row_chunks(X: torch.Tensor, rows: int):
    rows = max(1, int(rows))
    return [X[i : i + rows] for i in range(0, len(X), rows)]


def _gram_from_jac(model, X1, X2, max_elems, jac_chunks) -> torch.Tensor:
    """Assemble G from row chunks of Z(X1)^T and Z(X2)^T, keeping Z(X2)^T whole if it fits."""
    same = X2 is None
    X2 = X1 if same else X2
    if batch_coupled(model):  # one batch each: the Jacobian of f(X) for the whole batch
        J1 = torch.cat(list(jac_chunks(model, X1, max_elems)))
        J2 = J1 if same else torch.cat(list(jac_chunks(model, X2, max_elems)))
        return J1 @ J2.T
    J2 = None
    P = _n_params(model)
    if len(X2) * P <= max_elems:
        J2 = torch.cat(list(jac_chunks(model, X2, max_elems)))
        if same:
            return J2 @ J2.T
    rows = []
    for J1c in jac_chunks(model, X1, max_elems):
        if J2 is not None:
            rows.append(J1c @ J2.T)
        else:
            rows.append(torch.cat([J1c @ J2c.T for J2c in jac_chunks(model, X2, max_elems)], dim=1))
    return torch.cat(rows, dim=0)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _gram_func(model, X1, X2, max_elems) -> torch.Tensor:
    return _gram_from_jac(model, X1, X2, max_elems, _jac_chunks)


# ----------------------------------------------------------------------------- per-sample loop
def _loop_chunks(model: nn.Module, X: torch.Tensor, max_elems: int):
    """One backward per sample (the authors' method). Batch-coupled models: rows of J of f(X)."""
    params = [p for p in model.parameters() if p.requires_grad]
    P = sum(p.numel() for p in params)
    coupled = batch_coupled(model)
    rows = len(X) if coupled else max(1, max_elems // max(P, 1))
    for Xc in _row_chunks(X, rows):
        with _frozen_buffers(model):
            y = model(Xc).reshape(-1) if coupled else None
            grads = []
            for i in range(len(Xc)):
                yi = y[i] if coupled else model(Xc[i : i + 1]).reshape(())
                g = torch.autograd.grad(yi, params, retain_graph=coupled, allow_unused=True)
                grads.append(torch.cat([_flat(gk, pk) for gk, pk in zip(g, params)]))
        yield torch.stack(grads)


def _flat(g: torch.Tensor | None, p: torch.Tensor) -> torch.Tensor:
    return torch.zeros(p.numel(), dtype=p.dtype, device=p.device) if g is None else g.reshape(-1)


class _frozen_buffers:
    """Restore buffers (BatchNorm running statistics) after a forward in train mode."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.saved = {k: v.clone() for k, v in self.model.named_buffers()}

    def __exit__(self, *exc):
        with torch.no_grad():
            for k, v in self.model.named_buffers():
                v.copy_(self.saved[k])
        return False


def _gram_loop(model, X1, X2, max_elems) -> torch.Tensor:
    return _gram_from_jac(model, X1, X2, max_elems, _loop_chunks)


# ----------------------------------------------------------------------------- closed form
# Parameter-free modules that act on each sample's row alone (elementwise or row-wise). Exact
# types only: a subclass may override ``forward``. Anything else sends "auto" to "func".
ROWWISE = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.LogSigmoid, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold, PsiLayerNorm,
)  # plus nn.Linear, nn.LayerNorm (last axis), inactive nn.Dropout, nn.Flatten after the output (_stack_problem)
OWN_PARAMS = {nn.Linear: ("weight", "bias"), nn.LayerNorm: ("weight", "bias")}


def closed_form_modules(model: nn.Module) -> list[nn.Module]:
    """The flat module list ``f = m_K ∘ … ∘ m_1`` that the closed form walks.

    An :class:`seemlab.nets.MLP` becomes its blocks' modules, the output layer and its tanh; an
    ``nn.Sequential`` its modules, nested Sequentials flattened. Raises ``ValueError`` saying why
    the closed form does not apply (see :func:`supports_closed_form`).
    """
    if type(model) is MLP:
        mods = [m for b in model.blocks for m in (b.linear, b.norm_before, b.act, b.norm_after, b.dropout)]
        mods += [model.out] + ([nn.Tanh()] if model.out_activation == "tanh" else [])
    elif type(model) is nn.Sequential:
        mods = _flatten(model)
    else:
        raise ValueError(f"a {type(model).__name__} is neither a seemlab.nets.MLP nor an nn.Sequential")
    problem = _stack_problem(mods) or _param_problem(model, mods)
    if problem:
        raise ValueError(problem)
    return mods


def _flatten(seq: nn.Sequential) -> list[nn.Module]:
    # iterate as forward does (children() would drop a module listed twice)
    return [m for child in seq for m in (_flatten(child) if type(child) is nn.Sequential else [child])]


def _stack_problem(mods: list[nn.Module]) -> str | None:
    """Why the list is not ``rowwise/LayerNorm/Linear …, Linear(·, 1), rowwise/Flatten …``, or None."""
    linear = [i for i, m in enumerate(mods) if type(m) is nn.Linear]
    if not linear:
        return "the stack has no nn.Linear"
    if mods[linear[-1]].out_features != 1:
        return f"the last nn.Linear has out_features={mods[linear[-1]].out_features}, not a scalar output"
    for i, m in enumerate(mods):
        allowed = (nn.Flatten,) if i > linear[-1] else (nn.Linear, nn.LayerNorm)
        if isinstance(m, nn.Dropout) and m.training and m.p > 0:
            return f"{m} is active (train mode, p > 0): f is random; call model.eval()"
        if type(m) is nn.LayerNorm and len(m.normalized_shape) != 1:
            return f"{m} normalizes more than the last axis"
        if type(m) not in ROWWISE + allowed + (nn.Dropout,):
            return f"module {i} ({type(m).__name__}) is not in the closed form's allow-list"
    return None


def _param_problem(model: nn.Module, mods: list[nn.Module]) -> str | None:
    """Every parameter must be a Linear/LayerNorm's own, trainable, and used exactly once."""
    if any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()):
        return "a module has forward hooks (old-style weight/spectral norm, or custom)"
    used = []
    for m in mods:
        names = [n for n, _ in m.named_parameters(recurse=False)]
        if any(n not in OWN_PARAMS.get(type(m), ()) for n in names):
            return f"{type(m).__name__} has parameters {names}"
        used += list(m.parameters(recurse=False))
    if len({id(p) for p in used}) != len(used):
        return "a parameter is used twice (shared weights couple the layers' Gram blocks)"
    if {id(p) for p in used} != {id(p) for p in model.parameters()} or not all(p.requires_grad for p in used):
        return "some parameters are frozen or live outside the walked modules"
    return None


def layer_signals(model: nn.Module, X: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """Per-parameter-group factors whose Gram blocks sum to the NTK (closed form), ``X: (N, d)``.

    Returns tuples ``(kind, H, D)`` with ``H: (N, k)`` and ``D: (N, m)``: kind ``"linear"`` (a
    layer's weight and bias; H = its input, D = ∂f/∂(its output)), ``"weight"`` (a Linear
    without bias), ``"affine"`` (LayerNorm γ and β; H = normalized activations, D = ∂f/∂(LN
    output)) or ``"scale"`` (γ only). See :func:`_add_block_gram`.
    """
    return _signals(closed_form_modules(model), X)


def _signals(mods: list[nn.Module], X: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """Walk ``mods`` once forward, tapping each parameterised module, then one backward of
    ``f.sum()``: exact because no module couples samples, so ∂(Σ_j f_j)/∂z_i = ∂f_i/∂z_i."""
    taps, h = [], X.detach()
    with torch.enable_grad():
        for m in mods:
            h = _tap(m, h, taps)
        grads = torch.autograd.grad(h.sum(), [t[2] for t in taps])
    return [(kind, H.detach(), D) for (kind, H, _), D in zip(taps, grads)]


def _tap(m: nn.Module, h: torch.Tensor, taps: list) -> torch.Tensor:
    """Apply one module to ``h: (N, k)``; record ``[kind, H, out]`` if it has parameters."""
    if type(m) is nn.Linear:
        z = m(h)
        taps.append(["linear" if m.bias is not None else "weight", h, z])
        return z
    if type(m) is nn.LayerNorm and m.elementwise_affine:
        n = nn.functional.layer_norm(h, m.normalized_shape, None, None, m.eps)
        out = n * m.weight if m.bias is None else n * m.weight + m.bias
        taps.append(["affine" if m.bias is not None else "scale", n, out])
        return out
    # an in-place module (ReLU(inplace=True)) would overwrite a tapped output: work on a copy
    return m(h.clone()) if getattr(m, "inplace", False) else m(h)


def _add_block_gram(G: torch.Tensor, kind: str, H1, D1, H2, D2) -> None:
    """Add one parameter group's Gram block (see :func:`layer_signals`) to ``G: (N1, N2)`` in place.

    ``"linear"``: weight (H1 H2^T) ⊙ (D1 D2^T) plus bias D1 D2^T; ``"weight"``: the weight term
    only. ``"affine"``: LN γ (D1⊙N1)(D2⊙N2)^T plus β D1 D2^T; ``"scale"``: LN γ only. A
    one-column D (the output layer) turns the Hadamard product into one matrix product of the
    D-scaled inputs.
    """
    has_bias = kind in ("linear", "affine")
    if kind in ("affine", "scale") or D1.shape[1] == 1:
        G.addmm_(D1 * H1, (D2 * H2).T)
        if has_bias:
            G.addmm_(D1, D2.T)
        return
    HH = H1 @ H2.T
    if has_bias:
        HH += 1.0
    G.addcmul_(HH, D1 @ D2.T)


def _row_cost(mods: list[nn.Module]) -> int:
    """Numbers held per sample by one chunk's signals and autograd graph (Σ layer widths)."""
    cost = 2
    for m in mods:
        if type(m) is nn.Linear:
            cost += 2 * (m.in_features + m.out_features)
        elif type(m) in (nn.LayerNorm, PsiLayerNorm):
            cost += 4 * (m.normalized_shape[0] if type(m) is nn.LayerNorm else m.dim)
    return cost


def _gram_closed(model: nn.Module, X1, X2, max_elems) -> torch.Tensor:
    mods = closed_form_modules(model)
    rows = max(1, max_elems // _row_cost(mods))
    chunks2 = _row_chunks(X1 if X2 is None else X2, rows)
    cache = [_signals(mods, chunks2[0])] if len(chunks2) == 1 else None
    out = []
    for c1 in _row_chunks(X1, rows):
        s1 = cache[0] if cache is not None and X2 is None else _signals(mods, c1)
        cols = cache if cache is not None else (_signals(mods, c) for c in chunks2)
        out.append(torch.cat([_sum_blocks(s1, s2) for s2 in cols], dim=1))
    return torch.cat(out, dim=0)


def _sum_blocks(s1, s2) -> torch.Tensor:
    G = s1[0][1].new_zeros(len(s1[0][1]), len(s2[0][1]))
    for (kind, H1, D1), (_, H2, D2) in zip(s1, s2):
        _add_block_gram(G, kind, H1, D1, H2, D2)
    return G
