"""Parameter recovery: analyse R simulated pilots with known truth; bias, RMSE, CI coverage.

Each replication draws a cohort from ``mhai.pilot.cohort.simulate_cohort`` (the generator of
the default run, same parameters, a new seed), runs the estimators the stage reports, and
compares each with the truth of the quantity it estimates (its *estimand*):

- all-available-data MixedLM (week as factor, engagement auxiliary): the d, the mean change to
  week 10 and the mean linear trend (least-squares slope through the wave means, points per
  10 weeks, ``t = week / 10``) against the same functionals of the generator's population
  mean trajectory without dropout (its ``truth``): the intention-to-treat estimands;
- completer d's (three definitions) against the same population d: the estimand a reader
  wants, which completers miss when dropout depends on engagement and class (the bias is a
  finding, reported, not hidden), and against their own estimand, the completer d of a large
  draw under the simulated dropout (``completer_truth``), which checks the bootstrap CIs;
- the 3-class model's class shares against the generating shares;
- class assignment accuracy (all people, and people seen at >= 3 waves) and the K picked by
  BIC, beside the ceiling the generator allows (``class_ceiling``: the model fitted with the
  classes known, on a large draw).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from mhai.analysis import effect_sizes as es
from mhai.analysis import tables as tb
from mhai.analysis.growth_mixture import known_class_posterior
from mhai.analysis.trial_analysis import (
    PAPER_K,
    class_matrix,
    effect_size_table,
    fit_classes,
    itt_auxiliary,
)

INSTRUMENT = {"phq9": "PHQ-9", "gad7": "GAD-7"}
TRUTH_D = {"d_baseline_sd": "cohens_d", "d_z": "cohens_d_z", "d_av": "cohens_d_av"}
ESTIMANDS = {
    "population": "everyone enrolled, no dropout (generator truth; the ITT estimand)",
    "completers": "completers under the simulated dropout (large draw)",
    "shares": "generating class shares",
}
LARGE_DRAW_N = 20000  # the draw giving the completers' own estimand and the class ceiling


def _estimate(name, truth, estimate, lo, hi, kind, estimand):
    return {
        "parameter": name,
        "kind": kind,
        "estimand": ESTIMANDS[estimand],
        "truth": float(truth),
        "estimate": float(estimate),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }


def _completer_ds(assessments: pd.DataFrame, follow: int) -> dict[tuple[str, str], float]:
    symptoms = tb.symptom_long(assessments)
    out = {}
    for measure in tb.SYMPTOMS:
        pair = tb.paired(symptoms, measure, 0, follow)
        ds = es.d_batch(pair["pre"].to_numpy(), pair["post"].to_numpy(), es._sign(measure))
        out |= {(measure, name): float(v) for name, v in ds.items()}
    return out


@lru_cache(maxsize=1)
def _large_cohort(key: str):
    from mhai.pilot.cohort import simulate_cohort

    params = json.loads(key)
    seed = params["calibration"]["seed"] + 2  # not the calibration or truth draws
    return simulate_cohort(params, LARGE_DRAW_N, seed)


def completer_truth(params: dict, follow: int) -> dict[tuple[str, str], float]:
    """The completer d's of a large draw under the simulated dropout: what the completer
    estimators estimate (the draw is cached per parameter set)."""
    cohort = _large_cohort(json.dumps(params, sort_keys=True))
    return _completer_ds(cohort.assessments, follow)


def class_ceiling(params: dict, cfg: dict) -> dict[str, float]:
    """Assignment accuracy and relative entropy of the ``PAPER_K``-class model fitted with the
    classes known, on the large draw: the most any estimated model of the configured form
    can reach on the generator's data (``growth_mixture.known_class_posterior``)."""
    from mhai.pilot.cohort import CLASSES

    cohort = _large_cohort(json.dumps(params, sort_keys=True))
    symptoms = tb.symptom_long(cohort.assessments)
    ids = list(cohort.participants["participant_id"])
    weeks = sorted(int(w) for w in symptoms["week"].unique())
    Y = class_matrix(symptoms, cfg, ids, weeks)
    true = cohort.participants["trajectory_class"].map({c: i for i, c in enumerate(CLASSES)})
    post = known_class_posterior(
        Y,
        weeks,
        true.to_numpy(),
        len(CLASSES),
        shape=cfg["shape"],
        knot=cfg["knot_week"],
        baseline=cfg["baseline"],
        variances=cfg["variances"],
        random_scale=cfg["random_scale"],
    )
    correct = post.argmax(1) == true.to_numpy()
    waves = np.isfinite(Y).any(axis=1).sum(1)
    w = np.clip(post, 1e-300, 1.0)
    entropy = 1.0 - float(-(w * np.log(w)).sum()) / (len(w) * np.log(len(CLASSES)))
    return {
        "class assignment accuracy ceiling, classes known (all)": float(correct.mean()),
        "class assignment accuracy ceiling, classes known (>= 3 waves)": float(
            correct[waves >= 3].mean()
        ),
        "relative entropy ceiling, classes known": entropy,
    }


