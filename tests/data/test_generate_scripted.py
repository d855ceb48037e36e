import numpy as np
import pytest

from seemlab.data import load, local
from seemlab.data.generate import regenerate, verify
from seemlab.data.scripted import (AntGait, PointController, ScriptedMazeConfig, bfs_path,
                                   behaviour_policy, generate_scripted, make_maze_env,
                                   maze_success_rate, next_waypoint)
from seemlab.envs import make_env

U_MAZE = [[1, 1, 1, 1, 1],
          [1, 0, 0, 0, 1],
          [1, 1, 1, 0, 1],
          [1, 0, 0, 0, 1],
          [1, 1, 1, 1, 1]]


def test_bfs_path_goes_round_the_u():
    assert bfs_path(U_MAZE, (1, 1), (3, 1)) == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2),
                                                 (3, 1)]
    assert bfs_path(U_MAZE, (2, 3), (2, 3)) == [(2, 3)]


def test_bfs_path_bad_cells_are_errors():
    with pytest.raises(ValueError, match="start cell \\(2, 1\\) is a wall"):
        bfs_path(U_MAZE, (2, 1), (1, 1))
    with pytest.raises(ValueError, match="goal cell \\(9, 9\\) is a wall or outside"):
        bfs_path(U_MAZE, (1, 1), (9, 9))
    closed = [[1, 1, 1], [1, 0, 1], [1, 1, 1], [1, 0, 1], [1, 1, 1]]
    with pytest.raises(ValueError, match="no path"):
        bfs_path(closed, (1, 1), (3, 1))


def test_waypoint_is_the_next_cell_centre_then_the_goal():
    maze = make_env("AntMaze_UMaze-v5").unwrapped.maze  # cells of 4 m, centred on (0, 0)
    start, goal = maze.cell_rowcol_to_xy(np.array([1, 1])), np.array([-4.3, -3.8])  # cell (3, 1)
    np.testing.assert_allclose(next_waypoint(maze, start, goal), maze.cell_rowcol_to_xy(
        np.array([1, 2])))
    near = maze.cell_rowcol_to_xy(np.array([3, 2]))  # the goal's cell is next: aim at the goal
    np.testing.assert_allclose(next_waypoint(maze, near, goal), goal)


def _walk(env, controller, obs: dict, target: np.ndarray, steps: int) -> tuple[float, dict]:
    """Distance to ``target`` after ``steps`` steps of ``controller`` from ``obs``, last obs."""
    for _ in range(steps):
        obs, *_ = env.step(controller(obs, target))
    return float(np.linalg.norm(obs["achieved_goal"] - target)), obs


def test_point_controller_reaches_a_waypoint():
    env = make_env("PointMaze_Medium-v3")
    obs, _ = env.reset(seed=0)
    target = obs["achieved_goal"] + np.array([0.3, 0.0])  # inside the start cell (1 m wide)
    after, _ = _walk(env, PointController(), obs, target, 40)
    assert after < 0.05


@pytest.mark.parametrize("heading", [0.0, 2.0, 4.0])
def test_ant_gait_walks_toward_a_waypoint_in_any_direction(heading):
    env = make_env("AntMaze_Open-v5", include_cfrc_ext_in_observation=False)
    # the middle cell of the open maze: no wall within 4 m
    obs, _ = env.reset(seed=1, options={"reset_cell": np.array([2, 3]),
                                        "goal_cell": np.array([1, 1])})
    target = obs["achieved_goal"] + 6.0 * np.array([np.cos(heading), np.sin(heading)])
    after, obs = _walk(env, AntGait(), obs, target, 100)  # 5 s
    assert after < 6.0 - 1.0
    assert obs["observation"][0] > 0.4  # torso height: still upright


def test_a_tilted_ant_braces_whatever_the_waypoint():
    env = make_env("AntMaze_UMaze-v5")
    obs, _ = env.reset(seed=0)
    east, north = obs["achieved_goal"] + [3.0, 0.0], obs["achieved_goal"] + [0.0, 3.0]
    assert not np.allclose(AntGait()(obs, east), AntGait()(obs, north))
    tilted = dict(obs, observation=obs["observation"].copy())
    tilted["observation"][1:5] = [np.cos(0.3), np.sin(0.3), 0.0, 0.0]  # 34° about x
    np.testing.assert_array_equal(AntGait()(tilted, east), AntGait()(tilted, north))


