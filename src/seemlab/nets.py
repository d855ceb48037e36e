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