def replicate(
    params: dict,
    n: int,
    seed: int,
    settings: dict,
    completers: dict | None = None,
    classes: bool = True,
) -> tuple[list[dict], dict]:
    """One replication: (estimate rows, replication-level facts). ``completers``: the
    completer estimand (``completer_truth``), computed here when not given; ``classes``:
    also fit the class models (off: effect sizes and mixed models only)."""
    from mhai.pilot.cohort import simulate_cohort

    follow = settings["followup_week"]
    completers = completers or completer_truth(params, follow)
    cohort = simulate_cohort(params, n, seed)
    truth = cohort.truth
    symptoms = tb.symptom_long(cohort.assessments)
    ids = list(cohort.participants["participant_id"])
    eng = tb.engagement(cohort.session_plan, ids, settings["early_prediction"]["week"])
    empty_social = pd.DataFrame(columns=["participant_id", "week", "outcome", "score"])
    rec_settings = settings | {"bootstrap": settings["recovery"]["bootstrap"]}
    effects, itt = effect_size_table(
        symptoms, empty_social, rec_settings, seed, auxiliary=itt_auxiliary(eng, settings)
    )
    rows = []
    for r in effects.itertuples(index=False):
        if r.statistic in TRUTH_D and r.sample == "completers":
            name = f"{r.measure} {r.statistic} (completers)"
            t = truth[TRUTH_D[r.statistic]][INSTRUMENT[r.measure]]
            ci = (r.estimate, r.ci_low, r.ci_high, "effect size")
            rows.append(_estimate(name, t, *ci, "population"))
            t_own = completers[(r.measure, r.statistic)]
            rows.append(_estimate(f"{name} vs own estimand", t_own, *ci, "completers"))
        elif r.statistic == "d_itt":
            t = truth["cohens_d"][INSTRUMENT[r.measure]]
            name = f"{r.measure} d_itt (all_available)"
            rows.append(
                _estimate(name, t, r.estimate, r.ci_low, r.ci_high, "effect size", "population")
            )
    z = stats.norm.ppf(0.5 + settings["ci_level"] / 2)
    weeks = sorted(int(w) for w in symptoms["week"].unique())
    for measure, fit in itt.items():
        mean = truth["mean_trajectory"][INSTRUMENT[measure]]
        targets = {
            f"improvement to week {follow}": (
                mean[0] - mean[follow],
                fit["mean_change"],
                fit["se_change"],
            ),
            "mean linear trend per 10 weeks": (
                np.polyfit(np.array(weeks) / 10.0, [mean[w] for w in weeks], 1)[0],
                fit["trend"],
                fit["se_trend"],
            ),
        }
        for term, (t, est, se) in targets.items():
            rows.append(
                _estimate(
                    f"{measure} {term} (MixedLM)",
                    t,
                    est,
                    est - z * se,
                    est + z * se,
                    "mixed model",
                    "population",
                )
            )
    if not classes:
        return rows, {"seed": seed}
    cfg = settings["classes"]
    Y = class_matrix(symptoms, cfg, ids, weeks)
    fits, chosen, table = fit_classes(Y, weeks, cfg, seed, with_se=(PAPER_K,))
    fit = next(f for f in fits if f.k == PAPER_K)
    eligible = table.loc[(table["k"] == 1) | (table["smallest_share"] >= cfg["min_class_share"])]
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
                "shares",
            )
        )
    true_class = cohort.participants.set_index("participant_id")["trajectory_class"]
    predicted = np.asarray(fit.labels)[fit.assign()]
    correct = predicted == true_class.reindex(ids).to_numpy()
    waves = np.isfinite(Y).any(axis=1).sum(1)
    facts = {
        "seed": seed,
        "k_chosen": chosen.k,
        "k_chosen_sabic": int(eligible.loc[eligible["sabic"].idxmin(), "k"]),
        "entropy_k3": fit.entropy,
        "accuracy_all": float(correct.mean()),
        "accuracy_3plus_waves": float(correct[waves >= 3].mean()),
        "n_3plus_waves": int((waves >= 3).sum()),
        "labels_k3": ",".join(fit.labels),
    }
    return rows, facts


def _worker(args):
    from threadpoolctl import threadpool_limits

    params, n, seed, settings, completers = args
    with threadpool_limits(1):
        return replicate(params, n, seed, settings, completers)


def run_recovery(
    params: dict, settings: dict, *, seed: int, progress: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``settings['recovery']['replications']`` replications (in ``workers`` processes).
    Returns (per-replication estimates with replication facts, summary per parameter)."""
    rec = settings["recovery"]
    seeds = [
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(rec["replications"])
    ]
    completers = completer_truth(params, settings["followup_week"])
    jobs = [(params, rec["n"], s, settings, completers) for s in seeds]
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
    ceiling = class_ceiling(params, settings["classes"])
    rows = [
        {"kind": "classification", "parameter": name, "mean_estimate": value}
        | {"replications": len(results)}
        for name, value in ceiling.items()
    ]
    return reps, pd.concat([summarise(reps), pd.DataFrame(rows)], ignore_index=True)


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: its estimand, truth, mean estimate, bias, RMSE, empirical SD, mean CI
    width and coverage; plus replication-level rows (K chosen, assignment accuracy)."""
    if "estimand" not in reps:
        reps = reps.assign(estimand=None)
    reps = reps.assign(
        error=reps["estimate"] - reps["truth"],
        covered=(reps["ci_low"] <= reps["truth"]) & (reps["truth"] <= reps["ci_high"]),
        width=reps["ci_high"] - reps["ci_low"],
    )
    g = reps.groupby(["kind", "parameter"], sort=False)
    summary = pd.DataFrame(
        {
            "estimand": g["estimand"].first(),
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
    if "k_chosen" not in facts:
        return summary
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
    if "k_chosen_sabic" in facts:
        sabic3 = facts["k_chosen_sabic"].eq(PAPER_K)
        extra.insert(
            1,
            (
                "K chosen by sample-size adjusted BIC = 3 (share of replications)",
                sabic3.mean(),
                sabic3.std(ddof=1),
            ),
        )
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
