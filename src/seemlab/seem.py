"""SEEM, the Self-Excite Eigenvalue Measure (SPEC §0.1, Theorem 1/3).

For a probe batch ``X: (N, d)`` and its next-state pairs ``X*: (N, d)``,

    A = γ·G(X*, X) − G(X, X)                 (N, N), non-symmetric, true (unscaled) G
    SEEM_raw        = max_i Re λ_i(A)
    SEEM_normalized = SEEM_raw / ‖A‖_F       in [−1, 1], since |λ| ≤ ‖A‖_2 ≤ ‖A‖_F
    SEEM_code       = SEEM_raw / P           the authors' code divides gradients by √P

Eigensolvers (``method=``): ``"dense"`` (LAPACK ``geev`` via ``torch.linalg.eig``, O(N³), the reference),
``"krylov"`` (block Arnoldi on products ``A @ (N, 16)`` with Rayleigh–Ritz
and thick restarts, O(N²·384) per restart; falls back to ARPACK's ``eigs(which="LR")``), ``"auto"``: dense for N ≤
:data:`DENSE_MAX`, else Krylov (falling back to dense if Arnoldi does not converge).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs
from torch import nn

from seemlab.nets import n_params
from seemlab.ntk import batch_coupled, check_inputs, gram

EIG_METHODS = ("auto", "dense", "krylov")
DENSE_MAX = 256
KRYLOV_BLOCK = 16  # block size of the Krylov method
KRYLOV_STEPS = 24  # blocks per restart: a basis of 384 columns


@dataclass(frozen=True)
class SEEMResult:
    """SEEM of one A matrix.

    Attributes:
        raw: max Re λ(A) with the true G.
        normalized: ``raw / fro`` in [−1, 1] (0 if A = 0).
        code: ``raw / n_params`` (the authors' √P gradient scaling); NaN if P is unknown.
        eigenvalue: the top eigenvalue (complex; its imaginary part is a diagnostic).
        eigenvector: ``(N,)`` complex right eigenvector of ``eigenvalue``, unit 2-norm.
        fro: ‖A‖_F.
        n_params: P (0 if unknown).
        method: the eigensolver that produced the result (``"dense"`` or ``"krylov"``).
    """

    raw: float
    normalized: float
    code: float
    eigenvalue: complex
    eigenvector: np.ndarray
    fro: float
    n_params: int
    method: str


def check_gamma(gamma: float) -> float:
    """Return ``gamma`` as a float if 0 ≤ γ ≤ 1, else raise ``ValueError``."""
    g = float(gamma)
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    return g


def a_matrix(G_star_x, G_xx, gamma: float):
    """``A = γ·G(X*, X) − G(X, X)``; both inputs ``(N, N)`` (tensors or arrays), same type out."""
    gamma = check_gamma(gamma)
    if tuple(G_star_x.shape) != tuple(G_xx.shape) or G_xx.ndim != 2 or G_xx.shape[0] != G_xx.shape[1]:
        raise ValueError(f"G(X*, X) and G(X, X) must both be (N, N); got {tuple(G_star_x.shape)}, {tuple(G_xx.shape)}")
    return gamma * G_star_x - G_xx


def seem(
    model: nn.Module,
    X: torch.Tensor,
    X_star: torch.Tensor,
    gamma: float,
    *,
    method: str = "auto",
    gram_method: str = "auto",
) -> SEEMResult:
    """SEEM of the critic ``model`` on the probe batch.

    Args:
        model: scalar critic, ``(N, d) -> (N,)`` or ``(N, 1)``.
        X: ``(N, d)`` dataset pairs (s, a).
        X_star: ``(N, d)`` next pairs (s', a*).
        gamma: discount in [0, 1].
        method: eigensolver, one of :data:`EIG_METHODS`.
        gram_method: passed to :func:`seemlab.ntk.gram`.
    """
    check_gamma(gamma)
    _check_method(method)
    check_inputs(model, X, X_star)
    if X.shape != X_star.shape:
        raise ValueError(f"X and X_star must have the same shape; got {tuple(X.shape)} and {tuple(X_star.shape)}")
    A = a_matrix(*gram_blocks(model, X, X_star, gram_method=gram_method), gamma)
    return seem_from_a(A, n_params=n_params(model), method=method)


def gram_blocks(model: nn.Module, X: torch.Tensor, X_star: torch.Tensor, *, gram_method: str = "auto"):
    """``(G(X*, X), G(X, X))``, both ``(N, N)``.

    One Gram call on the stacked rows ``[X*; X]``, except for a batch-coupled model (BatchNorm in
    train mode), whose blocks are taken on ``X*`` and ``X`` as separate batches, as a trainer
    evaluates them; stacking them would mix the two batches' statistics.
    """
    if batch_coupled(model):
        return gram(model, X_star, X, method=gram_method), gram(model, X, method=gram_method)
    G = gram(model, torch.cat([X_star, X]), X, method=gram_method)
    return G[: len(X)], G[len(X) :]


def seem_from_grams(G_star_x, G_xx, gamma: float, *, n_params: int = 0, method: str = "auto") -> SEEMResult:
    """SEEM from precomputed ``G(X*, X)`` and ``G(X, X)``, both ``(N, N)`` with the true scale."""
    return seem_from_a(a_matrix(G_star_x, G_xx, gamma), n_params=n_params, method=method)


def seem_from_a(A, *, n_params: int = 0, method: str = "auto") -> SEEMResult:
    """SEEM of a precomputed ``A: (N, N)`` (tensor or array, true G scale)."""
    _check_method(method)
    A = A.detach().cpu().numpy() if torch.is_tensor(A) else np.asarray(A)
    A = A.astype(np.float64)  # eigensolvers in double precision whatever the network's dtype
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"A must be a non-empty square matrix (N, N), got shape {A.shape}")
    if not np.isfinite(A).all():
        nan = float("nan")
        return SEEMResult(nan, nan, nan, complex(nan, nan), np.full(len(A), nan, complex), nan, n_params, "none")
    if method == "auto":
        method = "dense" if len(A) <= DENSE_MAX else "krylov"
    lam, vec, used = _top_eig(A, method)
    fro = float(np.linalg.norm(A))
    raw = float(lam.real)
    return SEEMResult(
        raw=raw,
        normalized=raw / fro if fro > 0 else 0.0,
        code=raw / n_params if n_params else float("nan"),
        eigenvalue=complex(lam),
        eigenvector=vec / np.linalg.norm(vec),
        fro=fro,
        n_params=int(n_params),
        method=used,
    )


def _check_method(method: str) -> None:
    if method not in EIG_METHODS:
        raise ValueError(f"unknown method {method!r}; allowed values: {', '.join(EIG_METHODS)}")


def _top_eig(A: np.ndarray, method: str) -> tuple[complex, np.ndarray, str]:
    """The eigenpair of A with the largest real part: ``(λ, v (N,), method used)``.

    LAPACK and matrix products run through torch, which honours ``torch.set_num_threads``
    (numpy's OpenBLAS spins all cores and is many times slower on a shared machine).
    """
    At = torch.from_numpy(np.ascontiguousarray(A))
    if method == "krylov" and len(A) > 2:
        found = _block_krylov(At) if len(A) >= 2 * KRYLOV_BLOCK * KRYLOV_STEPS else None
        if found is not None:
            return (*found, "krylov")
        try:
            return (*_arpack(At), "krylov")
        except ArpackNoConvergence:
            pass
    lam, vecs = torch.linalg.eig(At)
    i = int(torch.argmax(lam.real))
    return complex(lam[i]), vecs[:, i].numpy().astype(complex), "dense"


def _block_krylov(
    A: torch.Tensor, tol: float = 1e-8, restarts: int = 30, block: int = KRYLOV_BLOCK, steps: int = KRYLOV_STEPS
) -> tuple[complex, np.ndarray] | None:
    """Block Arnoldi with Rayleigh–Ritz and thick restarts for the rightmost eigenpair of ``A: (N, N)``.

    Each restart builds a Krylov basis of ``block · steps`` columns from products
    ``A @ (N, block)`` (compute-bound, unlike one vector at a time), takes the Ritz pair
    with the largest real part, and stops once ``‖A y − θ y‖ ≤ tol · ‖A‖_F``; otherwise it restarts
    from the best Ritz vectors. Returns ``None`` if it does not converge.
    """
    fro = float(torch.linalg.matrix_norm(A))
    if fro == 0.0:
        return None
    start = torch.randn(len(A), block, generator=torch.Generator().manual_seed(0), dtype=A.dtype)
    for _ in range(restarts):
        V, AV = _krylov_basis(A, start, steps)
        theta, Y = torch.linalg.eig(V.T @ AV)
        order = torch.argsort(theta.real, descending=True)
        Yc = Y[:, order].to(torch.complex128)
        y = V.to(torch.complex128) @ Yc[:, 0]
        r = AV.to(torch.complex128) @ Yc[:, 0] - theta[order[0]] * y
        if float(r.norm() / y.norm()) <= tol * fro:
            return complex(theta[order[0]]), (y / y.norm()).numpy()
        ritz = V.to(torch.complex128) @ Yc[:, : block // 2]
        start = torch.cat([ritz.real, ritz.imag], dim=1).contiguous()
    return None


def _krylov_basis(A: torch.Tensor, start: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal block-Krylov basis ``V: (N, m)`` of ``start`` and ``A @ V`` (twice-orthogonalized)."""
    Q = _orthonormal(start, None)
    basis, images = [Q], []
    for k in range(steps):
        W = A @ basis[-1]
        images.append(W)
        if k < steps - 1:
            basis.append(_orthonormal(W, torch.cat(basis, dim=1)))
    return torch.cat(basis, dim=1), torch.cat(images, dim=1)


def _orthonormal(W: torch.Tensor, B: torch.Tensor | None) -> torch.Tensor:
    """Columns of ``W`` orthogonalized against ``B`` (two passes) and orthonormalized."""
    for _ in range(2):
        if B is not None:
            W = W - B @ (B.T @ W)
        W = torch.linalg.qr(W)[0]
    return W


def _arpack(A: torch.Tensor, tol: float = 1e-10) -> tuple[complex, np.ndarray]:
    """ARPACK (implicitly restarted Arnoldi, ``eigs(which="LR")``), the fallback of the block method."""
    n = len(A)
    op = LinearOperator((n, n), matvec=lambda v: (A @ torch.from_numpy(np.asarray(v, np.float64).ravel())).numpy(), dtype=np.float64)
    lam, vecs = eigs(op, k=1, which="LR", ncv=min(n - 1, 256), tol=tol, v0=np.ones(n) / np.sqrt(n), maxiter=100 * n)
    return complex(lam[0]), vecs[:, 0].astype(complex)