def test_scripted_dataset_card_load_and_regeneration(data_dir, tmp_path):
    folder = generate_scripted(ScriptedMazeConfig("PointMaze_Medium-v3", 300, seed=2))
    assert folder.name == "pointmaze-medium-scripted-300-v0"
    card = local.read_card(folder)
    assert card["generator"] == "scripted" and card["config"]["noise"] == 0.2
    assert card["command"] == ("seemlab data generate scripted --env PointMaze_Medium-v3 "
                               "--transitions 300 --seed 2 --noise 0.2 "
                               "--name pointmaze-medium-scripted-300-v0")
    data = load(f"local:{folder.name}", normalize_states=False)
    assert len(data) == 300 and data.obs_dim == 4 + 2 + 2 and data.action_dim == 2
    assert data.reference.min == 0.0 and data.reference.max == 1.0
    # episodic task: every reward-1 step ends its episode
    np.testing.assert_array_equal(data.rewards.numpy() > 0, data.terminals.numpy() > 0)
    assert data.terminals.sum() >= 1
    assert verify(folder) == {"files_sha256": True, "sha256": True}
    again = regenerate(folder / "card.json", root=tmp_path / "again")
    assert local.read_card(again)["files_sha256"] == card["files_sha256"]
    other = generate_scripted(ScriptedMazeConfig("PointMaze_Medium-v3", 300, seed=3),
                              name="other-v0")
    assert local.read_card(other)["sha256"] != card["sha256"]


def test_ant_scripted_dataset_is_deterministic(data_dir, tmp_path):
    cfg = ScriptedMazeConfig("AntMaze_UMaze-v5", transitions=50, seed=0, noise=0.1)
    folder = generate_scripted(cfg)
    assert folder.name == "antmaze-umaze-scripted-50-v0"
    data = load(f"local:{folder.name}", normalize_states=False)
    assert data.obs_dim == 27 + 2 + 2 and data.action_dim == 8 and data.actions.abs().max() <= 1
    again = regenerate(folder / "card.json", root=tmp_path / "again")
    assert local.read_card(again)["sha256"] == local.read_card(folder)["sha256"]


def test_success_rate_of_the_behaviour_policy():
    cfg = ScriptedMazeConfig("PointMaze_Medium-v3", noise=0.0)
    policy = behaviour_policy(make_maze_env(cfg).unwrapped.maze, cfg)
    scripted = maze_success_rate(cfg.env_id, policy, episodes=3, seed=0)
    assert scripted["success_rate"] == 1.0 and scripted["normalized"] == 100.0
    idle = maze_success_rate(cfg.env_id, lambda obs: np.zeros(2, np.float32), episodes=3, seed=0)
    assert idle["success_rate"] == 0.0 and idle["steps_to_goal"] == [None] * 3


def test_bad_input_is_an_error(data_dir):
    with pytest.raises(ValueError, match="unknown maze 'Hopper-v5'"):
        generate_scripted(ScriptedMazeConfig("Hopper-v5", 10))
    with pytest.raises(ValueError, match="positive integer"):
        generate_scripted(ScriptedMazeConfig(transitions=0))
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        generate_scripted(ScriptedMazeConfig(transitions=10, noise=-0.1))
    with pytest.raises(ValueError, match="reset_target=True needs continuing_task=True"):
        generate_scripted(ScriptedMazeConfig(transitions=10, reset_target=True))
    with pytest.raises(ValueError, match="episodes must be a positive integer"):
        maze_success_rate("PointMaze_Medium-v3", lambda obs: np.zeros(2), 0, 0)


def test_generate_scripted_from_the_command_line(capsys, data_dir):
    from seemlab.cli import main

    code = main(["data", "generate", "scripted", "--env", "PointMaze_Medium-v3",
                 "--transitions", "40", "--seed", "1", "--noise", "0.3"])
    out = capsys.readouterr().out
    assert code == 0 and "wrote local:pointmaze-medium-scripted-40-v0 (40 transitions" in out
    assert "behaviour policy success rate: 1.00 over 20 episodes" in out
    card = local.read_card(data_dir / "local" / "pointmaze-medium-scripted-40-v0")
    assert card["config"] == {"env_id": "PointMaze_Medium-v3", "transitions": 40, "seed": 1,
                              "noise": 0.3, "continuing_task": False, "reset_target": False}


@pytest.mark.parametrize("argv, message", [
    (["--noise", "-1"], "--noise = -1.0 is out of range"),
    (["--reset-target"], "reset_target=True needs continuing_task=True"),
])
def test_bad_scripted_options_are_one_line(capsys, data_dir, argv, message):
    from seemlab.cli import main

    code = main(["data", "generate", "scripted", "--env", "PointMaze_Medium-v3",
                 "--transitions", "10", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("seemlab data: error:") and message in err
    assert err.count("\n") == 1
