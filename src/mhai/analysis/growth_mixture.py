"""Growth mixture model with missing waves, fitted by a vectorised EM.

Person ``i`` belongs to latent class ``k`` with probability ``pi_k``. Given the class, outcome
``j`` at week ``t`` is

    y_ijt = mu_kj(t) * (1 + s_ij) + b_ij + e_ijt,      mu_kj(t) = x(t)' beta_kj

with a class-specific growth curve ``mu`` (quadratic, or piecewise linear with a knot), a
person random intercept ``b ~ N(0, tau2)``, an optional person random *scale* ``s ~ N(0, nu)``
(how strongly a person follows their class's curve: within-class variation in the amount of
change, one parameter instead of a full random-slope covariance) and a residual
``e ~ N(0, sigma2)``. Outcomes are independent given the class; variances are shared across
classes or free per class. Missing waves leave the likelihood (full-information maximum
likelihood, valid under missing at random).

By default the model is fitted to the *change from week 0* at the later waves
(``baseline="change"``): conditioning on the baseline score keeps a screening-truncated, skewed
baseline distribution from showing up as spurious "level" classes; the baseline's own
measurement error is then shared by every change score, which the random intercept absorbs.

Given the class, a person's covariance is ``sigma2 I + Z D Z'`` with ``Z = [1, mu_k]`` and
``D = diag(tau2, nu)``, so by the Woodbury identity the likelihood, the posterior of ``(b, s)``
and every EM update need only 2x2 algebra on per-person sums: everything vectorises over
people, classes, outcomes and random starts at once.

Why not stepmix: its Gaussian models are latent profile analysis (local independence, no growth
curve); on pilot-like data it splits people by baseline level. It is the cross-check in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LOG2PI = np.log(2 * np.pi)
SHAPES = ("quadratic", "piecewise")
# All starts run PRUNE_AFTER EM iterations; the KEEP_STARTS best then run to convergence.
PRUNE_AFTER = 30
KEEP_STARTS = 4
# tau2 and sigma2 stay above this share of an outcome's variance (no collapse onto a point).
VARIANCE_FLOOR = 0.01
NU_OFF = 1e-8  # random-scale variance when the random scale is switched off
NU_FLOOR = 1e-4


def logsumexp(a: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(a))) along ``axis``, stable for finite rows (plain NumPy: scipy's version
    costs about a third of the EM time in array-API dispatch on these small arrays)."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):  # an all -inf row gives -inf, as scipy's does
        out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def design(weeks, shape: str = "quadratic", knot: float = 4.0) -> np.ndarray:
    """Growth design matrix (T, 3): intercept plus a quadratic or a knot-at-``knot`` piecewise
    linear time trend, time in units of 10 weeks (keeps the normal equations well scaled)."""
    t = np.asarray(weeks, dtype=float) / 10.0
    if shape == "quadratic":
        return np.column_stack([np.ones_like(t), t, t**2])
    if shape == "piecewise":
        k = knot / 10.0
        return np.column_stack([np.ones_like(t), np.minimum(t, k), np.maximum(t - k, 0.0)])
    raise ValueError(f"unknown growth shape {shape!r}; expected one of {SHAPES}")


def model_data(Y: np.ndarray, weeks, baseline: str, dropout: bool):
    """The data the mixture is fitted to: (Y_model (n, J, T'), model weeks, fitted-row mask,
    dropout pattern (n,): index of the last observed wave, -1 if none).

    ``baseline="level"`` models the scores themselves; ``"change"`` models the change from the
    week-0 score at the later waves. With ``dropout`` the pattern is a class indicator too, so
    everyone seen at baseline is fitted; otherwise people without a usable wave carry no
    information about their class, are left out of the fit and get the class shares."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 2:
        Y = Y[:, None, :]
    weeks = np.asarray(weeks, dtype=float)
    seen = np.isfinite(Y).any(axis=1)  # (n, T)
    pattern = np.where(seen.any(1), Y.shape[-1] - 1 - np.argmax(seen[:, ::-1], axis=1), -1)
    if baseline == "level":
        Ym, wm = Y, weeks
    elif baseline == "change":
        if weeks[0] != 0:
            raise ValueError(f"baseline='change' needs week 0 first, got weeks {weeks.tolist()}")
        Ym, wm = Y[..., 1:] - Y[..., :1], weeks[1:]
    else:
        raise ValueError(f"baseline must be 'level' or 'change', got {baseline!r}")
    rows = np.isfinite(Ym).any(axis=(1, 2))
    if dropout:
        rows = seen[:, 0] if baseline == "change" else seen.any(1)
    return Ym, wm, rows, pattern


class _Data:
    """Observed data with the per-person sums EM needs (``M`` marks observed cells) and the
    one-hot dropout pattern (n, C); C = 0 when dropout is not modelled."""

    def __init__(self, Y: np.ndarray, X: np.ndarray, pattern=None, n_patterns: int = 0):
        Y = np.asarray(Y, dtype=float)
        self.onehot = np.zeros((len(Y), n_patterns))
        if n_patterns:
            self.onehot[np.arange(len(Y)), pattern] = 1.0
        self.M = np.isfinite(Y).astype(float)  # (n, J, T)
        self.Y0 = np.where(self.M > 0, Y, 0.0)
        self.X = X  # (T, P)
        self.n, self.J, self.T = Y.shape
        self.m = self.M.sum(-1)  # (n, J)
        self.sy = self.Y0.sum(-1)
        self.syy = (self.Y0**2).sum(-1)
        self.M_j = np.ascontiguousarray(self.M.transpose(1, 0, 2))  # (J, n, T)
        self.Y_j = np.ascontiguousarray(self.Y0.transpose(1, 0, 2))
        self.MXX = np.einsum("njt,tp,tq->njpq", self.M, X, X)  # (n, J, P, P)
        self.MXY = self.Y0 @ X  # (n, J, P)
        self.MX = self.M @ X


@dataclass
class _Params:
    """Batched parameters: leading axis S (random starts or perturbations)."""

    log_pi: np.ndarray  # (S, K)
    beta: np.ndarray  # (S, K, J, P)
    tau2: np.ndarray  # (S, K, J)
    sigma2: np.ndarray  # (S, K, J)
    nu: np.ndarray  # (S, K, J)
    log_rho: np.ndarray  # (S, K, C) dropout-pattern log-probabilities (C = 0: not modelled)

    def take(self, idx) -> _Params:
        fields = (self.log_pi, self.beta, self.tau2, self.sigma2, self.nu, self.log_rho)
        return _Params(*(a[idx] for a in fields))


def _sums(d: _Data, beta: np.ndarray) -> dict[str, np.ndarray]:
    """Per (S, n, K, J) sums over observed waves of mu, mu^2 and y*mu."""
    S, K, J, _ = beta.shape
    mu = (beta @ d.X.T).transpose(2, 3, 0, 1).reshape(J, d.T, S * K)

    def per_person(A, B):  # (J, n, T) @ (J, T, S*K) -> (S, n, K, J)
        return (A @ B).reshape(J, d.n, S, K).transpose(2, 1, 3, 0)

    return {
        "smu": per_person(d.M_j, mu),
        "smumu": per_person(d.M_j, mu**2),
        "symu": per_person(d.Y_j, mu),
    }


def _e_step(d: _Data, p: _Params):
    """Class-conditional log-likelihood plus log prior (S, n, K), and the posterior moments of
    (b, s) given the class: means bh, sh and covariances vbb, vss, vbs, each (S, n, K, J)."""
    q = _sums(d, p.beta)
    m = d.m[None, :, None, :]
    sy = d.sy[None, :, None, :]
    syy = d.syy[None, :, None, :]
    s2, t2, nu = p.sigma2[:, None], p.tau2[:, None], p.nu[:, None]
    sr = sy - q["smu"]  # sum of residuals r = y - mu
    srr = syy - 2 * q["symu"] + q["smumu"]
    smur = q["symu"] - q["smumu"]
    # C = D^-1 + Z'Z / sigma2 (2x2, symmetric), and its inverse in closed form.
    c11 = 1 / t2 + m / s2
    c22 = 1 / nu + q["smumu"] / s2
    c12 = q["smu"] / s2
    det = c11 * c22 - c12**2
    vbb, vss, vbs = c22 / det, c11 / det, -c12 / det
    g1, g2 = sr / s2, smur / s2
    bh = vbb * g1 + vbs * g2
    sh = vbs * g1 + vss * g2
    quad = srr / s2 - (g1 * bh + g2 * sh)
    logdet = m * np.log(s2) + np.log(t2) + np.log(nu) + np.log(det)
    ll = (-0.5 * (m * LOG2PI + logdet + quad)).sum(-1) + p.log_pi[:, None, :]
    ll = ll + d.onehot @ p.log_rho.transpose(0, 2, 1)
    return ll, {"bh": bh, "sh": sh, "vbb": vbb, "vss": vss, "vbs": vbs}


def _m_step(d: _Data, w, post, p: _Params, shared: bool, random_scale: bool, floor, ridge=1e-8):
    """One ECM update of every parameter from the class posteriors ``w`` (S, n, K)."""
    S, n, K = w.shape
    J, P = d.J, d.X.shape[1]
    bh, sh, vbb, vss, vbs = (post[k] for k in ("bh", "sh", "vbb", "vss", "vbs"))
    pi = np.clip(w.mean(1), 1e-10, None)
    pi /= pi.sum(-1, keepdims=True)
    wj = w[..., None]  # (S, n, K, 1)
    e1 = 1 + sh  # E[1 + s]
    e2 = e1**2 + vss  # E[(1 + s)^2]
    e1b = e1 * bh + vbs  # E[(1 + s) b]

    def over_people(weight, per_person):
        """sum_n w * weight (S, n, K, J) times per_person (n, J, ...) -> (S, K, J, ...)."""
        a = (wj * weight).transpose(3, 0, 2, 1).reshape(J, S * K, n)
        b = np.moveaxis(per_person, 1, 0).reshape(J, n, -1)
        return np.moveaxis((a @ b).reshape(J, S, K, *per_person.shape[2:]), 0, 2)

    A = over_people(e2, d.MXX) + ridge * np.eye(P)
    rhs = over_people(e1, d.MXY) - over_people(e1b, d.MX)
    beta = np.linalg.solve(A, rhs[..., None])[..., 0]
    q = _sums(d, beta)
    m = d.m[None, :, None, :]
    sy, syy = d.sy[None, :, None, :], d.syy[None, :, None, :]
    resid = (
        syy
        + m * bh**2
        + e1**2 * q["smumu"]
        - 2 * bh * sy
        - 2 * e1 * q["symu"]
        + 2 * bh * e1 * q["smu"]
        + m * vbb
        + q["smumu"] * vss
        + 2 * q["smu"] * vbs
    )
    axes = (1, 2) if shared else 1

    def pooled(num, den):
        out = (wj * num).sum(axes) / np.maximum((wj * den).sum(axes), 1e-12)
        return np.repeat(out[:, None], K, axis=1) if shared else out

    sigma2 = pooled(resid, m)
    tau2 = pooled(bh**2 + vbb, np.ones_like(m))
    nu = p.nu
    if random_scale:
        nu = np.maximum(pooled(sh**2 + vss, np.ones_like(m)), NU_FLOOR)
    rho = np.clip(w.transpose(0, 2, 1) @ d.onehot, 1e-6, None)
    log_rho = np.log(rho / rho.sum(-1, keepdims=True)) if d.onehot.shape[1] else p.log_rho
    tau2, sigma2 = np.maximum(tau2, floor), np.maximum(sigma2, floor)
    return _Params(np.log(pi), beta, tau2, sigma2, nu, log_rho)


def _initial_values(d: _Data, k: int, n_starts: int, rng: np.random.Generator, nu0: float):
    """k-means++ seeds on person trajectories (missing waves filled by week mean + person
    offset), everyone hard-assigned to the nearest seed, then a least-squares M-step.
    Returns the starting parameters and the variance floor (J,)."""
    obs = d.M > 0
    with np.errstate(invalid="ignore"):
        week_mean = np.nanmean(np.where(obs, d.Y0, np.nan), axis=0)  # (J, T)
    week_mean = np.where(np.isfinite(week_mean), week_mean, np.nanmean(week_mean))
    offset = np.where(obs, d.Y0 - week_mean, 0.0).sum(-1) / np.maximum(d.m, 1.0)
    filled = np.where(obs, d.Y0, week_mean[None] + offset[..., None])
    F = filled.reshape(d.n, -1)
    F = F / (F.std(0) + 1e-9)
    S, J = n_starts, d.J
    w = np.zeros((S, d.n, k))
    for s in range(S):
        seeds = [rng.integers(d.n)]
        dist = ((F - F[seeds[0]]) ** 2).sum(1)
        for _ in range(1, k):
            prob = dist / dist.sum() if dist.sum() > 0 else np.full(d.n, 1.0 / d.n)
            seeds.append(rng.choice(d.n, p=prob))
            dist = np.minimum(dist, ((F - F[seeds[-1]]) ** 2).sum(1))
        nearest = ((F[:, None, :] - F[seeds][None]) ** 2).sum(-1).argmin(1)
        w[s, np.arange(d.n), nearest] = 1.0
    var = np.array([np.nanvar(np.where(obs[:, j], d.Y0[:, j], np.nan)) for j in range(J)])
    var = np.where(np.isfinite(var) & (var > 0), var, 1.0)
    full = np.tile(0.5 * var, (S, k, 1))
    C = d.onehot.shape[1]
    # With b and s held at zero (tiny prior variances) the M-step is plain least squares.
    tiny = _Params(
        np.full((S, k), -np.log(k)),
        np.zeros((S, k, J, d.X.shape[1])),
        np.full_like(full, 1e-9),
        full,
        np.full((S, k, J), 1e-9),
        np.full((S, k, C), -np.log(max(C, 1))),
    )
    _, post = _e_step(d, tiny)
    f = _m_step(d, w, post, tiny, True, False, 1e-9)
    start = _Params(f.log_pi, f.beta, full, full.copy(), np.full((S, k, J), nu0), f.log_rho)
    return start, VARIANCE_FLOOR * var


@dataclass
class GrowthMixtureFit:
    """A fitted K-class growth mixture; classes ordered and named by trajectory shape.

    ``posterior`` covers every person given; people outside the fit (``fitted`` False: no
    usable waves) get the class shares. ``n`` counts the fitted people (used by BIC)."""

    k: int
    weeks: np.ndarray
    model_weeks: np.ndarray
    baseline: str
    fitted: np.ndarray  # (n_all,) bool
    outcomes: list[str]
    shape: str
    knot: float
    beta: np.ndarray  # (K, J, P)
    shares: np.ndarray  # (K,)
    tau2: np.ndarray  # (K, J) random-intercept variances (equal across K when shared)
    sigma2: np.ndarray  # (K, J) residual variances
    nu: np.ndarray  # (K, J) random-scale variances
    dropout_probs: np.ndarray  # (K, C) P(last observed wave = c | class); C = 0 if not modelled
    shared_variances: bool
    random_scale: bool
    loglik: float
    n: int
    posterior: np.ndarray  # (n_all, K)
    converged: bool
    n_iter: int
    labels: list[str] = field(default_factory=list)
    share_se: np.ndarray | None = None  # (K,) delta-method (sandwich) standard errors
    mean_se: np.ndarray | None = None  # (K, J, T')
    cov_ok: bool = False

    @property
    def n_params(self) -> int:
        K, J, P = self.beta.shape
        n_var = (2 + self.random_scale) * J * (1 if self.shared_variances else K)
        n_drop = K * (self.dropout_probs.shape[1] - 1) if self.dropout_probs.size else 0
        return K * J * P + (K - 1) + n_var + n_drop

    @property
    def dropout_model(self) -> bool:
        return self.dropout_probs.shape[1] > 0

    @property
    def bic(self) -> float:
        return -2 * self.loglik + self.n_params * np.log(self.n)

    @property
    def sabic(self) -> float:
        """Sample-size adjusted BIC (n* = (n + 2) / 24)."""
        return -2 * self.loglik + self.n_params * np.log((self.n + 2) / 24)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def entropy(self) -> float:
        """Relative entropy of the fitted people (1 = perfectly separated; 1.0 for K=1)."""
        if self.k == 1:
            return 1.0
        w = np.clip(self.posterior[self.fitted], 1e-300, 1.0)
        return float(1.0 - (-(w * np.log(w)).sum()) / (len(w) * np.log(self.k)))

    @property
    def smallest_share(self) -> float:
        return float(self.shares.min())

    @property
    def X(self) -> np.ndarray:
        return design(self.model_weeks, self.shape, self.knot)

    def means(self) -> np.ndarray:
        """Model-implied class means at the model weeks (K, J, T'): scores, or changes from
        week 0 when ``baseline == "change"``."""
        return np.einsum("kjp,tp->kjt", self.beta, self.X)

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """Class mean trajectories and their SEs at every week (K, J, T); in change mode the
        week-0 entry is the zero change (SE 0). SEs are NaN until ``add_standard_errors``."""
        mean = self.means()
        se = self.mean_se if self.mean_se is not None else np.full_like(mean, np.nan)
        if self.baseline == "change":
            zeros = np.zeros(mean.shape[:2] + (1,))
            mean = np.concatenate([zeros, mean], axis=2)
            se = np.concatenate([zeros, se], axis=2)
        return mean, se

    def assign(self) -> np.ndarray:
        """Modal class index per person."""
        return self.posterior.argmax(1)

    def _params(self) -> _Params:
        return _Params(
            np.log(self.shares)[None],
            self.beta[None],
            self.tau2[None],
            self.sigma2[None],
            self.nu[None],
            np.log(self.dropout_probs)[None],
        )

    def predict_proba(self, Y: np.ndarray) -> np.ndarray:
        """Posterior class probabilities for new data with the same weeks and outcomes
        (the class shares for people without usable waves)."""
        Ym, _, rows, pattern = model_data(Y, self.weeks, self.baseline, self.dropout_model)
        out = np.tile(self.shares, (len(Ym), 1))
        C = self.dropout_probs.shape[1]
        ll, _ = _e_step(_Data(Ym[rows], self.X, pattern[rows], C), self._params())
        out[rows] = np.exp(ll[0] - logsumexp(ll[0], axis=1, keepdims=True))
        return out


# ----------------------------------------------------------------------------- fitting
def _shape_labels(means: np.ndarray) -> list[str]:
    """Name classes by the first outcome's mean trajectory (K, J, T from week 0): the least
    total improvement is the non-responder; among the rest (K >= 3) the largest improvement by
    the first follow-up is the rapid improver; the others are improving (numbered from the
    second on). Lower scores are better."""
    K = len(means)
    if K == 1:
        return ["all"]
    first = means[:, 0, :]
    total = first[:, 0] - first[:, -1]
    early = first[:, 0] - first[:, 1]
    labels = [""] * K
    nr = int(np.argmin(total))
    labels[nr] = "non_responder"
    rest = [k for k in range(K) if k != nr]
    if K >= 3:
        rapid = max(rest, key=lambda k: early[k])
        labels[rapid] = "rapid_improver"
        rest.remove(rapid)
    for rank, k in enumerate(sorted(rest, key=lambda k: -total[k])):
        labels[k] = "improving" if rank == 0 else f"improving_{rank + 1}"
    return labels


def fit_growth_mixture(
    Y: np.ndarray,
    weeks,
    k: int,
    *,
    outcomes: list[str] | None = None,
    shape: str = "quadratic",
    knot: float = 4.0,
    baseline: str = "change",
    variances: str = "class",
    random_scale: bool = False,
    dropout: bool = False,
    n_starts: int = 20,
    max_iter: int = 500,
    tol: float = 1e-7,
    seed: int = 0,
    covariance: bool = True,
) -> GrowthMixtureFit:
    """Fit a K-class growth mixture to ``Y`` (n, T) or (n, J, T) with NaN for missing waves.

    ``baseline``: model scores (``"level"``) or change from week 0 (``"change"``, see
    ``model_data``). ``variances``: ``"shared"`` across classes or ``"class"``-specific.
    ``random_scale``: include the person random scale ``s``. ``dropout``: the dropout pattern
    (last observed wave) is a class indicator with class-specific probabilities, a latent
    dropout-class pattern-mixture model that keeps class shares unbiased when dropout depends
    on the class (missing not at random given the scores alone). All ``n_starts`` random starts run
    as one vectorised EM (the best few continue after a short burn-in); the best
    log-likelihood wins. ``covariance`` adds sandwich SEs for class shares and trajectories.
    """
    weeks = np.asarray(weeks, dtype=float)
    if np.shape(Y)[-1] != len(weeks):
        raise ValueError(f"Y has {np.shape(Y)[-1]} waves but {len(weeks)} weeks were given")
    if variances not in ("shared", "class"):
        raise ValueError(f"variances must be 'shared' or 'class', got {variances!r}")
    Ym, model_weeks, rows, pattern = model_data(Y, weeks, baseline, dropout)
    if rows.sum() < 2 * k:
        raise ValueError(f"only {int(rows.sum())} people have usable waves for {k} classes")
    shared = variances == "shared"
    X = design(model_weeks, shape, knot)
    d = _Data(Ym[rows], X, pattern[rows], len(weeks) if dropout else 0)
    rng = np.random.default_rng(seed)
    p, floor = _initial_values(d, k, n_starts, rng, 0.05 if random_scale else NU_OFF)
    prev = np.full(n_starts, -np.inf)
    done = np.zeros(n_starts, dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):
        ll, post = _e_step(d, p)
        norm = logsumexp(ll, axis=2, keepdims=True)
        total = norm.sum((1, 2))
        if it == PRUNE_AFTER and len(total) > KEEP_STARTS:
            # Short runs from every start, then only the most promising continue.
            top = np.argsort(-np.nan_to_num(total, nan=-np.inf))[:KEEP_STARTS]
            p, ll, norm, total, prev, done = (
                p.take(top),
                ll[top],
                norm[top],
                total[top],
                prev[top],
                done[top],
            )
            post = {key: v[top] for key, v in post.items()}
        done |= np.abs(total - prev) < tol * np.abs(total)
        if done.all():
            break
        prev = total
        p = _m_step(d, np.exp(ll - norm), post, p, shared, random_scale, floor)
    ll, _ = _e_step(d, p)
    norm = logsumexp(ll, axis=2, keepdims=True)
    total = norm.sum((1, 2))
    best = int(np.nanargmax(total))
    posterior = np.tile(np.exp(p.log_pi[best]), (len(rows), 1))
    posterior[rows] = np.exp(ll[best] - norm[best])
    fit = GrowthMixtureFit(
        k=k,
        weeks=weeks,
        model_weeks=model_weeks,
        baseline=baseline,
        fitted=rows,
        outcomes=list(outcomes or [f"y{j}" for j in range(d.J)]),
        shape=shape,
        knot=knot,
        beta=p.beta[best],
        shares=np.exp(p.log_pi[best]),
        tau2=p.tau2[best],
        sigma2=p.sigma2[best],
        nu=p.nu[best],
        dropout_probs=np.exp(p.log_rho[best]),
        shared_variances=shared,
        random_scale=random_scale,
        loglik=float(total[best]),
        n=int(rows.sum()),
        posterior=posterior,
        converged=bool(done[best]),
        n_iter=it,
    )
    _order_by_label(fit)
    if covariance:
        add_standard_errors(fit, Y)
    return fit


def known_class_posterior(
    Y: np.ndarray,
    weeks,
    classes: np.ndarray,
    k: int,
    *,
    shape: str = "quadratic",
    knot: float = 4.0,
    baseline: str = "change",
    variances: str = "class",
    random_scale: bool = False,
    n_iter: int = 200,
) -> np.ndarray:
    """Class posteriors (n, k) from the model fitted with every person's class *known*
    (``classes``: integers 0..k-1; the M-step uses them instead of posteriors). On a large
    draw its modal-assignment accuracy is the ceiling an estimated model of the same form can
    reach: how far the classes overlap given the data, not how well EM found them. People
    without usable waves get the class shares."""
    Ym, model_weeks, rows, pattern = model_data(Y, weeks, baseline, False)
    d = _Data(Ym[rows], design(model_weeks, shape, knot), pattern[rows], 0)
    w = np.zeros((1, d.n, k))
    w[0, np.arange(d.n), np.asarray(classes)[rows]] = 1.0
    rng = np.random.default_rng(0)
    p, floor = _initial_values(d, k, 1, rng, 0.05 if random_scale else NU_OFF)
    for _ in range(n_iter):
        _, post = _e_step(d, p)
        p = _m_step(d, w, post, p, variances == "shared", random_scale, floor)
    ll, _ = _e_step(d, p)
    out = np.tile(np.exp(p.log_pi[0]), (len(rows), 1))
    out[rows] = np.exp(ll[0] - logsumexp(ll[0], axis=1, keepdims=True))
    return out


def _order_by_label(fit: GrowthMixtureFit) -> None:
    labels = _shape_labels(fit.trajectory()[0])
    order = sorted(range(fit.k), key=lambda k: labels[k])
    fit.labels = [labels[k] for k in order]
    for name in ("beta", "shares", "tau2", "sigma2", "nu", "dropout_probs"):
        setattr(fit, name, getattr(fit, name)[order])
    fit.posterior = fit.posterior[:, order]


# ----------------------------------------------------------------------------- standard errors
def _free(fit: GrowthMixtureFit) -> list[str]:
    names = ["tau2", "sigma2"] + (["nu"] if fit.random_scale else [])
    return names


def _pack(fit: GrowthMixtureFit) -> np.ndarray:
    log_pi = np.log(fit.shares)
    parts = [fit.beta.ravel(), log_pi[:-1] - log_pi[-1]]
    for name in _free(fit):
        v = getattr(fit, name)
        parts.append(np.log(v[:1] if fit.shared_variances else v).ravel())
    if fit.dropout_model:
        log_rho = np.log(fit.dropout_probs)
        parts.append((log_rho[:, :-1] - log_rho[:, -1:]).ravel())
    return np.concatenate(parts)


def _unpack(fit: GrowthMixtureFit, theta: np.ndarray) -> _Params:
    """theta (B, p) -> batched parameters, the inverse of ``_pack``."""
    K, J, P = fit.beta.shape
    B = len(theta)
    nb = K * J * P
    beta = theta[:, :nb].reshape(B, K, J, P)
    eta = np.concatenate([theta[:, nb : nb + K - 1], np.zeros((B, 1))], axis=1)
    log_pi = eta - logsumexp(eta, axis=1, keepdims=True)
    rows = 1 if fit.shared_variances else K
    out, start = {}, nb + K - 1
    for name in _free(fit):
        block = np.exp(theta[:, start : start + rows * J]).reshape(B, rows, J)
        out[name] = np.broadcast_to(block, (B, K, J))
        start += rows * J
    nu = out.get("nu", np.full((B, K, J), NU_OFF))
    C = fit.dropout_probs.shape[1]
    log_rho = np.zeros((B, K, C))
    if fit.dropout_model:
        eta = theta[:, start : start + K * (C - 1)].reshape(B, K, C - 1)
        eta = np.concatenate([eta, np.zeros((B, K, 1))], axis=2)
        log_rho = eta - logsumexp(eta, axis=2, keepdims=True)
    return _Params(log_pi, beta, out["tau2"], out["sigma2"], nu, log_rho)


def _person_loglik(d: _Data, fit: GrowthMixtureFit, theta: np.ndarray, chunk=64) -> np.ndarray:
    """Per-person log-likelihood (B, n) for a batch of parameter vectors."""
    out = []
    for start in range(0, len(theta), chunk):
        ll, _ = _e_step(d, _unpack(fit, theta[start : start + chunk]))
        out.append(logsumexp(ll, axis=2))
    return np.concatenate(out)


def _sandwich(d: _Data, fit: GrowthMixtureFit) -> tuple[np.ndarray, bool]:
    """Robust (sandwich) covariance of the packed parameters from numerical per-person scores
    and a numerical Hessian; also whether the information matrix was positive definite."""
    theta = _pack(fit)
    p = len(theta)
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    eye = np.eye(p) * h
    ll = _person_loglik(d, fit, np.concatenate([theta + eye, theta - eye]))
    scores = ((ll[:p] - ll[p:]) / (2 * h[:, None])).T  # (n, p)
    idx = [(a, b) for a in range(p) for b in range(a, p)]
    signs = ((1, 1), (1, -1), (-1, 1), (-1, -1))
    pts = np.array([theta + sa * eye[a] + sb * eye[b] for a, b in idx for sa, sb in signs])
    tot = _person_loglik(d, fit, pts).sum(1).reshape(-1, 4)
    H = np.zeros((p, p))
    for (a, b), f in zip(idx, tot, strict=True):
        H[a, b] = H[b, a] = (f[0] - f[1] - f[2] + f[3]) / (4 * h[a] * h[b])
    info = -H
    eig = np.linalg.eigvalsh(info)
    ok = bool(eig.min() > 1e-8 * max(eig.max(), 1.0))
    inv = np.linalg.pinv(info)
    return inv @ (scores.T @ scores) @ inv, ok


def add_standard_errors(fit: GrowthMixtureFit, Y: np.ndarray) -> GrowthMixtureFit:
    """Sandwich standard errors of the class shares and mean trajectories (delta method)."""
    Ym, _, rows, pattern = model_data(Y, fit.weeks, fit.baseline, fit.dropout_model)
    d = _Data(Ym[rows], fit.X, pattern[rows], fit.dropout_probs.shape[1])
    cov, ok = _sandwich(d, fit)
    K, J, P = fit.beta.shape
    nb = K * J * P
    pi = fit.shares
    jac = (np.diag(pi) - np.outer(pi, pi))[:, : K - 1]  # d pi / d eta
    cov_eta = cov[nb : nb + K - 1, nb : nb + K - 1]
    fit.share_se = np.sqrt(np.clip(np.einsum("ka,ab,kb->k", jac, cov_eta, jac), 0, None))
    diag = np.einsum("kjpkjq->kjpq", cov[:nb, :nb].reshape(K, J, P, K, J, P))
    fit.mean_se = np.sqrt(np.clip(np.einsum("tp,kjpq,tq->kjt", fit.X, diag, fit.X), 0, None))
    fit.cov_ok = ok
    return fit


def select_k(
    fits: list[GrowthMixtureFit], min_share: float = 0.05
) -> tuple[GrowthMixtureFit, list[dict]]:
    """Pick the lowest-BIC model among those whose smallest class holds at least ``min_share``
    of people (K=1 always qualifies); returns it and one summary row per K."""
    eligible = [f for f in fits if f.k == 1 or f.smallest_share >= min_share]
    chosen = min(eligible, key=lambda f: f.bic)
    rows = [
        {
            "k": f.k,
            "loglik": f.loglik,
            "n_params": f.n_params,
            "n_fitted": f.n,
            "bic": f.bic,
            "sabic": f.sabic,
            "aic": f.aic,
            "entropy": f.entropy,
            "smallest_share": f.smallest_share,
            "converged": f.converged,
            "chosen": f is chosen,
        }
        for f in fits
    ]
    return chosen, rows
