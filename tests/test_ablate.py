"""`ganzoo ablate` (any key, any number of arms, equal tuning) and collapse as a run status."""

import json
import math

import pytest
import torch
from click.testing import CliRunner

from ganzoo.ablate import AblationPlan, choose_best, parse_values
from ganzoo.cli import cli
from ganzoo.collapse import collapse_measures, collapse_reason, detect_collapse
from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo.resize import at_size
from ganzoo.runs import RunSpec
from ganzoo.store import ResultStore

SMALL = ["--dataset-opt", "n_train=64", "--dataset-opt", "n_test=32", "--dataset-opt", "n_val=32", "--device", "cpu",
         "--no-progress", "--text-norm", "zscore", "--eval-samples", "12"]
TINY_SG = "stage=1,gf_dim=4,df_dim=4,batch_size=8,image_size=16,z_dim=8,c_dim=8"


def tiny_stackgan(**overrides):
    cls = get_registry().model("stackgan")
    config = cls.make_config("cpu", {"stage": 1, "gf_dim": 4, "df_dim": 4, "image_size": 16, "z_dim": 8,
                                     "c_dim": 8, **overrides})
    return cls(config, text_dim=6, device="cpu")


# ---- collapse ------------------------------------------------------------------------

def test_constant_generator_is_flagged_collapsed(monkeypatch):
    model = tiny_stackgan(ca=True)
    text = torch.randn(10, 6)
    w = torch.randn(6, 3)

    def varying(t, z=None):  # a healthy generator: images change with z and with the caption
        colour = (t @ w + z[:, :3]).tanh()
        return [colour[:, :, None, None].expand(-1, 3, 16, 16).clone()]

    monkeypatch.setattr(model, "generate_stages", varying)
    assert detect_collapse(model, text, seed=0) is None
    monkeypatch.setattr(model, "generate_stages", lambda t, z=None: [torch.zeros(t.shape[0], 3, 16, 16)])
    reason = detect_collapse(model, text, seed=0)
    assert reason is not None and "do not vary with z" in reason and "do not vary with the caption" in reason


def test_generator_ignoring_the_caption_is_collapsed_but_not_one_varying_with_z(monkeypatch):
    model = tiny_stackgan(ca=False)
    # images depend on z only: vary with z, identical across captions
    monkeypatch.setattr(model, "generate_stages",
                        lambda t, z: [z[:, :1, None, None].expand(-1, 3, 16, 16).tanh().clone()])
    measures = collapse_measures(model, torch.randn(10, 6), seed=0)
    assert measures["z_spread"] > 0.1 and measures["caption_spread"] == 0
    reason = collapse_reason(measures)
    assert "caption" in reason and "with z" not in reason


# ---- plan, grid, selection ------------------------------------------------------------

def test_parse_values_and_plan_checks():
    assert parse_values("stage=1,2", "arms") == ("stage", ["1", "2"])
    for bad in ("ca", "ca=", "=1,2", "ca=true,true"):
        with pytest.raises(UsageError):
            parse_values(bad, "arms")
    base = RunSpec(model="stackgan", overrides={"gf_dim": "4"}, images_budget=1000)
    with pytest.raises(UsageError, match="two arms"):
        AblationPlan(base=base, key="ca", values=["true"], seeds=[0]).check()
    with pytest.raises(UsageError, match="ablated key"):
        AblationPlan(base=base, key="ca", values=["true", "false"], seeds=[0], tune={"ca": ["true"]}).check()
    with pytest.raises(UsageError, match="conflicts"):
        AblationPlan(base=base, key="gf_dim", values=["4", "8"], seeds=[0]).check()


def test_every_arm_gets_the_same_grid_seed_and_budget():
    base = RunSpec(model="stackgan", overrides={"gf_dim": "4"}, images_budget=1000)
    plan = AblationPlan(base=base, key="ca", values=["true", "false", "x"], seeds=[0, 1, 2],
                        tune={"kl_weight": ["0.1", "2"], "lr_g": ["1e-3", "2e-4"]},
                        tune_budget={"images_budget": 500}, tune_seed=7)
    specs = plan.tuning_specs()
    assert len(specs) == 3 * 4
    for value in plan.values:
        arm = [s for s in specs if s.overrides["ca"] == value]
        assert sorted((s.overrides["kl_weight"], s.overrides["lr_g"]) for s in arm) == sorted(
            [("0.1", "1e-3"), ("0.1", "2e-4"), ("2", "1e-3"), ("2", "2e-4")])
        assert {s.seed for s in arm} == {7} and {s.images_budget for s in arm} == {500}
        assert all(s.overrides["gf_dim"] == "4" for s in arm)
    finals = plan.final_specs({v: {"kl_weight": "2", "lr_g": "1e-3"} for v in plan.values})
    assert len(finals) == 9 and {s.images_budget for s in finals} == {1000} and {s.seed for s in finals} == {0, 1, 2}


