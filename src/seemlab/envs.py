"""Environment creation and observation flattening, used by the data generators and the
trainers alike (so that neither imports the other).

- :func:`make_env`: ``gym.make`` for the bodies of :data:`seemlab.data.BODIES` with this
  project's keyword arguments (AntMaze: the 27-d Ant state without contact forces), MuJoCo
  compiler warnings as Python warnings; any other Gymnasium id as it is.
- :func:`flat_obs`: an env observation as a flat float32 state; dict observations (AntMaze) give
  ``observation ⊕ achieved_goal ⊕ desired_goal`` (the Ant's state, its x, y and the goal), as the
  datasets are read (:data:`seemlab.data.minari_source.DICT_STATE_KEYS`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np

# AntMaze proxy: the 27-d Ant state without contact forces, as in Minari's D4RL/antmaze datasets.
ENV_KWARGS: dict[str, dict[str, Any]] = {
    "AntMaze_UMaze-v5": {"include_cfrc_ext_in_observation": False},
    # Figure 7's 2-D proxy: an episode ends at the goal, so a return is 0 or 1 (D4RL AntMaze's
    # evaluation); seemlab.data.scripted generates its data.
    "PointMaze_Medium-v3": {"continuing_task": False},
}


def make_env(env_id: str, **overrides: Any):
    """``gym.make(env_id)``, with this project's kwargs for the bodies it generates data for,
    then ``overrides`` (e.g. a maze's ``continuing_task``); maze ids register gymnasium-robotics
    first."""
    import gymnasium as gym

    if env_id.startswith(("AntMaze", "PointMaze")):
        # its import prints a notice about Adroit envs to stderr; we use no Adroit env
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            import gymnasium_robotics
        gym.register_envs(gymnasium_robotics)
    with _mujoco_warnings():
        return gym.make(env_id, **(ENV_KWARGS.get(env_id, {}) | overrides))


@contextlib.contextmanager
def _mujoco_warnings():
    """MuJoCo compiler warnings (HalfCheetah's deprecated ``settotalmass``) become Python
    warnings instead of stderr lines and a ``MUJOCO_LOG.TXT`` in the working directory."""
    import mujoco

    messages: list[str] = []
    mujoco.set_mju_user_warning(messages.append)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(None)
        for message in messages:
            warnings.warn(f"MuJoCo: {message}", DeprecationWarning, stacklevel=3)


def flat_obs(obs: Any) -> np.ndarray:
    """An env observation as a flat float32 state (d_s,): dicts give observation ⊕ achieved_goal ⊕ desired_goal."""
    from seemlab.data.minari_source import flat_state

    if isinstance(obs, dict):
        return flat_state({k: np.asarray(v)[None] for k, v in obs.items()})[0].astype(np.float32)
    return np.asarray(obs, np.float32).ravel()
