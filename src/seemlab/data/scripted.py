"""Scripted goal-reaching behaviour for the maze proxies (QUICK, issue 12), and its datasets.

The behaviour policy has two levels, as Minari's D4RL PointMaze/AntMaze generators do:

- **Planner** (:func:`bfs_path`, :func:`next_waypoint`): breadth-first search over the free cells
  of the gymnasium-robotics maze map, from the agent's cell to the goal's; the waypoint is the
  centre of the next cell on that path, or the goal itself once the agent is in the goal's cell.
- **Controller**, one per body:
  - :class:`PointController`: a PD law on the point's position, ``a = k_p (w - x) - k_d v``.
  - :class:`AntGait`: a trot (diagonal legs in phase) tracked by a PD law on the 8 joint angles.
    Each hip swings its leg about the vertical with an amplitude proportional to how much the
    leg's tangential direction lines up with the goal direction in the torso frame, so the same
    gait walks in any direction without turning the torso; the ankle bends (foot down) while its
    hip pushes backward and straightens (foot up) while it swings forward. When the torso tilts
    past ~22° the gait pauses, all feet down, until it is level (a flipped ant cannot recover).

Gaussian noise of std ``noise`` is added to every action, then clipped to [-1, 1], so that the
data cover actions around the behaviour. Rewards are the env's sparse reward (1 within 0.45 of
the goal, else 0); with ``continuing_task=False`` an episode ends (terminal) on reaching the goal,
as D4RL's AntMaze evaluation does.

Behaviour success rates (:func:`behaviour_success_rate`, 100 episodes, seed 0): AntMaze_UMaze-v5
with noise 0.15: 0.83 (1.00 without noise; a uniform random policy: 0.03); PointMaze_Medium-v3
with noise 0.2: 1.00 (random: 0.10).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seemlab import envs

# Maze bodies the scripted generator knows; each has a controller below.
MAZES = ("PointMaze_Medium-v3", "AntMaze_UMaze-v5")
SUCCESS_RADIUS = 0.45  # the gymnasium-robotics maze envs' success distance (info["success"])


@dataclass(frozen=True)
class ScriptedMazeConfig:
    """A scripted waypoint-following behaviour policy in a gymnasium-robotics maze."""

    env_id: str = "PointMaze_Medium-v3"
    """Gymnasium id: one of MAZES."""
    transitions: int = 100_000
    """N, the exact number of transitions."""
    seed: int = 0
    """Seeds the first env reset and the action-noise generator."""
    noise: float = 0.2
    """Std of the Gaussian noise added to each action (before clipping to [-1, 1])."""
    continuing_task: bool = False
    """Env option: False ends an episode (terminal) on reaching the goal; True keeps going."""
    reset_target: bool = False
    """Env option (continuing tasks only): draw a new goal when the goal is reached."""


# ---- planner --------------------------------------------------------------------------------

def free_cells(maze_map: list[list]) -> set[tuple[int, int]]:
    """(row, col) of every cell that is not a wall (1) in a gymnasium-robotics maze map."""
    return {(i, j) for i, row in enumerate(maze_map) for j, cell in enumerate(row) if cell != 1}


def bfs_path(maze_map: list[list], start: tuple[int, int],
             goal: tuple[int, int]) -> list[tuple[int, int]]:
    """Shortest 4-connected path of free cells from ``start`` to ``goal``, both included.

    Raises:
        ValueError: a wall or out-of-map cell, or no path.
    """
    free = free_cells(maze_map)
    for what, cell in (("start", start), ("goal", goal)):
        if tuple(cell) not in free:
            raise ValueError(f"{what} cell {tuple(cell)} is a wall or outside the maze")
    start, goal = tuple(start), tuple(goal)
    parent: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nxt = (cell[0] + di, cell[1] + dj)
            if nxt in free and nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    if goal not in parent:
        raise ValueError(f"no path from {start} to {goal} in the maze")
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return path[::-1]


def next_waypoint(maze, xy: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The planner's waypoint (2,) in metres: the centre of the next cell on the BFS path from
    ``xy``'s cell to ``goal``'s, or ``goal`` when both are in the same cell (or the next is the
    goal's). ``maze`` is the env's ``unwrapped.maze``."""
    here = tuple(int(v) for v in maze.cell_xy_to_rowcol(np.asarray(xy)))
    there = tuple(int(v) for v in maze.cell_xy_to_rowcol(np.asarray(goal)))
    if here not in free_cells(maze.maze_map):  # pushed into a wall's cell by contact: aim home
        return np.asarray(goal, np.float64)
    path = bfs_path(maze.maze_map, here, there)
    if len(path) <= 2:
        return np.asarray(goal, np.float64)
    return maze.cell_rowcol_to_xy(np.array(path[1]))


