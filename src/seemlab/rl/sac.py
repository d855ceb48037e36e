"""Soft Actor-Critic (Haarnoja et al., 2018), online, in one file and in CleanRL's order.

Config, networks, replay buffer, small update functions, then :func:`train`. Used to make
behaviour-policy datasets (``seemlab data generate sac``: its replay buffer is "medium-replay",
rollouts of its final policy are "medium") and, with ``tau=1`` and ``critic_norm="layer"``, for
the paper's Fig 11 arms (EMA / no EMA / no EMA + LayerNorm, SPEC Ambiguity 33).

Axes: B a minibatch, d_s state features, d_a action dimensions. Critics return (B,).
Dict observations (AntMaze) are flattened to ``observation ⊕ desired_goal`` (SPEC §0.2).
Objectives (θ critics, φ actor, α temperature, 𝒟 the replay buffer):
    J_Q(θ_i) = E_𝒟[(Q_θi(s, a) − r − γ(1 − d)(min_j Q_θ̄j(s', a') − α log π_φ(a'|s')))²],
               a' ~ π_φ(·|s')
    J_π(φ) = E_𝒟[α log π_φ(ã|s) − min_j Q_θj(s, ã)],  ã ~ π_φ(·|s)
    J(α) = E_𝒟[−α (log π_φ(ã|s) + H̄)],  H̄ = −d_a
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seemlab.envs import flat_obs, make_env
from seemlab.nets import MLP

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's bounds on the actor's log std


@dataclass(frozen=True)
class SACConfig:
    # --- general ---
    env_id: str = "Hopper-v5"
    """Gymnasium id (see seemlab.data.BODIES)."""
    seed: int = 0
    """Seeds the env, the networks, exploration and minibatch sampling."""
    total_steps: int = 1_000_000
    """Environment steps (and transitions in the replay buffer)."""
    # --- SAC ---
    buffer_size: int | None = None
    """Replay capacity; None keeps every transition (medium-replay needs all of them)."""
    gamma: float = 0.99
    """γ, the discount."""
    tau: float = 0.005
    """Polyak rate of the target critics; 1.0 = no EMA (target := online critic)."""
    batch_size: int = 256
    """B, minibatch size."""
    learning_starts: int = 5_000
    """Uniform random actions, and no updates, before this step."""
    policy_lr: float = 3e-4
    """Adam learning rate of the actor and of α."""
    q_lr: float = 1e-3
    """Adam learning rate of the critics."""
    policy_frequency: int = 2
    """Actor (and α) updates every this many critic updates (that many at once, as CleanRL)."""
    target_frequency: int = 1
    """Target critic update every this many steps."""
    alpha: float = 0.2
    """α, the entropy temperature (initial value when autotuned)."""
    autotune: bool = True
    """Learn α towards the target entropy −d_a."""
    width: int = 256
    """Hidden units of the 2-hidden-layer actor and critics."""
    critic_norm: str = "none"
    """Critic normalization, one of seemlab.nets.NORMS ("layer" for the Fig 11 LN arm)."""
    # --- evaluation ---
    eval_every: int = 0
    """Evaluate the deterministic policy every this many env steps (0: never)."""
    eval_episodes: int = 10
    """Episodes per evaluation, in a separate env reset with seeds EVAL_SEED + seed + i."""


EVAL_FIELDS = ("eval_every", "eval_episodes")
EVAL_SEED = 1_000_000
"""Offset of the evaluation env's reset seeds: every evaluation replays the same episodes' starts,
away from the training env's seed."""


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy: states (B, d_s) -> actions (B, d_a) in [low, high]."""

    def __init__(self, obs_dim: int, low: np.ndarray, high: np.ndarray, width: int, seed: int):
        super().__init__()
        self.action_dim = len(low)
        self.trunk = MLP(obs_dim, depth=2, width=width, out_dim=2 * self.action_dim, seed=seed)
        self.register_buffer("scale", torch.as_tensor((high - low) / 2.0, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor((high + low) / 2.0, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (B, d_a) and log std (B, d_a) of the pre-tanh Gaussian."""
        mean, log_std = self.trunk(obs).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return mean, log_std

    def sample(self, obs: torch.Tensor, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A sampled action (B, d_a), its log-probability (B,), and the mean action (B, d_a)."""
        mean, log_std = self(obs)
        std = log_std.exp()
        noise = torch.randn(mean.shape, generator=generator, device=generator.device)
        pre = mean + std * noise.to(mean.device)
        squashed = torch.tanh(pre)
        log_prob = (-0.5 * noise.to(mean.device) ** 2 - log_std - 0.5 * np.log(2 * np.pi))
        log_prob = log_prob - torch.log(self.scale * (1 - squashed ** 2) + 1e-6)
        return squashed * self.scale + self.bias, log_prob.sum(-1), \
            torch.tanh(mean) * self.scale + self.bias


class TwinCritic(nn.Module):
    """Q1, Q2: (states (B, d_s), actions (B, d_a)) -> two (B,) tensors."""

    def __init__(self, obs_dim: int, action_dim: int, width: int, norm: str, seed: int):
        super().__init__()
        self.q1 = MLP(obs_dim + action_dim, depth=2, width=width, norm=norm, seed=seed)
        self.q2 = MLP(obs_dim + action_dim, depth=2, width=width, norm=norm, seed=seed + 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        return self.q1(x), self.q2(x)


@dataclass
class ReplayBuffer:
    """Preallocated transitions: observations / next_observations (C, d_s), actions (C, d_a),
    rewards, terminated, truncated (C,), float32; ``size`` rows are filled, in arrival order."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    size: int = 0

    @classmethod
    def empty(cls, capacity: int, obs_dim: int, action_dim: int) -> ReplayBuffer:
        z = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
        return cls(z(capacity, obs_dim), z(capacity, action_dim), z(capacity),
                   z(capacity, obs_dim), z(capacity), z(capacity))

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Append one transition, overwriting the oldest when full."""
        i = self.size % len(self.rewards)
        for arr, value in zip((self.observations, self.actions, self.rewards,
                               self.next_observations, self.terminated, self.truncated),
                              (obs, action, reward, next_obs, terminated, truncated)):
            arr[i] = value
        self.size += 1

    def sample(self, batch_size: int, rng: np.random.Generator, device) -> dict[str, torch.Tensor]:
        """A uniform minibatch of B transitions as float32 tensors on ``device``."""
        idx = rng.integers(0, min(self.size, len(self.rewards)), batch_size)
        keys = ("observations", "actions", "rewards", "next_observations", "terminated")
        return {k: torch.as_tensor(getattr(self, k)[idx], device=device) for k in keys}


@dataclass
class SACAgent:
    """Networks, targets, optimizers and the temperature of one SAC run."""

    actor: Actor
    critic: TwinCritic
    critic_target: TwinCritic
    actor_opt: torch.optim.Optimizer
    critic_opt: torch.optim.Optimizer
    log_alpha: torch.Tensor
    alpha_opt: torch.optim.Optimizer | None
    target_entropy: float

    @property
    def alpha(self) -> float:
        return self.log_alpha.detach().exp().item()


def make_agent(cfg: SACConfig, obs_dim: int, low: np.ndarray, high: np.ndarray,
               device: torch.device) -> SACAgent:
    """Build and seed the networks (seeds cfg.seed, +1, +2, +3) and their optimizers."""
    actor = Actor(obs_dim, low, high, cfg.width, seed=cfg.seed).to(device)
    critic = TwinCritic(obs_dim, len(low), cfg.width, cfg.critic_norm, seed=cfg.seed + 1).to(device)
    target = TwinCritic(obs_dim, len(low), cfg.width, cfg.critic_norm, seed=cfg.seed + 1).to(device)
    target.load_state_dict(critic.state_dict())
    log_alpha = torch.tensor(float(np.log(cfg.alpha)), device=device, requires_grad=cfg.autotune)
    return SACAgent(
        actor, critic, target, torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr),
        torch.optim.Adam(critic.parameters(), lr=cfg.q_lr), log_alpha,
        torch.optim.Adam([log_alpha], lr=cfg.policy_lr) if cfg.autotune else None,
        target_entropy=-float(len(low)))


def update_critic(agent: SACAgent, batch: dict[str, torch.Tensor], gamma: float,
                  generator: torch.Generator) -> dict[str, float]:
    """One Adam step on J_Q for both critics."""
    with torch.no_grad():
        next_action, next_log_prob, _ = agent.actor.sample(batch["next_observations"], generator)
        q1_t, q2_t = agent.critic_target(batch["next_observations"], next_action)
        soft_v = torch.min(q1_t, q2_t) - agent.alpha * next_log_prob
        target = batch["rewards"] + gamma * (1.0 - batch["terminated"]) * soft_v
    q1, q2 = agent.critic(batch["observations"], batch["actions"])
    loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
    agent.critic_opt.zero_grad()
    loss.backward()
    agent.critic_opt.step()
    return {"q_loss": loss.item(), "q1": q1.detach().mean().item()}


def update_actor(agent: SACAgent, obs: torch.Tensor, generator: torch.Generator
                 ) -> dict[str, float]:
    """One Adam step on J_π, then (when autotuned) one on J(α)."""
    action, log_prob, _ = agent.actor.sample(obs, generator)
    q1, q2 = agent.critic(obs, action)
    loss = (agent.alpha * log_prob - torch.min(q1, q2)).mean()
    agent.actor_opt.zero_grad()
    loss.backward()
    agent.actor_opt.step()
    if agent.alpha_opt is not None:
        alpha_loss = -(agent.log_alpha.exp() * (log_prob.detach() + agent.target_entropy)).mean()
        agent.alpha_opt.zero_grad()
        alpha_loss.backward()
        agent.alpha_opt.step()
    return {"actor_loss": loss.item(), "alpha": agent.alpha}


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """θ̄ ← τ θ + (1 − τ) θ̄ (τ = 1 copies)."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.lerp_(o, tau)


@dataclass
class SACResult:
    """A finished run: the agent, its replay buffer (every transition when buffer_size is None)
    and the (step, return) of each completed episode."""

    agent: SACAgent
    buffer: ReplayBuffer
    episode_returns: list[tuple[int, float]] = field(default_factory=list)
    eval_returns: list[tuple[int, float]] = field(default_factory=list)
    """(env steps done, mean return of the deterministic policy) of each evaluation."""


def check_config(cfg: SACConfig) -> None:
    """A one-line ``ValueError`` naming the first bad field, its value and the allowed values."""
    from seemlab.nets import NORMS
    from seemlab.params import boolean, check_fields, choice, integer, number, text

    count, rate = integer(min=1), number(0, lo_open=True)
    check_fields(cfg, env_id=text(), seed=integer(min=0), total_steps=count,
                 buffer_size=integer(min=1, optional="keep every transition"), gamma=number(0, 1),
                 tau=number(0, 1, lo_open=True), batch_size=count, learning_starts=integer(min=0),
                 policy_lr=rate, q_lr=rate, policy_frequency=count, target_frequency=count, alpha=number(0),
                 autotune=boolean(), width=count, critic_norm=choice(*NORMS),
                 eval_every=integer(min=0), eval_episodes=count)


def cache_config(cfg: SACConfig) -> dict:
    """``cfg`` as plain data for a cache key: without the evaluation fields while evaluation is
    off, so that runs cached before evaluation existed keep their keys."""
    config = asdict(cfg)
    if not cfg.eval_every:
        for name in EVAL_FIELDS:
            config.pop(name)
    return config


def train(cfg: SACConfig, *, device: torch.device | str = "cpu", progress: bool = False,
          callback: Callable[[int, dict[str, float]], bool | None] | None = None) -> SACResult:
    """Run SAC online for ``cfg.total_steps`` env steps; ``callback(step, logs)`` after updates
    stops the run by returning True (a diverged critic, say)."""
    check_config(cfg)
    device = torch.device(device)
    # --- seeding: one numpy generator (exploration, minibatches), one torch generator (policy) ---
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator(device).manual_seed(cfg.seed)
    env = make_env(cfg.env_id)
    obs = flat_obs(env.reset(seed=cfg.seed)[0])
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    agent = make_agent(cfg, obs.shape[0], low, high, device)
    buffer = ReplayBuffer.empty(cfg.buffer_size or cfg.total_steps, obs.shape[0], len(low))
    result, episode_return = SACResult(agent, buffer), 0.0
    eval_env = make_env(cfg.env_id) if cfg.eval_every else None
    steps = range(cfg.total_steps)
    if progress:  # imported only here: tqdm.auto warns in a kernel without ipywidgets
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"SAC {cfg.env_id}", disable=None)  # None: a bar only on a terminal
    for step in steps:
        action = _act(agent, obs, step < cfg.learning_starts, rng, low, high, generator)
        raw_next, reward, term, trunc, _ = env.step(action)
        next_obs = flat_obs(raw_next)
        buffer.add(obs, action, reward, next_obs, term, trunc)
        episode_return += float(reward)
        obs = next_obs
        if term or trunc:
            result.episode_returns.append((step, episode_return))
            obs, episode_return = flat_obs(env.reset()[0]), 0.0
        if step >= cfg.learning_starts:
            logs = _learn(agent, cfg, step, buffer, rng, generator, device)
            if callback is not None and callback(step, logs):
                break
        if eval_env is not None and (step + 1) % cfg.eval_every == 0:
            result.eval_returns.append((step + 1, evaluate(agent.actor, eval_env, cfg.eval_episodes, EVAL_SEED + cfg.seed)))
    return result


