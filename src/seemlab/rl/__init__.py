"""Offline (and online) RL algorithms, one readable module each, behind one trainer interface.

- :mod:`seemlab.rl.base`: the interface (:class:`~seemlab.rl.base.Trainer`, ``Batch``, the one
  training loop ``train``) and the pieces every algorithm shares.
- :mod:`seemlab.rl.td3`: TD3, TD3+BC and the DDPG variants, EMA or "no EMA" targets.
- :mod:`seemlab.rl.iql`: IQL (expectile value, advantage-weighted actor).
- :mod:`seemlab.rl.cql`: CQL(H) on a SAC base, fixed α or Lagrange.
- :mod:`seemlab.rl.diffusion_ql`: Diffusion-QL (diffusion policy, Q-guidance).
- :mod:`seemlab.rl.sac`: online SAC (behaviour data for `seemlab data generate sac`, Fig 11).

Each offline module defines its config (a :class:`~seemlab.rl.base.AgentConfig`), ``preset(name,
**overrides)`` and ``make_trainer(cfg, data, seeds, device, gammas)``; the functions below pick
the module from the algorithm's name. Modules are imported on demand, so importing the package
stays cheap.
"""

from __future__ import annotations

import importlib

MODULES = {"td3": "td3", "td3_bc": "td3", "ddpg": "td3", "iql": "iql", "cql": "cql", "diffusion_ql": "diffusion_ql"}
"""Offline algorithm -> its module in seemlab.rl."""


def module(algorithm: str):
    """The module implementing ``algorithm``; a one-line ValueError for an unknown name."""
    if algorithm not in MODULES:
        raise ValueError(f"unknown algorithm {algorithm!r}; allowed values: {', '.join(MODULES)}")
    return importlib.import_module(f"seemlab.rl.{MODULES[algorithm]}")


def preset(algorithm: str, **overrides):
    """The config of ``algorithm`` with its paper defaults and ``overrides``."""
    return module(algorithm).preset(algorithm, **overrides)


def make_trainer(cfg, data, seeds, device="cpu", gammas=None):
    """The trainer of ``cfg.algorithm`` for ``data`` (a TransitionDataset), seeds trained together."""
    return module(cfg.algorithm).make_trainer(cfg, data, seeds, device, gammas)


def config_from_dict(values: dict):
    """A config stored as plain data (``dataclasses.asdict``); TD3+BC when it names no algorithm."""
    mod = module(values.get("algorithm", "td3_bc"))
    return mod.CONFIG.from_dict(values)
