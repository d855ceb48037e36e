"""seemlab.guard: the alarm on synthetic logs, the guard's per-seed reactions, run-layer wiring."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from seemlab import guard, runs
from seemlab.diagnostics import DiagnosticsConfig
from seemlab.rl.base import Sampler
from seemlab.rl.td3 import make_trainer, preset
from synthetic import tiny_dataset

TD3 = preset("td3_bc", steps=30, batch_size=8, critic_width=8, actor_width=8, tau=1.0, bc_weight=0.0)
DIAG = DiagnosticsConfig(probe_size=12, every=10, dense_every=5, dense_until=10)
ALWAYS = guard.AlarmRule(tau=-1.0, persist=3)  # normalized SEEM is > −1 in practice: fires at the 3rd log


# ============================================================================ the alarm
def growth_logs(onset=1000.0, every=50.0, end=3000.0, a=0.02, b=10.0, L=3.0, k=1e-2):
    """Logs obeying Theorem 4 after ``onset`` (‖θ‖ = a·t + b, |Q| = k‖θ‖^L), SEEM < 0 before it."""
    t = np.arange(0.0, end + 1, every)
    norm = np.where(t < onset, b + a * onset, a * t + b)
    return {"step": t, "seem_norm": np.where(t < onset, -0.3, 0.2), "q_abs": k * norm**L, "param_norm": norm}


def true_divergence(threshold, a=0.02, b=10.0, L=3.0, k=1e-2):
    return ((threshold / k) ** (1 / L) - b) / a


def test_alarm_fires_after_persist_logs_and_predicts_the_divergence_step():
    logs, threshold = growth_logs(), 2.3e4
    t_div = true_divergence(threshold)  # ≈ 2139
    out = guard.evaluate(logs, threshold, diverged_step=2150, rule=guard.AlarmRule(tau=0.0, persist=3))
    assert out.kind == "hit" and out.alarm.onset == 1000 and out.alarm.step == 1100
    assert out.lead == 2150 - 1100
    assert abs(out.alarm.predicted - t_div) < 0.01 * t_div  # the law is exact here: within 1 %
    assert out.alarm.q_vs_norm == pytest.approx(3.0, rel=1e-6)


def test_online_alarm_equals_the_offline_scan():
    logs = growth_logs()
    rule = guard.AlarmRule(tau=0.1, persist=4)
    first = guard.first_alarm(logs, rule, 2.3e4)
    online = next(a for i in range(1, len(logs["step"]) + 1)
                  if (a := guard.alarm_now({k: v[:i] for k, v in logs.items()}, rule, 2.3e4)) is not None)
    assert first == online and first.step == 1150


def test_outcomes_false_alarm_quiet_and_miss():
    logs = growth_logs()
    rule = guard.AlarmRule()
    assert guard.evaluate(logs, 2.3e4, None, rule).kind == "false alarm"
    quiet = dict(logs, seem_norm=np.full_like(logs["step"], -0.2))
    assert guard.evaluate(quiet, 2.3e4, None, rule).kind == "quiet"
    assert guard.evaluate(quiet, 2.3e4, 2000, rule).kind == "miss"
    late = guard.evaluate(logs, 2.3e4, 1100, rule)  # fires at the divergence log: too late
    assert late.kind == "miss" and math.isnan(late.lead)
    s = guard.summarize([guard.evaluate(logs, 2.3e4, 2150, rule), late])
    assert (s["hits"], s["misses"], s["runs"], s["lead_min"]) == (1, 1, 2, 1050)


def test_a_dip_below_tau_restarts_the_streak():
    logs = growth_logs()
    logs["seem_norm"][logs["step"] == 1100] = -0.1
    assert guard.first_alarm(logs, guard.AlarmRule(), 2.3e4).onset == 1150


def test_no_growth_means_no_prediction():
    logs = growth_logs()
    logs["param_norm"] = np.full_like(logs["step"], 5.0) - 1e-4 * logs["step"]
    assert math.isnan(guard.first_alarm(logs, guard.AlarmRule(), 2.3e4).predicted)


def test_configs_validate():
    with pytest.raises(ValueError, match="reaction"):
        guard.GuardConfig(reaction="layernorm")
    with pytest.raises(ValueError, match="persist"):
        guard.AlarmRule(persist=2)
    assert guard.GuardConfig(rule={"tau": 0.1, "persist": 4}).rule == guard.AlarmRule(0.1, 4)


# ============================================================================ the guard's reactions
class FakeDiagnostics:
    def __init__(self, threshold=1e9):
        self.records, self.threshold, self.stopped_step = [], threshold, None


class FakeInner:
    """A DiagnosticsCallback stand-in whose SEEM logs the test writes (seed s's sign per step)."""

    def __init__(self, S, seem_by_step):
        self.diagnostics, self.seem = [FakeDiagnostics() for _ in range(S)], seem_by_step

    def wants_info(self, step):
        return False

    def __call__(self, step, trainer, metrics):
        for s, d in enumerate(self.diagnostics):
            if step in self.seem:
                d.records.append({"step": float(step), "seem_norm": self.seem[step][s], "q_abs": 1.0 + step,
                                  "param_norm": 10.0 + 0.01 * step})
        return False


def train_td3(steps, callback=None, seeds=(0, 1), **changes):
    data = tiny_dataset()
    cfg = TD3.replace(steps=steps, **changes)
    trainer, sampler = make_trainer(cfg, data, list(seeds)), Sampler(data, list(seeds))
    for step in range(1, steps + 1):
        trainer.update(sampler(cfg.batch_size))
        if callback is not None:
            callback(step, trainer, {})
    return trainer


def seem_schedule(steps, positive_for_last, S=2):
    """SEEM every step: seeds before the last always −0.5; the last +0.5 on ``positive_for_last`` steps."""
    return {t: (-0.5,) * (S - 1) + (0.5 if t in positive_for_last else -0.5,) for t in range(1, steps + 1)}


@pytest.mark.parametrize("reaction", guard.REACTIONS)
def test_reaction_once_per_alarm_and_only_on_the_alarmed_seed(reaction):
    positive = set(range(3, 10)) | set(range(14, 21))  # two streaks: two alarms (at steps 5 and 16)
    cb = guard.GuardCallback(guard.GuardConfig(reaction=reaction, lr_scale=0.5), FakeInner(2, seem_schedule(20, positive)))
    calls = []
    react = cb.react
    cb.react = lambda s, tr: (calls.append((s, tr.step)), react(s, tr))
    guarded, plain = train_td3(20, cb), train_td3(20)
    assert calls == [(1, 5), (1, 16)]
    assert [e["step"] for e in cb.member_events(1)] == [5.0, 16.0] and cb.member_events(0) == []
    C = guarded.C
    for p, q in zip(guarded.critic.stacked, plain.critic.stacked):
        torch.testing.assert_close(p[:C], q[:C], rtol=0, atol=0)  # seed 0: bit-identical
    assert any(not torch.equal(p[C:], q[C:]) for p, q in zip(guarded.critic.stacked, plain.critic.stacked))
    if reaction == "lr":
        assert cb.lr_factor == [1.0, 0.25]


def test_lr_reaction_shrinks_each_critic_update_after_the_alarm():
    cb = guard.GuardCallback(guard.GuardConfig(reaction="lr", lr_scale=0.1), FakeInner(1, seem_schedule(8, {1, 2, 3}, S=1)))
    seen = {}

    def spy(step, trainer, metrics):  # the critic right after the update, and after the guard
        flat = lambda: torch.cat([p.detach().reshape(-1) for p in trainer.critic.stacked]).clone()  # noqa: E731
        seen[step] = (flat(), cb(step, trainer, metrics), flat())[::2]
        return False

    train_td3(8, spy, seeds=(1,))  # the alarm fires at step 3
    for t in range(1, 9):
        proposed = seen[t][0] - seen[t - 1][1] if t > 1 else None
        if t > 3:
            torch.testing.assert_close(seen[t][1] - seen[t - 1][1], 0.1 * proposed, rtol=1e-4, atol=1e-7)
        else:
            assert torch.equal(seen[t][0], seen[t][1])
    assert cb.lr_factor == [0.1]


def test_reset_last_redraws_only_the_output_layer():
    trainer = train_td3(2, seeds=(0,))
    before = {n: p.detach().clone() for n, p in zip(trainer.critic.names, trainer.critic.stacked)}
    guard.reset_output_layer(trainer, 0, seed=123)
    for n, p in zip(trainer.critic.names, trainer.critic.stacked):
        assert torch.equal(p, before[n]) != n.startswith("out."), n
    out = [i for i, n in enumerate(trainer.critic.names) if n.startswith("out.")]
    assert all(torch.equal(trainer.critic.stacked[i], trainer.critic_target.stacked[i]) for i in out)  # the target gets the new layer


def test_unsupported_trainer_raises():
    cb = guard.GuardCallback(guard.GuardConfig(), FakeInner(1, {}))
    with pytest.raises(ValueError, match="TD3"):
        cb.react(0, object())


# ============================================================================ the run layer
def cfg(seed=0, guard_cfg=None):
    return runs.RunConfig(dataset="local:synthetic", seed=seed, agent=TD3, diagnostics=DIAG, eval_episodes=0,
                          guard=guard_cfg)


def test_a_config_without_guard_keeps_its_key(cache):
    plain = cfg()
    assert "guard" not in runs.config_dict(plain)
    without = {k: v for k, v in dataclasses.asdict(plain).items() if k not in runs.OPTIONAL_FIELDS}
    assert runs.config_hash(plain) == runs._digest({"format": runs.FORMAT, "config": without,
                                                    "data": runs.dataset_id(plain.dataset)})
    assert runs.config_hash(cfg(guard_cfg=guard.GuardConfig())) != runs.config_hash(plain)


def test_a_guard_that_never_fires_changes_nothing(cache):
    quiet = guard.GuardConfig(rule=guard.AlarmRule(tau=0.999, persist=3))
    plain, guarded = runs.run(cfg()), runs.run(cfg(guard_cfg=quiet))
    assert guarded.meta["guard_events"] == [] and "guard_events" not in plain.meta
    for k in plain.logs:
        if k != "seconds":
            np.testing.assert_array_equal(plain.logs[k], guarded.logs[k], err_msg=k)
    for k in plain.q1_final:
        np.testing.assert_array_equal(plain.q1_final[k], guarded.q1_final[k])


def test_killed_guarded_run_resumes_to_identical_results(cache):
    c = cfg(seed=2, guard_cfg=guard.GuardConfig(rule=ALWAYS, reaction="lr", lr_scale=0.3))
    reference = runs.run(c)
    assert [e["step"] for e in reference.meta["guard_events"]] == [10.0]
    runs.run_path(c).unlink()

    def kill(step):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.train_group([c], checkpoint_every=20, hook=kill)
    resumed = runs.run(c)
    assert resumed.meta["guard_events"] == reference.meta["guard_events"]
    for k in reference.logs:
        np.testing.assert_array_equal(reference.logs[k], resumed.logs[k], err_msg=k)
    for k in reference.q1_final:
        np.testing.assert_array_equal(reference.q1_final[k], resumed.q1_final[k])


def test_comparison_arms_differ_only_in_guard_and_norm():
    by_arm = guard.comparison_configs("xpct_1", "smoke", [0, 1])
    assert sorted({a for a, _ in by_arm}) == sorted(guard.ARMS) and len(by_arm) == 8
    plain, guarded, ln = by_arm[("plain", 1)], by_arm[("plain+guard", 1)], by_arm[("LN", 1)]
    assert plain.diagnostics.seem and plain.diagnostics.stop_on == "divergence" and plain.fraction == 0.01
    assert guarded == plain.replace(guard=guard.PILOT_GUARD) and plain.guard is None
    assert ln.agent == plain.agent.replace(critic_norm="layer")
    with pytest.raises(ValueError, match="r_seem"):
        guard.comparison_configs("xpct_50", "smoke", [0])


def test_cached_outcomes_read_unguarded_runs_with_seem(cache):
    runs.run_many([cfg(), cfg(seed=1000), cfg(guard_cfg=guard.GuardConfig(rule=ALWAYS))])
    found = guard.cached_outcomes(cache / "runs", guard.AlarmRule(tau=0.999, persist=3))
    assert [label.split()[-1] for label, _ in found] == ["0"] and found[0][1].kind == "quiet"