# ---- controllers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PointController:
    """PD law on the point's position toward a waypoint: ``a = k_p (w - x) - k_d v`` (2,).

    Gains as Minari's PointMaze ``WaypointController`` (k_p 10, k_d 1); the env clips speed to 5.
    """

    kp: float = 10.0
    kd: float = 1.0

    def __call__(self, obs: dict, waypoint: np.ndarray) -> np.ndarray:
        xy, vel = obs["observation"][:2], obs["observation"][2:4]
        return np.clip(self.kp * (waypoint - xy) - self.kd * vel, -1.0, 1.0)


# Ant legs (gymnasium ant.xml): hip_k/ankle_k for k = 1..4 sit at 45°, 135°, 225°, 315° around the
# torso. The observation lists joint angles in that qpos order (obs[5:13]), velocities at
# obs[19:27]; the actuators come in another order: hip_4, ankle_4, hip_1, ankle_1, hip_2, ...
_LEG_ANGLE = np.deg2rad([45.0, 135.0, 225.0, 315.0])
_LEG_TANGENT = np.stack([-np.sin(_LEG_ANGLE), np.cos(_LEG_ANGLE)], axis=1)  # foot motion per +hip
_ANKLE_SIGN = np.array([1.0, -1.0, -1.0, 1.0])  # ankle ranges: [30°, 70°] or [-70°, -30°]
_TROT_PHASE = np.array([0.0, np.pi, 0.0, np.pi])  # diagonal pairs (1, 3) and (2, 4)
_QPOS_TO_ACTUATOR = [6, 7, 0, 1, 2, 3, 4, 5]


@dataclass
class AntGait:
    """A steerable trot under joint PD control; ``__call__(obs, waypoint)`` gives the action (8,).

    The gait clock advances one step per call and never resets: any phase is a valid start.
    Defaults from grid searches (open maze: distance walked toward a far point in 10 s in three
    directions; UMaze: success rate with noise 0.1): ~0.6 m/s in any direction. Faster gaits
    flip the ant more often, and a flipped ant cannot get up.
    """

    hip_amplitude: float = 0.8
    """Hip swing (rad) of a leg whose tangent lines up with the walking direction (the hip's
    range is ±0.52 rad: the PD target may lie beyond it)."""
    omega: float = 0.6
    """Gait frequency (rad per env step of 0.05 s): a stride every ~10 steps."""
    ankle_mid: float = 0.8
    """Mean ankle bend |q| (rad); the ankle's range is [0.52, 1.22]."""
    ankle_amplitude: float = 0.2
    """Ankle bend swing (rad): foot down while pushing, up while swinging."""
    kp: float = 0.7
    """Joint PD gain (action per rad; the actuator gear is 150)."""
    kd: float = 0.05
    """Joint PD damping (action per rad/s)."""
    brace_below: float = 0.93
    """Below this cos(torso tilt) (about 22°) the gait pauses with hips centred and all four
    feet down until the torso is level again: a flipped ant cannot get up, and with action
    noise 0.15 this brace lifts the UMaze success rate from about 0.6 to 0.9."""
    clock: int = 0

    def __call__(self, obs: dict, waypoint: np.ndarray) -> np.ndarray:
        state = obs["observation"]
        direction = _torso_frame(waypoint - obs["achieved_goal"], state[1:5])
        theta = self.omega * self.clock + _TROT_PHASE
        self.clock += 1
        # stance (foot down) while sin θ > 0: then the hip moves the foot against `direction`
        hip = self.hip_amplitude * (_LEG_TANGENT @ direction) * np.cos(theta)
        ankle = _ANKLE_SIGN * (self.ankle_mid + self.ankle_amplitude * np.sin(theta))
        if _cos_tilt(state[1:5]) < self.brace_below:
            hip, ankle = np.zeros(4), _ANKLE_SIGN * (self.ankle_mid + self.ankle_amplitude)
        target = np.stack([hip, ankle], axis=1).ravel()  # qpos order
        torque = self.kp * (target - state[5:13]) - self.kd * state[19:27]
        return np.clip(torque[_QPOS_TO_ACTUATOR], -1.0, 1.0)


def _cos_tilt(quat: np.ndarray) -> float:
    """cos of the angle between the torso's z axis and the world's (1 level, -1 upside down)."""
    return float(1 - 2 * (quat[1] ** 2 + quat[2] ** 2))


