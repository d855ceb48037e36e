"""Training throughput of seemlab's offline algorithms against plain single-file implementations.

Each of seemlab's four offline algorithms (TD3+BC, IQL, CQL, Diffusion-QL, from their presets) is
timed against a plain reference of the SAME algorithm written in this file (``PlainTD3BC``,
``PlainIQL``, ``PlainCQL``, ``PlainDiffusionQL``): the preset's hyper-parameters and network
sizes, written the way a user writes PyTorch (CORL style: ``nn.Sequential`` of ``nn.Linear``,
``torch.optim.Adam``, a soft-update loop over parameters, one seed, no micro-optimisation). The
references do the same arithmetic as seemlab per update (same passes, same number of sampled
actions and diffusion steps); only the implementation differs. Ours = one seed through
``seemlab.rl.make_trainer`` and ``trainer.update(Sampler(data, [0])(256))``. Both sides train on
the same data, on the same machine, in one process, built and warmed up once, then timed
alternately (:func:`best_pair`); on the CPU the clock is the process's CPU time, so that the
time the scheduler gives other jobs on shared cores is not counted (wall-clock on CUDA).
Reported, as ratios measured here:

- updates/s, ours vs plain, per algorithm at width 64 (Python overhead dominates) and 256
  (matmuls dominate); widths are actor and critic, depth and everything else the preset's; the
  ratio of the best rates, and the median of the per-pair ratios as a measure of the noise;
- for TD3+BC: the matmul FLOP rate against a same-size matmul loop at 256; K seeds in one batched
  ensemble vs K sequential runs (width 64), and the largest difference between a seed's
  parameters trained in the ensemble and alone; the cost of the diagnostics at the QUICK cadence
  (57 logs per 10k steps, M = 256) as a fraction of training time.

The file is written to ``--out`` (default ``benchmarks/results/train_throughput_<device>.md``):
a header with the machine (torch version, processor, threads, load average at the start) and
the settings, then one table. ``--rates-out FILE`` also writes seemlab's updates/s per algorithm and
width as JSON under the device's name (other devices' entries are kept): ``seemlab sweep --dry-run``
estimates a grid's cost from ``benchmarks/results/updates_per_s.json``. ``--device cuda`` on a machine without a GPU skips the CUDA rows
(it prints why and writes nothing).

    .venv/bin/python benchmarks/train_throughput.py [--algorithms td3_bc iql cql diffusion_ql]
        [--steps 1000] [--repeats 5] [--device cpu] [--out benchmarks/results/train_throughput_cpu.md]
        [--rates-out benchmarks/results/updates_per_s.json]

The committed CPU file was made with ``--repeats 8`` on one thread (the script sets it).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal

from seemlab import rl, runs
from seemlab.diagnostics import Diagnostics
from seemlab.rl.base import Sampler, train

ALGORITHMS = ("td3_bc", "iql", "cql", "diffusion_ql")
LABELS = {"td3_bc": "TD3+BC", "iql": "IQL", "cql": "CQL", "diffusion_ql": "Diffusion-QL"}
COST = {"td3_bc": 1, "iql": 1, "cql": 12, "diffusion_ql": 4}
"""Rough cost of one update relative to TD3+BC: fewer updates are timed for the costly ones."""
WARMUP = 20
"""Updates before the clock starts (allocator, first-call paths)."""


# ============================================================================ plain reference
class PlainActor(nn.Module):
    def __init__(self, d_s, d_a, width, max_action):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(d_s, width), nn.Linear(width, width), nn.Linear(width, d_a)
        self.max_action = max_action

    def forward(self, s):
        return self.max_action * torch.tanh(self.l3(F.relu(self.l2(F.relu(self.l1(s))))))


class PlainCritic(nn.Module):
    def __init__(self, d_s, d_a, width):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(d_s + d_a, width), nn.Linear(width, width), nn.Linear(width, 1)
        self.l4, self.l5, self.l6 = nn.Linear(d_s + d_a, width), nn.Linear(width, width), nn.Linear(width, 1)

    def forward(self, s, a):
        sa = torch.cat([s, a], 1)
        q1 = self.l3(F.relu(self.l2(F.relu(self.l1(sa)))))
        q2 = self.l6(F.relu(self.l5(F.relu(self.l4(sa)))))
        return q1, q2

    def Q1(self, s, a):
        return self.l3(F.relu(self.l2(F.relu(self.l1(torch.cat([s, a], 1))))))


class PlainTD3BC:
    """Fujimoto & Gu's TD3+BC, written the way their reference code is (numpy replay buffer)."""

    def __init__(self, data, width, device, tau=0.005, policy_freq=2, alpha=2.5, gamma=0.99):
        self.s, self.a = data.observations.numpy(), data.actions.numpy()
        self.r, self.s2 = data.rewards.numpy()[:, None], data.next_observations.numpy()
        self.nd = 1.0 - data.terminals.numpy()[:, None]
        d_s, d_a = self.s.shape[1], self.a.shape[1]
        self.actor = PlainActor(d_s, d_a, width, 1.0).to(device)
        self.actor_target = copy.deepcopy(self.actor)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.critic = PlainCritic(d_s, d_a, width).to(device)
        self.critic_target = copy.deepcopy(self.critic)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=3e-4)
        self.device, self.tau, self.policy_freq, self.alpha, self.gamma = device, tau, policy_freq, alpha, gamma
        self.it = 0

    def sample(self, n):
        ind = np.random.randint(0, len(self.s), size=n)
        return tuple(torch.FloatTensor(x[ind]).to(self.device) for x in (self.s, self.a, self.s2, self.r, self.nd))

    def train(self, batch_size=256):
        self.it += 1
        state, action, next_state, reward, not_done = self.sample(batch_size)
        with torch.no_grad():
            noise = (torch.randn_like(action) * 0.2).clamp(-0.5, 0.5)
            next_action = (self.actor_target(next_state) + noise).clamp(-1.0, 1.0)
            tq1, tq2 = self.critic_target(next_state, next_action)
            target_q = reward + not_done * self.gamma * torch.min(tq1, tq2)
        q1, q2 = self.critic(state, action)
        critic_loss = F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        if self.it % self.policy_freq == 0:
            pi = self.actor(state)
            q = self.critic.Q1(state, pi)
            lmbda = self.alpha / q.abs().mean().detach()
            actor_loss = -lmbda * q.mean() + F.mse_loss(pi, action)
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()
            for net, tgt in ((self.critic, self.critic_target), (self.actor, self.actor_target)):
                for p, tp in zip(net.parameters(), tgt.parameters()):
                    tp.data.copy_(self.tau * p.data + (1 - self.tau) * tp.data)


