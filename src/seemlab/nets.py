"""MLP critics and actors, with the normalizations the paper compares.

Shapes: inputs are ``(N, d)``; a network with ``out_dim=1`` (a critic) returns ``(N,)``, one with
``out_dim > 1`` (an actor) returns ``(N, out_dim)``.

Layout of :class:`MLP` (``depth`` hidden layers, then one output layer)::

    h_0 = x
    h_l = dropout(norm_after(act(norm_before(W_l h_{l-1} + b_l))))    l = 1..depth
    f   = out_act(w_out h_depth + b_out)

``norm`` picks what ``norm_before``/``norm_after`` are on the chosen hidden layers:

- ``"none"``: nothing.
- ``"layer"``: ``torch.nn.LayerNorm`` (eps ``ln_eps``, learnable affine unless ``affine=False``).
- ``"psi"``: the paper's LN ψ of Proposition 2: centre, then scale to norm √width; no ε, no affine.
- ``"batch"``: ``torch.nn.BatchNorm1d`` (train/eval mode follows the module).
- ``"weight"``: no activation normalization; the hidden linear layers are weight-normalized.

``out_weight_norm=True`` weight-normalizes the output layer (the paper's WN arm, App. E).
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("none", "layer", "psi", "batch", "weight")
POSITIONS = ("before", "after")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "mish": nn.Mish,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
OUT_ACTIVATIONS = ("none", "tanh")


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed values: {', '.join(map(str, allowed))}")


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    _choice("activation", name, tuple(ACTIVATIONS))
    return ACTIVATIONS[name]()


class PsiLayerNorm(nn.Module):
    """The paper's LayerNorm ψ(z) = √d · (z − mean z) / ‖z − mean z‖ over the last axis (d of it).

    No ε and no affine parameters (Prop. 2, App. D). Equals ``F.layer_norm`` with ``eps=0``.
    ``z: (N, d) -> (N, d)``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(z, (self.dim,), None, None, 0.0)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps=0, affine=False"


