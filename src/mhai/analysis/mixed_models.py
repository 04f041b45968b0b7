"""Linear mixed-effects models (statsmodels MixedLM) of symptom change over the trial.

Time enters as ``t = week / 10``, so a slope is the change over the whole 10-week trial.
Person-level moderators (engagement, week-6 alliance) are standardised, so ``t:x`` is the
difference in 10-week change per SD of the moderator. Every fit tries several optimisers in
turn and reports whether it converged, with any warnings statsmodels raised.

statsmodels evaluates the likelihood person by person in Python, so a cold fit of 305 people
takes about a second. ``reml_start`` finds the REML optimum first with people grouped by
their pattern of observed times (everyone in a pattern shares one marginal covariance, so each
evaluation is a few small matrix products); statsmodels then starts there, confirms the
optimum in a few iterations and computes the estimates and standard errors it reports.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import optimize, stats
from statsmodels.regression.mixed_linear_model import MixedLMParams

DEFAULT_METHODS = ("bfgs", "lbfgs", "cg")


@dataclass
class MixedFit:
    """The fixed effects of a MixedLM fit plus the convergence facts worth reporting (small
    and picklable, so fits can run in worker processes)."""

    fe_params: pd.Series
    bse_fe: pd.Series
    cov_fe: pd.DataFrame
    converged: bool
    warnings: str
    n_participants: int
    n_obs: int


def _pattern_blocks(model) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(Z, X, y) per pattern of random-effects design rows: Z (m, q) shared by the pattern's
    people, X (n_p, m, k) and y (n_p, m) stacked over them."""
    patterns: dict[tuple, list] = {}
    for label in model.group_labels:
        idx = model.row_indices[label]
        z = model.exog_re[idx]
        patterns.setdefault((len(idx), z.tobytes()), []).append(idx)
    out = []
    for idx in patterns.values():
        rows = np.asarray(idx)
        out.append((model.exog_re[rows[0]], model.exog[rows], model.endog[rows]))
    return out


def reml_start(model) -> MixedLMParams | None:
    """REML estimates of a statsmodels ``MixedLM`` (random effects only, no variance
    components) from pattern-grouped algebra: the profiled REML criterion is minimised over a
    Cholesky factor of the scaled random-effects covariance ``Psi`` (statsmodels' own
    parameterisation), fixed effects by GLS. None when the model has variance components."""
    if model.k_vc:
        return None
    blocks = _pattern_blocks(model)
    n_obs, k = model.exog.shape
    q = model.k_re
    tril = np.tril_indices(q)

    def solve(theta):
        L = np.zeros((q, q))
        L[tril] = theta
        psi = L @ L.T
        A, b, logdet, inverses = np.zeros((k, k)), np.zeros(k), 0.0, []
        for Z, X, y in blocks:
            W = np.eye(len(Z)) + Z @ psi @ Z.T
            Winv = np.linalg.inv(W)
            logdet += len(X) * np.linalg.slogdet(W)[1]
            WX = np.einsum("ml,nlk->nmk", Winv, X)
            A += np.einsum("nmk,nmj->kj", X, WX)
            b += np.einsum("nmk,nm->k", WX, y)
            inverses.append(Winv)
        beta = np.linalg.solve(A, b)
        quad = 0.0
        for (_, X, y), Winv in zip(blocks, inverses, strict=True):
            r = y - X @ beta
            quad += np.einsum("nm,ml,nl->", r, Winv, r)
        return psi, beta, A, logdet, quad

    def criterion(theta):
        _, _, A, logdet, quad = solve(theta)
        if not np.isfinite(quad) or quad <= 0:
            return np.inf
        return (n_obs - k) * np.log(quad / (n_obs - k)) + logdet + np.linalg.slogdet(A)[1]

    theta0 = np.eye(q)[tril]
    res = optimize.minimize(criterion, theta0, method="BFGS")
    if not np.isfinite(res.fun):
        return None
    psi, beta, *_ = solve(res.x)
    return MixedLMParams.from_components(fe_params=beta, cov_re=psi)


def fit_mixedlm(
    formula: str,
    data: pd.DataFrame,
    *,
    re_formula: str = "~t",
    methods=DEFAULT_METHODS,
    groups: str = "participant_id",
    warm_start: bool = True,
) -> MixedFit:
    """Fit ``formula`` with random effects ``re_formula`` per ``groups`` by REML.

    ``methods`` are tried in order until one converges (statsmodels' list semantics), from
    ``reml_start`` when ``warm_start`` (the same optimum, reached in a fraction of the time).
    A warm start on the boundary (a near-singular random-effects covariance) can stall
    statsmodels; a fit from it that does not converge is redone from statsmodels' own start,
    and its warnings say so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.mixedlm(formula, data, groups=data[groups], re_formula=re_formula)
        start = reml_start(model) if warm_start else None
        result = model.fit(start_params=start, method=list(methods), reml=True)
        if start is not None and not result.converged:
            warnings.warn(
                "warm start did not converge; refitted from statsmodels' start", stacklevel=2
            )
            result = model.fit(method=list(methods), reml=True)
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    return MixedFit(
        fe_params=result.fe_params,
        bse_fe=result.bse_fe,
        cov_fe=result.cov_params().loc[result.fe_params.index, result.fe_params.index],
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
