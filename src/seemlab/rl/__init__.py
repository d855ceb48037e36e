"""Offline (and online) RL algorithms, one readable module each.

- :mod:`seemlab.rl.td3`: TD3, TD3+BC and the DDPG variants, EMA or "no EMA" targets, with K seeds
  trained together as a batched ensemble.
- :mod:`seemlab.rl.sac`: online SAC (behaviour data for `seemlab data generate sac`).

Modules are imported on demand (``from seemlab.rl.td3 import TD3Config``) so that importing the
package stays cheap.
"""
