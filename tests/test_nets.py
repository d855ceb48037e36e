"""seemlab.nets: shapes, options, validation."""

import pytest
import torch

from seemlab.nets import MLP, NORMS, EnsembleMLP, PsiLayerNorm, WNLinear, n_params


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("position", ["before", "after"])
def test_mlp_shapes_every_norm(norm, position):
    m = MLP(5, depth=2, width=8, norm=norm, norm_position=position, seed=0)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    y = m(x)
    assert y.shape == (6,)
    assert torch.isfinite(y).all()


def test_actor_shape_and_tanh():
    m = MLP(4, depth=1, width=8, out_dim=3, out_activation="tanh", seed=0)
    y = m(100 * torch.randn(5, 4, generator=torch.Generator().manual_seed(1)))
    assert y.shape == (5, 3)
    assert y.abs().max() <= 1


def test_seed_reproducible_and_local():
    a, b = MLP(3, 2, 8, seed=7), MLP(3, 2, 8, seed=7)
    state = torch.random.get_rng_state()
    c = MLP(3, 2, 8, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))


def test_norm_layers_and_affine():
    m = MLP(3, depth=3, width=8, norm="layer", norm_layers=[1], affine=False)
    kinds = [type(b.norm_before).__name__ for b in m.blocks]
    assert kinds == ["Identity", "LayerNorm", "Identity"]
    assert n_params(m) == (3 * 8 + 8) + 2 * (8 * 8 + 8) + (8 + 1)
    m2 = MLP(3, depth=2, width=8, norm="layer", norm_position="after")
    assert type(m2.blocks[0].norm_after).__name__ == "LayerNorm"
    assert n_params(m2) == (3 * 8 + 8) + (8 * 8 + 8) + (8 + 1) + 2 * 2 * 8


def test_psi_is_paper_layernorm():
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c = z - z.mean(dim=1, keepdim=True)
    expected = 16**0.5 * c / c.norm(dim=1, keepdim=True)
    torch.testing.assert_close(PsiLayerNorm(16)(z), expected)
    assert not list(PsiLayerNorm(16).parameters())


def test_weight_norm_layers():
    m = MLP(3, depth=2, width=8, norm="weight", out_weight_norm=True, seed=0)
    assert all(isinstance(b.linear, WNLinear) for b in m.blocks) and isinstance(m.out, WNLinear)
    lin = WNLinear(3, 4)
    torch.testing.assert_close(lin.weight.norm(dim=1), lin.g)


def test_dtype():
    m = MLP(3, 1, 4, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in m.parameters())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(norm="group"), "none, layer, psi, batch, weight"),
        (dict(activation="swish"), "relu"),
        (dict(norm_position="middle"), "before, after"),
        (dict(out_activation="sigmoid"), "none, tanh"),
        (dict(norm_layers=[5]), "0..1"),
        (dict(dropout=1.5), "dropout"),
        (dict(width=0), "width"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP(3, depth=2, width=kwargs.pop("width", 8), **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(norm="none"), dict(norm="layer"), dict(norm="layer", norm_position="after", affine=False),
    dict(norm="psi"), dict(norm="batch"), dict(norm="weight"), dict(out_weight_norm=True),
    dict(norm="layer", norm_layers=(1,)),
])
def test_ensemble_member_matches_a_standalone_mlp(kwargs):
    net = EnsembleMLP.seeded(dict(in_dim=5, depth=2, width=8, **kwargs), seeds=[0, 1, 2])
    x = torch.randn(3, 7, 5, generator=torch.Generator().manual_seed(0))
    y = net(x)
    assert y.shape == (3, 7)
    for k in range(3):
        torch.testing.assert_close(y[k], net.member(k)(x[k]), rtol=1e-5, atol=1e-5)
    assert not torch.equal(y[0], y[1]), "members must be initialised differently"


def test_ensemble_layout_round_trips_to_mlp_layout():
    members = [MLP(5, depth=2, width=8, norm="weight", out_weight_norm=True, seed=s) for s in (0, 1)]
    net = EnsembleMLP(members)
    for k, m in enumerate(members):
        for name, p in m.named_parameters():
            torch.testing.assert_close(net.member_state(k)[name], p.detach(), rtol=0, atol=0)
        torch.testing.assert_close(net.flat(k), torch.cat([p.detach().reshape(-1) for p in m.parameters()]))


def test_ensemble_dropout_masks_do_not_depend_on_the_mates():
    kwargs = dict(in_dim=5, depth=2, width=16, dropout=0.5)
    alone = EnsembleMLP.seeded(kwargs, seeds=[7])
    together = EnsembleMLP.seeded(kwargs, seeds=[3, 7, 9])
    x = torch.randn(3, 11, 5, generator=torch.Generator().manual_seed(0))
    for _ in range(3):  # the streams stay aligned over calls
        torch.testing.assert_close(together(x)[1], alone(x[1:2])[0])
    assert not torch.equal(together(x)[1], together(x)[1]), "fresh masks on every call"
    together.eval()
    torch.testing.assert_close(together(x)[1], together.member(1).eval()(x[1]))


def test_dropout_ensemble_needs_a_seed_per_member():
    with pytest.raises(ValueError, match="dropout_seeds"):
        EnsembleMLP([MLP(5, depth=1, width=4, dropout=0.1, seed=s) for s in (0, 1)])

