"""seemlab.analytic: far-point kernels, G1/G2 helpers and Lemma 1 ratios on tiny nets."""

import numpy as np
import pytest
import torch

from seemlab import analytic
from seemlab.nets import MLP


def _bias_free(depth=2, width=16, d=3, seed=0, weight_scale=30.0):
    """Zero biases and large weights: the diverged regime of Lemma 1 (bias gradients negligible)."""
    m = MLP(d, depth, width, dtype=torch.float64, seed=seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.mul_(0.0 if name.endswith("bias") else weight_scale)
    return m


def test_homogeneity_in_the_diverged_regime():
    m = _bias_free()
    X, X2 = analytic.homogeneity_inputs(3, 8, seed=0)
    h = analytic.homogeneity(m, X, X2, 5.0)
    assert h.f_ratio == pytest.approx(5.0**3, rel=1e-10)  # exact: f is homogeneous without biases
    assert h.grad_ratio == pytest.approx(5.0**2, rel=1e-3)  # bias gradients scale by lower powers
    assert h.ntk_ratio == pytest.approx(5.0**4, rel=1e-3)
    assert 1 - h.ntk_cos < 1e-5


def test_scaled_leaves_original():
    m = MLP(3, 1, 4, seed=0)
    before = [p.clone() for p in m.parameters()]
    analytic.scaled(m, 3.0)
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_ray_and_shift_kernels_match_gram():
    m = MLP(3, 2, 8, dtype=torch.float64, seed=1)
    x, v = analytic.random_points(2, 3, 0)
    from seemlab.ntk import gram

    k = analytic.ray_kernels(m, x, [2.0])
    torch.testing.assert_close(k[0], gram(m, x[None], 2 * x[None])[0, 0])
    k = analytic.shift_kernels(m, x, v, [3.0])
    torch.testing.assert_close(k[0], gram(m, x[None], (x + 3 * v)[None])[0, 0])


def test_prop1_and_prop2_shapes_and_signs():
    X, V = analytic.random_points(2, 3, 0), analytic.random_points(2, 3, 1)
    t1 = analytic.prop1_table(analytic.random_nets(1, 2, width=8, d=3), X, lambdas=[1, 10])
    assert t1["rel_change"].shape == (2, 2) and t1["curve"].shape == (2, 2, 2)
    assert set(np.unique(t1["sign"])) <= {-1.0, 1.0}
    t2 = analytic.prop2_table(analytic.random_nets(1, 1, width=8, d=3, norm="psi"), X, V, lambdas=[1, 1e3, 1e6])
    assert t2["max_ratio"].shape == (1, 2) and np.isfinite(t2["curve"]).all()


def test_g2_helpers():
    m = MLP(3, 2, 8, dtype=torch.float64, seed=2)
    x = analytic.random_points(1, 3, 0)[0]
    assert analytic.activation_pattern(m, x[None]).shape == (1, 16)
    assert analytic.flipped_units(m, x) == 0
    diff, size = analytic.second_difference(m, x)
    assert diff <= 1e-6 * size
    t = analytic.g2_table([m], x[None])
    assert t["flipped"].shape == (1, 1)
    ln = analytic.random_nets(1, 1, width=8, d=3, norm="psi")
    assert analytic.ln_limit_table(ln, x[None])[0, 0] < 1e-3


def test_g1_helpers():
    r, g = analytic.tabular_seem(6, 3)
    assert r.raw == pytest.approx(-1.0) and g == pytest.approx(3**0.5)
    with pytest.raises(ValueError, match="n_states >= 2n"):
        analytic.tabular_seem(4, 3)
    vals = analytic.random_a_normalized(4, 10, 0)
    assert np.all(np.abs(vals) <= 1)
    assert analytic.positive_slope([1e-1, 1e-2], [1e-1, 1e-2]) == pytest.approx(1.0)
    assert np.isnan(analytic.positive_slope([1e-1, 1e-2], [1e-1, -1.0]))
    # the fit is theory's log-log line, on the finite values only
    assert analytic.positive_slope([1e-3, 1e-2, 1e-1], [2e-6, 2e-4, np.inf]) == pytest.approx(2.0)


def test_weight_bias_ratio_and_float64_copy():
    m = MLP(3, 1, 4, seed=0)
    m64 = analytic.as_float64(m)
    assert next(m.parameters()).dtype == torch.float32 and next(m64.parameters()).dtype == torch.float64
    assert analytic.weight_bias_ratio(m64) > 0
