import numpy as np
import pytest
import torch

from seemlab.toy import baird


def test_features_and_initial_values():
    phi = baird.features()
    assert phi.shape == (7, 8)
    assert phi[0].tolist() == [2, 0, 0, 0, 0, 0, 0, 1] and phi[6].tolist() == [0, 0, 0, 0, 0, 0, 1, 2]
    q = baird.make_model("linear", 0)(phi).squeeze(-1)
    assert torch.allclose(q, phi @ torch.tensor(baird.W0, dtype=torch.float64))


def test_unknown_arm_names_allowed_values():
    with pytest.raises(ValueError, match="allowed values: linear, ln"):
        baird.make_model("batch", 0)


def test_linear_diverges_and_ln_stays_bounded():
    """SPEC Figure 14 at a reduced budget: the linear arm passes 1e6 before step 1000."""
    lin = baird.run(baird.BairdConfig(arm="linear", steps=1000))
    assert lin.diverged_step is not None and lin.theta_norm.max() > 1e6
    ln = baird.run(baird.BairdConfig(arm="ln", steps=1000))
    assert ln.diverged_step is None and ln.theta_norm.max() <= 100
    assert ln.q.shape == (1000, 7) and np.all(np.isfinite(ln.q))


def test_overflow_stops_cleanly():
    run = baird.run(baird.BairdConfig(arm="ln_features_affine", steps=200))
    assert run.diverged_step is not None and run.steps.size < 200
    assert run.theta_norm.shape == run.steps.shape and run.q.shape == (run.steps.size, 7)
