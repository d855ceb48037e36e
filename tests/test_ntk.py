"""seemlab.ntk: every implementation equals an independent per-sample autograd loop (float64)."""

import pytest
import torch
from torch import nn

from seemlab.nets import MLP, PsiLayerNorm
from seemlab.ntk import closed_form_modules, gram, jacobian, kernel_map, supports_closed_form

RTOL = 1e-6

CLOSED_CASES = [
    dict(),
    dict(activation="tanh"),
    dict(activation="mish"),
    dict(norm="layer", norm_position="before"),
    dict(norm="layer", norm_position="after"),
    dict(norm="layer", affine=False),
    dict(norm="layer", norm_layers=[1]),
    dict(norm="psi"),
    dict(norm="psi", norm_position="after", activation="tanh"),  # ψ(0) is undefined after a dead ReLU
    dict(dropout=0.2),  # eval mode: inactive
    dict(out_activation="tanh"),
]
FUNC_ONLY_CASES = [
    dict(norm="batch"),  # train mode: the batch Jacobian
    dict(norm="batch", norm_position="after"),
    dict(norm="weight"),
    dict(out_weight_norm=True),
]


def _rand(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _net(seed=0, **kwargs):
    """A random MLP in float64 with perturbed parameters (so LN affines are not 1 and 0)."""
    m = MLP(4, depth=2, width=6, dtype=torch.float64, seed=seed, **kwargs)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return m.eval() if kwargs.get("dropout") else m


def _reference(model, X1, X2):
    """Independent reference: batch output of each X, one autograd.grad per row, then Z1 Z2^T."""
    params = [p for p in model.parameters() if p.requires_grad]  # the NTK of the trainable ones
    saved = {k: v.clone() for k, v in model.named_buffers()}

    def rows(X):
        y = model(X).reshape(-1)
        out = []
        for i in range(len(X)):
            g = torch.autograd.grad(y[i], params, retain_graph=True, allow_unused=True)
            out.append(torch.cat([torch.zeros_like(p).reshape(-1) if gi is None else gi.reshape(-1) for gi, p in zip(g, params)]))
        return torch.stack(out)

    G = rows(X1) @ rows(X2).T
    with torch.no_grad():
        for k, v in model.named_buffers():
            v.copy_(saved[k])
    return G


def _assert_rel(G, ref, label):
    err = ((G - ref).norm() / ref.norm()).item()
    assert err < RTOL, f"{label}: relative error {err:.2e}"


@pytest.mark.parametrize("kwargs", CLOSED_CASES, ids=str)
def test_closed_func_loop_agree_with_reference(kwargs):
    m = _net(**kwargs)
    X1, X2 = _rand(5, 4, 1), _rand(3, 4, 2)
    ref = _reference(m, X1, X2)
    assert supports_closed_form(m)
    for method in ("closed", "func", "loop", "auto"):
        _assert_rel(gram(m, X1, X2, method=method), ref, f"{method} {kwargs}")


@pytest.mark.parametrize("kwargs", FUNC_ONLY_CASES, ids=str)
def test_func_and_loop_cover_other_norms(kwargs):
    m = _net(**kwargs)
    X1, X2 = _rand(5, 4, 1), _rand(3, 4, 2)
    ref = _reference(m, X1, X2)
    assert not supports_closed_form(m)
    for method in ("func", "loop", "auto"):
        _assert_rel(gram(m, X1, X2, method=method), ref, f"{method} {kwargs}")
    with pytest.raises(ValueError, match="closed"):
        gram(m, X1, X2, method="closed")


def test_batchnorm_running_stats_untouched():
    m = _net(norm="batch")
    before = [b.clone() for b in m.buffers()]
    gram(m, _rand(5, 4, 1), method="func")
    gram(m, _rand(5, 4, 1), method="loop")
    assert all(torch.equal(a, b) for a, b in zip(before, m.buffers()))


def test_custom_module_uses_func():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 5).double()
            self.s = nn.Parameter(torch.tensor([0.7], dtype=torch.float64))

        def forward(self, x):
            return (self.s * torch.sin(self.a(x))).sum(dim=1, keepdim=True)

    m = Custom()
    X1, X2 = _rand(4, 4, 3), _rand(6, 4, 4)
    _assert_rel(gram(m, X1, X2), _reference(m, X1, X2), "custom")


@pytest.mark.parametrize("method", ["closed", "func", "loop"])
def test_symmetric_psd_and_x2_none(method):
    m = _net(norm="layer")
    X = _rand(7, 4, 5)
    G = gram(m, X, method=method)
    torch.testing.assert_close(G, G.T)
    assert torch.linalg.eigvalsh(G).min() > -1e-10 * G.diagonal().max()
    torch.testing.assert_close(G, gram(m, X, X, method=method))