class WNLinear(nn.Module):
    """Weight-normalized linear layer: ``W = g · V / ‖V‖_row`` (Salimans & Kingma 2016).

    Parameters ``v: (out, in)``, ``g: (out,)``, ``bias: (out,)``, initialised so that ``W``
    equals a default ``nn.Linear`` initialisation. ``x: (N, in) -> (N, out)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        base = nn.Linear(in_features, out_features, bias=bias)
        self.in_features, self.out_features = in_features, out_features
        self.v = nn.Parameter(base.weight.detach().clone())
        self.g = nn.Parameter(base.weight.detach().norm(dim=1))
        self.bias = nn.Parameter(base.bias.detach().clone()) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        return self.g[:, None] * self.v / self.v.norm(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def _norm_module(norm: str, width: int, affine: bool, eps: float) -> nn.Module:
    if norm == "layer":
        return nn.LayerNorm(width, eps=eps, elementwise_affine=affine)
    if norm == "psi":
        return PsiLayerNorm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width, eps=eps, affine=affine)
    return nn.Identity()


class Block(nn.Module):
    """One hidden layer: linear, ``norm_before``, activation, ``norm_after``, dropout."""

    def __init__(self, linear: nn.Module, norm_before: nn.Module, act: nn.Module, norm_after: nn.Module, p: float):
        super().__init__()
        self.linear, self.norm_before, self.act, self.norm_after = linear, norm_before, act, norm_after
        self.dropout = nn.Dropout(p) if p > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.norm_after(self.act(self.norm_before(self.linear(h)))))


class MLP(nn.Module):
    """A fully connected network ``(N, in_dim) -> (N,)`` (``out_dim=1``) or ``(N, out_dim)``.

    Args:
        in_dim: input features d.
        depth: number of hidden layers (the TD3 critic has 2, so L = depth + 1 = 3 weight layers).
        width: hidden units per layer.
        activation: one of :data:`ACTIVATIONS` (default ``"relu"``).
        norm: one of :data:`NORMS` (see the module docstring).
        norm_position: ``"before"`` or ``"after"`` the activation (layer, psi and batch norms).
        norm_layers: 0-based hidden layers that get the norm; ``None`` means all.
        affine: learnable affine parameters for layer/batch norm.
        ln_eps: ε of ``nn.LayerNorm`` / ``nn.BatchNorm1d``.
        out_weight_norm: weight-normalize the output layer (the paper's WN arm).
        dropout: dropout probability after each hidden layer (0 disables it).
        out_dim: output units (1 for critics, which then return ``(N,)``).
        out_activation: ``"none"`` or ``"tanh"`` (actors; callers scale by max_action).
        dtype: parameter dtype (``None``: torch's default).
        seed: seeds the initialisation through a local generator state (``None``: global RNG).
    """

    def __init__(
        self,
        in_dim: int,
        depth: int = 2,
        width: int = 256,
        *,
        activation: str = "relu",
        norm: str = "none",
        norm_position: str = "before",
        norm_layers: Sequence[int] | None = None,
        affine: bool = True,
        ln_eps: float = 1e-5,
        out_weight_norm: bool = False,
        dropout: float = 0.0,
        out_dim: int = 1,
        out_activation: str = "none",
        dtype: torch.dtype | None = None,
        seed: int | None = None,
    ):
        super().__init__()
        _validate(in_dim, depth, width, activation, norm, norm_position, norm_layers, dropout, out_dim, out_activation)
        self.in_dim, self.depth, self.width, self.out_dim = in_dim, depth, width, out_dim
        self.activation, self.norm, self.norm_position = activation, norm, norm_position
        self.norm_layers = tuple(range(depth)) if norm_layers is None else tuple(sorted(set(norm_layers)))
        self.out_activation = out_activation
        with torch.random.fork_rng(enabled=seed is not None, devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.blocks = nn.ModuleList(self._block(i, affine, ln_eps, dropout) for i in range(depth))
            fan_in = width if depth > 0 else in_dim
            self.out = WNLinear(fan_in, out_dim) if out_weight_norm else nn.Linear(fan_in, out_dim)
        if dtype is not None:
            self.to(dtype)

    def _block(self, i: int, affine: bool, eps: float, p: float) -> Block:
        fan_in = self.in_dim if i == 0 else self.width
        use_norm = i in self.norm_layers
        wn = self.norm == "weight" and use_norm
        linear = WNLinear(fan_in, self.width) if wn else nn.Linear(fan_in, self.width)
        act_norm = self.norm if use_norm and self.norm != "weight" else "none"
        before = _norm_module(act_norm if self.norm_position == "before" else "none", self.width, affine, eps)
        after = _norm_module(act_norm if self.norm_position == "after" else "none", self.width, affine, eps)
        return Block(linear, before, make_activation(self.activation), after, p)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer ``(N, width)`` (``x`` itself if ``depth == 0``)."""
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, in_dim) -> (N,)`` if ``out_dim == 1`` else ``(N, out_dim)``."""
        y = self.out(self.features(x))
        if self.out_activation == "tanh":
            y = torch.tanh(y)
        return y.squeeze(-1) if self.out_dim == 1 else y


def _validate(in_dim, depth, width, activation, norm, position, norm_layers, dropout, out_dim, out_act) -> None:
    _choice("norm", norm, NORMS)
    _choice("norm_position", position, POSITIONS)
    _choice("activation", activation, tuple(ACTIVATIONS))
    _choice("out_activation", out_act, OUT_ACTIVATIONS)
    for name, value, low in (("in_dim", in_dim, 1), ("depth", depth, 0), ("width", width, 1), ("out_dim", out_dim, 1)):
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    bad = [i for i in (norm_layers or ()) if not 0 <= i < depth]
    if bad:
        raise ValueError(f"norm_layers {bad} out of range; allowed values: 0..{depth - 1}")


def n_params(model: nn.Module) -> int:
    """P: the number of trainable scalars of ``model`` (weights, biases, norm affines)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ============================================================================ K networks at once
class EnsembleMLP(nn.Module):
    """K networks of one :class:`MLP` architecture, evaluated together with batched matmuls.

    ``forward(x: (K, B, d)) -> (K, B)`` for scalar nets, ``(K, B, out)`` otherwise; member k
    computes what ``member(k)`` computes on ``x[k]`` (batch norms use the member's own batch
    statistics, i.e. train mode). Members never mix, so a member gives the same numbers alone
    or in an ensemble (to float rounding).

    Parameters are stacked in *batched layout*: a matrix ``(out, in)`` is stored as
    ``(K, in, out)`` and a vector ``(n,)`` as ``(K, 1, n)``, so a linear layer is one ``baddbmm``
    with no per-call transpose or unsqueeze (those view ops and their autograd nodes cost about
    a sixth of a width-64 TD3 update). :meth:`member_state` and :meth:`flat` give a member back
    in :class:`MLP` layout.

    Dropout draws member k's masks from its own generator, seeded from ``dropout_seeds[k]``,
    so a member's masks do not depend on its ensemble mates.
    """

    def __init__(self, members: Sequence[MLP], dropout_seeds: Sequence[int] | None = None):
        super().__init__()
        self.K = len(members)
        self.__dict__["template"] = members[0]  # structure only, not a submodule
        named = [dict(m.named_parameters()) for m in members]
        self.names = list(named[0])
        self._ndim = [named[0][n].ndim for n in self.names]
        self.stacked = nn.ParameterList(
            nn.Parameter(torch.stack([_to_batched(d[n].detach()) for d in named])) for n in self.names)
        self._plan = _plan(self.template, {n: i for i, n in enumerate(self.names)})
        uses_dropout = any(op[0] == "dropout" for op in self._plan)
        if uses_dropout and (dropout_seeds is None or len(dropout_seeds) != self.K):
            raise ValueError(f"a dropout ensemble needs {self.K} dropout_seeds")
        self.dropout_generators = [torch.Generator().manual_seed(int(s)) for s in dropout_seeds or ()]

    @classmethod
    def seeded(cls, kwargs: dict, seeds: Sequence[int]) -> EnsembleMLP:
        """``MLP(**kwargs, seed=s)`` for each seed; dropout masks seeded from the same seeds."""
        members = [MLP(**kwargs, seed=int(s)) for s in seeds]
        return cls(members, dropout_seeds=[_dropout_seed(s) for s in seeds])

    def params(self, members: slice | None = None, detach: bool = False) -> list[torch.Tensor]:
        """The stacked parameters (batched layout), optionally a slice of members, detached."""
        out = list(self.stacked) if members is None else [p[members] for p in self.stacked]
        return [p.detach() for p in out] if detach else out

    def forward(self, x: torch.Tensor, members: slice | None = None, detach: bool = False) -> torch.Tensor:
        gens = self.dropout_generators if members is None else self.dropout_generators[members]
        return self.forward_params(self.params(members, detach), x, gens)

    def forward_params(self, params: Sequence[torch.Tensor], x: torch.Tensor,
                       dropout_generators: Sequence[torch.Generator] = ()) -> torch.Tensor:
        """The forward pass with ``params`` (batched layout, ``len(x)`` members) in place of the
        ensemble's own: the functional form that a hand-written optimiser loop differentiates."""
        h = x
        for op, *a in self._plan:
            if op == "linear":
                h = torch.baddbmm(params[a[1]], h, params[a[0]])
            elif op == "relu":  # in place: the matmul before it does not need its output
                h = torch.relu_(h) if h is not x else torch.relu(h)
            elif op == "wn":  # columns of V (K, in, out) are the rows of the MLP's V
                v, g = params[a[0]], params[a[1]]
                h = torch.baddbmm(params[a[2]], h, g * v / v.norm(dim=1, keepdim=True))
            elif op == "layer":
                h = F.layer_norm(h, h.shape[-1:], None, None, a[0])
                h = h if a[1] is None else h * params[a[1]] + params[a[2]]
            elif op == "batch":
                h = (h - h.mean(1, keepdim=True)) / torch.sqrt(h.var(1, unbiased=False, keepdim=True) + a[0])
                h = h if a[1] is None else h * params[a[1]] + params[a[2]]
            elif op == "dropout":
                h = h * _dropout_masks(h, a[0], dropout_generators) if self.training else h
            else:  # a parameter-free element-wise module
                h = a[0](h)
        return h.squeeze(-1) if self.template.out_dim == 1 else h

    def member_state(self, k: int, params: Sequence[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Member k's parameters in :class:`MLP` layout (detached views), by name."""
        params = self.stacked if params is None else params
        return {n: (p[k].detach().mT if nd == 2 else p[k, 0].detach())
                for n, p, nd in zip(self.names, params, self._ndim)}

    def member(self, k: int) -> MLP:
        """A standalone copy of member k (an ordinary MLP, parameters copied, same device)."""
        net = copy.deepcopy(self.template)
        with torch.no_grad():
            for name, p in self.member_state(k).items():
                net.get_parameter(name).copy_(p)
        return net.to(self.stacked[0].device).requires_grad_(True)

    def flat(self, k: int) -> torch.Tensor:
        """Member k's parameters flattened, ``(P,)``, in ``MLP.named_parameters`` order and layout."""
        return torch.cat([p.reshape(-1) for p in self.member_state(k).values()])

    def reseed_dropout(self, seeds: Sequence[int]) -> None:
        """New dropout streams (a target copy must not replay its online network's masks)."""
        self.dropout_generators = [torch.Generator().manual_seed(int(s)) for s in seeds]


def _to_batched(p: torch.Tensor) -> torch.Tensor:
    return p.mT if p.ndim == 2 else p.unsqueeze(0)


def _dropout_seed(seed: int) -> int:
    return (int(seed) * 1_000_003 + 104_729) % (2**63 - 1)


def _dropout_masks(h: torch.Tensor, p: float, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Inverted-dropout masks ``(K, B, w)``, member k's drawn from ``generators[k]`` on the CPU."""
    keep = 1.0 - p
    masks = [torch.empty(h.shape[1:]).bernoulli_(keep, generator=g) for g in generators]
    return (torch.stack(masks) / keep).to(h.device, h.dtype)


def _plan(template: MLP, index: dict[str, int]) -> list[tuple]:
    """The layers of ``template`` in evaluation order as ``(op, *args)``, parameters by index."""
    prefix = {m: name + "." for name, m in template.named_modules()}
    mods = [m for b in template.blocks for m in (b.linear, b.norm_before, b.act, b.norm_after, b.dropout)]
    plan = []
    for m in mods + [template.out]:
        idx = lambda n: index.get(prefix[m] + n)  # noqa: E731  (None when the parameter is absent)
        if isinstance(m, nn.Identity):
            continue
        elif isinstance(m, WNLinear):
            plan.append(("wn", idx("v"), idx("g"), idx("bias")))
        elif isinstance(m, nn.Linear):
            plan.append(("linear", idx("weight"), idx("bias")))
        elif type(m) is nn.ReLU:
            plan.append(("relu",))
        elif isinstance(m, nn.Dropout):
            plan.append(("dropout", m.p))
        elif isinstance(m, PsiLayerNorm):
            plan.append(("layer", 0.0, None, None))
        elif isinstance(m, nn.LayerNorm):
            plan.append(("layer", m.eps, idx("weight"), idx("bias")))
        elif isinstance(m, nn.BatchNorm1d):
            plan.append(("batch", m.eps, idx("weight"), idx("bias")))
        elif not any(True for _ in m.parameters()):
            plan.append(("module", m))
        else:
            raise ValueError(f"EnsembleMLP cannot batch a {type(m).__name__}")
    if template.out_activation == "tanh":
        plan.append(("module", torch.tanh))
    return plan