# ============================================================================ plain references: shared pieces
def plain_mlp(in_dim: int, out_dim: int, width: int, depth: int, act=nn.ReLU, out_act=None) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, then a linear output (CORL's ``MLP`` helper)."""
    layers, d = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), act()]
        d = width
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers, *([out_act()] if out_act else []))


class PlainTwinQ(nn.Module):
    """Two critics ``(B, d_s), (B, d_a) -> (B,), (B,)`` (any leading axes), CORL's ``TwinQ``."""

    def __init__(self, d_s, d_a, width, depth, act=nn.ReLU):
        super().__init__()
        self.q1 = plain_mlp(d_s + d_a, 1, width, depth, act)
        self.q2 = plain_mlp(d_s + d_a, 1, width, depth, act)

    def forward(self, s, a):
        sa = torch.cat([s, a], -1)
        return self.q1(sa).squeeze(-1), self.q2(sa).squeeze(-1)


class PlainReplayBuffer:
    """The dataset as tensors on the device, uniform minibatches (CORL's ``ReplayBuffer``)."""

    def __init__(self, data, device):
        self.s, self.a = data.observations.to(device), data.actions.to(device)
        self.r, self.s2 = data.rewards.to(device), data.next_observations.to(device)
        self.d, self.device = data.terminals.to(device), device

    def sample(self, n):
        """(s, a, r, s', d): ``(n, d_s), (n, d_a), (n,), (n, d_s), (n,)``."""
        idx = torch.randint(0, len(self.s), (n,), device=self.device)
        return self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.d[idx]


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """θ' ← τθ + (1 − τ)θ', one parameter at a time (CORL's ``soft_update``)."""
    for tp, p in zip(target.parameters(), source.parameters()):
        tp.data.copy_((1 - tau) * tp.data + tau * p.data)


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    """Freeze (or unfreeze) a critic while the actor's loss goes through it."""
    for p in net.parameters():
        p.requires_grad_(flag)


