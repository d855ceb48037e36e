"""The 2-D navigation toy of Sec 3.2 / App. E: Q-value iteration by full-batch SGD.

A state is a point ``s ∈ R²``; the 8 actions are unit vectors ``(cos kπ/4, sin kπ/4)`` fed to
the network as 2-D inputs, so ``x = (s, a) ∈ R⁴``. Every reward is 0, so the true Q is 0.
Each step regresses ``Q(X)`` on ``γ · max_a Q(S', a)`` computed with the *current* network
(no target network, no grad), with the mean-squared loss over the whole dataset, and takes one
SGD step. Shapes: ``M`` dataset pairs, ``T`` logged steps (one per step), ``K`` SEEM logs.

Two data configurations (SPEC Ambiguity 8):

- ``"code"`` (default; the released code's): one random-walk trajectory of ``M + 1`` states,
  ``s₀ ~ U[0,1)²``, ``s_{k+1} = s_k + 0.1·a_k + U[0, 0.02)²``; hidden 64. It crashes.
- ``"paper"`` (the text's): ``M = 100`` i.i.d. pairs, ``s ~ U[0,1)²`` (range not stated),
  ``s' = s + 0.01·a``; hidden 200. It did not crash in 20k steps in the pilot.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from seemlab import ntk
from seemlab.nets import MLP, EnsembleMLP
from seemlab.seem import a_matrix, seem
from seemlab.theory import alignment

N_ACTIONS = 8
DATA = ("code", "paper")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class NavConfig:
    """One toy run; plain data, hashable (a run's cache key is its config)."""

    data: str = "code"
    """Dataset layout: ``"code"`` (one trajectory) or ``"paper"`` (i.i.d. pairs)."""
    n_pairs: int = 63
    """M, the number of (s, a, s') pairs (code: a 64-state trajectory gives 63)."""
    move: float = 0.1
    """Distance moved per action (code 0.1; paper text 0.01)."""
    noise: float = 0.02
    """Each move adds ``U[0, noise)²`` (code 0.02; paper 0)."""
    width: int = 64
    """Hidden width (code 64; paper text 200)."""
    depth: int = 2
    """L, the number of weight layers (2 or 3)."""
    lr: float = 0.01
    """η, SGD learning rate."""
    gamma: float = 0.99
    """γ, discount factor."""
    steps: int = 3000
    """Maximum number of SGD steps (a run stops early at its crash)."""
    seed: int = 0
    """Seeds both the dataset and the network initialisation."""
    seem_every: int = 0
    """Log SEEM every this many steps (0: never)."""
    log_appb: bool = False
    """Also log the App. B greedy-action agreement fractions at SEEM logs."""
    log_pair: bool = False
    """Also log the NTK of the first data point with its greedy successor and with itself."""
    layernorm: bool = False
    """Put ``nn.LayerNorm`` (with affine) before each hidden ReLU (explore notebook)."""
    dtype: str = "float64"
    """``"float64"`` or ``"float32"``."""
    blowup: float = 1e6
    """Divergence criterion of the toy (SPEC §0.1): ‖u‖ > blowup or non-finite."""


def code_config(**overrides) -> NavConfig:
    """The released code's layout at lr 0.01 (SPEC QUICK for R-TOY2): reproduces the crash."""
    return replace(NavConfig(), **overrides)


def paper_config(**overrides) -> NavConfig:
    """The paper text's layout: 100 i.i.d. pairs, move 0.01, no noise, hidden 200."""
    return replace(NavConfig(data="paper", n_pairs=100, move=0.01, noise=0.0, width=200), **overrides)


def validate(cfg: NavConfig) -> NavConfig:
    """Raise a one-line ``ValueError`` naming the field, its value and the allowed values for a
    bad config; return it otherwise."""
    from seemlab.params import boolean, check_fields, choice, integer, number

    check_fields(cfg, data=choice(*DATA), n_pairs=integer(min=1), move=number(0), noise=number(0),
                 width=integer(min=1), depth=integer(min=2), lr=number(0, lo_open=True),
                 gamma=number(0, 1, hi_open=True), steps=integer(min=1), seed=integer(min=0), seem_every=integer(min=0), log_appb=boolean(),
                 log_pair=boolean(), layernorm=boolean(), dtype=choice(*DTYPES), blowup=number(0, lo_open=True))
    return cfg


@dataclass(frozen=True)
class NavData:
    """The offline dataset as network inputs (torch, the config's dtype).

    ``X: (M, 4)`` pairs (s, a); ``S_next: (M, 2)``; ``r: (M,)`` zeros; ``actions: (8, 2)``.
    """

    X: torch.Tensor
    S_next: torch.Tensor
    r: torch.Tensor
    actions: torch.Tensor

    def all_actions(self, S: torch.Tensor) -> torch.Tensor:
        """Every (s, a) pair for ``S: (N, 2)``: ``(N · 8, 4)``, state-major."""
        n = S.shape[0]
        s = S.repeat_interleave(N_ACTIONS, dim=0)
        return torch.cat([s, self.actions.repeat(n, 1)], dim=1)

    def pair(self, S: torch.Tensor, a_idx: torch.Tensor) -> torch.Tensor:
        """``(s_i, a_{idx_i})``: ``(N, 4)`` from ``S: (N, 2)`` and ``a_idx: (N,)``."""
        return torch.cat([S, self.actions[a_idx]], dim=1)


def action_set(dtype=torch.float64) -> torch.Tensor:
    """The 8 unit-circle actions ``(cos kπ/4, sin kπ/4)``: ``(8, 2)``."""
    k = torch.arange(N_ACTIONS, dtype=torch.float64) * (np.pi / 4)
    return torch.stack([torch.cos(k), torch.sin(k)], dim=1).to(dtype)


def make_data(cfg: NavConfig) -> NavData:
    """The dataset of ``cfg`` (seeded by ``cfg.seed``)."""
    validate(cfg)
    rng = np.random.default_rng(cfg.seed)
    acts = action_set().numpy()
    idx = rng.integers(N_ACTIONS, size=cfg.n_pairs)
    moves = cfg.move * acts[idx] + cfg.noise * rng.random((cfg.n_pairs, 2))
    if cfg.data == "code":
        start = rng.random(2)
        S_all = start + np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
        S, S_next = S_all[:-1], S_all[1:]
    else:
        S = rng.random((cfg.n_pairs, 2))
        S_next = S + moves
    dt = DTYPES[cfg.dtype]
    X = torch.as_tensor(np.concatenate([S, acts[idx]], axis=1), dtype=dt)
    return NavData(X, torch.as_tensor(S_next, dtype=dt), torch.zeros(cfg.n_pairs, dtype=dt), action_set(dt))


def make_net(cfg: NavConfig) -> MLP:
    """The Q-network: ``(N, 4) -> (N,)``, ``depth − 1`` hidden ReLU layers (PyTorch init)."""
    validate(cfg)
    norm = "layer" if cfg.layernorm else "none"
    return MLP(4, depth=cfg.depth - 1, width=cfg.width, norm=norm, dtype=DTYPES[cfg.dtype], seed=cfg.seed)


def greedy(model: MLP, data: NavData, S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy actions at ``S: (N, 2)``: ``(a_idx: (N,), max_a Q: (N,))`` (no grad)."""
    with torch.no_grad():
        q = model(data.all_actions(S)).view(-1, N_ACTIONS)
    best, a_idx = q.max(dim=1)
    return a_idx, best


def td_error(model: MLP, data: NavData, gamma: float, a_idx: torch.Tensor | None = None) -> torch.Tensor:
    """``u = Q(X) − (r + γ Q(X*))``: ``(M,)``, X* greedy now (or fixed by ``a_idx: (M,)``)."""
    with torch.no_grad():
        if a_idx is None:
            _, q_next = greedy(model, data, data.S_next)
        else:
            q_next = model(data.pair(data.S_next, a_idx))
        return model(data.X) - (data.r + gamma * q_next)


@dataclass
class ToyRun:
    """One run's logs (numpy). ``steps, u_norm, mean_q, param_norm: (T,)``, logged before
    each update; ``seem_*: (K,)`` at SEEM logs (normalized, raw = true G, code = raw / P,
    align = |cos(u_t, v_R)|); ``appb: (K, 2)`` greedy-agreement fractions
    (App. B (i) summed NTK, (ii) predicted increment); ``ntk_next, ntk_self: (K,)`` the NTK
    k(x*_0, x_0) and k(x_0, x_0) of the first data point. ``crash_step``: first non-finite ‖u‖
    or parameter (the run stops there); ``diverged_step``: first ‖u‖ > ``blowup`` or crash.
    """

    config: NavConfig
    steps: np.ndarray
    u_norm: np.ndarray
    mean_q: np.ndarray
    param_norm: np.ndarray
    seem_steps: np.ndarray
    seem_norm: np.ndarray
    seem_raw: np.ndarray
    seem_code: np.ndarray
    seem_align: np.ndarray
    appb: np.ndarray
    ntk_next: np.ndarray
    ntk_self: np.ndarray
    crash_step: int | None
    diverged_step: int | None
    model: MLP | None = field(default=None, repr=False, compare=False)

    @property
    def crashed(self) -> bool:
        return self.crash_step is not None


SHARED = ("n_pairs", "width", "depth", "layernorm", "dtype")
"""Config fields that every run of one :func:`train_many` batch must share (tensor shapes)."""


def train(cfg: NavConfig, *, keep_model: bool = False) -> ToyRun:
    """Run Q-value iteration on the toy until ``cfg.steps`` or the crash (first non-finite).

    A crash is data: the step is recorded, the logs up to it are kept, nothing raises.
    ``keep_model`` stores the final network on the result (its parameters may be non-finite).
    """
    return train_many([cfg], keep_models=keep_model)[0]


def train_many(cfgs: list[NavConfig], *, keep_models: bool = False) -> list[ToyRun]:
    """Train R toy runs side by side, as one batched computation; returns R :class:`ToyRun`.

    The runs share :data:`SHARED` fields; seeds, γ, lr, data layout, steps and SEEM cadence may
    differ. Each run's parameters are an independent slice of stacked ``(R, ...)`` tensors,
    updated exactly as ``train`` on that run alone would (one full-batch SGD step on the mean
    loss). The stacked forward is :class:`seemlab.nets.EnsembleMLP`'s; it costs about one run's
    Python overhead for all R. A run leaves the batch at its crash.
    """
    if not cfgs:
        raise ValueError("train_many needs at least one config")
    for c in map(validate, cfgs):
        bad = [k for k in SHARED if getattr(c, k) != getattr(cfgs[0], k)]
        if bad:
            raise ValueError(f"runs of one batch must share {', '.join(SHARED)}; these differ: {bad}")
    with single_thread():
        batch = _Batch(cfgs)
        for t in range(max(c.steps for c in cfgs)):
            batch.step(t)
            if not batch.live.size:
                break
        return batch.results(keep_models)


@contextmanager
def single_thread():
    """Run torch on one thread inside the block, then restore the caller's setting.

    The toys are tiny ops: threading costs more than it saves, worst on shared cores.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Batch:
    """The state of a :func:`train_many` batch: stacked parameters of the live runs, logs."""

    def __init__(self, cfgs: list[NavConfig]):
        self.cfgs, self.T = cfgs, max(c.steps for c in cfgs)
        self.nets = [make_net(c) for c in cfgs]
        self.datas = [make_data(c) for c in cfgs]
        self.live = np.arange(len(cfgs))
        self.ensemble = EnsembleMLP(self.nets)  # the batched forward; parameters live in self.P
        self.P = [p.detach().clone() for p in self.ensemble.stacked]
        self.logs = np.full((3, len(cfgs), self.T), np.nan)  # u_norm, mean_q, param_norm
        self.seem = [[] for _ in cfgs]
        self.crash: list[int | None] = [None] * len(cfgs)
        self._inputs()

    def _inputs(self) -> None:
        sel = [self.datas[i] for i in self.live]
        self.X = torch.stack([d.X for d in sel])
        self.XA = torch.stack([d.all_actions(d.S_next) for d in sel])
        dt = self.X.dtype
        self.gamma = torch.tensor([self.cfgs[i].gamma for i in self.live], dtype=dt)[:, None]
        self.lr = torch.tensor([self.cfgs[i].lr for i in self.live], dtype=dt)
        for p in self.P:
            p.requires_grad_(True)

    def q(self, x: torch.Tensor) -> torch.Tensor:
        return self.ensemble.forward_params(self.P, x)

    def step(self, t: int) -> None:
        """Log the state before update ``t``, drop runs that crashed or finished, update."""
        with torch.no_grad():
            q_next, a_idx = self.q(self.XA).view(len(self.live), -1, N_ACTIONS).max(dim=2)
        q = self.q(self.X)
        target = self.gamma * q_next  # r = 0
        u = q.detach() - target
        w = torch.sqrt(sum(p.detach().flatten(1).pow(2).sum(1) for p in self.P))
        stats = torch.stack([torch.linalg.vector_norm(u, dim=1), q.detach().mean(1), w]).numpy()
        self.logs[:, self.live, t] = stats
        crashed = ~np.isfinite(stats[[0, 2]]).all(axis=0)
        for j in np.flatnonzero(crashed):
            self.crash[self.live[j]] = t
        self._log_seem(t, a_idx, u, crashed)
        loss = ((q - target) ** 2).mean(dim=1).sum()
        grads = torch.autograd.grad(loss, self.P)
        with torch.no_grad():
            for p, g in zip(self.P, grads):
                p.sub_(self.lr.view(-1, *[1] * (p.ndim - 1)) * g)
        done = np.array([self.cfgs[i].steps <= t + 1 for i in self.live])
        if (crashed | done).any():
            self._drop(crashed | done)

    def _log_seem(self, t: int, a_idx: torch.Tensor, u: torch.Tensor, crashed: np.ndarray) -> None:
        for j, i in enumerate(self.live):
            c = self.cfgs[i]
            if c.seem_every and t % c.seem_every == 0 and not crashed[j]:
                net = self._load(i, j)
                self.seem[i].append((t, *seem_log(net, self.datas[i], c.gamma, a_idx[j], u[j], appb=c.log_appb, pair=c.log_pair)))

    def _load(self, i: int, j: int) -> MLP:
        """Run ``i``'s network (``MLP``) holding the batch slice ``j``."""
        net = self.nets[i]
        with torch.no_grad():
            for name, p in self.ensemble.member_state(j, self.P).items():
                net.get_parameter(name).copy_(p)
        return net

    def _drop(self, gone: np.ndarray) -> None:
        for j in np.flatnonzero(gone):
            self._load(self.live[j], j)
        keep = torch.as_tensor(np.flatnonzero(~gone))
        self.P = [p.detach()[keep].clone() for p in self.P]
        self.live = self.live[~gone]
        if self.live.size:
            self._inputs()

    def results(self, keep_models: bool) -> list[ToyRun]:
        runs = []
        for i, c in enumerate(self.cfgs):
            n = self.crash[i] + 1 if self.crash[i] is not None else c.steps
            logs = {"u": self.logs[0, i, :n], "q": self.logs[1, i, :n], "w": self.logs[2, i, :n], "seem": self.seem[i]}
            runs.append(_to_run(c, logs, self.crash[i], self.nets[i] if keep_models else None))
        return runs


def _to_run(cfg: NavConfig, logs: dict, crash: int | None, model) -> ToyRun:
    u = np.asarray(logs["u"], dtype=np.float64)
    over = np.flatnonzero(~(u <= cfg.blowup))  # NaN counts as over
    s = logs["seem"]
    col = lambda i: np.asarray([row[i] for row in s], dtype=np.float64)  # noqa: E731
    appb = np.asarray([row[5] for row in s], dtype=np.float64).reshape(len(s), 2)
    k_pair = np.asarray([row[6] for row in s], dtype=np.float64).reshape(len(s), 2)
    return ToyRun(
        config=cfg,
        steps=np.arange(u.size),
        u_norm=u,
        mean_q=np.asarray(logs["q"], dtype=np.float64),
        param_norm=np.asarray(logs["w"], dtype=np.float64),
        seem_steps=col(0).astype(int),
        seem_norm=col(1),
        seem_raw=col(2),
        seem_code=col(3),
        seem_align=col(4),
        appb=appb,
        ntk_next=k_pair[:, 0],
        ntk_self=k_pair[:, 1],
        crash_step=crash,
        diverged_step=int(over[0]) if over.size else None,
        model=model,
    )


def seem_log(
    model: MLP, data: NavData, gamma: float, a_idx: torch.Tensor, u: torch.Tensor, *, appb: bool = False, pair: bool = False
):
    """One SEEM log with X* the greedy pairs ``a_idx: (M,)``: ``(normalized SEEM, raw SEEM,
    code-scaled SEEM, |cos(u, v_R)|, (appb_i, appb_ii), (k(x*_0, x_0), k(x_0, x_0)))``; ``u: (M,)``
    the TD error at the same parameters, v_R the right eigenvector of A's top eigenvalue
    (Theorem 3 (iii) alignment); the last pair (NaN unless ``pair``) is the NTK of the first data
    point with its greedy successor and with itself (it excites itself when γ k(x*, x) > k(x, x)).
    The App. B fractions are NaN unless ``appb``.
    """
    res = seem(model, data.X, data.pair(data.S_next, a_idx), gamma)
    align = alignment(u.cpu().numpy(), res.eigenvector)
    fracs = appb_agreement(model, data, u) if appb else (np.nan, np.nan)
    k = (np.nan, np.nan)
    if pair:
        x, x_star = data.X[:1], data.pair(data.S_next[:1], a_idx[:1])
        k = tuple(ntk.gram(model, torch.cat([x_star, x]), x)[:, 0].tolist())
    return res.normalized, res.raw, res.code, align, fracs, k


def appb_agreement(model: MLP, data: NavData, u: torch.Tensor) -> tuple[float, float]:
    """App. B remark: fractions of dataset states whose greedy action is also (i) the argmax of
    ``Σ_j k(x_a, x_j)`` and (ii) the argmax of the predicted increment ``−Σ_j k(x_a, x_j) u_j``.
    ``u: (M,)``. Uses the NTK ``(8M, M)`` between every (s_i, a) and the dataset.
    """
    S = data.X[:, :2]
    a_greedy, _ = greedy(model, data, S)
    K = ntk.gram(model, data.all_actions(S), data.X).view(S.shape[0], N_ACTIONS, -1)
    by_sum = K.sum(dim=2).argmax(dim=1)
    by_inc = (-(K @ u.to(K.dtype))).argmax(dim=1)
    return float((by_sum == a_greedy).double().mean()), float((by_inc == a_greedy).double().mean())


@dataclass(frozen=True)
class OneStep:
    """Theorem 1 check at one checkpoint: ``etas, errors, greedy_kept: (E,)``.

    ``errors[e] = ‖u_{t+1} − (I + ηA_t)u_t‖ / ‖u_{t+1} − u_t‖`` after one step of size η on
    ``½‖f(X) − (r + γ f_θt(X*_t))‖²`` (sum loss, target and X* frozen, A with the true G).
    """

    etas: np.ndarray
    errors: np.ndarray
    greedy_kept: np.ndarray


def one_step_errors(model: MLP, data: NavData, gamma: float, etas) -> OneStep:
    """Theorem 1: compare one real gradient step with the linear prediction ``(I + ηA_t) u_t``."""
    a_idx, _ = greedy(model, data, data.S_next)
    X_star = data.pair(data.S_next, a_idx)
    u0 = td_error(model, data, gamma, a_idx)
    A = a_matrix(ntk.gram(model, X_star, data.X), ntk.gram(model, data.X), gamma).detach()
    params = list(model.parameters())
    # ∇_θ ½‖f(X) − y‖² with y frozen equals Σ_i u_i ∇f(x_i) = ∇_θ ⟨f(X), u⟩ at u fixed.
    grads = torch.autograd.grad(torch.dot(model(data.X), u0), params)
    errors, kept = [], []
    for eta in etas:
        stepped = copy.deepcopy(model)
        with torch.no_grad():
            torch._foreach_add_(list(stepped.parameters()), list(grads), alpha=-float(eta))
        u1 = td_error(stepped, data, gamma, a_idx)
        pred = u0 + float(eta) * (A @ u0)
        errors.append(float(torch.linalg.vector_norm(u1 - pred) / torch.linalg.vector_norm(u1 - u0)))
        kept.append(bool(torch.equal(greedy(stepped, data, data.S_next)[0], a_idx)))
    return OneStep(np.asarray(etas, dtype=np.float64), np.asarray(errors), np.asarray(kept))


@dataclass(frozen=True)
class LinearPrediction:
    """Theorem 3 (ii) from checkpoint t0: ``ks, errors, greedy_kept: (K,)``.

    ``errors[i] = ‖u_{t0+k} − û_k‖ / ‖u_{t0+k} − u_{t0}‖``, the error against the change that
    was predicted, with k = ``ks[i]`` and ``û_k = (I + η'A_{t0})^k u_{t0}``, η' = 2η/M (the toy's
    mean loss), A_{t0} and the greedy X* frozen at t0. ``errors_vs_u[i]`` divides by
    ``‖u_{t0+k}‖`` instead (small whenever u moves little). ``greedy_kept[i]``: the greedy
    actions at t0 + k are those of t0.
    """

    t0: int
    ks: np.ndarray
    errors: np.ndarray
    errors_vs_u: np.ndarray
    greedy_kept: np.ndarray


def linear_prediction_errors(cfg: NavConfig, t0: int, ks) -> LinearPrediction:
    """Theorem 3 (ii), the convergent case: compare the real TD errors k steps after t0 with the
    linear recursion ``u_{t+1} = (I + η'A_{t0}) u_t`` started at the real ``u_{t0}``.

    The checkpoints t0 and t0 + k come from one batch of identical runs (same seed) stopped at
    those steps, so they lie on one trajectory.
    """
    ks = sorted(int(k) for k in ks)
    if t0 < 0 or not ks or ks[0] < 1:
        raise ValueError(f"need t0 >= 0 and ks >= 1, got t0={t0}, ks={ks}")
    stops = [t0] + [t0 + k for k in ks]
    runs = train_many([replace(cfg, steps=max(t, 1), seem_every=0) for t in stops], keep_models=True)
    if any(r.crashed for r in runs):
        raise ValueError(f"the run crashes before step {stops[-1]}; Theorem 3 (ii) is the convergent case")
    data = make_data(cfg)
    model0 = runs[0].model if t0 > 0 else make_net(cfg)
    a_idx, _ = greedy(model0, data, data.S_next)
    u0 = u = td_error(model0, data, cfg.gamma, a_idx)
    A = a_matrix(ntk.gram(model0, data.pair(data.S_next, a_idx), data.X), ntk.gram(model0, data.X), cfg.gamma)
    step = torch.eye(len(u), dtype=u.dtype) + (2.0 * cfg.lr / len(u)) * A.detach()
    norm = torch.linalg.vector_norm
    rows, done = [], 0
    for k, run in zip(ks, runs[1:]):
        u = torch.linalg.matrix_power(step, k - done) @ u
        done = k
        real = td_error(run.model, data, cfg.gamma)
        kept = bool(torch.equal(greedy(run.model, data, data.S_next)[0], a_idx))
        rows.append((float(norm(real - u) / norm(real - u0)), float(norm(real - u) / norm(real)), kept))
    errors, errors_vs_u, kept = map(np.asarray, zip(*rows))
    return LinearPrediction(t0, np.asarray(ks), errors, errors_vs_u, kept)
