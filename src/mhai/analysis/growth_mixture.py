"""Growth mixture model: class-specific growth curves with a shared random intercept, by EM.

Person ``i`` belongs to latent class ``k`` with probability ``pi_k``. Given the class, outcome
``j`` at week ``t`` is ``y = x(t)' beta_kj + b_ij + e``, with a person random intercept
``b_ij ~ N(0, tau2_j)`` and residual ``e ~ N(0, sigma2_j)``, outcomes independent given the
class. Missing waves simply leave the likelihood (full-information maximum likelihood, valid
under missing at random). A person's observed waves then have a compound-symmetric covariance,
so the log-likelihood, the posterior of ``b`` and every EM update have closed forms that
vectorise over people, classes, outcomes and random starts at once.

Why not stepmix: its Gaussian models are latent profile analysis (local independence, no growth
curve), which on pilot-like data splits people by baseline level (see ``tests``, where it is the
cross-check on a well-separated draw).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

LOG2PI = np.log(2 * np.pi)
SHAPES = ("quadratic", "piecewise")
# All starts run PRUNE_AFTER EM iterations; the KEEP_STARTS best then run to convergence.
PRUNE_AFTER = 30
KEEP_STARTS = 4


def design(weeks: np.ndarray, shape: str = "quadratic", knot: float = 4.0) -> np.ndarray:
    """Growth design matrix (T, 3): intercept plus a quadratic or a knot-at-``knot`` piecewise
    linear time trend, time in units of 10 weeks (keeps the normal equations well scaled)."""
    t = np.asarray(weeks, dtype=float) / 10.0
    if shape == "quadratic":
        return np.column_stack([np.ones_like(t), t, t**2])
    if shape == "piecewise":
        k = knot / 10.0
        return np.column_stack([np.ones_like(t), np.minimum(t, k), np.maximum(t - k, 0.0)])
    raise ValueError(f"unknown growth shape {shape!r}; expected one of {SHAPES}")


@dataclass
class _Data:
    """Observed data in the shapes EM needs; ``M`` marks observed cells (1.0) and the ``_j``
    arrays are outcome-major copies for batched matrix products."""

    Y0: np.ndarray  # (n, J, T), zeros where missing
    M: np.ndarray  # (n, J, T) float 0/1
    m: np.ndarray  # (n, J) observed waves per person and outcome
    X: np.ndarray  # (T, P)

    @classmethod
    def build(cls, Y: np.ndarray, X: np.ndarray) -> _Data:
        Y = np.asarray(Y, dtype=float)
        if Y.ndim == 2:
            Y = Y[:, None, :]
        M = np.isfinite(Y).astype(float)
        return cls(np.where(M > 0, Y, 0.0), M, M.sum(-1), X)

    def __post_init__(self):
        n, J, T = self.Y0.shape
        P = self.X.shape[1]
        self.M_j = np.ascontiguousarray(self.M.transpose(1, 0, 2))  # (J, n, T)
        self.Y_j = np.ascontiguousarray(self.Y0.transpose(1, 0, 2))
        self.ysum = self.Y0.sum(-1)  # (n, J)
        self.yy = (self.Y0**2).sum(-1)
        self.MX = self.M @ self.X  # (n, J, P)
        self.MX_j = np.ascontiguousarray(self.MX.transpose(1, 0, 2))  # (J, n, P)
        self.MXX = np.einsum("njt,tp,tq->njpq", self.M, self.X, self.X).reshape(n, J * P * P)
        self.MXY = (self.Y0 @ self.X).reshape(n, J * P)


def _class_terms(d: _Data, beta, tau2, sigma2):
    """Class-conditional log-density (S, n, K) and per-(S, n, K, J) residual sums."""
    S, K, J, _ = beta.shape
    n, T = d.Y0.shape[0], d.X.shape[0]
    mu = (beta @ d.X.T).transpose(2, 3, 0, 1).reshape(J, T, S * K)

    def per_person(A):  # (J, n, T) @ (J, T, S*K) -> (S, n, K, J)
        return (A @ mu).reshape(J, n, S, K).transpose(2, 1, 3, 0)

    def per_person_sq(A):
        return (A @ mu**2).reshape(J, n, S, K).transpose(2, 1, 3, 0)

    sr = d.ysum[None, :, None, :] - per_person(d.M_j)
    ss = d.yy[None, :, None, :] - 2 * per_person(d.Y_j) + per_person_sq(d.M_j)
    s2 = sigma2[:, None]  # (S, 1, K, J)
    t2 = tau2[:, None]
    mm = d.m[None, :, None, :]
    quad = (ss - t2 / (s2 + mm * t2) * sr**2) / s2
    logdet = mm * np.log(s2) + np.log1p(mm * t2 / s2)
    ll = -0.5 * (mm * LOG2PI + logdet + quad)
    return ll.sum(-1), sr, ss


def _log_joint(d: _Data, beta, log_pi, tau2, sigma2):
    ll, sr, ss = _class_terms(d, beta, tau2, sigma2)
    return ll + log_pi[:, None, :], sr, ss


def _m_step(d: _Data, w, sr, tau2, sigma2, shared: bool, ridge=1e-8):
    """One ECM update of (pi, beta, sigma2, tau2) from posteriors ``w`` (S, n, K); variances
    are (S, K, J), pooled over classes when ``shared``."""
    S, n, K = w.shape
    J, P = d.Y0.shape[1], d.X.shape[1]
    s2 = sigma2[:, None]
    mm = d.m[None, :, None, :]
    prec = 1.0 / tau2[:, None] + mm / s2
    bhat = (sr / s2) / prec  # posterior mean of the random intercept, given the class
    v = 1.0 / prec
    pi = np.clip(w.mean(1), 1e-10, None)
    pi /= pi.sum(-1, keepdims=True)
    wt = w.transpose(0, 2, 1)  # (S, K, n)
    A = (wt @ d.MXX).reshape(S, K, J, P, P) + ridge * np.eye(P)
    wb = (w[..., None] * bhat).transpose(3, 0, 2, 1).reshape(J, S * K, n)
    rhs = (wt @ d.MXY).reshape(S, K, J, P) - (wb @ d.MX_j).reshape(J, S, K, P).transpose(
        1, 2, 0, 3
    )
    beta = np.linalg.solve(A, rhs[..., None])[..., 0]
    _, sr_new, ss_new = _class_terms(d, beta, tau2, sigma2)
    resid = ss_new - 2 * bhat * sr_new + mm * bhat**2 + mm * v
    wj = w[..., None]
    axes = (1, 2) if shared else 1
    sigma2_new = (wj * resid).sum(axes) / np.maximum((wj * mm).sum(axes), 1e-9)
    tau2_new = (wj * (bhat**2 + v)).sum(axes) / np.maximum(wj.sum(axes), 1e-9)
    if shared:
        sigma2_new = np.repeat(sigma2_new[:, None], K, axis=1)
        tau2_new = np.repeat(tau2_new[:, None], K, axis=1)
    return np.log(pi), beta, np.maximum(tau2_new, 1e-6), np.maximum(sigma2_new, 1e-6)


def _initial_values(d: _Data, k: int, n_starts: int, rng: np.random.Generator):
    """k-means++ seeds on person trajectories (missing waves filled by week mean + person
    offset), hard-assign everyone to the nearest seed, then one least-squares M-step."""
    obs = d.M > 0
    with np.errstate(invalid="ignore"):
        week_mean = np.nanmean(np.where(obs, d.Y0, np.nan), axis=0)  # (J, T)
    week_mean = np.where(np.isfinite(week_mean), week_mean, np.nanmean(week_mean))
    offset = np.where(obs, d.Y0 - week_mean, 0.0).sum(-1) / np.maximum(d.m, 1.0)
    filled = np.where(obs, d.Y0, week_mean[None] + offset[..., None])
    scale = filled.reshape(len(filled), -1).std(0) + 1e-9
    F = filled.reshape(len(filled), -1) / scale
    n = len(F)
    S, J = n_starts, d.Y0.shape[1]
    w = np.zeros((S, n, k))
    for s in range(S):
        seeds = [rng.integers(n)]
        dist = ((F - F[seeds[0]]) ** 2).sum(1)
        for _ in range(1, k):
            p = dist / dist.sum() if dist.sum() > 0 else np.full(n, 1.0 / n)
            seeds.append(rng.choice(n, p=p))
            dist = np.minimum(dist, ((F - F[seeds[-1]]) ** 2).sum(1))
        centres = F[seeds]
        nearest = ((F[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        w[s, np.arange(n), nearest] = 1.0
    var = np.array([np.nanvar(np.where(obs[:, j], d.Y0[:, j], np.nan)) for j in range(J)])
    var = np.where(np.isfinite(var) & (var > 0), var, 1.0)
    tau2 = np.tile(0.5 * var, (S, k, 1))
    sigma2 = np.tile(0.5 * var, (S, k, 1))
    zero_beta = np.zeros((S, k, J, d.X.shape[1]))
    _, sr, _ = _class_terms(d, zero_beta, tau2, sigma2)
    # With b fixed at zero (tau2 -> tiny) the M-step is plain weighted least squares.
    log_pi, beta, _, _ = _m_step(d, w, sr, np.full_like(tau2, 1e-9), sigma2, True)
    return log_pi, beta, tau2, sigma2


@dataclass
class GrowthMixtureFit:
    """A fitted K-class growth mixture; classes ordered and named by trajectory shape."""

    k: int
    weeks: np.ndarray
    outcomes: list[str]
    shape: str
    knot: float
    beta: np.ndarray  # (K, J, P)
    shares: np.ndarray  # (K,)
    tau2: np.ndarray  # (K, J) random-intercept variances (equal across K when shared)
    sigma2: np.ndarray  # (K, J) residual variances
    shared_variances: bool
    loglik: float
    n: int
    posterior: np.ndarray  # (n, K)
    converged: bool
    n_iter: int
    labels: list[str] = field(default_factory=list)
    share_se: np.ndarray | None = None  # (K,) delta-method (sandwich) standard errors
    mean_se: np.ndarray | None = None  # (K, J, T)
    cov_ok: bool = False

    @property
    def n_params(self) -> int:
        K, J, P = self.beta.shape
        return K * J * P + (K - 1) + 2 * J * (1 if self.shared_variances else K)

    @property
    def bic(self) -> float:
        return -2 * self.loglik + self.n_params * np.log(self.n)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_params

    @property
    def entropy(self) -> float:
        """Relative entropy (1 = perfectly separated classes; 1.0 by convention for K=1)."""
        if self.k == 1:
            return 1.0
        w = np.clip(self.posterior, 1e-300, 1.0)
        return float(1.0 - (-(w * np.log(w)).sum()) / (self.n * np.log(self.k)))

    @property
    def smallest_share(self) -> float:
        return float(self.shares.min())

    @property
    def X(self) -> np.ndarray:
        return design(self.weeks, self.shape, self.knot)

    def means(self) -> np.ndarray:
        """Model-implied class mean trajectories (K, J, T)."""
        return np.einsum("kjp,tp->kjt", self.beta, self.X)

    def assign(self) -> np.ndarray:
        """Modal class index per person."""
        return self.posterior.argmax(1)

    def predict_proba(self, Y: np.ndarray) -> np.ndarray:
        """Posterior class probabilities for new data with the same weeks and outcomes."""
        d = _Data.build(Y, self.X)
        lj, _, _ = _log_joint(
            d, self.beta[None], np.log(self.shares)[None], self.tau2[None], self.sigma2[None]
        )
        return np.exp(lj[0] - logsumexp(lj[0], axis=1, keepdims=True))


def _pack(beta, log_pi, tau2, sigma2, shared):
    eta = log_pi[:-1] - log_pi[-1]
    if shared:
        tau2, sigma2 = tau2[:1], sigma2[:1]
    return np.concatenate([beta.ravel(), eta, np.log(tau2).ravel(), np.log(sigma2).ravel()])


def _unpack(theta, K, J, P, shared):
    """theta (B, p) -> batched parameters."""
    nb = K * J * P
    nv = J if shared else K * J
    beta = theta[:, :nb].reshape(-1, K, J, P)
    eta = np.concatenate([theta[:, nb : nb + K - 1], np.zeros((len(theta), 1))], axis=1)
    log_pi = eta - logsumexp(eta, axis=1, keepdims=True)
    start = nb + K - 1
    shape = (-1, 1 if shared else K, J)
    tau2 = np.exp(theta[:, start : start + nv]).reshape(shape)
    sigma2 = np.exp(theta[:, start + nv :]).reshape(shape)
    return beta, log_pi, np.broadcast_to(tau2, (len(theta), K, J)), np.broadcast_to(
        sigma2, (len(theta), K, J)
    )


def _person_loglik(d: _Data, theta: np.ndarray, K: int, shared: bool, chunk=64) -> np.ndarray:
    """Per-person log-likelihood (B, n) for a batch of parameter vectors."""
    J, P = d.Y0.shape[1], d.X.shape[1]
    out = []
    for start in range(0, len(theta), chunk):
        lj, _, _ = _log_joint(d, *_unpack(theta[start : start + chunk], K, J, P, shared))
        out.append(logsumexp(lj, axis=2))
    return np.concatenate(out)


def _sandwich(d: _Data, theta: np.ndarray, K: int, shared: bool) -> tuple[np.ndarray, bool]:
    """Robust (sandwich) covariance of theta from numerical scores and Hessian."""
    p = len(theta)
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    eye = np.eye(p) * h
    plus_minus = np.concatenate([theta + eye, theta - eye])
    ll = _person_loglik(d, plus_minus, K, shared)
    scores = ((ll[:p] - ll[p:]) / (2 * h[:, None])).T  # (n, p)
    idx = [(a, b) for a in range(p) for b in range(a, p)]
    pts = []
    for a, b in idx:
        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            pts.append(theta + sa * eye[a] + sb * eye[b])
    tot = _person_loglik(d, np.array(pts), K, shared).sum(1).reshape(-1, 4)
    H = np.zeros((p, p))
    for (a, b), f in zip(idx, tot, strict=True):
        H[a, b] = H[b, a] = (f[0] - f[1] - f[2] + f[3]) / (4 * h[a] * h[b])
    info = -H
    eig = np.linalg.eigvalsh(info)
    ok = bool(eig.min() > 1e-8 * max(eig.max(), 1.0))
    inv = np.linalg.pinv(info)
    return inv @ (scores.T @ scores) @ inv, ok


def _shape_labels(means: np.ndarray, weeks: np.ndarray) -> list[str]:
    """Name classes by the first outcome's mean trajectory: the least total improvement is the
    non-responder; among the rest (K >= 3) the largest improvement by the first follow-up is the
    rapid improver; the others are improving (numbered from the second on)."""
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
    n_starts: int = 20,
    max_iter: int = 500,
    tol: float = 1e-7,
    seed: int = 0,
    variances: str = "shared",
    covariance: bool = True,
) -> GrowthMixtureFit:
    """Fit a K-class growth mixture to ``Y`` (n, T) or (n, J, T) with NaN for missing waves.

    All ``n_starts`` random starts run as one vectorised EM; the best log-likelihood wins.
    ``covariance`` adds sandwich standard errors for the class shares and mean trajectories.
    """
    weeks = np.asarray(weeks, dtype=float)
    X = design(weeks, shape, knot)
    d = _Data.build(Y, X)
    n, J, T = d.Y0.shape
    if T != len(weeks):
        raise ValueError(f"Y has {T} waves but {len(weeks)} weeks were given")
    keep = d.m.sum(1) > 0
    if not keep.all():
        raise ValueError(f"{int((~keep).sum())} people have no observed score; drop them first")
    if variances not in ("shared", "class"):
        raise ValueError(f"variances must be 'shared' or 'class', got {variances!r}")
    shared = variances == "shared"
    rng = np.random.default_rng(seed)
    log_pi, beta, tau2, sigma2 = _initial_values(d, k, n_starts, rng)
    prev = np.full(n_starts, -np.inf)
    done = np.zeros(n_starts, dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):
        lj, sr, _ = _log_joint(d, beta, log_pi, tau2, sigma2)
        norm = logsumexp(lj, axis=2, keepdims=True)
        total = norm.sum((1, 2))
        if it == PRUNE_AFTER and len(total) > KEEP_STARTS:
            # Short runs from every start, then only the most promising continue.
            top = np.argsort(-np.nan_to_num(total, nan=-np.inf))[:KEEP_STARTS]
            lj, sr, norm, total, prev, done = (a[top] for a in (lj, sr, norm, total, prev, done))
            log_pi, beta, tau2, sigma2 = (a[top] for a in (log_pi, beta, tau2, sigma2))
        done |= np.abs(total - prev) < tol * np.abs(total)
        if done.all():
            break
        prev = total
        w = np.exp(lj - norm)
        log_pi, beta, tau2, sigma2 = _m_step(d, w, sr, tau2, sigma2, shared)
    lj, _, _ = _log_joint(d, beta, log_pi, tau2, sigma2)
    norm = logsumexp(lj, axis=2, keepdims=True)
    total = norm.sum((1, 2))
    best = int(np.nanargmax(total))
    post = np.exp(lj[best] - norm[best])
    fit = GrowthMixtureFit(
        k=k,
        weeks=weeks,
        outcomes=list(outcomes or [f"y{j}" for j in range(J)]),
        shape=shape,
        knot=knot,
        beta=beta[best],
        shares=np.exp(log_pi[best]),
        tau2=tau2[best],
        sigma2=sigma2[best],
        shared_variances=shared,
        loglik=float(total[best]),
        n=n,
        posterior=post,
        converged=bool(done[best]),
        n_iter=it,
    )
    fit = _order_by_label(fit)
    if covariance:
        add_standard_errors(fit, Y)
    return fit


def add_standard_errors(fit: GrowthMixtureFit, Y: np.ndarray) -> GrowthMixtureFit:
    """Sandwich standard errors of the class shares and mean trajectories (delta method)."""
    d = _Data.build(Y, fit.X)
    K, J, P = fit.beta.shape
    shared = fit.shared_variances
    theta = _pack(fit.beta, np.log(fit.shares), fit.tau2, fit.sigma2, shared)
    cov, ok = _sandwich(d, theta, K, shared)
    nb = K * J * P
    pi = fit.shares
    jac = (np.diag(pi) - np.outer(pi, pi))[:, : K - 1]  # d pi / d eta
    cov_eta = cov[nb : nb + K - 1, nb : nb + K - 1]
    fit.share_se = np.sqrt(np.clip(np.einsum("ka,ab,kb->k", jac, cov_eta, jac), 0, None))
    cov_beta = cov[:nb, :nb].reshape(K, J, P, K, J, P)
    diag = np.einsum("kjpkjq->kjpq", cov_beta)
    fit.mean_se = np.sqrt(np.clip(np.einsum("tp,kjpq,tq->kjt", fit.X, diag, fit.X), 0, None))
    fit.cov_ok = ok
    return fit


def _order_by_label(fit: GrowthMixtureFit) -> GrowthMixtureFit:
    labels = _shape_labels(fit.means(), fit.weeks)
    order = sorted(range(fit.k), key=lambda k: labels[k])
    fit.labels = [labels[k] for k in order]
    fit.beta = fit.beta[order]
    fit.shares = fit.shares[order]
    fit.tau2 = fit.tau2[order]
    fit.sigma2 = fit.sigma2[order]
    fit.posterior = fit.posterior[:, order]
    return fit


def select_k(
    fits: list[GrowthMixtureFit], min_share: float = 0.05
) -> tuple[GrowthMixtureFit, list[dict]]:
    """Pick the lowest-BIC model among those whose smallest class holds at least
    ``min_share`` of people (K=1 always qualifies); returns it and one summary row per K."""
    eligible = [f for f in fits if f.k == 1 or (f.smallest_share >= min_share)]
    chosen = min(eligible, key=lambda f: f.bic)
    rows = [
        {
            "k": f.k,
            "loglik": f.loglik,
            "n_params": f.n_params,
            "bic": f.bic,
            "aic": f.aic,
            "entropy": f.entropy,
            "smallest_share": f.smallest_share,
            "converged": f.converged,
            "chosen": f is chosen,
        }
        for f in fits
    ]
    return chosen, rows