# ============================================================================ plain IQL
class PlainGaussianPolicy(nn.Module):
    """N(tanh(f(s)), diag exp(clip(log σ))²) with a state-independent log σ (CORL's ``GaussianPolicy``)."""

    def __init__(self, d_s, d_a, width, depth, log_std_min, log_std_max):
        super().__init__()
        self.net = plain_mlp(d_s, d_a, width, depth, out_act=nn.Tanh)
        self.log_std = nn.Parameter(torch.zeros(d_a))
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, s):
        return Normal(self.net(s), torch.exp(self.log_std.clamp(self.log_std_min, self.log_std_max)))


class PlainIQL:
    """IQL in CORL's style, in the official update order: V (expectile of the target twin Q),
    the actor (AWR with the updated V), Q (target r + γ(1 − d)V(s')), the EMA of the target Q."""

    def __init__(self, data, cfg, device):
        d_s, d_a = data.obs_dim, data.action_dim
        self.buffer, self.cfg = PlainReplayBuffer(data, device), cfg
        self.qf = PlainTwinQ(d_s, d_a, cfg.critic_width, cfg.critic_depth).to(device)
        self.q_target = copy.deepcopy(self.qf).requires_grad_(False)
        self.vf = plain_mlp(d_s, 1, cfg.critic_width, cfg.critic_depth).to(device)
        self.actor = PlainGaussianPolicy(d_s, d_a, cfg.actor_width, cfg.actor_depth, cfg.log_std_min,
                                         cfg.log_std_max).to(device)
        self.q_opt = torch.optim.Adam(self.qf.parameters(), lr=cfg.critic_lr)
        self.v_opt = torch.optim.Adam(self.vf.parameters(), lr=cfg.value_lr)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.actor_lr_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.actor_opt, cfg.steps)

    def train(self, batch_size=256):
        cfg = self.cfg
        s, a, r, s2, d = self.buffer.sample(batch_size)
        with torch.no_grad():
            target_q = torch.min(*self.q_target(s, a))
        adv = target_q - self.vf(s).squeeze(-1)
        v_loss = (torch.abs(cfg.expectile - (adv < 0).float()) * adv**2).mean()
        self.v_opt.zero_grad()
        v_loss.backward()
        self.v_opt.step()
        with torch.no_grad():
            exp_adv = torch.exp(cfg.temperature * (target_q - self.vf(s).squeeze(-1))).clamp(max=cfg.adv_weight_max)
        policy_loss = (exp_adv * -self.actor(s).log_prob(a).sum(-1)).mean()
        self.actor_opt.zero_grad()
        policy_loss.backward()
        self.actor_opt.step()
        self.actor_lr_schedule.step()
        with torch.no_grad():
            y = r + (1.0 - d) * cfg.gamma * self.vf(s2).squeeze(-1)
        q1, q2 = self.qf(s, a)
        q_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        soft_update(self.q_target, self.qf, cfg.tau)


# ============================================================================ plain CQL
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class PlainTanhGaussianActor(nn.Module):
    """s -> (μ, log σ) of the pre-tanh Gaussian, log σ squashed into [−5, 2] (CleanRL's SAC actor)."""

    def __init__(self, d_s, d_a, width, depth):
        super().__init__()
        self.net = plain_mlp(d_s, 2 * d_a, width, depth)

    def forward(self, s):
        mean, log_std = self.net(s).chunk(2, dim=-1)
        return mean, LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)


def tanh_normal_sample(mean, log_std, n=None):
    """Reparameterised tanh-Gaussian actions and log π: one per state ``(B, d_a), (B,)`` or ``n``
    per state ``(n, B, d_a), (n, B)``."""
    dist = Normal(mean, log_std.exp())
    u = dist.rsample() if n is None else dist.rsample((n,))
    log_prob = dist.log_prob(u).sum(-1) - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    return torch.tanh(u), log_prob


