"""Evaluation of a trained policy: seeded episodes in the dataset's Gymnasium env, D4RL-normalized."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from seemlab.envs import flat_obs, make_env
from seemlab.rl.base import Trainer


def evaluate(agent: Trainer, s: int, data, episodes: int, seed: int) -> dict:
    """Mean return of seed ``s``'s deterministic policy over ``episodes`` seeded episodes.

    Episode i resets with seed ``seed + 100 + i``. The score is D4RL-normalized with the
    dataset's reference scores, or with D4RL's constants for the task family when the dataset
    has none (then ``source`` says that those constants were applied to Gymnasium returns).

    Goal-reaching envs (their ``info`` has ``success``: AntMaze, PointMaze) end an episode at the
    first success, as D4RL's AntMaze evaluation does, and score 100 × the success rate (D4RL's
    AntMaze normalisation: references 0 and 1). A non-finite action (a diverged policy) ends its
    episode as a failure, with the return so far.
    """
    if episodes == 0 or data.env_id is None:
        return {"episodes": 0, "reason": "no evaluation" if episodes == 0 else "dataset names no env"}
    env = make_env(data.env_id)
    policy = agent.policy_member(s)
    returns, successes, nonfinite = [], [], 0
    with torch.no_grad():
        for i in range(episodes):
            obs, info = env.reset(seed=int(seed) + 100 + i)
            total, done, success = 0.0, False, False
            while not done:
                action = policy(data.normalize_obs(flat_obs(obs)).unsqueeze(0))[0].cpu().numpy()
                if not np.isfinite(action).all():
                    nonfinite += 1
                    break
                obs, r, term, trunc, info = env.step(action)
                success = bool(info.get("success", False))
                total, done = total + float(r), term or trunc or success
            returns.append(total)
            successes.append(success)
    env.close()
    out = {"episodes": episodes, "returns": returns, "mean_return": float(np.mean(returns))}
    if nonfinite:
        out["nonfinite_episodes"] = nonfinite
    if "success" in info:
        return {**out, "successes": successes, "normalized": 100.0 * float(np.mean(successes)),
                "source": "100 × success rate (D4RL AntMaze normalisation, references 0 and 1)"}
    score = _score(returns, data)
    return {**out, "mean_return": score.raw, "normalized": score.normalized, "source": score.source}


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
