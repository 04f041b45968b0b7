"""The analysis stage end to end on a simulated trial written to disk (as the pilot writes it),
plus a parameter-recovery smoke run. Sizes are the tiny config's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mhai.analysis.paper_table import PAPER
from mhai.analysis.recovery import run_recovery
from mhai.analysis.stage import run_trial_stage
from mhai.analysis.trial_analysis import analyse_trial
from mhai.config import load_config
from mhai.pilot.cohort import simulate_cohort
from mhai.pilot.trial import write_trial

N = 150


@pytest.fixture(scope="module")
def config(repo):
    cfg = load_config(repo / "tests" / "config" / "tiny.yaml")
    cfg["tracking"]["mode"] = "disabled"
    return cfg


@pytest.fixture(scope="module")
def cohort(config):
    return simulate_cohort(config["pilot"]["cohort"], N, seed=3)


def _sessions(cohort) -> pd.DataFrame:
    """A sessions table as the pilot writes it; guardrail columns filled with a seeded 2% flag
    rate (the analysis only counts them)."""
    plan = cohort.session_plan.reset_index(drop=True)
    rng = np.random.default_rng(0)
    flagged = rng.random(len(plan)) < 0.02
    return pd.DataFrame(
        {
            "session_id": [f"S{i:06d}" for i in range(len(plan))],
            "participant_id": plan["participant_id"],
            "week": plan["week"].astype(int),
            "minutes": plan["minutes"].astype(float),
            "user_words": plan["user_words"].astype(int),
            "n_turns": 3,
            "flagged": flagged,
            "pass2_decision": np.where(flagged, "replace", None),
            "escalated": flagged,
            "max_risk_score": np.where(flagged, 0.9, 0.1),
            "pass1_p95_ms": 3.0,
        }
    )


def _tables(cohort) -> dict[str, pd.DataFrame]:
    return {
        "participants": cohort.participants,
        "assessments": cohort.assessments,
        "sessions": _sessions(cohort),
        "alliance": cohort.alliance,
        "social": cohort.social,
    }


def test_trial_stage_writes_every_output(tmp_path, monkeypatch, config, cohort):
    tables = _tables(cohort)
    write_trial(tables, tmp_path / "trial")
    flagged = int(tables["sessions"]["flagged"].sum())
    ops = {"sessions": len(tables["sessions"]), "flagged_sessions": flagged}
    (tmp_path / "safety_ops.json").write_text(json.dumps(ops))
    monkeypatch.chdir(tmp_path)
    names = [
        "effect_sizes",
        "classes",
        "class_fit",
        "class_trajectories",
        "class_assignment",
        "mixed_models",
        "retention",
        "retention_tests",
    ]
    outputs = {k: f"out/{k}.csv" for k in names}
    outputs |= {
        "paper_csv": "out/paper.csv",
        "paper_md": "out/paper.md",
        "early_prediction": "out/early.json",
    }
    summary = run_trial_stage(tmp_path / "trial", tmp_path / "safety_ops.json", outputs, config)
    assert summary["n"] == N
    for path in outputs.values():
        assert (tmp_path / path).stat().st_size > 0, path
    for name in ("trajectories", "effect_sizes", "bic_by_k", "moderators", "retention"):
        for ext in ("png", "svg"):
            assert (tmp_path / "results" / "figures" / f"analysis_{name}.{ext}").exists()

    paper = pd.read_csv(tmp_path / "out/paper.csv").set_index("measure")
    assert paper["definition"].str.len().min() > 10
    assert paper.loc["N enrolled", "reproduced"] == N  # from the data, not the paper's 305
    assert paper.loc["N enrolled", "paper_value"] == PAPER["n_enrolled"]
    assert paper.loc["Total sessions", "reproduced"] == len(tables["sessions"])
    assert paper.loc["Flagged sessions", "reproduced"] == flagged
    share = paper.loc["Flagged share of sessions (%)"]
    assert share["ci_low"] < share["reproduced"] < share["ci_high"]
    seen6 = cohort.alliance.groupby("participant_id")["score"].mean().mean()
    assert paper.loc["WAI-SR mean at week 6", "reproduced"] == pytest.approx(seen6)
    dropped = cohort.participants["dropout_week"].notna().mean()
    assert paper.loc["Dropout by week 10 (%)", "reproduced"] == pytest.approx(100 * dropped)
    shares = paper.loc[paper.index.str.startswith("Class share")]
    assert len(shares) == 3 and shares["reproduced"].sum() == pytest.approx(100)
    rows_with_ci = paper.drop(
        index=["N enrolled", "Trajectory classes (BIC)", "Flagged sessions", "Total sessions"]
    )
    assert rows_with_ci[["reproduced", "ci_low", "ci_high"]].notna().all().all()
    assert (rows_with_ci["ci_low"] <= rows_with_ci["reproduced"]).all()
    assert "| measure | paper |" in (tmp_path / "out/paper.md").read_text()

    effects = pd.read_csv(tmp_path / "out/effect_sizes.csv")
    d = effects.query("measure == 'phq9' and statistic == 'd_baseline_sd'").iloc[0]
    assert "SD of baseline" in d["definition"] and d["ci_low"] < d["estimate"] < d["ci_high"]
    assert set(effects["statistic"]) >= {"d_z", "d_av", "d_itt", "response", "remission"}
    assert {"loneliness", "hope"} <= set(effects["measure"])
    mixed = pd.read_csv(tmp_path / "out/mixed_models.csv")
    assert {"minutes", "user_words", "sessions", "alliance"} <= set(mixed["predictor"].dropna())
    assert mixed["converged"].all()
    fit = pd.read_csv(tmp_path / "out/class_fit.csv")
    assert fit["chosen"].sum() == 1 and fit["k"].tolist() == [1, 2, 3]


def test_analysis_rejects_a_trial_without_the_end_point(config, cohort):
    tables = _tables(cohort)
    tables["assessments"] = tables["assessments"].query("week != 10")
    with pytest.raises(ValueError, match="weeks 0 and 10"):
        analyse_trial(tables, config["analysis"], seed=1)


def test_recovery_smoke(config):
    settings = config["analysis"] | {
        "recovery": {"replications": 2, "n": 80, "bootstrap": 100, "workers": 1}
    }
    reps, summary = run_recovery(config["pilot"]["cohort"], settings, seed=5, progress=False)
    assert reps["replication"].nunique() == 2
    kinds = set(summary["kind"])
    assert kinds == {"effect size", "mixed model", "class share", "classification"}
    scored = summary.dropna(subset=["coverage"])
    assert scored["coverage"].between(0, 1).all()
    d = summary.set_index("parameter").loc["phq9 d_baseline_sd (completers)"]
    assert d["truth"] == pytest.approx(0.93, abs=0.05)  # the generator's calibrated target
    assert np.isfinite(d["rmse"])