@pytest.mark.parametrize("method", ["closed", "func", "loop"])
def test_chunking_changes_nothing(method):
    m = _net(norm="layer", norm_position="after")
    X1, X2 = _rand(9, 4, 6), _rand(7, 4, 7)
    full = gram(m, X1, X2, method=method)
    torch.testing.assert_close(gram(m, X1, X2, method=method, max_elems=150), full)
    torch.testing.assert_close(gram(m, X1, method=method, max_elems=150), gram(m, X1, method=method))


def test_jacobian_shape_and_gram():
    m = _net()
    X = _rand(3, 4, 8)
    J = jacobian(m, X)
    assert J.shape == (3, sum(p.numel() for p in m.parameters()))
    torch.testing.assert_close(J @ J.T, gram(m, X))


def test_kernel_map_matches_gram():
    m = MLP(2, depth=1, width=16, dtype=torch.float64, seed=0)
    x0 = torch.tensor([0.1, 0.2], dtype=torch.float64)
    xs, ys, K = kernel_map(m, x0, -4, 4, 5)
    assert xs.shape == ys.shape == (5,) and K.shape == (5, 5)
    point = torch.tensor([[xs[3], ys[1]]], dtype=torch.float64)
    torch.testing.assert_close(K[1, 3], gram(m, x0[None], point, method="func")[0, 0])


def test_bad_inputs_raise():
    m = _net()
    with pytest.raises(ValueError, match="feature sizes differ"):
        gram(m, _rand(3, 4, 0), _rand(3, 5, 0))
    with pytest.raises(ValueError, match="expects d=4"):
        gram(m, _rand(3, 5, 0))
    with pytest.raises(ValueError, match="2-D"):
        gram(m, torch.zeros(3))
    with pytest.raises(ValueError, match="scalar-output"):
        gram(MLP(4, 1, 4, out_dim=2), _rand(3, 4, 0))
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        gram(nn.Linear(4, 3).double(), _rand(3, 4, 0))
    with pytest.raises(ValueError, match="auto, closed, func, loop"):
        gram(m, _rand(3, 4, 0), method="jvp")


# ----------------------------------------------------------------------------- nn.Sequential critics
D, W = 5, 7  # input features and hidden width of the Sequential critics below
EXACT = 1e-10  # float64: the closed form equals the per-sample loop to rounding


def _lin(i, o, bias=True):
    return nn.Linear(i, o, bias=bias)


SEQUENTIALS = {
    "corl_relu": lambda: nn.Sequential(_lin(D, W), nn.ReLU(), _lin(W, W), nn.ReLU(), _lin(W, 1)),
    "tanh": lambda: nn.Sequential(_lin(D, W), nn.Tanh(), _lin(W, W), nn.Tanh(), _lin(W, 1)),
    "mish_ln_affine": lambda: nn.Sequential(
        _lin(D, W), nn.LayerNorm(W), nn.Mish(), _lin(W, W), nn.LayerNorm(W), nn.Mish(), _lin(W, 1)),
    "ln_no_affine": lambda: nn.Sequential(
        _lin(D, W), nn.LayerNorm(W, elementwise_affine=False), nn.ReLU(), _lin(W, 1)),
    "ln_no_bias": lambda: nn.Sequential(_lin(D, W), nn.ReLU(), nn.LayerNorm(W, bias=False), _lin(W, 1)),
    "silu_elu": lambda: nn.Sequential(_lin(D, W), nn.SiLU(), _lin(W, W), nn.ELU(), _lin(W, 1)),
    "no_bias": lambda: nn.Sequential(_lin(D, W, False), nn.GELU(), _lin(W, W, False), nn.Tanh(), _lin(W, 1, False)),
    "nested_flatten": lambda: nn.Sequential(
        nn.Sequential(_lin(D, W), nn.ReLU(inplace=True)),
        nn.Sequential(_lin(W, W), nn.Sequential(nn.LeakyReLU(0.1), _lin(W, 1))), nn.Flatten(0)),
    "mixed_rowwise": lambda: nn.Sequential(
        nn.LayerNorm(D), _lin(D, W), PsiLayerNorm(W), nn.Softplus(), nn.Dropout(0.3), _lin(W, W),
        nn.Sigmoid(), nn.Identity(), _lin(W, 1), nn.Tanh()).eval(),
}


def _perturbed(factory, seed=0):
    """``factory()`` in float64 with seeded, perturbed parameters (LN affines away from 1 and 0)."""
    torch.manual_seed(seed)
    model = factory().double()
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for q in model.parameters():
            q.copy_(torch.randn(q.shape, generator=gen, dtype=q.dtype) / max(q.shape[-1], 1) ** 0.5 + 0.3)
    return model