class PlainCQL:
    """CQL(H) on SAC in CORL's style (unit action box): autotuned α, twin Q with EMA targets, the
    importance-sampled logsumexp over N uniform, N π(·|s') and N π(·|s) actions per state. Every
    loss is taken at the parameters before the update (losses first, then the optimiser steps)."""

    def __init__(self, data, cfg, device):
        d_s, d_a = data.obs_dim, data.action_dim
        self.buffer, self.cfg, self.d_a = PlainReplayBuffer(data, device), cfg, d_a
        self.actor = PlainTanhGaussianActor(d_s, d_a, cfg.actor_width, cfg.actor_depth).to(device)
        self.qf = PlainTwinQ(d_s, d_a, cfg.critic_width, cfg.critic_depth).to(device)
        self.q_target = copy.deepcopy(self.qf).requires_grad_(False)
        self.log_alpha = torch.zeros((), device=device, requires_grad=True)  # log α₀ = log 1
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.actor_lr)
        self.q_opt = torch.optim.Adam(self.qf.parameters(), lr=cfg.critic_lr)
        self.target_entropy = -float(d_a)
        self.log_uniform_density = d_a * math.log(0.5)

    def actor_losses(self, s, mean, log_std):
        """SAC's L_π (critics frozen) and L_α."""
        pi, log_pi = tanh_normal_sample(mean, log_std)
        alpha_loss = -(self.log_alpha * (log_pi.detach() + self.target_entropy)).mean()
        set_requires_grad(self.qf, False)
        q_pi = torch.min(*self.qf(s, pi))
        set_requires_grad(self.qf, True)
        return (self.log_alpha.exp().detach() * log_pi - q_pi).mean(), alpha_loss

    def critic_loss(self, s, a, r, s2, d, stats, next_stats):
        """Σ_c [TD error + α_cql · (logsumexp_{3N}(Q_c(s, ·) − log density) − Q_c(s, a))]."""
        cfg, n = self.cfg, self.cfg.n_actions
        with torch.no_grad():
            next_pi, _ = tanh_normal_sample(*next_stats)
            y = r + (1.0 - d) * cfg.gamma * torch.min(*self.q_target(s2, next_pi))
            random_a = torch.empty(n, *a.shape, device=a.device).uniform_(-1.0, 1.0)
            next_pis, next_log_pis = tanh_normal_sample(*next_stats, n)
            cur_pis, cur_log_pis = tanh_normal_sample(*stats, n)
        q1, q2 = self.qf(s, a)
        ood_a = torch.cat([random_a, next_pis, cur_pis])  # (3N, B, d_a)
        q1_ood, q2_ood = self.qf(s.expand(3 * n, *s.shape), ood_a)  # (3N, B) each
        log_density = torch.cat([torch.full_like(next_log_pis, self.log_uniform_density), next_log_pis, cur_log_pis])
        gap1 = (torch.logsumexp(q1_ood - log_density, 0) - q1).mean()
        gap2 = (torch.logsumexp(q2_ood - log_density, 0) - q2).mean()
        return F.mse_loss(q1, y) + F.mse_loss(q2, y) + cfg.cql_alpha * (gap1 + gap2)

    def train(self, batch_size=256):
        s, a, r, s2, d = self.buffer.sample(batch_size)
        mean, log_std = self.actor(s)
        with torch.no_grad():
            next_stats = self.actor(s2)
        policy_loss, alpha_loss = self.actor_losses(s, mean, log_std)
        q_loss = self.critic_loss(s, a, r, s2, d, (mean.detach(), log_std.detach()), next_stats)
        for opt, loss in ((self.alpha_opt, alpha_loss), (self.actor_opt, policy_loss), (self.q_opt, q_loss)):
            opt.zero_grad()
            loss.backward()
        for opt in (self.alpha_opt, self.actor_opt, self.q_opt):
            opt.step()
        soft_update(self.q_target, self.qf, self.cfg.tau)


# ============================================================================ plain Diffusion-QL
class PlainNoiseModel(nn.Module):
    """ε_θ(u_t, t, s) on [u_t, e(t), s], e(t) the fixed sinusoidal embedding (seemlab's
    simplification of the official time MLP), Mish hidden layers."""

    def __init__(self, d_s, d_a, width, depth, n_timesteps, t_dim):
        super().__init__()
        half = t_dim // 2
        freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
        angles = torch.arange(n_timesteps, dtype=torch.float32)[:, None] * freqs[None, :]
        self.register_buffer("temb", torch.cat([angles.sin(), angles.cos()], -1))
        self.net = plain_mlp(d_a + t_dim + d_s, d_a, width, depth, act=nn.Mish)

    def forward(self, u, t, s):
        return self.net(torch.cat([u, self.temb[t], s], -1))


