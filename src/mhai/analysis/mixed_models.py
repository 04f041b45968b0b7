"""Linear mixed-effects models (statsmodels MixedLM) of symptom change over the trial.

Time enters as ``t = week / 10``, so a slope is the change over the whole 10-week trial.
Person-level moderators (engagement, week-6 alliance) are standardised, so ``t:x`` is the
difference in 10-week change per SD of the moderator. Every fit tries several optimisers in
turn and reports whether it converged, with any warnings statsmodels raised.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

DEFAULT_METHODS = ("bfgs", "lbfgs", "cg")


@dataclass
class MixedFit:
    """The fixed effects of a MixedLM fit plus the convergence facts worth reporting (small
    and picklable, so fits can run in worker processes)."""

    fe_params: pd.Series
    bse_fe: pd.Series
    converged: bool
    warnings: str
    n_participants: int
    n_obs: int


def fit_mixedlm(
    formula: str,
    data: pd.DataFrame,
    *,
    re_formula: str = "~t",
    methods=DEFAULT_METHODS,
    groups: str = "participant_id",
) -> MixedFit:
    """Fit ``formula`` with random effects ``re_formula`` per ``groups`` by REML.

    ``methods`` are tried in order until one converges (statsmodels' list semantics)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.mixedlm(formula, data, groups=data[groups], re_formula=re_formula)
        result = model.fit(method=list(methods), reml=True)
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    return MixedFit(
        fe_params=result.fe_params,
        bse_fe=result.bse_fe,
        converged=bool(result.converged),
        warnings="; ".join(messages),
        n_participants=int(data[groups].nunique()),
        n_obs=len(data),
    )


def _fit_spec(spec: dict) -> MixedFit:
    return fit_mixedlm(**spec)


def fit_many(specs: list[dict], workers: int = 1) -> list[MixedFit]:
    """``fit_mixedlm(**spec)`` for every spec, in ``workers`` processes when above one."""
    if workers <= 1 or len(specs) < 2:
        return [fit_mixedlm(**spec) for spec in specs]
    with ProcessPoolExecutor(max_workers=min(workers, len(specs))) as pool:
        return list(pool.map(_fit_spec, specs))


def fixed_effects_table(fit: MixedFit, level: float = 0.95) -> pd.DataFrame:
    """Fixed effects with SE, Wald CI and p-value, one row per term."""
    z = stats.norm.ppf(0.5 + level / 2)
    fe = fit.fe_params
    se = fit.bse_fe
    return pd.DataFrame(
        {
            "term": fe.index,
            "estimate": fe.to_numpy(),
            "se": se.to_numpy(),
            "ci_low": (fe - z * se).to_numpy(),
            "ci_high": (fe + z * se).to_numpy(),
            "p_value": 2 * stats.norm.sf(np.abs((fe / se).to_numpy())),
            "n_participants": fit.n_participants,
            "n_obs": fit.n_obs,
            "converged": fit.converged,
            "warnings": fit.warnings,
        }
    )


def moderator_models(
    long: pd.DataFrame,
    moderators: pd.DataFrame,
    *,
    outcomes: list[str],
    methods=DEFAULT_METHODS,
    level: float = 0.95,
    workers: int = 1,
) -> pd.DataFrame:
    """``score ~ t * x`` with random intercepts and slopes, for every outcome x moderator.

    ``long``: participant_id, week, outcome, score. ``moderators``: indexed by
    participant_id, one column per moderator (already transformed; z-scored here). People
    without the moderator (e.g. no week-6 alliance) are left out of that model."""
    specs, keys = [], []
    for outcome in outcomes:
        scores = long.loc[(long["outcome"] == outcome) & long["score"].notna()]
        for name in moderators.columns:
            x = moderators[name].dropna()
            if x.std(ddof=0) == 0 or len(x) < 10:
                continue
            z = ((x - x.mean()) / x.std(ddof=1)).rename("x")
            data = scores.join(z, on="participant_id", how="inner").copy()
            data["t"] = data["week"] / 10.0
            specs.append({"formula": "score ~ t * x", "data": data, "methods": methods})
            keys.append((outcome, name))
    rows = []
    for (outcome, name), fit in zip(keys, fit_many(specs, workers), strict=True):
        table = fixed_effects_table(fit, level)
        table.insert(0, "predictor", name)
        table.insert(0, "outcome", outcome)
        table.insert(0, "model", "score ~ t * x, random intercept + slope (t = week/10)")
        rows.append(table)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
