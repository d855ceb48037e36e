"""A cheap stand-in for a diverged R-SEEM critic: Q-iteration on random data with Adam.

STAND-IN. SPEC Table 3 / Lemma 1 / App. G2 want the last checkpoint of a diverging R-SEEM run
(TD3 with the current critic as target, offline MuJoCo data). Until the offline-RL engine
provides it, :func:`diverge_critic` produces a ReLU critic that diverges the same way in
seconds: the TD3 critic shape (2×256 ReLU), full-batch-free minibatch TD on random transitions,
the *current* network as target (no EMA), and the greedy next action over the corners of the
action box (where a ReLU critic extrapolates, App. B / Fig. 15). There is no actor, no twin
critic and no target smoothing.

Data: ``s ~ N(0, I)`` (normalized states), ``a ~ U[−1, 1]^{d_A}``, ``r ~ U[0, 1]``,
``s' = s + 0.1·N(0, I)``. Inputs are ``x = (s, a): (N, d_S + d_A)``; the critic returns ``(N,)``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import asdict, dataclass

import numpy as np
import torch

from seemlab.nets import MLP
from seemlab.seem import seem


@dataclass(frozen=True)
class DivergeConfig:
    state_dim: int = 11
    """d_S (11 = Hopper)."""
    action_dim: int = 3
    """d_A (3 = Hopper); the greedy action is searched over the 2^d_A box corners."""
    n_data: int = 1000
    """transitions in the random dataset."""
    depth: int = 2
    """hidden layers of the critic (TD3: 2, so L = 3)."""
    width: int = 256
    """hidden units per layer."""
    gamma: float = 0.99
    """discount γ."""
    lr: float = 1e-3
    """Adam learning rate η."""
    batch: int = 256
    """minibatch size."""
    steps: int = 4000
    """gradient steps."""
    log_every: int = 250
    """steps between logs (step 0 is always logged)."""
    probe: int = 128
    """probe-batch size M for SEEM (fixed, drawn once)."""
    seed: int = 0
    """seeds the network, the data and the minibatches."""


@dataclass
class DivergeRun:
    """Logs ``(T,)`` per logged step, the initial and final critics and the divergence step."""

    config: DivergeConfig
    steps: np.ndarray
    q_mean: np.ndarray  # mean |Q1(s, a_data)| over the probe batch
    param_norm: np.ndarray  # ‖θ‖_2
    seem_normalized: np.ndarray
    seem_raw: np.ndarray
    init_model: MLP
    model: MLP
    diverged_step: int | None  # first log with mean|Q| > 100·max(r_max, 1)/(1 − γ) or non-finite
    stopped_step: int  # last finite step (the run stops cleanly on a non-finite loss)


def make_data(cfg: DivergeConfig, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random transitions: ``s, s2: (n, d_S)``, ``a: (n, d_A)``, ``r: (n,)``."""
    n = cfg.n_data
    s = torch.randn(n, cfg.state_dim, generator=gen)
    a = 2 * torch.rand(n, cfg.action_dim, generator=gen) - 1
    r = torch.rand(n, generator=gen)
    s2 = s + 0.1 * torch.randn(n, cfg.state_dim, generator=gen)
    return {"s": s, "a": a, "r": r, "s2": s2}


def corners(action_dim: int) -> torch.Tensor:
    """All ``2^d_A`` corners of ``[−1, 1]^d_A``: ``(2^d_A, d_A)``."""
    return torch.tensor(list(itertools.product((-1.0, 1.0), repeat=action_dim)))


def greedy_next(model: MLP, s2: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """``X* = (s', argmax_corner Q(s', a))``: ``(n, d_S + d_A)``."""
    n, k = len(s2), len(box)
    xs = torch.cat([s2.repeat_interleave(k, 0), box.repeat(n, 1)], dim=1)
    with torch.no_grad():
        best = model(xs).reshape(n, k).argmax(dim=1)
    return torch.cat([s2, box[best]], dim=1)


def td_step(model, opt, batch: dict, box: torch.Tensor, gamma: float) -> float:
    """One Adam step on mean (Q(s, a) − r − γ Q(s', a*))², target from the current network."""
    x = torch.cat([batch["s"], batch["a"]], dim=1)
    with torch.no_grad():
        target = batch["r"] + gamma * model(greedy_next(model, batch["s2"], box))
    loss = ((model(x) - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def _log(model, data, probe, box, gamma) -> tuple[float, float, float, float]:
    X = torch.cat([data["s"][probe], data["a"][probe]], dim=1)
    with torch.no_grad():
        q = float(model(X).abs().mean())
        norm = float(torch.cat([p.reshape(-1) for p in model.parameters()]).norm())
    if not np.isfinite(q):
        return q, norm, float("nan"), float("nan")
    r = seem(model, X, greedy_next(model, data["s2"][probe], box), gamma)
    return q, norm, r.normalized, r.raw


class _one_thread:
    """Run the loop on one intra-op thread, restoring the caller's setting afterwards.

    The ops are small (batch 256, width 256): one thread is as fast on an idle machine, many
    times faster on a shared one, and makes the run bit-reproducible across machines.
    """

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)
        return False


def diverge_critic(cfg: DivergeConfig = DivergeConfig()) -> DivergeRun:
    """Train the stand-in critic (see the module docstring); returns its logs and checkpoints."""
    with _one_thread():
        return _train(cfg)


def _train(cfg: DivergeConfig) -> DivergeRun:
    gen = torch.Generator().manual_seed(cfg.seed)
    model = MLP(cfg.state_dim + cfg.action_dim, cfg.depth, cfg.width, seed=cfg.seed)
    init_model, last_good = copy.deepcopy(model), copy.deepcopy(model)
    data, box = make_data(cfg, gen), corners(cfg.action_dim)
    probe = torch.randperm(cfg.n_data, generator=gen)[: cfg.probe]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    limit = 100 * max(float(data["r"].max()), 1.0) / (1 - cfg.gamma) if cfg.gamma < 1 else float("inf")
    logs, diverged, stopped = [], None, cfg.steps
    for t in range(cfg.steps + 1):
        if t % cfg.log_every == 0 or t == cfg.steps:
            logs.append((t, *_log(model, data, probe, box, cfg.gamma)))
            if diverged is None and not (np.isfinite(logs[-1][1]) and logs[-1][1] <= limit):
                diverged = t
        if t == cfg.steps:
            break
        idx = torch.randint(cfg.n_data, (cfg.batch,), generator=gen)
        loss = td_step(model, opt, {k: v[idx] for k, v in data.items()}, box, cfg.gamma)
        if not np.isfinite(loss) or not all(torch.isfinite(p).all() for p in model.parameters()):
            stopped = t
            break
        last_good.load_state_dict(model.state_dict())
    cols = np.array(logs, dtype=float).T
    return DivergeRun(cfg, cols[0].astype(int), cols[1], cols[2], cols[3], cols[4], init_model, last_good, diverged, stopped)


def config_dict(cfg: DivergeConfig) -> dict:
    """The config as plain data (for printing next to results)."""
    return asdict(cfg)
