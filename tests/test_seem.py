"""seemlab.seem: definitions, dense vs Krylov, bounds, validation."""

import numpy as np
import pytest
import torch

from seemlab.nets import MLP, n_params
from seemlab.ntk import gram
from seemlab.seem import SEEMResult, _block_krylov, a_matrix, seem, seem_from_a, seem_from_grams


def _rand(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _setup(n=12, seed=0, **kwargs):
    m = MLP(5, depth=2, width=8, dtype=torch.float64, seed=seed, **kwargs)
    X = _rand(n, 5, seed + 1)
    return m, X, X + 0.5 * _rand(n, 5, seed + 2)


def test_definition_matches_numpy():
    m, X, Xs = _setup()
    r = seem(m, X, Xs, 0.9)
    A = (0.9 * gram(m, Xs, X) - gram(m, X, X)).numpy()
    lam = np.linalg.eigvals(A)
    assert isinstance(r, SEEMResult)
    assert r.raw == pytest.approx(lam.real.max(), rel=1e-10)
    assert r.fro == pytest.approx(np.linalg.norm(A), rel=1e-12)
    assert r.normalized == pytest.approx(r.raw / r.fro)
    assert r.code == pytest.approx(r.raw / n_params(m))
    v = r.eigenvector
    np.testing.assert_allclose(A @ v, r.eigenvalue * v, atol=1e-8 * r.fro)


def test_from_grams_and_a_equal_seem():
    m, X, Xs = _setup()
    r = seem(m, X, Xs, 0.99)
    G1, G0 = gram(m, Xs, X), gram(m, X)
    r2 = seem_from_grams(G1, G0, 0.99, n_params=n_params(m))
    r3 = seem_from_a(a_matrix(G1.numpy(), G0.numpy(), 0.99), n_params=n_params(m))
    for other in (r2, r3):
        assert other.raw == pytest.approx(r.raw, rel=1e-12) and other.code == pytest.approx(r.code, rel=1e-12)


@pytest.mark.parametrize("seed, norm", [(0, "none"), (1, "layer"), (2, "none")])
def test_dense_and_krylov_agree(seed, norm):
    m, X, Xs = _setup(n=60, seed=seed, norm=norm)
    G1, G0 = gram(m, Xs, X), gram(m, X)
    for gamma in (0.0, 0.5, 0.99):
        d = seem_from_grams(G1, G0, gamma, method="dense")
        k = seem_from_grams(G1, G0, gamma, method="krylov")
        assert k.method == "krylov"
        assert abs(d.raw - k.raw) <= 1e-6 * max(abs(d.raw), 1e-3 * d.fro), (gamma, d.raw, k.raw)


@pytest.mark.parametrize("seed", [0, 1])
def test_block_krylov_agrees_with_dense(seed):
    """The block method (used for N >= 768) on a small A with small blocks.

    (A = −G with a null cluster, γ = 0, may not converge there; seem_from_a then falls back.)"""
    m, X, Xs = _setup(n=120, seed=seed)
    G1, G0 = gram(m, Xs, X), gram(m, X)
    for gamma in (0.5, 0.99):
        A = a_matrix(G1, G0, gamma).numpy()
        d = seem_from_a(A, method="dense")
        lam, vec = _block_krylov(torch.from_numpy(A), block=8, steps=12)
        assert abs(d.raw - lam.real) <= 1e-6 * max(abs(d.raw), 1e-3 * d.fro), (gamma, d.raw, lam)
        np.testing.assert_allclose(A @ vec, lam * vec, atol=1e-8 * d.fro)


def test_krylov_on_a_rank_deficient_converging_a():
    """γ = 0 gives A = −G, negative semidefinite with a cluster of zeros (rank ≤ P < N)."""
    m = MLP(3, depth=1, width=2, dtype=torch.float64, seed=0)  # P = 11
    X = _rand(40, 3, 3)
    G = gram(m, X)
    d = seem_from_grams(G, G, 0.0, method="dense")
    k = seem_from_grams(G, G, 0.0, method="krylov")
    assert abs(d.raw - k.raw) <= 1e-6 * d.fro
    assert d.normalized <= 1e-10


def test_normalized_in_unit_interval_random_matrices():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30):
        for _ in range(20):
            r = seem_from_a(rng.standard_normal((n, n)) * rng.exponential())
            assert -1.0 <= r.normalized <= 1.0


def test_normalized_bounds_on_networks():
    for seed in range(3):
        m, X, Xs = _setup(seed=seed)
        for gamma in (0.0, 0.7, 1.0):
            assert -1.0 <= seem(m, X, Xs, gamma).normalized <= 1.0


def test_zero_and_nonfinite_a():
    assert seem_from_a(np.zeros((3, 3))).normalized == 0.0
    r = seem_from_a(np.array([[np.inf, 0.0], [0.0, 1.0]]))
    assert np.isnan(r.raw) and r.method == "none"


def test_bad_inputs_raise_before_computing():
    m, X, Xs = _setup()
    for gamma in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
            seem(m, X, Xs, gamma)
    with pytest.raises(ValueError, match="feature sizes differ"):
        seem(m, X, _rand(12, 4, 0), 0.9)
    with pytest.raises(ValueError, match="same shape"):
        seem(m, X, Xs[:5], 0.9)
    with pytest.raises(ValueError, match="scalar-output"):
        seem(MLP(5, 1, 4, out_dim=2), X.float(), Xs.float(), 0.9)
    with pytest.raises(ValueError, match="auto, dense, krylov"):
        seem(m, X, Xs, 0.9, method="power")
    with pytest.raises(ValueError, match="square"):
        seem_from_a(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(N, N\)"):
        a_matrix(np.zeros((2, 2)), np.zeros((3, 3)), 0.5)


def test_batchnorm_blocks_are_separate_batches():
    """With BatchNorm in train mode, G(X*, X) and G(X, X) come from X* and X as their own batches."""
    from seemlab.nets import MLP
    from seemlab.ntk import gram
    from seemlab.seem import gram_blocks

    torch.manual_seed(0)
    model = MLP(3, depth=1, width=8, norm="batch", seed=0, dtype=torch.float64)
    X, X_star = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    G_star_x, G_xx = gram_blocks(model, X, X_star)
    torch.testing.assert_close(G_xx, gram(model, X))
    torch.testing.assert_close(G_star_x, gram(model, X_star, X))
    stacked = gram(model, torch.cat([X_star, X]), X)
    assert not torch.allclose(stacked[6:], G_xx)  # mixing the batches would change G(X, X)
