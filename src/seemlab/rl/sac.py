"""Soft Actor-Critic (Haarnoja et al., 2018), online, in CleanRL's order, on the SAC trainer.

Config, replay buffer, the run's state, then :func:`train`, the environment loop. The learning
is :class:`seemlab.rl.soft_actor_critic.SAC` with one seed (S = 1) and CleanRL's schedule
(``sac_continuous_action.py``), fed minibatches of the replay buffer as
:class:`seemlab.rl.base.Batch`; its actor also acts (sampled actions while training, the tanh of
the Gaussian mean in :func:`evaluate`). Used to make behaviour-policy datasets (``seemlab data
generate sac``: its replay buffer is "medium-replay", rollouts of its final policy are "medium")
and, with ``tau=1`` and ``critic_norm="layer"``, for Fig 11's arms (EMA / no EMA / no EMA + LN).

Axes: B a minibatch, d_s state features, d_a action dimensions; the trainer's leading seed axis
is 1. Dict observations (AntMaze) are flattened to ``observation ⊕ achieved_goal ⊕ desired_goal``.
Objectives (θ critics, φ actor, α temperature, 𝒟 the replay buffer):
    J_Q(θ_i) = E_𝒟[(Q_θi(s, a) − r − γ(1 − d)(min_j Q_θ̄j(s', a') − α log π_φ(a'|s')))²],
               a' ~ π_φ(·|s')
    J_π(φ) = E_𝒟[α log π_φ(ã|s) − min_j Q_θj(s, ã)],  ã ~ π_φ(·|s)
    J(α) = E_𝒟[−α (log π_φ(ã|s) + H̄)],  H̄ = −d_a
One update per env step from ``learning_starts`` on (update u = 1, 2, ...): an Adam step on J_Q;
when u is a multiple of k = ``policy_frequency``, k steps on J_π and J(α) on the updated critics;
when u is a multiple of ``target_frequency``, θ̄ ← τθ + (1 − τ)θ̄ (τ = 1: a copy, "no EMA").

Randomness: the env's own generator (its first reset is seeded with ``seed``); a NumPy generator
seeded with ``seed`` for the uniform warm-up actions and the minibatch indices; a torch generator
(``member_seed(seed, ROLE_EXPLORE)``) for the policy's sampled actions; the trainer's streams.
At an episode boundary all of a run's state is data (:meth:`SACRun.state_dict`: the generators,
the replay buffer, the trainer, the logs), so a run resumed from it continues bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from seemlab.envs import flat_obs, make_env
from seemlab.rl.base import Batch, member_seed
from seemlab.rl.soft_actor_critic import SAC, SACOfflineConfig

ROLE_EXPLORE = 50
"""member_seed role of the generator of the sampled actions while training."""


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


def check_config(cfg: SACConfig) -> None:
    """A one-line ``ValueError`` naming the first bad field, its value and the allowed values."""
    from seemlab.nets import NORMS
    from seemlab.params import boolean, check_fields, choice, integer, number, text

    count, rate = integer(min=1), number(0, lo_open=True)
    check_fields(cfg, env_id=text(), seed=integer(min=0), total_steps=count,
                 buffer_size=integer(min=1, optional="keep every transition"), gamma=number(0, 1),
                 tau=number(0, 1, lo_open=True), batch_size=count, learning_starts=integer(min=0),
                 policy_lr=rate, q_lr=rate, policy_frequency=count, target_frequency=count, alpha=rate,
                 autotune=boolean(), width=count, critic_norm=choice(*NORMS),
                 eval_every=integer(min=0), eval_episodes=count)


def cache_config(cfg: SACConfig) -> dict:
    """``cfg`` as plain data for a cache key: without the evaluation fields while evaluation is
    off (they change nothing then)."""
    config = asdict(cfg)
    if not cfg.eval_every:
        for name in EVAL_FIELDS:
            config.pop(name)
    return config


def trainer_config(cfg: SACConfig) -> SACOfflineConfig:
    """The :class:`SAC` trainer's settings for ``cfg``: its rates, sizes, τ and α, with CleanRL's
    schedule (critics first, delayed actor steps, L_α with α)."""
    return SACOfflineConfig(
        steps=cfg.total_steps, batch_size=cfg.batch_size, gamma=cfg.gamma, actor_lr=cfg.policy_lr,
        critic_lr=cfg.q_lr, critic_width=cfg.width, critic_norm=cfg.critic_norm, actor_width=cfg.width,
        tau=cfg.tau, init_alpha=cfg.alpha, autotune_alpha=cfg.autotune, critic_first=True,
        policy_frequency=cfg.policy_frequency, target_frequency=cfg.target_frequency, alpha_loss="exp")


# ============================================================================ replay buffer
BUFFER_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")


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
        for name, value in zip(BUFFER_FIELDS, (obs, action, reward, next_obs, terminated, truncated)):
            getattr(self, name)[i] = value
        self.size += 1

    def sample(self, batch_size: int, rng: np.random.Generator, device) -> Batch:
        """A uniform minibatch of B transitions on ``device``, seed axis 1: ``(1, B, ·)``."""
        idx = rng.integers(0, min(self.size, len(self.rewards)), batch_size)
        arrays = (self.observations, self.actions, self.rewards, self.next_observations, self.terminated)
        return Batch(*(torch.as_tensor(a[idx], device=device).unsqueeze(0) for a in arrays))

    def state_dict(self) -> dict:
        """The filled rows as tensors, and ``size``."""
        n = min(self.size, len(self.rewards))
        return {"size": self.size, **{name: torch.from_numpy(getattr(self, name)[:n].copy()) for name in BUFFER_FIELDS}}

    def load_state_dict(self, state: dict) -> None:
        self.size = int(state["size"])
        for name in BUFFER_FIELDS:
            getattr(self, name)[: len(state[name])] = state[name].numpy()


# ============================================================================ the run
@dataclass
class SACRun:
    """An online SAC run, in progress or finished: ``step`` env steps done, the trainer (S = 1),
    the replay buffer (every transition when ``buffer_size`` is None), the (step, return) of each
    finished episode and the (env steps done, mean return of the deterministic policy) of each
    evaluation. ``obs`` is None at an episode boundary (the env resets before the next step)."""

    cfg: SACConfig
    trainer: SAC
    buffer: ReplayBuffer
    env: Any
    eval_env: Any | None
    rng: np.random.Generator
    explore: torch.Generator
    obs: np.ndarray | None
    step: int = 0
    episode_return: float = 0.0
    episode_returns: list[tuple[int, float]] = field(default_factory=list)
    eval_returns: list[tuple[int, float]] = field(default_factory=list)

    @property
    def at_boundary(self) -> bool:
        """Between two episodes, where the env's state is its generator's alone."""
        return self.obs is None

    def state_dict(self) -> dict:
        """Everything a bit-exact resume needs (tensors and plain data), at an episode boundary."""
        if not self.at_boundary:
            raise ValueError("an online SAC run is saved at an episode boundary only")
        envs = [self.env] + ([self.eval_env] if self.eval_env is not None else [])
        return {"trainer": self.trainer.state_dict(), "buffer": self.buffer.state_dict(),
                "rng": self.rng.bit_generator.state, "explore": self.explore.get_state(),
                "env_rngs": [e.unwrapped.np_random.bit_generator.state for e in envs], "step": self.step,
                "episode_returns": _pairs(self.episode_returns), "eval_returns": _pairs(self.eval_returns)}

    def load_state_dict(self, state: dict) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.buffer.load_state_dict(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.explore.set_state(state["explore"])
        envs = [self.env] + ([self.eval_env] if self.eval_env is not None else [])
        for env, env_state in zip(envs, state["env_rngs"]):
            env.unwrapped.np_random.bit_generator.state = env_state
        self.obs, self.episode_return, self.step = None, 0.0, int(state["step"])
        self.episode_returns = [(int(s), float(r)) for s, r in state["episode_returns"].tolist()]
        self.eval_returns = [(int(s), float(r)) for s, r in state["eval_returns"].tolist()]


def _pairs(rows: list[tuple[int, float]]) -> torch.Tensor:
    """(step, value) rows as a ``(n, 2)`` float64 tensor (steps exact below 2⁵³)."""
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 2)


def start(cfg: SACConfig, device: torch.device | str = "cpu") -> SACRun:
    """A new run of ``cfg``: the envs (the training env reset with ``seed``), the trainer, an
    empty replay buffer and the generators."""
    check_config(cfg)
    env = make_env(cfg.env_id)
    obs = flat_obs(env.reset(seed=cfg.seed)[0])
    low, high = env.action_space.low, env.action_space.high
    trainer = SAC(trainer_config(cfg), obs.shape[0], len(low), low, high, [cfg.seed], device)
    buffer = ReplayBuffer.empty(cfg.buffer_size or cfg.total_steps, obs.shape[0], len(low))
    explore = torch.Generator().manual_seed(member_seed(cfg.seed, ROLE_EXPLORE))
    return SACRun(cfg, trainer, buffer, env, make_env(cfg.env_id) if cfg.eval_every else None,
                  np.random.default_rng(cfg.seed), explore, obs)


def train(cfg: SACConfig, *, device: torch.device | str = "cpu", progress: bool = False,
          callback: Callable[[int, dict[str, float]], bool | None] | None = None, state: dict | None = None,
          after_step: Callable[[SACRun], None] | None = None) -> SACRun:
    """Run SAC online for ``cfg.total_steps`` env steps.

    ``callback(step, metrics)`` after each update (``step`` the 0-based env step, ``metrics`` the
    trainer's: "critic_loss", "q1_batch", "actor_loss" when the actor stepped) stops the run by
    returning True (a diverged critic, say). ``state`` (a :meth:`SACRun.state_dict`) resumes a
    run; ``after_step(run)`` is called after every env step, its update and its evaluation (at
    ``run.at_boundary`` the run may be saved).
    """
    run = start(cfg, device)
    if state is not None:
        run.load_state_dict(state)
    steps = range(run.step, cfg.total_steps)
    if progress:  # imported only here: tqdm.auto warns in a kernel without ipywidgets
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"SAC {cfg.env_id}", disable=None)  # None: a bar only on a terminal
    for step in steps:
        _env_step(run)
        if step >= cfg.learning_starts:
            batch = run.buffer.sample(cfg.batch_size, run.rng, run.trainer.device)
            metrics = run.trainer.update(batch)
            if callback is not None and callback(step, metrics):
                break
        if run.eval_env is not None and run.step % cfg.eval_every == 0:
            run.eval_returns.append((run.step, evaluate(run.trainer, run.eval_env, cfg.eval_episodes,
                                                        EVAL_SEED + cfg.seed)))
        if after_step is not None:
            after_step(run)
    return run


def _env_step(run: SACRun) -> None:
    """Act (uniformly before ``learning_starts``, else a policy sample), store the transition,
    and end the episode on termination or truncation."""
    if run.obs is None:
        run.obs = flat_obs(run.env.reset()[0])
    if run.step < run.cfg.learning_starts:
        space = run.env.action_space
        action = run.rng.uniform(space.low.astype(np.float64), space.high.astype(np.float64)).astype(np.float32)
    else:
        action = _sample_action(run.trainer, run.obs, run.explore)
    raw_next, reward, term, trunc, _ = run.env.step(action)
    next_obs = flat_obs(raw_next)
    run.buffer.add(run.obs, action, reward, next_obs, term, trunc)
    run.episode_return += float(reward)
    run.obs = next_obs
    if term or trunc:
        run.episode_returns.append((run.step, run.episode_return))
        run.obs, run.episode_return = None, 0.0
    run.step += 1


@torch.no_grad()
def _sample_action(trainer: SAC, obs: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """An action (d_a,) drawn from the policy of a one-seed trainer at the state ``obs`` (d_s,)."""
    state = torch.as_tensor(obs, device=trainer.device).view(1, 1, -1)
    action, _ = trainer.sample(trainer.policy_stats(state), generators=[generator])
    return action[0, 0].cpu().numpy()


@torch.no_grad()
def evaluate(trainer: SAC, env, episodes: int, seed: int) -> float:
    """Mean return of the deterministic policy (the tanh of the Gaussian mean) of a one-seed
    trainer over ``episodes`` episodes of ``env`` reset with seeds ``seed, seed + 1, ...``. Uses
    no random generator of the training run. NaN if an action is non-finite (a broken actor)."""
    policy, returns = trainer.policy_member(0), []
    for i in range(episodes):
        obs, total, done = env.reset(seed=seed + i)[0], 0.0, False
        while not done:
            action = policy(torch.as_tensor(flat_obs(obs), device=trainer.device)[None])[0].cpu().numpy()
            if not np.all(np.isfinite(action)):
                return float("nan")
            obs, reward, term, trunc, _ = env.step(action)
            total += float(reward)
            done = term or trunc
        returns.append(total)
    return float(np.mean(returns))


def policy_fn(trainer: SAC, generator: torch.Generator, deterministic: bool = False) -> Callable[[Any], np.ndarray]:
    """An env policy (raw observation -> action (d_a,)) of a one-seed trainer: a sample drawn on
    ``generator``, or with ``deterministic`` the tanh of the Gaussian mean."""
    policy = trainer.policy_member(0)

    @torch.no_grad()
    def act(obs: Any) -> np.ndarray:
        state = flat_obs(obs)
        if deterministic:
            return policy(torch.as_tensor(state, device=trainer.device)[None])[0].cpu().numpy()
        return _sample_action(trainer, state, generator)

    return act