def test_choose_best_takes_each_arms_own_best_and_dead_runs_score_worst():
    base = RunSpec(model="stackgan")
    plan = AblationPlan(base=base, key="ca", values=["true", "false"], seeds=[0], tune={"kl_weight": ["0.1", "2"]})
    crit = "metric." + plan.criterion

    def row(ca, kl, value, status="ok"):
        return {"overrides": {"ca": ca, "kl_weight": kl}, "status": status, crit: value, "reason": ""}

    rows = [row("true", "0.1", 0.2), row("true", "2", 0.9, status="collapsed"),
            row("false", "0.1", 0.3), row("false", "2", 0.6)]
    best, table = choose_best(plan, rows)
    assert best == {"true": {"kl_weight": "0.1"}, "false": {"kl_weight": "2"}}
    assert [e["chosen"] for e in table] == [True, False, False, True]
    assert table[1][plan.criterion] is None  # the collapsed run's score is not shown as a number


def test_resized_view_upsamples_only_the_final_output():
    model = tiny_stackgan()
    view = at_size(model, 64)
    text = torch.randn(3, 6)
    assert view.generate(text).shape[-1] == 64 and view.image_size == 64
    assert at_size(model, 16) is model and at_size(model, None) is model
    assert not math.isnan(float(view.generate(text).mean()))


# ---- end to end -----------------------------------------------------------------------

def test_ablate_tunes_each_arm_then_runs_best_against_best(tmp_path):
    out = tmp_path / "abl"
    result = CliRunner().invoke(cli, ["ablate", f"stackgan:{TINY_SG}", "ca=true,false", "--tune", "lr_g=1e-3,1e-4",
                                      "--tune-budget", "24", "--seeds", "0,1", "--steps", "3", "--out", str(out),
                                      "--allow-failures", "--metrics", "caption-accuracy,domain-fid"]
                                + SMALL, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tuning = json.loads((out / "tuning.json").read_text())
    assert tuning["split"] == "val" and len(tuning["runs"]) == 4
    assert set(tuning["best"]) == {"true", "false"}
    tune_rows = ResultStore(out / "tune" / "results.sqlite").runs()
    assert len(tune_rows) == 4 and set(tune_rows["budget"]) == {"images=24"} and set(tune_rows["seed"]) == {100}
    rows = ResultStore(out / "results.sqlite").runs()
    assert len(rows) == 4 and set(rows["seed"]) == {0, 1}
    assert set(rows["status"]) <= {"ok", "collapsed"}  # 3-step runs barely move from the init
    for value, best in tuning["best"].items():
        arm = rows[rows["variant"].str.contains(f"ca={value}")]
        assert len(arm) == 2 and arm["variant"].str.contains(f"lr_g={best['lr_g']}").all()
    text = (out / "ablation" / "report.md").read_text()
    assert text.index("Tuning") < text.index("Best against best")
    assert "secondary sources" in text and "ca=true" in text and "ca=false" in text
    # both arms' samples in one figure, for the same captions and z (seed 0 of each arm)
    assert "Samples side by side" in text and "Same captions and the same z" in text
    assert (out / "ablation" / "figures" / "comparison.png").is_file()
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_no_machine_paths import assert_no_machine_paths_anywhere

    assert_no_machine_paths_anywhere(out, tmp_path)  # tune/, runs/, tuning.json, the stores and reports


def test_ablate_refuses_a_bad_arm_value_before_any_work(tmp_path):
    out = tmp_path / "bad"
    result = CliRunner().invoke(cli, ["ablate", f"stackgan:{TINY_SG}", "ca_activation=relu,sigmoid",
                                      "--steps", "3", "--out", str(out)] + SMALL)
    assert result.exit_code != 0 and "ca_activation" in result.output
    assert not out.exists()
