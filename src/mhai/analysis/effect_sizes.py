"""Within-group effect sizes (baseline to follow-up) with their definitions and CIs.

Every d is signed so that a positive value means improvement: for symptom scales and
loneliness improvement is a fall, for the other social measures a rise. Three standardisers:

- ``d_baseline_sd``: mean improvement / SD of the baseline scores (the default, "Cohen's d");
- ``d_z``: mean improvement / SD of the individual changes (the paired-samples d);
- ``d_av``: mean improvement / mean of the baseline and follow-up SDs.

Completer estimates use people seen at both waves with percentile bootstrap CIs (resampling
people, seeded). They estimate the effect *among completers*, which differs from the effect in
everyone enrolled when dropout depends on how people fare (parameter recovery measures the
gap). The all-available-data estimate is model-based: a MixedLM with week as a factor fitted
to every observed wave, whose follow-up contrast is divided by the baseline SD of everyone seen
at baseline (intention-to-treat style), with a delta-method CI. It is valid under missing at
random *given the model's variables*: dropout that depends on engagement is made ignorable by
auxiliary engagement covariates (person totals, log1p, centred over everyone) interacted with
week, so the week contrasts stay marginal (population-average) means. The same fit gives the
mean linear trend: the least-squares slope through the model-implied wave means.
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
        "MixedLM (week as factor{aux}, random intercept{re}) on all observed waves: "
        "model-implied improvement to week {w} / SD of all baseline scores"
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


def itt_spec(
    long: pd.DataFrame,
    *,
    random_slope: bool,
    methods,
    auxiliary: pd.DataFrame | None = None,
) -> tuple[dict, dict]:
    """The all-available-data model of one measure: a ``fit_mixedlm`` spec and what
    ``itt_from_fit`` needs besides the fit (observed baseline scores, auxiliary names and the
    sampling covariance of their means). ``long``: participant_id, week, score. The model is
    ``score ~ C(week)`` (``* (aux...)`` with auxiliary covariates: person-level columns indexed
    by participant_id, centred over the people in the model and scaled to unit SD; constant
    ones are dropped) with a random intercept and, with more than two waves, slope."""
    data = long.dropna(subset=["score"]).copy()
    data["t"] = data["week"] / 10.0
    baseline = data.loc[data["week"] == 0, "score"].to_numpy(float)
    names: list[str] = []
    mean_cov = np.zeros((0, 0))
    if auxiliary is not None and auxiliary.shape[1]:
        people = pd.Index(data["participant_id"].unique())
        aux = auxiliary.reindex(people).astype(float)
        aux = aux.loc[:, aux.std(ddof=1) > 0]
        aux = (aux - aux.mean()) / aux.std(ddof=1)
        if aux.isna().any().any():
            missing = aux.index[aux.isna().any(axis=1)][0]
            raise ValueError(f"auxiliary covariates missing for participant {missing!r}")
        aux.columns = names = [f"aux_{c}" for c in aux.columns]
        data = data.join(aux, on="participant_id")
        mean_cov = np.atleast_2d(np.cov(aux.to_numpy(), rowvar=False)) / len(aux)
    formula = "score ~ C(week)" + (f" * ({' + '.join(names)})" if names else "")
    spec = {
        "formula": formula,
        "data": data,
        "re_formula": "~t" if random_slope else "1",
        "methods": methods,
    }
    return spec, {"baseline": baseline, "auxiliary": names, "aux_mean_cov": mean_cov}


def _contrast(fit: MixedFit, weights: dict[int, float], context: dict) -> tuple[float, float]:
    """``sum_w weights[w] * (mean at week w - mean at week 0)`` at the auxiliaries' means and
    its SE: the fixed-effect covariance plus the sampling variance of the auxiliary means
    (the marginal mean sits at the sample mean of each auxiliary)."""
    terms = [f"C(week)[T.{w}]" for w in weights]
    c = np.array(list(weights.values()))
    est = float(c @ fit.fe_params[terms].to_numpy())
    var = float(c @ fit.cov_fe.loc[terms, terms].to_numpy() @ c)
    if context["auxiliary"]:
        gamma = np.array([[fit.fe_params[f"{t}:{a}"] for a in context["auxiliary"]] for t in terms])
        g = c @ gamma
        var += float(g @ context["aux_mean_cov"] @ g)
    return est, float(np.sqrt(var))


def linear_trend_weights(weeks) -> dict[int, float]:
    """Weights of the least-squares slope (per 10 weeks) through the means at ``weeks`` (which
    include week 0), on the week contrasts against week 0 (the weights sum to zero, so the
    week-0 mean drops out)."""
    t = np.asarray(sorted(weeks), dtype=float) / 10.0
    c = (t - t.mean()) / ((t - t.mean()) ** 2).sum()
    return {int(w): float(cw) for w, cw in zip(sorted(weeks), c, strict=True) if w != 0}


def itt_from_fit(
    fit: MixedFit, context: dict, measure: str, *, followup: int, level: float = 0.95
) -> dict[str, float]:
    """All-available-data d, mean change and linear trend from a fitted ``itt_spec`` model.

    The follow-up contrast estimates the change in the population mean under MAR given the
    model's variables; it is divided by the SD of all observed baseline scores. The CI is Wald
    on the delta-method SE (uncertainty of the contrast and of the SD, normal theory).
    ``trend`` is the least-squares slope (per 10 weeks, raw score units) through the
    model-implied means at every modelled week (NaN with only two waves)."""
    baseline = context["baseline"]
    raw, se_delta = _contrast(fit, {followup: 1.0}, context)
    delta = _sign(measure) * raw
    sd = float(baseline.std(ddof=1))
    d = delta / sd
    var_sd = sd**2 / (2 * (len(baseline) - 1))
    se = float(np.sqrt(se_delta**2 / sd**2 + d**2 * var_sd / sd**2))
    z = stats.norm.ppf(0.5 + level / 2)
    weeks = [0] + [int(t[len("C(week)[T.") : -1]) for t in fit.fe_params.index if _is_week(t)]
    trend, se_trend = np.nan, np.nan  # with two waves the trend is the change itself
    if len(weeks) > 2:
        trend, se_trend = _contrast(fit, linear_trend_weights(weeks), context)
    return {
        "estimate": d,
        "ci_low": d - z * se,
        "ci_high": d + z * se,
        "se": se,
        "mean_change": delta,
        "se_change": se_delta,
        "trend": trend,
        "se_trend": se_trend,
        "baseline_sd": sd,
        "auxiliary": ", ".join(a.removeprefix("aux_") for a in context["auxiliary"]),
        "converged": fit.converged,
        "warnings": fit.warnings,
        "n": fit.n_participants,
        "n_obs": fit.n_obs,
    }


def _is_week(term: str) -> bool:
    return term.startswith("C(week)[T.") and term.endswith("]")


def itt_d(
    long: pd.DataFrame,
    measure: str,
    *,
    followup: int,
    random_slope: bool = True,
    methods=DEFAULT_METHODS,
    level: float = 0.95,
    auxiliary: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Fit ``itt_spec`` for one measure and return ``itt_from_fit``."""
    spec, context = itt_spec(long, random_slope=random_slope, methods=methods, auxiliary=auxiliary)
    return itt_from_fit(fit_mixedlm(**spec), context, measure, followup=followup, level=level)