def _assert_exact(G, ref, label):
    torch.testing.assert_close(G, ref, rtol=EXACT, atol=EXACT * ref.abs().max().item(), msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("name", SEQUENTIALS)
def test_sequential_closed_equals_loop(name):
    m = _perturbed(SEQUENTIALS[name])
    X1, X2 = _rand(5, D, 1), _rand(3, D, 2)
    assert supports_closed_form(m)
    loop = gram(m, X1, X2, method="loop")
    _assert_exact(loop, _reference(m, X1, X2), f"loop {name}")
    for method in ("closed", "auto"):
        _assert_exact(gram(m, X1, X2, method=method), loop, f"{method} {name}")
    _assert_exact(gram(m, X1, method="closed"), gram(m, X1, method="loop"), f"closed X2=None {name}")


@pytest.mark.parametrize("model", [
    _net(norm="layer", out_activation="tanh"), _net(norm="psi", dropout=0.2), _perturbed(SEQUENTIALS["mixed_rowwise"]),
], ids=["mlp_ln_tanh", "mlp_psi_dropout", "sequential"])
def test_flat_module_walk_reproduces_forward(model):
    X = _rand(4, model.in_dim if isinstance(model, MLP) else D, 3)
    h = X
    for module in closed_form_modules(model):
        h = module(h)
    torch.testing.assert_close(h.reshape(-1), model(X).reshape(-1))


def test_sequential_chunking_changes_nothing():
    m = _perturbed(SEQUENTIALS["mish_ln_affine"])
    X1, X2 = _rand(9, D, 6), _rand(7, D, 7)
    _assert_exact(gram(m, X1, X2, method="closed", max_elems=150), gram(m, X1, X2, method="closed"), "chunked")


class _Scale(nn.Module):
    """A custom module with a parameter: not closed-form."""

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(torch.ones(W))

    def forward(self, h):
        return self.s * h


class _MyReLU(nn.ReLU):
    """A subclass of an allowed activation with another forward: not closed-form."""

    def forward(self, h):
        return torch.relu(h) * h


def _shared():
    tied = _lin(W, W)
    return nn.Sequential(_lin(D, W), nn.ReLU(), tied, nn.ReLU(), tied, nn.ReLU(), _lin(W, 1))


def _frozen():
    m = SEQUENTIALS["corl_relu"]()
    m[0].bias.requires_grad_(False)
    return m


def _hooked():
    m = SEQUENTIALS["corl_relu"]()
    m[1].register_forward_hook(lambda mod, inp, out: 2 * out)
    return m


UNSUPPORTED = {  # deterministic stacks: "auto" falls back to "func" and equals "loop"
    "batchnorm_train": lambda: nn.Sequential(_lin(D, W), nn.BatchNorm1d(W), nn.ReLU(), _lin(W, 1)).train(),
    "batchnorm_eval": lambda: nn.Sequential(_lin(D, W), nn.BatchNorm1d(W), nn.ReLU(), _lin(W, 1)).eval(),
    "conv": lambda: nn.Sequential(
        nn.Unflatten(1, (1, D)), nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), _lin(2 * (D - 2), 1)),
    "custom_param": lambda: nn.Sequential(_lin(D, W), _Scale(), nn.ReLU(), _lin(W, 1)),
    "relu_subclass": lambda: nn.Sequential(_lin(D, W), _MyReLU(), _lin(W, 1)),
    "ln_after_output": lambda: nn.Sequential(_lin(D, W), nn.ReLU(), _lin(W, 1), nn.LayerNorm(1)),
    "shared_weights": _shared,
    "frozen_bias": _frozen,
    "forward_hook": _hooked,
}


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_unsupported_stack_falls_back(name):
    m = _perturbed(UNSUPPORTED[name])
    X1, X2 = _rand(5, D, 1), _rand(3, D, 2)
    assert not supports_closed_form(m)
    with pytest.raises(ValueError, match="method 'closed' does not apply"):
        gram(m, X1, X2, method="closed")
    loop = gram(m, X1, X2, method="loop")
    _assert_exact(loop, _reference(m, X1, X2), f"loop {name}")
    _assert_exact(gram(m, X1, X2, method="auto"), loop, f"auto {name}")


def test_active_dropout_is_not_closed_form():
    m = _perturbed(lambda: nn.Sequential(_lin(D, W), nn.ReLU(), nn.Dropout(0.5), _lin(W, 1)).train())
    assert not supports_closed_form(m)
    with pytest.raises(ValueError, match="active"):
        gram(m, _rand(3, D, 1), method="closed")
    assert supports_closed_form(m.eval())


def test_activation_with_parameters_is_not_closed_form():
    assert not supports_closed_form(nn.Sequential(_lin(D, W), nn.PReLU(), _lin(W, 1)))


@pytest.mark.parametrize("method", ["closed", "auto", "loop"])
def test_non_scalar_sequential_raises(method):
    m = _perturbed(lambda: nn.Sequential(_lin(D, W), nn.ReLU(), _lin(W, 2)))
    assert not supports_closed_form(m)
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        gram(m, _rand(3, D, 1), method=method)
