"""Parameter recovery: analyse R simulated pilots with known truth; bias, RMSE, CI coverage.

Each replication draws a cohort from ``mhai.pilot.cohort.simulate_cohort`` (the generator of
the default run, same parameters, a new seed), runs the estimators the stage reports, and
compares them with the generator's truth:

- Cohen's d (completers, three definitions; all-available-data MixedLM) against the population
  d of the generator (no dropout, same definitions);
- the 3-class model's class shares against the generating shares;
- MixedLM fixed effects: the all-available-data mean improvement to week 10 against the true
  population mean change, and the mean linear slope (``score ~ t``) against the least-squares
  slope of the true mean trajectory (its CI covers only if the mean is close to linear: a
  misspecification check, not a bug);
- class assignment accuracy (all people, and people seen at >= 3 waves) and the K picked by BIC.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from mhai.analysis import tables as tb
from mhai.analysis.mixed_models import fit_mixedlm
from mhai.analysis.trial_analysis import PAPER_K, class_matrix, effect_size_table, fit_classes

INSTRUMENT = {"phq9": "PHQ-9", "gad7": "GAD-7"}
TRUTH_D = {"d_baseline_sd": "cohens_d", "d_z": "cohens_d_z", "d_av": "cohens_d_av"}


def _estimate(name, truth, estimate, lo, hi, kind):
    return {
        "parameter": name,
        "kind": kind,
        "truth": float(truth),
        "estimate": float(estimate),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }


def replicate(params: dict, n: int, seed: int, settings: dict) -> tuple[list[dict], dict]:
    """One replication: (estimate rows, replication-level facts)."""
    from mhai.pilot.cohort import simulate_cohort

    cohort = simulate_cohort(params, n, seed)
    truth = cohort.truth
    symptoms = tb.symptom_long(cohort.assessments)
    empty_social = pd.DataFrame(columns=["participant_id", "week", "outcome", "score"])
    rec_settings = settings | {
        "bootstrap": settings["recovery"]["bootstrap"],
        "mixed_models": settings["mixed_models"] | {"workers": 1},  # replications run in parallel
    }
    effects, itt = effect_size_table(symptoms, empty_social, rec_settings, seed)
    rows = []
    for r in effects.itertuples(index=False):
        if r.statistic in TRUTH_D and r.sample == "completers":
            t = truth[TRUTH_D[r.statistic]][INSTRUMENT[r.measure]]
        elif r.statistic == "d_itt":
            t = truth["cohens_d"][INSTRUMENT[r.measure]]
        else:
            continue
        name = f"{r.measure} {r.statistic} ({r.sample})"
        rows.append(_estimate(name, t, r.estimate, r.ci_low, r.ci_high, "effect size"))
    z = stats.norm.ppf(0.5 + settings["ci_level"] / 2)
    follow = settings["followup_week"]
    for measure, fit in itt.items():
        mean = truth["mean_trajectory"][INSTRUMENT[measure]]
        t = mean[0] - mean[follow]
        est, se = fit["mean_change"], fit["se_change"]
        rows.append(
            _estimate(
                f"{measure} improvement to week {follow} (MixedLM)",
                t,
                est,
                est - z * se,
                est + z * se,
                "mixed model",
            )
        )
    weeks = sorted(int(w) for w in symptoms["week"].unique())
    methods = settings["mixed_models"]["optimizers"]
    for measure in tb.SYMPTOMS:
        mean = truth["mean_trajectory"][INSTRUMENT[measure]]
        t_grid = np.array(weeks) / 10.0
        true_slope = np.polyfit(t_grid, [mean[w] for w in weeks], 1)[0]
        data = symptoms.loc[symptoms["outcome"] == measure].assign(t=lambda d: d["week"] / 10)
        fit = fit_mixedlm("score ~ t", data, methods=methods)
        est, se = float(fit.fe_params["t"]), float(fit.bse_fe["t"])
        rows.append(
            _estimate(
                f"{measure} mean slope per 10 weeks (MixedLM)",
                true_slope,
                est,
                est - z * se,
                est + z * se,
                "mixed model",
            )
        )
    cfg = settings["classes"]
    ids = list(cohort.participants["participant_id"])
    Y = class_matrix(symptoms, cfg, ids, weeks)
    fits, chosen, _ = fit_classes(Y, weeks, cfg, seed, with_se=(PAPER_K,))
    fit = next(f for f in fits if f.k == PAPER_K)
    for c, label in enumerate(fit.labels):
        if label not in truth["class_shares"]:
            continue
        se = fit.share_se[c]
        rows.append(
            _estimate(
                f"share {label} ({PAPER_K}-class model)",
                truth["class_shares"][label],
                fit.shares[c],
                fit.shares[c] - z * se,
                fit.shares[c] + z * se,
                "class share",
            )
        )
    true_class = cohort.participants.set_index("participant_id")["trajectory_class"]
    predicted = np.asarray(fit.labels)[fit.assign()]
    correct = predicted == true_class.reindex(ids).to_numpy()
    waves = np.isfinite(Y).any(axis=1).sum(1)
    facts = {
        "seed": seed,
        "k_chosen": chosen.k,
        "entropy_k3": fit.entropy,
        "accuracy_all": float(correct.mean()),
        "accuracy_3plus_waves": float(correct[waves >= 3].mean()),
        "n_3plus_waves": int((waves >= 3).sum()),
        "labels_k3": ",".join(fit.labels),
    }
    return rows, facts


def _worker(args):
    from threadpoolctl import threadpool_limits

    params, n, seed, settings = args
    with threadpool_limits(1):
        return replicate(params, n, seed, settings)


def run_recovery(
    params: dict, settings: dict, *, seed: int, progress: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``settings['recovery']['replications']`` replications (in ``workers`` processes).
    Returns (per-replication estimates with replication facts, summary per parameter)."""
    rec = settings["recovery"]
    seeds = [
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(rec["replications"])
    ]
    jobs = [(params, rec["n"], s, settings) for s in seeds]
    workers = max(1, min(rec["workers"], os.cpu_count() or 1))
    bar = tqdm(total=len(jobs), desc="recovery", disable=not progress)
    results = []
    if workers == 1:
        for job in jobs:
            results.append(_worker(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for res in pool.map(_worker, jobs):
                results.append(res)
                bar.update()
    bar.close()
    frames = []
    for r, (rows, facts) in enumerate(results):
        frame = pd.DataFrame(rows)
        frame.insert(0, "replication", r)
        frames.append(frame.assign(**facts))
    reps = pd.concat(frames, ignore_index=True)
    return reps, summarise(reps)


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: truth, mean estimate, bias, RMSE, empirical SD, mean CI width and
    coverage; plus replication-level rows (K chosen, assignment accuracy)."""
    reps = reps.assign(
        error=reps["estimate"] - reps["truth"],
        covered=(reps["ci_low"] <= reps["truth"]) & (reps["truth"] <= reps["ci_high"]),
        width=reps["ci_high"] - reps["ci_low"],
    )
    g = reps.groupby(["kind", "parameter"], sort=False)
    summary = pd.DataFrame(
        {
            "truth": g["truth"].mean(),
            "mean_estimate": g["estimate"].mean(),
            "bias": g["error"].mean(),
            "rmse": g["error"].apply(lambda e: float(np.sqrt((e**2).mean()))),
            "empirical_sd": g["estimate"].std(ddof=1),
            "mean_ci_width": g["width"].mean(),
            "coverage": g["covered"].mean(),
            "replications": g.size(),
        }
    ).reset_index()
    facts = reps.drop_duplicates("replication")
    n = len(facts)
    k3 = facts["k_chosen"].eq(PAPER_K)
    extra = [
        ("K chosen by BIC = 3 (share of replications)", k3.mean(), k3.std(ddof=1)),
        ("mean K chosen by BIC", facts["k_chosen"].mean(), facts["k_chosen"].std(ddof=1)),
        (
            "class assignment accuracy (all)",
            facts["accuracy_all"].mean(),
            facts["accuracy_all"].std(ddof=1),
        ),
        (
            "class assignment accuracy (>= 3 waves)",
            facts["accuracy_3plus_waves"].mean(),
            facts["accuracy_3plus_waves"].std(ddof=1),
        ),
        (
            "relative entropy, 3-class model",
            facts["entropy_k3"].mean(),
            facts["entropy_k3"].std(ddof=1),
        ),
    ]
    rows = [
        {
            "kind": "classification",
            "parameter": name,
            "mean_estimate": m,
            "empirical_sd": sd,
            "replications": n,
        }
        for name, m, sd in extra
    ]
    return pd.concat([summary, pd.DataFrame(rows)], ignore_index=True)
