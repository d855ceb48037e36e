import pytest

from seemlab.cli import main


def run(capsys, *argv):
    code = main(["data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["show", "foo:bar"], "unknown data source"),
    (["show", "local:nope-v0"], "no local dataset 'nope-v0'"),
    (["show", "d4rl:/nonexistent/hopper-medium-v2.hdf5"], "D4RL file not found"),
    (["show", "local:hopper-random-10k-v0", "--fraction", "0"], "fraction must be in (0, 1]"),
    (["show", "local:hopper-random-10k-v0", "--fraction", "1.5"], "fraction must be in (0, 1]"),
])
def test_bad_input_is_one_line(capsys, data_dir, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err
    assert err.startswith("seemlab data: error:") and err.count("\n") == 1


def test_generate_show_list_and_regenerate(capsys, data_dir, tmp_path):
    code, out, _ = run(capsys, "generate", "random", "--env", "Hopper-v5", "--transitions", "20")
    assert code == 0 and "wrote local:hopper-random-20-v0" in out
    code, out, _ = run(capsys, "show", "local:hopper-random-20", "--fraction", "0.5")
    assert code == 0 and "10 transitions (of 20)" in out
    assert '"sha256": true' in out and "seemlab data generate random" in out
    code, out, _ = run(capsys, "list")
    assert code == 0 and "local:hopper-random-20-v0" in out and "minari:" in out
    assert "Minari datasets" in out
    card = data_dir / "local" / "hopper-random-20-v0" / "card.json"
    code, out, _ = run(capsys, "generate", "card", str(card), "--data-dir", str(tmp_path / "x"))
    assert code == 0 and "matches the card" in out
    code, _, err = run(capsys, "generate", "random", "--env", "Hopper-v5", "--transitions", "20")
    assert code == 2 and "already exists" in err


def test_generate_sac_from_the_command_line(capsys, data_dir):
    code, out, _ = run(capsys, "generate", "sac", "--env", "Hopper-v5", "--sac-steps", "30",
                       "--transitions", "20", "--seed", "1", "--name", "tiny")
    assert code == 0
    assert "wrote local:tiny-medium-replay-v0 (30 transitions" in out
    assert "wrote local:tiny-medium-20-v0 (20 transitions" in out