class PlainDiffusion(nn.Module):
    """The official ``Diffusion`` (VP schedule, N steps): ``sample(s)`` runs the reverse chain,
    ``loss(a, s)`` is the noise-prediction loss L_d."""

    def __init__(self, d_s, d_a, width, depth, n_timesteps, t_dim):
        super().__init__()
        self.model = PlainNoiseModel(d_s, d_a, width, depth, n_timesteps, t_dim)
        self.n, self.d_a = n_timesteps, d_a
        t = np.arange(1, n_timesteps + 1)
        betas = torch.tensor(1 - np.exp(-0.1 / n_timesteps - 0.5 * 9.9 * (2 * t - 1) / n_timesteps**2)).float()
        abar = torch.cumprod(1 - betas, 0)
        abar_prev = torch.cat([torch.ones(1), abar[:-1]])
        var = betas * (1 - abar_prev) / (1 - abar)
        self.register_buffer("sqrt_abar", abar.sqrt())
        self.register_buffer("sqrt_1m_abar", (1 - abar).sqrt())
        self.register_buffer("sqrt_recip_abar", (1 / abar).sqrt())
        self.register_buffer("sqrt_recipm1_abar", (1 / abar - 1).sqrt())
        self.register_buffer("coef_start", betas * abar_prev.sqrt() / (1 - abar))
        self.register_buffer("coef_now", (1 - abar_prev) * (1 - betas).sqrt() / (1 - abar))
        self.register_buffer("post_std", (0.5 * var.clamp(min=1e-20).log()).exp())

    def sample(self, s):
        x = torch.randn(len(s), self.d_a, device=s.device)
        for i in reversed(range(self.n)):
            t = torch.full((len(s),), i, dtype=torch.long, device=s.device)
            x0 = (self.sqrt_recip_abar[i] * x - self.sqrt_recipm1_abar[i] * self.model(x, t, s)).clamp(-1.0, 1.0)
            x = self.coef_start[i] * x0 + self.coef_now[i] * x
            if i > 0:
                x = x + self.post_std[i] * torch.randn_like(x)
        return x.clamp(-1.0, 1.0)

    def loss(self, a, s):
        t = torch.randint(0, self.n, (len(s),), device=s.device)
        noise = torch.randn_like(a)
        a_noisy = self.sqrt_abar[t, None] * a + self.sqrt_1m_abar[t, None] * noise
        return F.mse_loss(self.model(a_noisy, t, s), noise)

    def forward(self, s):
        return self.sample(s)


