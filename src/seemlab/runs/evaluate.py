"""Evaluation of a trained policy: seeded episodes in the dataset's Gymnasium env, D4RL-normalized."""

from __future__ import annotations

import dataclasses

import torch

from seemlab.envs import flat_obs, make_env
from seemlab.rl.base import Trainer


def evaluate(agent: Trainer, s: int, data, episodes: int, seed: int) -> dict:
    """Mean return of seed ``s``'s deterministic policy over ``episodes`` seeded episodes.

    Episode i resets with seed ``seed + 100 + i``. The score is D4RL-normalized with the
    dataset's reference scores, or with D4RL's constants for the task family when the dataset
    has none (then ``source`` says that those constants were applied to Gymnasium returns).
    """
    if episodes == 0 or data.env_id is None:
        return {"episodes": 0, "reason": "no evaluation" if episodes == 0 else "dataset names no env"}
    env = make_env(data.env_id)
    policy = agent.policy_member(s)
    returns = []
    with torch.no_grad():
        for i in range(episodes):
            obs, _ = env.reset(seed=int(seed) + 100 + i)
            total, done = 0.0, False
            while not done:
                x = data.normalize_obs(flat_obs(obs)).unsqueeze(0)
                obs, r, term, trunc, _ = env.step(policy(x)[0].cpu().numpy())
                total, done = total + float(r), term or trunc
            returns.append(total)
    env.close()
    score = _score(returns, data)
    return {"episodes": episodes, "returns": returns, "mean_return": score.raw, "normalized": score.normalized,
            "source": score.source}


def _score(returns, data):
    from seemlab.data.scores import d4rl_reference

    if data.reference is not None:
        return data.score(returns)
    try:
        ref = d4rl_reference(data.env_id)
    except ValueError:
        return data.score(returns)
    ref = dataclasses.replace(ref, source=f"{ref.source}, applied to {data.env_id} returns (not comparable "
                                          f"with D4RL v2 scores)")
    return data.score(returns, ref)
