import json
from pathlib import Path

import numpy as np
import pytest

from seemlab.data import load, local
from seemlab.data.generate import (RandomPolicyConfig, default_name, generate_random, regenerate,
                                   verify)

REPO_DATA = Path(__file__).resolve().parents[2] / "data"


def test_random_dataset_exact_size_card_and_load(data_dir):
    cfg = RandomPolicyConfig("Hopper-v5", transitions=60, seed=3)
    folder = generate_random(cfg)
    assert folder.name == "hopper-random-60-v0" == default_name("Hopper-v5", "random", 60)
    card = local.read_card(folder)
    assert card["config"] == {"env_id": "Hopper-v5", "transitions": 60, "seed": 3}
    assert card["size"]["transitions"] == 60 and card["generator"] == "random"
    assert card["command"].startswith("seemlab data generate random --env Hopper-v5")
    assert set(card["files_sha256"]) == {"data/main_data.hdf5", "data/metadata.json"}
    data = load(f"local:{folder.name}", normalize_states=False)
    assert len(data) == 60 and data.actions.abs().max() <= 1.0
    assert data.timeouts[-1] == 1 or data.terminals[-1] == 1  # the cut episode ends marked
    assert verify(folder) == {"files_sha256": True, "sha256": True}


def test_same_seed_same_bytes_other_seed_other_data(data_dir, tmp_path):
    a = generate_random(RandomPolicyConfig("Hopper-v5", 40, 0))
    b = regenerate(a / "card.json", root=tmp_path / "again")
    c = generate_random(RandomPolicyConfig("Hopper-v5", 40, 1), name="other-v0")
    card_a, card_b = local.read_card(a), local.read_card(b)
    assert card_a["sha256"] == card_b["sha256"]
    assert card_a["files_sha256"] == card_b["files_sha256"]
    assert local.read_card(c)["sha256"] != card_a["sha256"]


def test_antmaze_proxy_state_is_observation_and_goal(data_dir):
    folder = generate_random(RandomPolicyConfig("AntMaze_UMaze-v5", 30, 0))
    data = load(f"local:{folder.name}", normalize_states=False)
    assert data.obs_dim == 27 + 2 + 2 and data.action_dim == 8  # Ant state, its x, y, the goal
    assert set(np.unique(data.rewards.numpy())) <= {0.0, 1.0}


def test_existing_name_and_bad_input_are_errors(data_dir):
    generate_random(RandomPolicyConfig("Hopper-v5", 10, 0))
    with pytest.raises(ValueError, match="already exists"):
        generate_random(RandomPolicyConfig("Hopper-v5", 10, 0))
    with pytest.raises(ValueError, match="unknown body.*Hopper-v5"):
        generate_random(RandomPolicyConfig("Pendulum-v1", 10, 0))
    with pytest.raises(ValueError, match="positive integer"):
        generate_random(RandomPolicyConfig("Hopper-v5", 0, 0))


def test_regenerating_a_committed_dataset_reproduces_its_checksum(tmp_path):
    card_path = REPO_DATA / "local" / "halfcheetah-random-10k-v0" / "card.json"
    folder = regenerate(card_path, root=tmp_path)
    assert local.read_card(folder)["sha256"] == json.loads(card_path.read_text())["sha256"]


def test_sac_behaviour_datasets_and_regeneration(data_dir, tmp_path):
    from seemlab.data.generate import SACDataConfig, generate_sac
    from seemlab.rl.sac import SACConfig

    sac = SACConfig(env_id="Hopper-v5", seed=0, total_steps=110, learning_starts=100,
                    batch_size=16, width=16)
    replay, medium = generate_sac(SACDataConfig(sac, transitions=30))
    assert replay.name == "hopper-sac110-medium-replay-v0"
    assert medium.name == "hopper-sac110-medium-30-v0"
    assert len(load(f"local:{replay.name}")) == 110 and len(load(f"local:{medium.name}")) == 30
    card = local.read_card(replay)
    assert card["generator"] == "sac-replay" and card["config"]["sac"]["total_steps"] == 110
    again = regenerate(medium / "card.json", root=tmp_path / "again")
    assert local.read_card(again)["sha256"] == local.read_card(medium)["sha256"]