class PlainDiffusionQL:
    """Diffusion-QL as the official ``Diffusion_QL.train`` (unit action box): the critic step
    (target actions from the EMA policy, twin Mish critics, gradient clipping), then the policy
    step L_d + η·L_q with the random Q1/|Q2| normalisation (critic frozen), then the EMAs."""

    def __init__(self, data, cfg, device):
        d_s, d_a = data.obs_dim, data.action_dim
        self.buffer, self.cfg = PlainReplayBuffer(data, device), cfg
        self.actor = PlainDiffusion(d_s, d_a, cfg.actor_width, cfg.actor_depth, cfg.n_timesteps, cfg.t_dim).to(device)
        self.ema_model = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = PlainTwinQ(d_s, d_a, cfg.critic_width, cfg.critic_depth, act=nn.Mish).to(device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.step = 0

    def critic_step(self, s, a, r, s2, d):
        with torch.no_grad():
            y = r + (1.0 - d) * self.cfg.gamma * torch.min(*self.critic_target(s2, self.ema_model(s2)))
        q1, q2 = self.critic(s, a)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        nn.utils.clip_grad_norm_(self.critic.parameters(), max_norm=self.cfg.grad_clip)
        self.critic_opt.step()

    def actor_step(self, s, a):
        bc_loss = self.actor.loss(a, s)
        set_requires_grad(self.critic, False)
        q1, q2 = self.critic(s, self.actor(s))
        set_requires_grad(self.critic, True)
        if np.random.uniform() > 0.5:
            q_loss = -q1.mean() / q2.abs().mean().detach()
        else:
            q_loss = -q2.mean() / q1.abs().mean().detach()
        actor_loss = self.cfg.bc_coef * bc_loss + self.cfg.eta * q_loss
        self.actor_opt.zero_grad()
        actor_loss.backward()
        nn.utils.clip_grad_norm_(self.actor.parameters(), max_norm=self.cfg.grad_clip)
        self.actor_opt.step()

    def train(self, batch_size=256):
        cfg = self.cfg
        s, a, r, s2, d = self.buffer.sample(batch_size)
        self.critic_step(s, a, r, s2, d)
        self.actor_step(s, a)
        if self.step % cfg.update_ema_every == 0 and self.step >= cfg.step_start_ema:
            soft_update(self.ema_model, self.actor, cfg.actor_ema_tau)
        soft_update(self.critic_target, self.critic, cfg.tau)
        self.step += 1


def make_plain(algorithm: str, data, width: int, device: str):
    """The plain reference of ``algorithm`` at actor and critic width ``width`` (everything else
    from seemlab's preset, read from its config)."""
    if algorithm == "td3_bc":
        return PlainTD3BC(data, width, device)
    cfg = rl.preset(algorithm, critic_width=width, actor_width=width)
    return {"iql": PlainIQL, "cql": PlainCQL, "diffusion_ql": PlainDiffusionQL}[algorithm](data, cfg, device)


# ============================================================================ measurements
def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_timer(algorithm: str, data, width: int, device: str) -> Callable[[int], float]:
    """The plain reference, built and warmed up (``WARMUP`` updates) once: ``timer(n)`` runs n
    more updates and returns their rate (updates/s)."""
    torch.manual_seed(0)
    np.random.seed(0)
    agent = make_plain(algorithm, data, width, device)
    return _timer(agent.train, device)


def ours_timer(algorithm: str, data, width: int, device: str, seeds=(0,)) -> Callable[[int], float]:
    """seemlab's trainer on ``seeds`` (``make_trainer``, ``update(Sampler(...)(256))``), built and
    warmed up once: ``timer(n)`` runs n more updates and returns their rate (updates/s)."""
    cfg = rl.preset(algorithm, critic_width=width, actor_width=width)
    trainer = rl.make_trainer(cfg, data, list(seeds), device)
    sampler = Sampler(data, trainer.seeds)
    return _timer(lambda: trainer.update(sampler(cfg.batch_size)), device)


def _timer(update: Callable[[], object], device: str) -> Callable[[int], float]:
    """``update`` run ``WARMUP`` times, then a function n -> updates/s over n more calls."""
    for _ in range(WARMUP):
        update()
    clock = _clock(device)

    def rate(n: int) -> float:
        _sync(device)
        start = clock()
        for _ in range(n):
            update()
        _sync(device)
        return n / (clock() - start)
    return rate


def _clock(device: str) -> Callable[[], float]:
    """CPU seconds of this process on the CPU (time the scheduler gives other jobs on shared
    cores is not counted; one thread, so CPU time is compute time), wall-clock seconds on CUDA."""
    return time.perf_counter if device.startswith("cuda") else time.process_time


def best(fn, repeats):
    return max(fn() for _ in range(repeats))


def best_pair(baseline, ours, repeats) -> tuple[float, float]:
    """Best of ``repeats`` for each, the two timed alternately so that a drift in machine speed
    (shared cores, frequency) hits both sides alike. ``baseline``, ``ours``: () -> updates/s."""
    pairs = timed_pairs(baseline, ours, repeats)
    return max(b for b, _ in pairs), max(o for _, o in pairs)


def timed_pairs(baseline, ours, repeats) -> list[tuple[float, float]]:
    """``repeats`` (baseline, ours) rates, timed alternately."""
    return [(baseline(), ours()) for _ in range(repeats)]


def timed_steps(algorithm: str, width: int, steps: int) -> int:
    """Updates per measurement: ``steps`` for TD3+BC at width 64, fewer for costlier updates."""
    return max(steps // COST[algorithm] // (1 if width == 64 else 4), 25)


def diag_cost(data, device, step_rate: float) -> tuple[float, float]:
    """(seconds per log, fraction of a QUICK R-SEEM run's training time spent in diagnostics)."""
    cfg = runs.r_seem("hopper", 0, "quick")
    agent = train(cfg.agent.replace(steps=50), data, [0], device=device)
    diag = Diagnostics(cfg.diagnostics, data, cfg.agent.gamma, 0, cfg.agent.steps)
    n_logs = sum(cfg.diagnostics.is_log_step(t, cfg.agent.steps) for t in range(cfg.agent.steps + 1))
    reps, clock = 5, _clock(device)
    start = clock()
    for i in range(reps):
        diag.log(i, agent.q1_member(0), agent.policy_member(0))
    diag.finalize()
    per_log = (clock() - start) / reps
    return per_log, n_logs * per_log / (cfg.agent.steps / step_rate)


def matmul_gflops(width, batch, device, reps=200) -> float:
    a, b = torch.randn(batch, width, device=device), torch.randn(width, width, device=device)
    for _ in range(10):
        a @ b
    _sync(device)
    clock = _clock(device)
    start = clock()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * batch * width * width * reps / (clock() - start) / 1e9


def td3bc_flops(width, d_s, d_a, batch=256, policy_freq=2) -> float:
    """Matmul FLOPs of one TD3+BC update (forward 2·MAC; backward 2× forward for trained nets)."""
    critic = batch * ((d_s + d_a) * width + width * width + width)  # MACs of one critic head
    actor = batch * (d_s * width + width * width + width * d_a)
    per_step = 2 * critic + 2 * critic * 3 + actor  # target twin, online twin fwd+bwd, target actor
    per_actor_step = actor * 3 + critic * 3  # actor fwd+bwd, Q1 fwd + input grad (≈ 2×)
    return 2 * (per_step + per_actor_step / policy_freq)


def same_seed_gap(data, device, steps=200) -> float:
    cfg = rl.preset("td3_bc", critic_width=64, actor_width=64, steps=steps)
    alone = train(cfg, data, [3], device=device).critic.flat(0)
    together = train(cfg, data, [0, 1, 2, 3, 4], device=device)
    k = 3 * together.C
    return float((together.critic.flat(k) - alone).abs().max() / alone.abs().max())


def algorithm_rows(algorithm: str, cpu_data, data, steps: int, repeats: int, device: str,
                   rates: dict) -> list[str]:
    """Plain vs ours updates/s at widths 64 and 256 (TD3+BC: also the FLOP rate at 256); ours is
    also put into ``rates[algorithm][str(width)]``."""
    rows = []
    for width in (64, 256):
        n = timed_steps(algorithm, width, steps)
        plain_rate = plain_timer(algorithm, cpu_data, width, device)
        ours_rate = ours_timer(algorithm, data, width, device)
        pairs = timed_pairs(lambda: plain_rate(n), lambda: ours_rate(n), repeats)
        plain, ours = max(p for p, _ in pairs), max(o for _, o in pairs)
        rates.setdefault(algorithm, {})[str(width)] = round(ours, 1)
        median = float(np.median([o / p for p, o in pairs]))  # how much the noise moves the ratio
        label = f"{LABELS[algorithm]} updates/s, width {width}"
        rows.append(f"| {label} | {plain:.1f} | {ours:.1f} | {ours / plain:.2f}× (median pair {median:.2f}×) |")
        if algorithm == "td3_bc" and width == 256:
            peak = matmul_gflops(256, 256, device)
            rate = td3bc_flops(256, data.obs_dim, data.action_dim) * ours / 1e9
            rows.append(f"| TD3+BC matmul FLOP rate, width 256 (GFLOP/s) | same-size matmul loop {peak:.1f} | "
                        f"{rate:.1f} | {rate / peak:.0%} of the loop |")
    return rows


def td3_extra_rows(data, steps: int, repeats: int, device: str) -> list[str]:
    """TD3+BC only: K seeds batched vs sequential, seed alone vs in the ensemble, diagnostics cost."""
    K = 5
    one, ensemble = ours_timer("td3_bc", data, 64, device), ours_timer("td3_bc", data, 64, device, tuple(range(K)))
    seq, ens = best_pair(lambda: one(steps), lambda: ensemble(steps) * K, repeats)
    rows = [f"| TD3+BC, {K} seeds, width 64: seed-updates/s | {K} sequential runs {seq:.0f} | "
            f"one ensemble {ens:.0f} | {ens / seq:.2f}× |",
            f"| TD3+BC, same seed alone vs in the ensemble (200 steps) | | max rel. param difference "
            f"{same_seed_gap(data, device):.1e} | |"]
    cfg = runs.r_seem("hopper", 0, "quick")
    rq = best(lambda: _quick_rate(data, cfg, steps // 2, device), repeats)
    per_log, frac = diag_cost(data, device, rq)
    rows.append(f"| diagnostics at the QUICK cadence (R-SEEM quick: critic 64, actor 256) | "
                f"training {rq:.0f} updates/s | {per_log * 1e3:.0f} ms per log, 57 logs | {frac:.1%} of training |")
    return rows


def _quick_rate(data, cfg, n, device) -> float:
    td3 = cfg.agent.replace(steps=n + WARMUP)
    agent = rl.make_trainer(td3, data, [0], device)
    train(td3.replace(steps=WARMUP), data, [0], device=device, trainer=agent)
    _sync(device)
    clock = _clock(device)
    start = clock()
    train(td3, data, [0], device=device, trainer=agent)
    _sync(device)
    return n / (clock() - start)


def measure(device: str, algorithms, steps: int, repeats: int, rates: dict) -> list[str]:
    if device == "cpu":
        torch.set_num_threads(1)
    cpu_data = runs.load_dataset("local:hopper-random-10k-v0")
    data = cpu_data.to(device)  # ours and the diagnostics; the plain references move their own copy
    rows = []
    for algorithm in algorithms:
        rows += algorithm_rows(algorithm, cpu_data, data, steps, repeats, device, rates)
    if "td3_bc" in algorithms:
        rows += td3_extra_rows(data, steps, repeats, device)
    return rows


PLAIN_NOTE = (
    "Plain = a single-file reference of the same algorithm written in the benchmark, with the preset's "
    "hyper-parameters and network sizes: TD3+BC in Fujimoto & Gu's style (numpy replay buffer, separate "
    "twin-critic layers, the actor loss also back-propagates into the critic's weights as in their code); "
    "IQL, CQL and Diffusion-QL in CORL's style (`nn.Sequential` critics and actors, a tensor replay buffer, "
    "`torch.optim.Adam`, a Python soft-update loop, `torch.distributions.Normal`; the critic frozen by "
    "`requires_grad_` in actor losses; the same passes and sampled actions per update as seemlab). "
    "Ours = `seemlab.rl.make_trainer` for one seed and `trainer.update(Sampler(...)(256))` (critics as one "
    "`EnsembleMLP` with weights stored pre-transposed, fused Adam on cached state lists, foreach target "
    "update). Widths are actor and critic; depths are the presets' (Diffusion-QL: 3 hidden Mish layers "
    "for ε_θ and the critics; the others 2 ReLU layers); CQL samples 10 actions per proposal per state.")


def _load_note(load: float) -> str:
    """A warning when other jobs wanted more cores than the machine has during the run."""
    if load <= (os.cpu_count() or 1):
        return ""
    return (" (HIGH: other jobs shared the cores; CPU time leaves out the time they were given, but not "
            "their use of caches and memory bandwidth, so the ratios are noisier than on an idle machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS),
                        help="algorithms to time (default: all)")
    parser.add_argument("--steps", type=int, default=1000,
                        help="updates per TD3+BC width-64 measurement (fewer for costlier updates and width 256)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (best kept)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (skipped when no GPU is present)")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/train_throughput_<device>.md")
    parser.add_argument("--rates-out", type=Path, help="also write ours' updates/s as JSON here (for seemlab sweep "
                        "--dry-run: benchmarks/results/updates_per_s.json)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device on this machine: the CUDA rows are skipped, nothing written")
        return
    out = args.out or Path(f"benchmarks/results/train_throughput_{args.device.split(':')[0]}.md")
    load = os.getloadavg()[0]
    rates: dict = {}
    rows = measure(args.device, args.algorithms, args.steps, args.repeats, rates)
    load_end = os.getloadavg()[0]
    head = [f"# Training throughput ({args.device})", "",
            f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} thread(s), {os.cpu_count()} cores, load average {load:.2f} at the start and "
            f"{load_end:.2f} at the end{_load_note(max(load, load_end))}, "
            "Hopper-v5 random data (10k transitions), batch 256, one seed, "
            f"{args.steps} updates per TD3+BC width-64 measurement (fewer for the costlier algorithms and "
            f"width 256, at least 25), best of {args.repeats}, baseline and ours timed alternately, "
            f"{'wall-clock time' if args.device.startswith('cuda') else 'CPU time of the process'}. {PLAIN_NOTE}", "",
            "Ratio = best ours / best plain; the median of the per-pair ratios shows how far the noise of "
            "the shared machine moves it.",
            "", "| measurement | plain / baseline | ours | ratio |", "|---|---|---|---|"]
    text = "\n".join(head + rows) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    if args.rates_out:
        write_rates(args.rates_out, args.device.split(":")[0], rates, max(load, load_end))


def write_rates(path: Path, device: str, rates: dict, load: float) -> None:
    """``rates`` (updates/s by algorithm and width) into ``path`` under ``device``, keeping the
    entries of other devices and of algorithms not timed now."""
    table = json.loads(path.read_text()) if path.exists() else {}
    entry = table.get(device, {})
    entry.update(date=datetime.date.today().isoformat(), torch=torch.__version__,
                 processor=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                 cores=os.cpu_count(), load_average=round(load, 2),
                 command=" ".join(["benchmarks/train_throughput.py", *sys.argv[1:]]),
                 what="seemlab's updates/s of one seed (make_trainer, update(Sampler(...)(256))), actor and "
                      "critic of the width, Hopper random data, batch 256; diagnostics and evaluation not included",
                 updates_per_s={**entry.get("updates_per_s", {}), **rates})
    table[device] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
