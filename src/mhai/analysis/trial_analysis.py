"""Analyse one trial: effect sizes, trajectory classes, mixed models, early prediction, retention.

``analyse_trial(tables, settings, seed)`` takes the long-format trial tables (simulated or a
real export) and the ``analysis`` config section and returns every table the stage writes,
plus the fitted objects the figures need. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from mhai.analysis import effect_sizes as es
from mhai.analysis import tables as tb
from mhai.analysis.early_prediction import cross_validated_auc
from mhai.analysis.growth_mixture import (
    GrowthMixtureFit,
    add_standard_errors,
    fit_growth_mixture,
    select_k,
)
from mhai.analysis.mixed_models import fit_many, moderator_models
from mhai.analysis.retention import retention_tables

PAPER_K = 3  # the pilot paper's number of trajectory classes (compared in the paper table)


@dataclass
class TrialAnalysis:
    """Every result of one trial's analysis (tables are tidy DataFrames)."""

    n: int
    weeks: list[int]
    effect_sizes: pd.DataFrame
    class_fits: list[GrowthMixtureFit]
    chosen: GrowthMixtureFit
    class_fit: pd.DataFrame
    classes: pd.DataFrame
    class_trajectories: pd.DataFrame
    class_assignment: pd.DataFrame
    mixed_models: pd.DataFrame
    early_prediction: dict
    retention: pd.DataFrame
    retention_tests: pd.DataFrame
    headline: dict
    data: dict = field(default_factory=dict)

    def fit_for(self, k: int) -> GrowthMixtureFit | None:
        """The fitted model with ``k`` classes, if it was fitted."""
        return next((f for f in self.class_fits if f.k == k), None)


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


# ----------------------------------------------------------------------------- effect sizes
def itt_auxiliary(eng: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """The all-available-data models' auxiliary covariates: the engagement totals named by
    ``mixed_models.auxiliary``, log1p (``eng`` from ``tables.engagement``)."""
    return np.log1p(eng[list(settings["mixed_models"]["auxiliary"])])


def effect_size_table(
    symptoms: pd.DataFrame,
    social: pd.DataFrame,
    settings: dict,
    seed: int,
    workers: int = 1,
    auxiliary: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Completer d's (three definitions, bootstrap CIs), the all-available-data d (with the
    ``auxiliary`` person covariates, see ``effect_sizes.itt_spec``), and the clinical rates,
    for PHQ-9, GAD-7 and each social measure. Also returns the ITT fits' summaries (used by
    the mixed-model table and by parameter recovery)."""
    follow = settings["followup_week"]
    level = settings["ci_level"]
    methods = settings["mixed_models"]["optimizers"]
    measures = [(m, symptoms) for m in tb.SYMPTOMS]
    measures += [(m, social) for m in sorted(social["outcome"].unique())]
    rows: dict[str, list[dict]] = {}
    specs, contexts, slopes = [], [], []
    for i, (measure, long) in enumerate(measures):
        pair = tb.paired(long, measure, 0, follow)
        common = {
            "measure": measure,
            "n": len(pair),
            "baseline_mean": pair["pre"].mean(),
            "followup_mean": pair["post"].mean(),
        }
        rows[measure] = []
        if len(pair) >= 3:
            ds = es.completer_d(
                pair["pre"], pair["post"], measure, n_boot=settings["bootstrap"], seed=seed + i
            )
            for name, value in ds.items():
                rows[measure].append(
                    common
                    | value
                    | {
                        "statistic": name,
                        "sample": "completers",
                        "ci_method": f"percentile bootstrap ({settings['bootstrap']} resamples)",
                        "definition": es.DEFINITIONS[name].format(w=follow),
                    }
                )
        if measure in settings["thresholds"] and len(pair):
            th = settings["thresholds"][measure]
            rates = es.clinical_rates(
                pair["pre"],
                pair["post"],
                mcid=th["mcid"],
                remission_below=th["remission_below"],
                response_reduction=settings["response_reduction"],
                level=level,
            )
            for name, value in rates.items():
                rows[measure].append(
                    common
                    | value
                    | {
                        "statistic": name,
                        "sample": "completers",
                        "ci_method": "Wilson score",
                        "definition": es.DEFINITIONS[name].format(
                            w=follow,
                            pct=round(100 * settings["response_reduction"]),
                            cut=th["remission_below"],
                            mcid=th["mcid"],
                        ),
                    }
                )
        sub = long.loc[long["outcome"] == measure]
        slopes.append(sub["week"].nunique() > 2)
        spec, context = es.itt_spec(
            sub, random_slope=slopes[-1], methods=methods, auxiliary=auxiliary
        )
        specs.append(spec)
        contexts.append(context)
    itt = {}
    fits = fit_many(specs, workers)
    for (measure, _), fit, context, slope in zip(measures, fits, contexts, slopes, strict=True):
        itt[measure] = es.itt_from_fit(fit, context, measure, followup=follow, level=level)
        aux = itt[measure]["auxiliary"]
        row = {
            "measure": measure,
            "statistic": "d_itt",
            "sample": "all_available",
            "n": itt[measure]["n"],
            "baseline_mean": context["baseline"].mean(),
            "followup_mean": np.nan,
            "ci_method": "Wald, delta method",
            "definition": es.DEFINITIONS["d_itt"].format(
                w=follow,
                re=" and slope" if slope else "",
                aux=f" x centred log1p {aux} (auxiliary for dropout)" if aux else "",
            ),
        }
        rows[measure].insert(
            3, row | {k: itt[measure][k] for k in ("estimate", "ci_low", "ci_high")}
        )
    cols = ["measure", "statistic", "sample", "n", "estimate", "ci_low", "ci_high"]
    cols += ["ci_method", "definition", "baseline_mean", "followup_mean"]
    return pd.DataFrame([r for m in rows.values() for r in m])[cols], itt


# ----------------------------------------------------------------------------- classes
def class_outcomes(cfg: dict) -> list[str]:
    """Names of the class model's outcomes (one composite name when scales are summed)."""
    return ["+".join(cfg["outcomes"])] if cfg["composite"] else list(cfg["outcomes"])


