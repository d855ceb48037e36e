"""R-ANALYTIC computations: the NTK far from the data (Props. 1 and 2, App. G2), SEEM without
one ingredient of the deadly triad (App. G1), and Lemma 1's homogeneity (Table 3).

Shapes: points ``x: (d,)``, batches ``X: (N, d)``, scale lists ``lambdas: (K,)``; every kernel
value is the true (unscaled) NTK of :func:`seemlab.ntk.gram`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seemlab.nets import MLP
from seemlab.ntk import gram, jacobian
from seemlab.seem import seem, seem_from_a
from seemlab.theory import loglog_slope


# ----------------------------------------------------------------------------- Props 1 and 2
def kernel_along(model: nn.Module, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """k(x, p) for each row p of ``points: (K, d)``; returns ``(K,)``."""
    return gram(model, x.reshape(1, -1), points)[0]


def ray_kernels(model: nn.Module, x: torch.Tensor, lambdas) -> torch.Tensor:
    """k(x, λx) for each λ in ``lambdas: (K,)``; returns ``(K,)``."""
    lam = torch.as_tensor(lambdas, dtype=x.dtype, device=x.device).reshape(-1, 1)
    return kernel_along(model, x, lam * x.reshape(1, -1))


def shift_kernels(model: nn.Module, x: torch.Tensor, v: torch.Tensor, lambdas) -> torch.Tensor:
    """k(x, x + λv) for each λ in ``lambdas: (K,)``; returns ``(K,)``."""
    lam = torch.as_tensor(lambdas, dtype=x.dtype, device=x.device).reshape(-1, 1)
    return kernel_along(model, x, x.reshape(1, -1) + lam * v.reshape(1, -1))


@dataclass(frozen=True)
class FarRay:
    """Prop. 1 on one point x, with the growing sign s (the one with larger k(x, s·λ_hi·x)).

    ``rel_change = |k(x, sλ_hi x)/λ_hi − k(x, sλ_lo x)/λ_lo| / |k(x, sλ_lo x)/λ_lo|``,
    ``limit = k(x, sλ_hi x)/λ_hi``, ``ratio = k(x, sλ_hi x) / k(x, x)``.
    """

    sign: int
    rel_change: float
    limit: float
    ratio: float


def prop1_ray(model: nn.Module, x: torch.Tensor, lam_lo: float = 1e3, lam_hi: float = 1e4) -> FarRay:
    """Prop. 1 quantities for ``x: (d,)`` (both signs of λ tried, the growing one kept)."""
    k_xx = float(ray_kernels(model, x, [1.0])[0])
    best = None
    for s in (1, -1):
        k_lo, k_hi = (float(k) for k in ray_kernels(model, x, [s * lam_lo, s * lam_hi]))
        if best is None or k_hi > best[1]:
            best = (s, k_hi, k_lo)
    s, k_hi, k_lo = best
    lim_lo, lim_hi = k_lo / lam_lo, k_hi / lam_hi
    return FarRay(s, abs(lim_hi - lim_lo) / abs(lim_lo), lim_hi, k_hi / k_xx)


@dataclass(frozen=True)
class FarShift:
    """Prop. 2 on one (x, v): ``max_ratio = max_λ |k(x, x+λv)| / |k(x, x)|`` over ``lambdas``,
    ``tail_ratio = k(x, x + λ_hi v) / k(x, x + λ_mid v)``, and the curve ``k: (K,)``."""

    max_ratio: float
    tail_ratio: float
    k: np.ndarray


def prop2_shift(model: nn.Module, x, v, lambdas=None, lam_mid: float = 1e3, lam_hi: float = 1e6) -> FarShift:
    """Prop. 2 quantities for ``x, v: (d,)``; ``lambdas`` default ``logspace(0, 6, 61)``."""
    lambdas = np.logspace(0, 6, 61) if lambdas is None else np.asarray(lambdas)
    k = shift_kernels(model, x, v, lambdas).detach().cpu().numpy()
    k_xx = float(ray_kernels(model, x, [1.0])[0])
    k_mid, k_hi = (float(t) for t in shift_kernels(model, x, v, [lam_mid, lam_hi]))
    return FarShift(float(np.abs(k).max() / abs(k_xx)), k_hi / k_mid, k)


def random_nets(depth: int, n_inits: int, *, width: int = 256, d: int = 14, seed: int = 0, **kwargs) -> list[MLP]:
    """``n_inits`` float64 MLPs at PyTorch's default init, seeds ``seed, seed+1, ...``.

    Linear weights depend only on the seed, so ``norm="psi"``/``"layer"`` variants built with the
    same seeds are the same networks with LayerNorm inserted (Prop. 2's "same random nets").
    """
    return [MLP(d, depth, width, seed=seed + i, dtype=torch.float64, **kwargs) for i in range(n_inits)]


def random_points(n: int, d: int, seed: int) -> torch.Tensor:
    """``(n, d)`` float64 draws from N(0, I)."""
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def prop1_table(nets, X: torch.Tensor, lambdas=None) -> dict[str, np.ndarray]:
    """:func:`prop1_ray` for every (net, row of ``X: (n, d)``): arrays ``(n_nets, n)``, plus
    ``curve: (n_nets, n, K)`` = k(x, sλx) / k(x, x) over ``lambdas`` (default logspace(0, 4, 41))."""
    lambdas = np.logspace(0, 4, 41) if lambdas is None else np.asarray(lambdas)
    keys = ("sign", "rel_change", "limit", "ratio")
    out = {k: np.zeros((len(nets), len(X))) for k in keys}
    out["curve"] = np.zeros((len(nets), len(X), len(lambdas)))
    for i, net in enumerate(nets):
        for j, x in enumerate(X):
            r = prop1_ray(net, x)
            for k in keys:
                out[k][i, j] = getattr(r, k)
            k_xx = float(ray_kernels(net, x, [1.0])[0])
            out["curve"][i, j] = ray_kernels(net, x, r.sign * lambdas).numpy() / k_xx
    out["lambdas"] = lambdas
    return out


def prop2_table(nets, X: torch.Tensor, V: torch.Tensor, lambdas=None) -> dict[str, np.ndarray]:
    """:func:`prop2_shift` for every (net, row pair of ``X, V: (n, d)``): ``max_ratio`` and
    ``tail_ratio`` ``(n_nets, n)``, ``curve: (n_nets, n, K)`` = |k(x, x+λv)| / |k(x, x)|."""
    lambdas = np.logspace(0, 6, 61) if lambdas is None else np.asarray(lambdas)
    out = {k: np.zeros((len(nets), len(X))) for k in ("max_ratio", "tail_ratio")}
    out["curve"] = np.zeros((len(nets), len(X), len(lambdas)))
    for i, net in enumerate(nets):
        for j, (x, v) in enumerate(zip(X, V)):
            r = prop2_shift(net, x, v, lambdas)
            out["max_ratio"][i, j], out["tail_ratio"][i, j] = r.max_ratio, r.tail_ratio
            out["curve"][i, j] = np.abs(r.k) / abs(float(ray_kernels(net, x, [1.0])[0]))
    out["lambdas"] = lambdas
    return out


# ----------------------------------------------------------------------------- App. G2
def activation_pattern(model: MLP, X: torch.Tensor) -> torch.Tensor:
    """Which hidden ReLU units are active: ``(N, depth·width)`` bool (input of each activation > 0)."""
    masks, h = [], X
    with torch.no_grad():
        for block in model.blocks:
            z = block.norm_before(block.linear(h))
            masks.append(z > 0)
            h = block.dropout(block.norm_after(block.act(z)))
    return torch.cat(masks, dim=1)


def flipped_units(model: MLP, x: torch.Tensor, lam_a: float = 1e3, lam_b: float = 1e4) -> int:
    """Hidden units whose on/off state differs between λ_a·x and λ_b·x (``x: (d,)``)."""
    pats = activation_pattern(model, torch.stack([lam_a * x, lam_b * x]))
    return int((pats[0] != pats[1]).sum())


def second_difference(model: nn.Module, x: torch.Tensor, lam: float = 1e4) -> tuple[float, float]:
    """``(|f((λ+1)x) − 2f(λx) + f((λ−1)x)|, |f(λx)|)`` for ``x: (d,)``."""
    with torch.no_grad():
        f = model(torch.stack([(lam + 1) * x, lam * x, (lam - 1) * x])).reshape(-1)
    return float((f[0] - 2 * f[1] + f[2]).abs()), float(f[1].abs())


def far_value_change(model: nn.Module, x: torch.Tensor, lam_a: float = 1e4, lam_b: float = 1e6) -> tuple[float, float]:
    """``(|f(λ_b x) − f(λ_a x)|, |f(λ_b x)|)``: LN networks converge to a finite limit along rays."""
    with torch.no_grad():
        f = model(torch.stack([lam_a * x, lam_b * x])).reshape(-1)
    return float((f[1] - f[0]).abs()), float(f[1].abs())


def g2_table(nets, X: torch.Tensor) -> dict[str, np.ndarray]:
    """App. G2 on ReLU MLPs without normalization, for each (net, row of ``X: (n, d)``):
    ``flipped`` units between 1e3·x and 1e4·x (``flipped_late``: 1e4·x and 1e5·x), ``second_diff`` = |Δ²f(1e4·x)| / |f(1e4·x)| and
    ``rel_change`` of k(x, sλx)/λ (Prop. 1); arrays ``(n_nets, n)``."""
    out = {k: np.zeros((len(nets), len(X))) for k in ("flipped", "flipped_late", "second_diff", "rel_change")}
    for i, net in enumerate(nets):
        for j, x in enumerate(X):
            diff, size = second_difference(net, x)
            out["flipped"][i, j] = flipped_units(net, x)
            out["flipped_late"][i, j] = flipped_units(net, x, 1e4, 1e5)
            out["second_diff"][i, j] = diff / size
            out["rel_change"][i, j] = prop1_ray(net, x).rel_change
    return out


def ln_limit_table(nets, X: torch.Tensor) -> np.ndarray:
    """|f(1e6·x) − f(1e4·x)| / (1 + |f(1e6·x)|) for each (net, row of ``X``): ``(n_nets, n)``."""
    out = np.zeros((len(nets), len(X)))
    for i, net in enumerate(nets):
        for j, x in enumerate(X):
            diff, size = far_value_change(net, x)
            out[i, j] = diff / (1 + size)
    return out


def ray_values(model: nn.Module, x: torch.Tensor, lambdas) -> np.ndarray:
    """f(λx) for each λ in ``lambdas: (K,)``; returns ``(K,)``."""
    lam = torch.as_tensor(np.asarray(lambdas), dtype=x.dtype).reshape(-1, 1)
    with torch.no_grad():
        return model(lam * x.reshape(1, -1)).reshape(-1).numpy()


def as_float64(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` (the original is untouched)."""
    return copy.deepcopy(model).to(torch.float64)


# ----------------------------------------------------------------------------- App. G1
def seem_vs_perturbation(model, X, Delta, eps_list, gamma: float = 0.99) -> np.ndarray:
    """Normalized SEEM with ``X* = X + ε·Delta`` for each ε; ``X, Delta: (N, d)`` -> ``(len(eps_list),)``."""
    return np.array([seem(model, X, X + e * Delta, gamma).normalized for e in eps_list])


def positive_slope(eps_list, values, floor: float = 1e-6) -> float:
    """Log-log slope of the finite values above ``floor`` against ε > 0 (NaN if fewer than two)."""
    eps, vals = np.asarray(eps_list, float), np.asarray(values, float)
    keep = (vals > floor) & (eps > 0) & np.isfinite(vals) & np.isfinite(eps)
    if keep.sum() < 2:
        return float("nan")
    return loglog_slope(eps[keep], vals[keep])


def tabular_seem(n_states: int, n: int, gamma: float = 0.99, *, dtype=torch.float64):
    """App. G1(b): a tabular (one-hot, linear) Q with disjoint X and X*; returns ``(SEEMResult, ‖G‖_F)``.

    States 0..n−1 form X, states n..2n−1 form X*, so G(X*, X) = 0 and A = −G(X, X).
    """
    if 2 * n > n_states:
        raise ValueError(f"need n_states >= 2n for disjoint X and X*; got n_states={n_states}, n={n}")
    q = nn.Linear(n_states, 1, bias=False).to(dtype)
    eye = torch.eye(n_states, dtype=dtype)
    X, X_star = eye[:n], eye[n : 2 * n]
    return seem(q, X, X_star, gamma), float(gram(q, X).norm())


def random_a_normalized(n: int, count: int, seed: int) -> np.ndarray:
    """Normalized SEEM of ``count`` random Gaussian ``(n, n)`` matrices (the bound's stress test)."""
    rng = np.random.default_rng(seed)
    return np.array([seem_from_a(rng.standard_normal((n, n))).normalized for _ in range(count)])


# ----------------------------------------------------------------------------- Lemma 1 / Table 3
def scaled(model: nn.Module, lam: float) -> nn.Module:
    """A copy of ``model`` with every parameter multiplied by λ."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.mul_(lam)
    return out


@dataclass(frozen=True)
class Homogeneity:
    """Table 3 ratios for one λ (SPEC Ambiguity 26)."""

    lam: float
    f_ratio: float  # least-squares slope of f_{λθ}(X) on f_θ(X), no intercept; λ^L expected
    grad_ratio: float  # ‖Z_{λθ}(X)‖_F / ‖Z_θ(X)‖_F; λ^(L−1) expected
    ntk_ratio: float  # ‖G_{λθ}(X, X')‖_F / ‖G_θ(X, X')‖_F; λ^(2L−2) expected
    ntk_cos: float  # cosine of the flattened G_{λθ}(X, X') and G_θ(X, X')


def homogeneity(model: nn.Module, X: torch.Tensor, X2: torch.Tensor, lam: float) -> Homogeneity:
    """Lemma 1 ratios of ``model`` at ``θ`` vs ``λθ`` on ``X, X2: (N, d)``."""
    big = scaled(model, lam)
    with torch.no_grad():
        f0, f1 = model(X).reshape(-1), big(X).reshape(-1)
    G0, G1 = gram(model, X, X2), gram(big, X, X2)
    cos = float((G0 * G1).sum() / (G0.norm() * G1.norm()))
    return Homogeneity(
        lam=lam,
        f_ratio=float((f0 * f1).sum() / (f0 * f0).sum()),
        grad_ratio=float(jacobian(big, X).norm() / jacobian(model, X).norm()),
        ntk_ratio=float(G1.norm() / G0.norm()),
        ntk_cos=cos,
    )


def homogeneity_inputs(d: int, n: int = 100, noise: float = 10.0, *, seed: int = 0, dtype=torch.float64):
    """``X ~ U[−1, 1]^d`` and ``X' = clip(X + N(0, noise²), −1, 1)``, both ``(n, d)``."""
    gen = torch.Generator().manual_seed(seed)
    X = 2 * torch.rand(n, d, generator=gen, dtype=dtype) - 1
    X2 = (X + noise * torch.randn(n, d, generator=gen, dtype=dtype)).clamp(-1, 1)
    return X, X2


def weight_bias_ratio(model: nn.Module) -> float:
    """‖all weights‖ / ‖all biases‖ (parameters named ``*bias`` vs the rest)."""
    w = torch.cat([p.detach().reshape(-1) for n, p in model.named_parameters() if not n.endswith("bias")])
    b = torch.cat([p.detach().reshape(-1) for n, p in model.named_parameters() if n.endswith("bias")])
    return float(w.norm() / b.norm())