def _torso_frame(vector: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """A world-frame xy vector as a unit vector in the torso's heading frame (yaw only)."""
    w, x, y, z = quat
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    c, s = np.cos(yaw), np.sin(yaw)
    local = np.array([c * vector[0] + s * vector[1], -s * vector[0] + c * vector[1]])
    return local / max(np.linalg.norm(local), 1e-8)


def behaviour_policy(maze, cfg: ScriptedMazeConfig) -> Callable[[dict], np.ndarray]:
    """The scripted policy obs -> action (float32, in [-1, 1]^d_a): planner over ``maze`` (an
    env's ``unwrapped.maze``), controller, noise from ``np.random.default_rng(cfg.seed)``."""
    controller = PointController() if cfg.env_id.startswith("PointMaze") else AntGait()
    rng = np.random.default_rng(cfg.seed)

    def act(obs: dict) -> np.ndarray:
        waypoint = next_waypoint(maze, obs["achieved_goal"], obs["desired_goal"])
        action = controller(obs, waypoint)
        if cfg.noise > 0:
            action = action + rng.normal(0.0, cfg.noise, action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    return act


# ---- datasets and evaluation ----------------------------------------------------------------

def make_maze_env(cfg: ScriptedMazeConfig):
    """The maze env the data come from: :func:`seemlab.envs.make_env` with the config's task
    options; a one-line ValueError for an env id outside MAZES or a bad option."""
    if cfg.env_id not in MAZES:
        raise ValueError(f"unknown maze {cfg.env_id!r}; choose one of {list(MAZES)}")
    if not (isinstance(cfg.noise, (int, float)) and 0 <= cfg.noise < float("inf")):
        raise ValueError(f"noise must be a finite number >= 0, got {cfg.noise!r}")
    if cfg.reset_target and not cfg.continuing_task:
        raise ValueError("reset_target=True needs continuing_task=True (an episodic task ends "
                         "at the goal)")
    return envs.make_env(cfg.env_id, continuing_task=cfg.continuing_task,
                         reset_target=cfg.reset_target)


def generate_scripted(cfg: ScriptedMazeConfig, *, name: str | None = None,
                      root: Path | None = None, progress: bool = False) -> Path:
    """Collect and write a scripted goal-reaching dataset; returns its folder.

    Start and goal cells are the env's own draw at each reset (uniform over free cells, with
    position noise); only the first reset is seeded (:func:`seemlab.data.generate.collect`).
    """
    from seemlab.data.generate import _check_positive, collect, default_name, write_dataset

    _check_positive(cfg.transitions, "transitions")
    env = make_maze_env(cfg)
    name = name or default_name(cfg.env_id, "scripted", cfg.transitions)
    act = behaviour_policy(env.unwrapped.maze, cfg)
    episodes = collect(env, act, cfg.transitions, cfg.seed, progress, desc=name)
    return write_dataset(
        name, episodes, env, generator="scripted", config=cfg, command=scripted_command(cfg, name),
        description=(f"Scripted goal reaching: BFS waypoints over the maze cells, "
                     f"{'trot gait under joint PD' if 'Ant' in cfg.env_id else 'PD'} control, "
                     f"Gaussian action noise {cfg.noise}; sparse reward. Scores: success rate "
                     f"(reference 0 / 1, as D4RL AntMaze)."),
        root=root, metadata={"ref_min_score": 0.0, "ref_max_score": 1.0})


def scripted_command(cfg: ScriptedMazeConfig, name: str) -> str:
    """The CLI command that regenerates ``cfg`` as ``name``."""
    flags = "".join(f" --{flag}" for flag, on in (("continuing-task", cfg.continuing_task),
                                                  ("reset-target", cfg.reset_target)) if on)
    return (f"seemlab data generate scripted --env {cfg.env_id} --transitions {cfg.transitions} "
            f"--seed {cfg.seed} --noise {cfg.noise}{flags} --name {name}")


def maze_success_rate(env_id: str, policy: Callable[[dict], np.ndarray], episodes: int,
                      seed: int) -> dict[str, Any]:
    """Success rate of ``policy`` (dict observation -> action (d_a,)) in ``env_id``.

    Episode i resets with seed ``seed + 100 + i`` (as :func:`seemlab.runs.evaluate.evaluate`) in
    the env of :func:`seemlab.envs.make_env`; it succeeds when ``info["success"]`` (distance to
    the goal <= 0.45) holds at any step before the time limit, and stops there. ``normalized``
    is 100 x the success rate: D4RL's AntMaze score (reference 0 / 1) whatever the env's
    ``continuing_task``, under which a return would count the steps spent at the goal.
    """
    if not isinstance(episodes, int) or episodes <= 0:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    env = envs.make_env(env_id)
    steps_to_goal: list[int | None] = []
    for i in range(episodes):
        obs, _ = env.reset(seed=int(seed) + 100 + i)
        reached = None
        for t in range(env.spec.max_episode_steps):
            obs, _, term, trunc, info = env.step(policy(obs))
            if info["success"]:
                reached = t + 1
                break
            if term or trunc:
                break
        steps_to_goal.append(reached)
    env.close()
    rate = float(np.mean([s is not None for s in steps_to_goal]))
    return {"episodes": episodes, "success_rate": rate, "normalized": 100.0 * rate,
            "steps_to_goal": steps_to_goal}


def behaviour_success_rate(cfg: ScriptedMazeConfig, episodes: int = 20, seed: int = 0) -> dict:
    """:func:`maze_success_rate` of the scripted behaviour policy of ``cfg`` (with its noise)."""
    maze = make_maze_env(cfg).unwrapped.maze
    start = time.perf_counter()
    out = maze_success_rate(cfg.env_id, behaviour_policy(maze, cfg), episodes, seed)
    return out | {"seconds": time.perf_counter() - start}