def class_matrix(symptoms: pd.DataFrame, cfg: dict, ids, weeks) -> np.ndarray:
    """(n, J, T) array of the class-model outcomes, NaN for missing waves; with
    ``composite`` the scales are summed (NaN unless all were observed) into one outcome."""
    Y = np.stack([tb.wide(symptoms, o, ids, weeks).to_numpy() for o in cfg["outcomes"]], axis=1)
    return Y.sum(axis=1, keepdims=True) if cfg["composite"] else Y


def fit_classes(Y: np.ndarray, weeks, cfg: dict, seed: int, with_se=(PAPER_K,)):
    """Fit K = 1..k_max, choose by BIC (smallest class >= min share) and add standard errors
    to the chosen model and to the ``with_se`` ones."""
    fits = [
        fit_growth_mixture(
            Y,
            weeks,
            k,
            outcomes=class_outcomes(cfg),
            shape=cfg["shape"],
            knot=cfg["knot_week"],
            baseline=cfg["baseline"],
            variances=cfg["variances"],
            random_scale=cfg["random_scale"],
            dropout=cfg["dropout_indicator"],
            n_starts=cfg["starts"],
            max_iter=cfg["max_iter"],
            seed=seed + k,
            covariance=False,
        )
        for k in range(1, cfg["k_max"] + 1)
    ]
    chosen, rows = select_k(fits, cfg["min_class_share"])
    for f in fits:
        if f is chosen or f.k in with_se:
            add_standard_errors(f, Y)
    return fits, chosen, pd.DataFrame(rows)