@torch.no_grad()
def evaluate(actor: Actor, env, episodes: int, seed: int) -> float:
    """Mean return of the deterministic policy (the tanh of the Gaussian mean) over ``episodes``
    episodes of ``env`` reset with seeds ``seed, seed + 1, ...``. Uses no random generator of
    the training run. NaN if an action is non-finite (a broken actor)."""
    device = actor.scale.device
    returns = []
    for i in range(episodes):
        obs, total, done = env.reset(seed=seed + i)[0], 0.0, False
        while not done:
            mean, _ = actor(torch.as_tensor(flat_obs(obs), device=device)[None])
            action = (torch.tanh(mean) * actor.scale + actor.bias)[0].cpu().numpy()
            if not np.all(np.isfinite(action)):
                return float("nan")
            obs, reward, term, trunc, _ = env.step(action)
            total += float(reward)
            done = term or trunc
        returns.append(total)
    return float(np.mean(returns))


def _act(agent: SACAgent, obs: np.ndarray, explore: bool, rng: np.random.Generator,
         low: np.ndarray, high: np.ndarray, generator: torch.Generator) -> np.ndarray:
    if explore:
        return rng.uniform(low, high).astype(np.float32)
    with torch.no_grad():
        state = torch.as_tensor(obs, device=agent.log_alpha.device)[None]
        return agent.actor.sample(state, generator)[0][0].cpu().numpy()


def _learn(agent: SACAgent, cfg: SACConfig, step: int, buffer: ReplayBuffer,
           rng: np.random.Generator, generator: torch.Generator, device) -> dict[str, float]:
    batch = buffer.sample(cfg.batch_size, rng, device)
    logs = update_critic(agent, batch, cfg.gamma, generator)
    if step % cfg.policy_frequency == 0:
        for _ in range(cfg.policy_frequency):  # CleanRL: compensate for the delay
            logs.update(update_actor(agent, batch["observations"], generator))
    if step % cfg.target_frequency == 0:
        soft_update(agent.critic_target, agent.critic, cfg.tau)
    return logs


def policy_fn(actor: Actor, generator: torch.Generator, deterministic: bool = False
              ) -> Callable[[Any], np.ndarray]:
    """An env policy (raw observation -> action (d_a,)) from an actor, sampling on ``generator``."""
    device = actor.scale.device

    @torch.no_grad()
    def act(obs: Any) -> np.ndarray:
        state = torch.as_tensor(flat_obs(obs), device=device)[None]
        sampled, _, mean = actor.sample(state, generator)
        return (mean if deterministic else sampled)[0].cpu().numpy()

    return act
