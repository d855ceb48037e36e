"""Original D4RL hdf5 files (``d4rl:<path>``), read with h5py: the paper's exact data.

Transitions follow ``d4rl.qlearning_dataset`` exactly: step i pairs ``observations[i]`` with
``observations[i + 1]``, steps flagged ``timeouts`` are dropped (their successor starts a new
episode), and the last row is dropped. The task family (hence the action box, [-1, 1] for every
D4RL locomotion and AntMaze task, and the reference scores) comes from the file name, e.g.
``hopper-medium-v2.hdf5``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seemlab.data.dataset import DataNotFoundError, RawTransitions
from seemlab.data.scores import d4rl_family, d4rl_reference

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
ACTION_BOUND = 1.0  # every D4RL MuJoCo and AntMaze task acts in [-1, 1]^d_a
GYM_ENV = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5",
           "ant": None, "antmaze": None}  # v5 Ant observations differ from D4RL's


def check_file(path: Path) -> None:
    """Raise unless ``path`` is an existing HDF5 file (checked before its name or contents).

    Raises:
        DataNotFoundError: no such file.
        ValueError: not an HDF5 file (its first bytes lack the HDF5 signature).
    """
    import h5py

    if not path.is_file():
        raise DataNotFoundError(f"D4RL file not found: {path}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not a readable hdf5 file: no HDF5 signature; a d4rl: spec needs an "
                         "original D4RL .hdf5 file such as hopper-medium-v2.hdf5")


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The top-level arrays of a D4RL file: observations (T, d_s), actions (T, d_a), rewards,
    terminals and timeouts (T,).

    Raises:
        DataNotFoundError: no such file.
        ValueError: not an hdf5 file, or not D4RL's layout (lists the keys it needs).
    """
    import h5py

    if not path.is_file():
        raise DataNotFoundError(f"D4RL file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED_KEYS if not isinstance(f.get(k), h5py.Dataset)]
            if missing:
                raise ValueError(f"{path} is not in D4RL's layout: missing top-level datasets "
                                 f"{missing}; need {list(REQUIRED_KEYS)} (have {sorted(f)})")
            return {k: f[k][()] for k in REQUIRED_KEYS}
    except OSError as err:
        raise ValueError(f"{path} is not a readable hdf5 file: {err}") from None


def qlearning_transitions(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """D4RL's ``qlearning_dataset`` (terminate_on_end=False): keep i < T-1 with not timeouts[i].

    A kept transition whose successor row timed out (and is dropped) is the last of its episode:
    it is flagged in ``timeouts``, so that episodes stay known (OPER-R, IQL's reward scaling)."""
    obs = arrays["observations"]
    rows = arrays["rewards"].reshape(-1).shape[0]
    if obs.ndim != 2 or arrays["actions"].ndim != 2 or obs.shape[0] != rows:
        raise ValueError(f"D4RL arrays have inconsistent shapes: observations {obs.shape}, "
                         f"actions {arrays['actions'].shape}, rewards ({rows},)")
    timeouts = arrays["timeouts"].reshape(-1).astype(bool)
    keep = np.flatnonzero(~timeouts[:-1])
    return {
        "observations": obs[keep], "next_observations": obs[keep + 1],
        "actions": arrays["actions"][keep], "rewards": arrays["rewards"].reshape(-1)[keep],
        "terminals": arrays["terminals"].reshape(-1)[keep].astype(np.float32),
        "timeouts": timeouts[keep + 1].astype(np.float32),
    }


def load_d4rl(path: Path) -> RawTransitions:
    """Read one D4RL hdf5 file into transitions, with D4RL's reference scores."""
    check_file(path)
    family = d4rl_family(path.stem)
    arrays = qlearning_transitions(read_arrays(path))
    bound = np.full(arrays["actions"].shape[1], ACTION_BOUND, np.float32)
    return RawTransitions(**arrays, action_low=-bound, action_high=bound,
                          reference=d4rl_reference(path.stem), env_id=GYM_ENV[family],
                          source=f"d4rl:{path}")