def class_tables(
    fits: list[GrowthMixtureFit],
    chosen: GrowthMixtureFit,
    ids,
    weeks,
    symptoms: pd.DataFrame,
    level: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Shares per K and class; trajectories of the chosen and the paper-K model (model-implied
    with a CI band, and observed posterior-weighted mean and SD of every symptom scale and of
    the model outcome); posterior assignment under the chosen model."""
    z = _z(level)
    share_rows, traj_rows = [], []
    for f in fits:
        modal = f.assign()
        last = f.dropout_probs[:, -1] if f.dropout_model else np.full(f.k, np.nan)
        for c, label in enumerate(f.labels):
            se = f.share_se[c] if f.share_se is not None else np.nan
            mine = modal == c
            share_rows.append(
                {
                    "k": f.k,
                    "chosen": f is chosen,
                    "class": label,
                    "share": f.shares[c],
                    "ci_low": max(f.shares[c] - z * se, 0.0),
                    "ci_high": min(f.shares[c] + z * se, 1.0),
                    "n_modal": int(mine.sum()),
                    "avg_posterior_modal": float(f.posterior[mine, c].mean())
                    if mine.any()
                    else np.nan,
                    "p_seen_at_last_wave": last[c],
                }
            )
        if not (f is chosen or f.k == PAPER_K):
            continue
        model_mean, model_se = f.trajectory()
        scale = "change from week 0" if f.baseline == "change" else "score"
        observed = {o: tb.wide(symptoms, o, ids, weeks).to_numpy() for o in tb.SYMPTOMS}
        if f.outcomes[0] not in observed:
            observed[f.outcomes[0]] = sum(observed[o] for o in f.outcomes[0].split("+"))
        for o, obs in observed.items():
            seen = np.isfinite(obs)
            j = f.outcomes.index(o) if o in f.outcomes else None
            for c, label in enumerate(f.labels):
                w = f.posterior[:, c][:, None] * seen
                wsum = w.sum(0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean_obs = (w * np.nan_to_num(obs)).sum(0) / wsum
                    sd_obs = np.sqrt((w * (np.nan_to_num(obs) - mean_obs) ** 2).sum(0) / wsum)
                for t, week in enumerate(weeks):
                    row = {
                        "k": f.k,
                        "chosen": f is chosen,
                        "class": label,
                        "outcome": o,
                        "week": week,
                        "observed_mean": mean_obs[t],
                        "observed_sd": sd_obs[t],
                        "weighted_n": wsum[t],
                        "model_scale": scale if j is not None else "",
                        "model_value": np.nan,
                        "model_ci_low": np.nan,
                        "model_ci_high": np.nan,
                    }
                    if j is not None:
                        m, se = model_mean[c, j, t], model_se[c, j, t]
                        row |= {
                            "model_value": m,
                            "model_ci_low": m - z * se,
                            "model_ci_high": m + z * se,
                        }
                    traj_rows.append(row)
    post = pd.DataFrame(chosen.posterior, columns=[f"p_{c}" for c in chosen.labels])
    post.insert(0, "in_model", chosen.fitted)
    post.insert(0, "class", np.asarray(chosen.labels)[chosen.assign()])
    post.insert(0, "participant_id", list(ids))
    return pd.DataFrame(share_rows), pd.DataFrame(traj_rows), post


# ----------------------------------------------------------------------------- mixed models
def mixed_model_table(
    symptoms: pd.DataFrame,
    moderators: pd.DataFrame,
    itt: dict,
    settings: dict,
) -> pd.DataFrame:
    """Moderation of change by engagement and alliance (``score ~ t * x``; its ``t`` term is
    the mean 10-week slope at the moderator's mean) and the all-available-data change to
    follow-up of every measure (from the effect-size fits)."""
    level = settings["ci_level"]
    methods = settings["mixed_models"]["optimizers"]
    z = _z(level)
    parts = []
    parts.append(
        moderator_models(
            symptoms,
            moderators,
            outcomes=list(tb.SYMPTOMS),
            methods=methods,
            level=level,
            workers=settings["mixed_models"]["workers"],
        )
    )
    follow = settings["followup_week"]
    for measure, fit in itt.items():
        if "mean_change" not in fit:
            continue
        aux = f" x log1p {fit['auxiliary']} (auxiliary)" if fit["auxiliary"] else ""
        terms = [(f"improvement to week {follow}", fit["mean_change"], fit["se_change"])]
        if np.isfinite(fit["se_trend"]) and fit["se_trend"] > 0:
            terms.append(("mean linear trend per 10 weeks", fit["trend"], fit["se_trend"]))
        for term, est, se in terms:
            parts.append(
                pd.DataFrame(
                    [
                        {
                            "model": f"score ~ C(week){aux}, all available data "
                            "(improvement signed; trend = least-squares slope of the "
                            "model-implied wave means, raw units)",
                            "outcome": measure,
                            "predictor": "",
                            "term": term,
                            "estimate": est,
                            "se": se,
                            "ci_low": est - z * se,
                            "ci_high": est + z * se,
                            "p_value": 2 * stats.norm.sf(abs(est / se)),
                            "n_participants": fit["n"],
                            "n_obs": fit["n_obs"],
                            "converged": fit["converged"],
                            "warnings": fit["warnings"],
                        }
                    ]
                )
            )
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def early_features(symptoms, eng, ids, early_week: int) -> pd.DataFrame:
    """Weeks 0..early_week scores, their change, and early engagement (log1p) per person."""
    feats = pd.DataFrame(index=pd.Index(list(ids), name="participant_id"))
    for o in tb.SYMPTOMS:
        w = tb.wide(symptoms, o, ids, [0, early_week])
        feats[f"{o}_w0"] = w[0]
        feats[f"{o}_w{early_week}"] = w[early_week]
        feats[f"{o}_change"] = w[early_week] - w[0]
    for col in ("early_sessions", "early_minutes", "early_user_words"):
        feats[col] = np.log1p(eng[col])
    return feats


# ----------------------------------------------------------------------------- headline
def bootstrap_mean(values: np.ndarray, n_boot: int, seed: int, level: float) -> dict:
    """Mean with a percentile bootstrap CI."""
    values = np.asarray(values, float)
    idx = es.bootstrap_indices(len(values), n_boot, seed)
    lo, hi = es.percentile_ci(values[idx].mean(1), level)
    return {"estimate": float(values.mean()), "ci_low": lo, "ci_high": hi, "n": len(values)}


def tertiles(values: pd.Series) -> pd.Series:
    """low / middle / high thirds (ties broken by order, so thirds are equal-sized)."""
    ranks = values.rank(method="first")
    return pd.qcut(ranks, 3, labels=["low", "middle", "high"]).astype(str)


# ----------------------------------------------------------------------------- entry point
def analyse_trial(tables: dict[str, pd.DataFrame], settings: dict, seed: int) -> TrialAnalysis:
    """Run every analysis of stage 6 on one trial's tables."""
    level = settings["ci_level"]
    follow = settings["followup_week"]
    participants = tables["participants"]
    symptoms = tb.symptom_long(tables["assessments"])
    social = tb.social_long(tables["social"])
    weeks = sorted(int(w) for w in symptoms["week"].unique())
    if 0 not in weeks or follow not in weeks:
        raise ValueError(f"assessments need weeks 0 and {follow}; found {weeks}")
    ids = [p for p in participants["participant_id"] if p in set(symptoms["participant_id"])]

    early_week = settings["early_prediction"]["week"]
    eng = tb.engagement(tables["sessions"], ids, early_week)
    workers = settings["mixed_models"]["workers"]
    everyone = tb.engagement(tables["sessions"], participants["participant_id"], early_week)
    effects, itt = effect_size_table(
        symptoms, social, settings, seed, workers, auxiliary=itt_auxiliary(everyone, settings)
    )

    cfg = settings["classes"]
    Y = class_matrix(symptoms, cfg, ids, weeks)
    fits, chosen, fit_table = fit_classes(Y, weeks, cfg, seed)
    classes, trajectories, assignment = class_tables(fits, chosen, ids, weeks, symptoms, level)

    alliance = tb.alliance_mean(tables["alliance"])
    moderators = np.log1p(eng[list(settings["mixed_models"]["engagement"])]).join(alliance)
    mixed = mixed_model_table(symptoms, moderators, itt, settings)

    # Class-based analyses need a non-responder class: the chosen model if it has one, else
    # the paper's K.
    grouping = (
        chosen if "non_responder" in chosen.labels else next(f for f in fits if f.k == PAPER_K)
    )
    modal = pd.Series(np.asarray(grouping.labels)[grouping.assign()], index=ids)
    ep = settings["early_prediction"]
    label = modal.eq("non_responder")
    early = cross_validated_auc(
        early_features(symptoms, eng, ids, early_week),
        label,
        folds=ep["folds"],
        n_boot=ep["bootstrap"],
        seed=seed,
        level=level,
    )
    early["k_used"] = grouping.k

    groups = {
        f"class (K={grouping.k})": modal,
        "early_engagement_tertile": tertiles(eng["early_minutes"]),
    }
    curves, tests = retention_tables(
        participants, groups, weeks=weeks, last_week=follow, level=level
    )
    at_follow = curves.query("grouping == 'overall' and week == @follow").iloc[0]
    headline = {
        "n_enrolled": len(participants),
        "n_analysed": len(ids),
        "dropout_by_followup": {
            "estimate": 1 - at_follow["retention"],
            "ci_low": 1 - at_follow["ci_high"],
            "ci_high": 1 - at_follow["ci_low"],
        },
        "alliance_week6": bootstrap_mean(alliance.to_numpy(), settings["bootstrap"], seed, level),
        "sessions_total": len(tables["sessions"]),
    }
    return TrialAnalysis(
        n=len(ids),
        weeks=weeks,
        effect_sizes=effects,
        class_fits=fits,
        chosen=chosen,
        class_fit=fit_table,
        classes=classes,
        class_trajectories=trajectories,
        class_assignment=assignment,
        mixed_models=mixed,
        early_prediction=early,
        retention=curves,
        retention_tests=tests,
        headline=headline,
        data={
            "symptoms": symptoms,
            "Y": Y,
            "ids": ids,
            "engagement": eng,
            "itt": itt,
            "grouping_k": grouping.k,
            "grouping_modal": modal,
        },
    )
