"""The analysis stage's I/O: read the trial, write every table, the paper table and figures,
and log them to W&B. The workflow scripts are thin wrappers around these two functions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mhai.analysis import figures
from mhai.analysis.paper_table import paper_table, to_markdown
from mhai.analysis.recovery import run_recovery
from mhai.analysis.trial_analysis import analyse_trial
from mhai.pilot.trial import load_trial
from mhai.schemas import validate_frame
from mhai.tracking import stage_run

log = logging.getLogger("mhai.analysis")

# Output key -> row schema under workflow/schemas/analysis/ (validated before writing).
SCHEMAS = {
    "effect_sizes": "analysis/effect_sizes",
    "classes": "analysis/classes",
    "class_fit": "analysis/class_fit",
    "mixed_models": "analysis/mixed_models",
    "paper_csv": "analysis/paper_vs_reproduced",
    "recovery": "analysis/recovery",
}


def write_csv(frame: pd.DataFrame, path: str | Path, key: str | None = None) -> None:
    """Validate a result table against its schema (if it has one) and write it as CSV."""
    if key in SCHEMAS:
        validate_frame(frame, SCHEMAS[key], str(path))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if hasattr(obj, "item"):
        return obj.item()
    return obj


def run_trial_stage(
    trial_dir: str | Path,
    safety_ops_path: str | Path | None,
    outputs: dict[str, str],
    config: dict,
) -> dict:
    """Analyse the trial in ``trial_dir`` and write ``outputs`` (keys as in analysis.smk)."""
    settings = config["analysis"]
    tables = load_trial(trial_dir)
    log.info("trial %s: %d participants", trial_dir, len(tables["participants"]))
    result = analyse_trial(tables, settings, seed=config["seed"])
    safety_ops = None
    if safety_ops_path:
        safety_ops = json.loads(Path(safety_ops_path).read_text())
    level = settings["ci_level"]
    paper = paper_table(result, tables["sessions"], safety_ops, level)
    frames = {
        "effect_sizes": result.effect_sizes,
        "classes": result.classes,
        "class_fit": result.class_fit,
        "class_trajectories": result.class_trajectories,
        "class_assignment": result.class_assignment,
        "mixed_models": result.mixed_models,
        "retention": result.retention,
        "retention_tests": result.retention_tests,
        "paper_csv": paper,
    }
    for key, frame in frames.items():
        write_csv(frame, outputs[key], key)
    Path(outputs["paper_md"]).write_text(to_markdown(paper, level))
    early = _jsonable(result.early_prediction)
    Path(outputs["early_prediction"]).write_text(json.dumps(early, indent=2) + "\n")
    log.info("paper vs reproduced:\n%s", paper.drop(columns="definition").to_string(index=False))
    with stage_run("analysis", config, name="trial") as run:
        run.log_metrics(
            {
                "k_chosen": result.chosen.k,
                "early_nonresponder_auc": early.get("auc"),
                "headline": _jsonable(result.headline),
            }
        )
        for key, frame in frames.items():
            run.log_table(key.removesuffix("_csv"), frame)
        k = result.data["grouping_k"]
        run.save_figure(
            figures.trajectories(
                result.data["symptoms"],
                result.data["grouping_modal"],
                result.class_trajectories,
                k,
                seed=config["seed"],
            ),
            "trajectories",
        )
        run.save_figure(figures.effect_size_forest(result.effect_sizes), "effect_sizes")
        run.save_figure(figures.bic_by_k(result.class_fit), "bic_by_k")
        run.save_figure(figures.moderator_effects(result.mixed_models), "moderators")
        run.save_figure(figures.retention_curves(result.retention), "retention")
    return {"k_chosen": result.chosen.k, "n": result.n}


def run_recovery_stage(
    outputs: dict[str, str], config: dict, workers: int | None = None
) -> pd.DataFrame:
    """Parameter recovery over simulated pilots; writes the summary, the per-replication
    table and the recovery figure. ``workers`` overrides analysis.recovery.workers."""
    settings = config["analysis"]
    params = config["pilot"]["cohort"]
    rec = settings["recovery"]
    rec = rec | {"n": rec["n"] or params["n"], "workers": workers or rec["workers"]}
    settings = settings | {"recovery": rec}
    reps, summary = run_recovery(params, settings, seed=config["seed"])
    write_csv(summary, outputs["recovery"], "recovery")
    write_csv(reps, outputs["replications"])
    log.info("recovery:\n%s", summary.to_string(index=False))
    with stage_run("analysis", config, name="recovery") as run:
        run.log_table("recovery", summary)
        run.log_table("recovery_replications", reps)
        run.save_figure(figures.recovery_plot(reps, summary), "recovery")
    return summary
