"""Training throughput of seemlab's TD3+BC against a plain Fujimoto-style implementation.

Both train TD3+BC (τ 0.005, policy delay 2, α 2.5, BC weight 1, batch 256) on the same data, with
the same network widths, on the same machine, in one process. Reported, as ratios measured here:

- updates/s, ours vs plain, at width 64 (Python overhead dominates) and 256 (matmuls dominate),
  with the achieved matmul FLOP rate against a same-size matmul loop at 256;
- K seeds in one batched ensemble vs K sequential runs (width 64), and the largest difference
  between a seed's parameters trained in the ensemble and alone;
- the cost of the diagnostics at the QUICK cadence (57 logs per 10k steps, M = 256) as a
  fraction of training time;
- the same on CUDA when a GPU is present.

    .venv/bin/python benchmarks/train_throughput.py [--steps 1000] [--out benchmarks/results/train_throughput_cpu.md]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seemlab import runs
from seemlab.diagnostics import Diagnostics
from seemlab.rl.base import train
from seemlab.rl.td3 import make_trainer, preset


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


# ============================================================================ measurements
def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_plain(data, width, steps, device) -> float:
    torch.manual_seed(0)
    np.random.seed(0)
    agent = PlainTD3BC(data, width, device)
    for _ in range(20):
        agent.train()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        agent.train()
    _sync(device)
    return steps / (time.perf_counter() - start)


def time_ours(data, width, steps, device, seeds=(0,)) -> tuple[float, object]:
    cfg = preset("td3_bc", critic_width=width, actor_width=width, steps=steps + 20)
    agent = make_trainer(cfg, data, list(seeds), device)
    train(cfg.replace(steps=20), data, seeds, device=device, agent=agent)
    _sync(device)
    start = time.perf_counter()
    train(cfg, data, seeds, device=device, agent=agent)
    _sync(device)
    return steps / (time.perf_counter() - start), agent


def best(fn, repeats):
    return max(fn() for _ in range(repeats))


def best_pair(baseline, ours, repeats) -> tuple[float, float]:
    """Best of ``repeats`` for each, the two timed alternately so that a drift in machine speed
    (shared cores, frequency) hits both sides alike."""
    pairs = [(baseline(), ours()) for _ in range(repeats)]
    return max(b for b, _ in pairs), max(o for _, o in pairs)


def diag_cost(data, device, step_rate: float) -> tuple[float, float]:
    """(seconds per log, fraction of a QUICK R-SEEM run's training time spent in diagnostics)."""
    cfg = runs.r_seem("hopper", 0, "quick")
    agent = train(cfg.agent.replace(steps=50), data, [0], device=device)
    diag = Diagnostics(cfg.diagnostics, data, cfg.agent.gamma, 0, cfg.agent.steps)
    n_logs = sum(cfg.diagnostics.is_log_step(t, cfg.agent.steps) for t in range(cfg.agent.steps + 1))
    reps = 5
    start = time.perf_counter()
    for i in range(reps):
        diag.log(i, agent.q1_member(0), agent.policy_member(0))
    diag.finalize()
    per_log = (time.perf_counter() - start) / reps
    return per_log, n_logs * per_log / (cfg.agent.steps / step_rate)


def matmul_gflops(width, batch, device, reps=200) -> float:
    a, b = torch.randn(batch, width, device=device), torch.randn(width, width, device=device)
    for _ in range(10):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * batch * width * width * reps / (time.perf_counter() - start) / 1e9


def td3bc_flops(width, d_s, d_a, batch=256, policy_freq=2) -> float:
    """Matmul FLOPs of one TD3+BC update (forward 2·MAC; backward 2× forward for trained nets)."""
    critic = batch * ((d_s + d_a) * width + width * width + width)  # MACs of one critic head
    actor = batch * (d_s * width + width * width + width * d_a)
    per_step = 2 * critic + 2 * critic * 3 + actor  # target twin, online twin fwd+bwd, target actor
    per_actor_step = actor * 3 + critic * 3  # actor fwd+bwd, Q1 fwd + input grad (≈ 2×)
    return 2 * (per_step + per_actor_step / policy_freq)


def same_seed_gap(data, device, steps=200) -> float:
    cfg = preset("td3_bc", critic_width=64, actor_width=64, steps=steps)
    alone = train(cfg, data, [3], device=device).critic.flat(0)
    together = train(cfg, data, [0, 1, 2, 3, 4], device=device)
    k = 3 * together.C
    return float((together.critic.flat(k) - alone).abs().max() / alone.abs().max())


def measure(device: str, steps: int, repeats: int) -> list[str]:
    torch.set_num_threads(1) if device == "cpu" else None
    cpu_data = runs.load_dataset("local:hopper-random-10k-v0")
    data = cpu_data.to(device)  # ours and the diagnostics; the plain reference reads NumPy arrays
    rows = []
    flops = {}
    for width in (64, 256):
        n = steps if width == 64 else max(steps // 4, 50)
        plain, ours = best_pair(lambda: time_plain(cpu_data, width, n, device),
                                lambda: time_ours(data, width, n, device)[0], repeats)
        rows.append(f"| TD3+BC updates/s, width {width} | {plain:.0f} | {ours:.0f} | {ours / plain:.2f}× |")
        flops[width] = td3bc_flops(width, data.obs_dim, data.action_dim)
        if width == 256:
            peak = matmul_gflops(256, 256, device)
            rate = flops[256] * ours / 1e9
            rows.append(f"| matmul FLOP rate, width 256 (GFLOP/s) | same-size matmul loop {peak:.1f} | {rate:.1f} | "
                        f"{rate / peak:.0%} of the loop |")
    K = 5
    seq, ens = best_pair(lambda: time_ours(data, 64, steps, device)[0],
                         lambda: time_ours(data, 64, steps, device, seeds=tuple(range(K)))[0] * K, repeats)
    rows.append(f"| {K} seeds, width 64: seed-updates/s | {K} sequential runs {seq:.0f} | one ensemble {ens:.0f} | "
                f"{ens / seq:.2f}× |")
    rows.append(f"| same seed alone vs in the ensemble (200 steps) | | max rel. param difference "
                f"{same_seed_gap(data, device):.1e} | |")
    cfg = runs.r_seem("hopper", 0, "quick")
    rq = best(lambda: _quick_rate(data, cfg, steps // 2, device), repeats)
    per_log, frac = diag_cost(data, device, rq)
    rows.append(f"| diagnostics at the QUICK cadence (R-SEEM quick: critic 64, actor 256) | "
                f"training {rq:.0f} updates/s | {per_log * 1e3:.0f} ms per log, 57 logs | {frac:.1%} of training |")
    return rows


def _quick_rate(data, cfg, n, device) -> float:
    td3 = cfg.agent.replace(steps=n + 20)
    agent = make_trainer(td3, data, [0], device)
    train(td3.replace(steps=20), data, [0], device=device, agent=agent)
    start = time.perf_counter()
    train(td3, data, [0], device=device, agent=agent)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="updates per width-64 measurement")
    parser.add_argument("--repeats", type=int, default=2, help="repeats per measurement (best kept)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_throughput_cpu.md"))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = measure(args.device, args.steps, args.repeats)
    head = [f"# Training throughput ({args.device})", "",
            f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} thread(s), load average {load:.2f} at the start, "
            "Hopper-v5 random data (10k transitions), batch 256, "
            f"{args.steps} updates per width-64 measurement, best of {args.repeats}, baseline and ours timed alternately. "
            "Plain = a Fujimoto-style TD3+BC written in the benchmark (numpy replay buffer, separate "
            "twin-critic layers, default Adam, Python soft-update loop); ours = `seemlab.rl.td3` "
            "(twin critics as one `EnsembleMLP` with weights stored pre-transposed, fused Adam on "
            "cached state lists, foreach target update). Widths are actor and critic.", "",
            "| measurement | plain / baseline | ours | ratio |", "|---|---|---|---|"]
    text = "\n".join(head + rows) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
