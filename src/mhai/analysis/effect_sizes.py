"""Within-group effect sizes (baseline to follow-up) with their definitions and CIs.

Every d is signed so that a positive value means improvement: for symptom scales and
loneliness improvement is a fall, for the other social measures a rise. Three standardisers:

- ``d_baseline_sd``: mean improvement / SD of the baseline scores (the default, "Cohen's d");
- ``d_z``: mean improvement / SD of the individual changes (the paired-samples d);
- ``d_av``: mean improvement / mean of the baseline and follow-up SDs.

Completer estimates use people seen at both waves with percentile bootstrap CIs (resampling
people, seeded). The all-available-data estimate is model-based: a MixedLM with week as a
factor fitted to every observed wave, whose follow-up contrast is divided by the baseline SD
of everyone seen at baseline (intention-to-treat style, valid under missing at random), with a
delta-method CI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mhai.analysis.mixed_models import DEFAULT_METHODS, MixedFit, fit_mixedlm

LOWER_IS_BETTER = {
    "phq9": True,
    "gad7": True,
    "loneliness": True,
    "social_support": False,
    "social_interaction": False,
    "hope": False,
    "behavioral_activation": False,
}

DEFINITIONS = {
    "d_baseline_sd": "mean improvement (baseline to week {w}) / SD of baseline scores (ddof=1)",
    "d_z": "mean improvement / SD of individual changes (paired d_z)",
    "d_av": "mean improvement / mean of baseline and week-{w} SDs (d_av)",
    "d_itt": (
        "MixedLM (week as factor, random intercept{re}) on all observed waves: model-implied "
        "improvement to week {w} / SD of all baseline scores"
    ),
    "response": "share of completers with a reduction of at least {pct}% from baseline",
    "remission": "share of completers scoring below {cut} at week {w}",
    "meaningful_change": "share of completers improving by at least {mcid} points",
}
D_NAMES = ("d_baseline_sd", "d_z", "d_av")


def _sign(measure: str) -> float:
    if measure not in LOWER_IS_BETTER:
        raise KeyError(f"no direction known for measure {measure!r}")
    return -1.0 if LOWER_IS_BETTER[measure] else 1.0


def d_batch(pre: np.ndarray, post: np.ndarray, sign: float) -> dict[str, np.ndarray]:
    """The three d's along the last axis (works on (n,) or a (B, n) stack of resamples)."""
    change = sign * (post - pre)
    mean = change.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_pre = pre.std(-1, ddof=1)
        sd_post = post.std(-1, ddof=1)
        sd_change = change.std(-1, ddof=1)
        out = {
            "d_baseline_sd": mean / sd_pre,
            "d_z": mean / sd_change,
            "d_av": mean / ((sd_pre + sd_post) / 2),
        }
    return {k: np.where(np.isfinite(v), v, np.nan) for k, v in out.items()}


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) resampling indices, seeded."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (non-finite replicates ignored)."""
    alpha = (1 - level) / 2
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return (np.nan, np.nan)
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)


def completer_d(
    pre: np.ndarray, post: np.ndarray, measure: str, *, n_boot: int, seed: int, level=0.95
) -> dict[str, dict[str, float]]:
    """Point estimates and percentile bootstrap CIs of the three d's for paired arrays."""
    pre = np.asarray(pre, dtype=float)
    post = np.asarray(post, dtype=float)
    sign = _sign(measure)
    point = d_batch(pre, post, sign)
    idx = bootstrap_indices(len(pre), n_boot, seed)
    boot = d_batch(pre[idx], post[idx], sign)
    return {
        name: {
            "estimate": float(point[name]),
            **dict(zip(("ci_low", "ci_high"), percentile_ci(boot[name], level), strict=True)),
        }
        for name in D_NAMES
    }


def wilson_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n."""
    if n == 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)


def clinical_rates(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    mcid: float,
    remission_below: float,
    response_reduction: float = 0.5,
    level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Response (>= ``response_reduction`` fall), remission (< ``remission_below`` at
    follow-up) and meaningful change (fall >= ``mcid`` points) among completers, Wilson CIs.
    People scoring 0 at baseline cannot respond and count as non-responders."""
    pre = np.asarray(pre, dtype=float)
    post = np.asarray(post, dtype=float)
    n = len(pre)
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = np.where(pre > 0, (pre - post) / pre, 0.0)
    hits = {
        "response": int((reduction >= response_reduction).sum()),
        "remission": int((post < remission_below).sum()),
        "meaningful_change": int((pre - post >= mcid).sum()),
    }
    out = {}
    for name, k in hits.items():
        lo, hi = wilson_ci(k, n, level)
        out[name] = {"estimate": k / n if n else np.nan, "ci_low": lo, "ci_high": hi}
    return out


def itt_spec(long: pd.DataFrame, *, random_slope: bool, methods) -> tuple[dict, np.ndarray]:
    """The all-available-data model of one measure: a ``fit_mixedlm`` spec (week as factor,
    random intercept and, with more than two waves, slope) and the observed baseline scores.
    ``long``: participant_id, week, score."""
    data = long.dropna(subset=["score"]).copy()
    data["t"] = data["week"] / 10.0
    baseline = data.loc[data["week"] == 0, "score"].to_numpy(float)
    spec = {
        "formula": "score ~ C(week)",
        "data": data,
        "re_formula": "~t" if random_slope else "1",
        "methods": methods,
    }
    return spec, baseline


def itt_from_fit(
    fit: MixedFit, baseline: np.ndarray, measure: str, *, followup: int, level: float = 0.95
) -> dict[str, float]:
    """All-available-data d from a fitted week-as-factor MixedLM.

    Its follow-up contrast estimates the change in the population mean under MAR; it is divided
    by the SD of all observed baseline scores. The CI is Wald on the delta-method SE
    (uncertainty of the contrast and of the SD, normal theory)."""
    term = f"C(week)[T.{followup}]"
    delta = _sign(measure) * float(fit.fe_params[term])
    se_delta = float(fit.bse_fe[term])
    sd = float(baseline.std(ddof=1))
    d = delta / sd
    var_sd = sd**2 / (2 * (len(baseline) - 1))
    se = float(np.sqrt(se_delta**2 / sd**2 + d**2 * var_sd / sd**2))
    z = stats.norm.ppf(0.5 + level / 2)
    return {
        "estimate": d,
        "ci_low": d - z * se,
        "ci_high": d + z * se,
        "se": se,
        "mean_change": delta,
        "se_change": se_delta,
        "baseline_sd": sd,
        "converged": fit.converged,
        "warnings": fit.warnings,
        "n": fit.n_participants,
        "n_obs": fit.n_obs,
    }


def itt_d(
    long: pd.DataFrame,
    measure: str,
    *,
    followup: int,
    random_slope: bool = True,
    methods=DEFAULT_METHODS,
    level: float = 0.95,
) -> dict[str, float]:
    """Fit ``itt_spec`` for one measure and return ``itt_from_fit``."""
    spec, baseline = itt_spec(long, random_slope=random_slope, methods=methods)
    return itt_from_fit(fit_mixedlm(**spec), baseline, measure, followup=followup, level=level)
