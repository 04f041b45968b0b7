"""Pass 1: a recall-first risk classifier on sentence embeddings, aware of the session.

A logistic regression on MiniLM embeddings scores every sentence of a message, and the
message score is the riskiest sentence's (so one risk sentence is not averaged away by the
everyday sentences around it). It is trained on single sentences: the core sentences of the
training templates, labelled with their category, and the everyday context sentences as a
no-risk class. By default it is multinomial over these *categories* (each risk and no-risk
category is a coherent region of embedding space, which one binary hyperplane separates
poorly); the risk score is the total probability of the risk categories, Platt-scaled on
whole messages (see below) so scores are probabilities. The guardrail combines three
layered signals:

- ``message``: the calibrated score of the current message;
- ``history``: a decayed maximum of the previous ``window`` message scores (a crisis two turns
  ago still matters when the user now writes "ok");
- ``escalation``: the rise of a least-squares line through the recent scores (a conversation
  drifting upwards, even when every single message stays under the threshold), counted only
  once the current message reaches ``escalation_floor`` (so noise among low everyday scores
  never adds up to a flag).

``combined = clip(max(message, history_weight * history) + escalation_weight * escalation)``.
Platt scaling and the threshold are cross-fitted: the templates of the ``train`` and ``calib``
splits are cut into folds, and every message of those splits is scored by a head fitted
without its template, so calibration sees many unseen templates, as deployment does; the
final head is then fitted on all of them. The threshold is the cheapest one (expected cost
with a configurable miss-to-false-alarm cost ratio at a deployment prevalence) among those
whose recall reaches the target. Every embedding goes through the guardrail's per-message
path, so calibrated scores are the scores it computes. The encoder reads English only: a
message with a sentence in another language (:mod:`mhai.safety.language`) scores 1 and goes
to pass 2 instead of passing unread. Everything is saved as JSON (no pickles) next to a
copy of the embedding model, so ``mhai safety score --model DIR`` needs nothing else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta

from mhai.safety.encoder import SentenceEncoder, pool_max
from mhai.safety.language import unreadable

MODEL_FILE = "classifier.json"
CALIBRATION_FILE = "calibration.json"
EMBEDDING_DIR = "embedding"


@dataclass(frozen=True)
class SessionParams:
    """How message, history and escalation signals combine (see the module docstring)."""

    window: int = 5
    decay: float = 0.7
    history_weight: float = 0.5
    escalation_weight: float = 0.8
    escalation_floor: float = 0.0


def session_signals(
    previous: Sequence[float], message: float, params: SessionParams
) -> dict[str, float]:
    """The layered pass-1 signals of one turn given the earlier message scores of the session."""
    recent = [float(s) for s in previous][-params.window :] if params.window > 0 else []
    history = max(
        (params.decay**lag * s for lag, s in enumerate(reversed(recent))),
        default=0.0,
    )
    series = np.asarray([*recent, float(message)])
    escalation = 0.0
    if len(series) >= 3 and float(message) >= params.escalation_floor:
        x = np.arange(len(series), dtype=float)
        slope = float(np.polyfit(x, series, 1)[0])
        escalation = float(np.clip(slope * (len(series) - 1), 0.0, 1.0))
    combined = max(float(message), params.history_weight * history)
    combined = float(np.clip(combined + params.escalation_weight * escalation, 0.0, 1.0))
    return {
        "message": float(message),
        "history": float(history),
        "escalation": escalation,
        "combined": combined,
    }


def recall_lower_bound(hits: np.ndarray, n: int, confidence: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound of a proportion (0 confidence: the point value)."""
    hits = np.asarray(hits, dtype=float)
    if confidence <= 0 or n == 0:
        return hits / max(n, 1)
    bound = beta.ppf(1.0 - confidence, hits, n - hits + 1)
    return np.where(hits > 0, np.nan_to_num(bound), 0.0)


def cluster_recall_lower_bound(
    scores: np.ndarray,
    groups: np.ndarray,
    candidates: np.ndarray,
    confidence: float,
    seed: int = 0,
    resamples: int = 400,
) -> np.ndarray:
    """Lower bound of recall at each candidate threshold, by a cluster bootstrap.

    Risk messages of one template family succeed or fail together, so messages are not
    independent and a binomial bound is too narrow: resample whole families (``groups``)
    with replacement and take the ``1 - confidence`` quantile of recall at each threshold.
    ``scores`` and ``groups`` are those of the risk messages only.
    """
    names, group = np.unique(groups, return_inverse=True)
    # hits[g, t]: messages of family g scoring at least candidate t
    hits = np.zeros((len(names), len(candidates)))
    for g in range(len(names)):
        member = np.sort(scores[group == g])
        hits[g] = len(member) - np.searchsorted(member, candidates, side="left")
    sizes = np.bincount(group, minlength=len(names)).astype(float)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(names), np.full(len(names), 1 / len(names)), resamples)
    recall = (weights @ hits) / np.maximum(weights @ sizes, 1)[:, None]
    return np.quantile(recall, 1.0 - confidence, axis=0)


def threshold_table(
    scores: np.ndarray,
    labels: np.ndarray,
    cost_ratio: float,
    prevalence: float,
    confidence: float = 0.0,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """Recall, FPR and expected cost for every candidate threshold (flag when score >= t).

    Expected cost per message = ``cost_ratio * prevalence * (1 - recall) +
    (1 - prevalence) * fpr``, so the class balance of the calibration data does not matter.
    ``recall_lower`` is the recall's lower bound at ``confidence``: a cluster bootstrap over
    ``groups`` (template families) if given, else a Clopper-Pearson bound.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("threshold calibration needs both risk and non-risk messages")
    candidates = np.unique(scores)[::-1]
    pos = np.sort(scores[labels == 1])
    neg = np.sort(scores[labels == 0])
    tp = n_pos - np.searchsorted(pos, candidates, side="left")
    fp = n_neg - np.searchsorted(neg, candidates, side="left")
    recall = tp / n_pos
    fpr = fp / n_neg
    cost = cost_ratio * prevalence * (1 - recall) + (1 - prevalence) * fpr
    if groups is not None and confidence > 0:
        risky = labels == 1
        lower = cluster_recall_lower_bound(
            scores[risky], np.asarray(groups)[risky], candidates, confidence
        )
    else:
        lower = recall_lower_bound(tp, n_pos, confidence)
    return pd.DataFrame(
        {
            "threshold": candidates,
            "recall": recall,
            "recall_lower": lower,
            "fpr": fpr,
            "precision": tp / np.maximum(tp + fp, 1),
            "expected_cost": cost,
        }
    )


def choose_threshold(
    scores: np.ndarray,
    labels: np.ndarray,
    target_recall: float,
    cost_ratio: float,
    prevalence: float,
    confidence: float = 0.0,
    groups: np.ndarray | None = None,
) -> tuple[float, pd.DataFrame]:
    """The threshold of least expected cost among those reaching ``target_recall``.

    With ``confidence > 0`` the recall that must reach the target is a one-sided lower
    bound (see :func:`threshold_table`), which guards against optimistic calibration data.
    Ties go to the higher threshold (fewer false alarms). Returns (threshold, table).
    """
    table = threshold_table(scores, labels, cost_ratio, prevalence, confidence, groups)
    return pick_threshold(table, target_recall), table


def pick_threshold(table: pd.DataFrame, target_recall: float) -> float:
    """The least-cost threshold of a :func:`threshold_table` whose (bounded) recall reaches
    ``target_recall``; when none does, the highest one that flags every risk message."""
    feasible = table[table["recall_lower"] >= target_recall]
    if feasible.empty:  # the target is out of reach: flag everything a risk message scored
        feasible = table[table["recall"] >= 1.0]
    best = feasible.sort_values(["expected_cost", "threshold"], ascending=[True, False]).iloc[0]
    return float(best["threshold"])


def reliability_curve(scores: np.ndarray, labels: np.ndarray, bins: int) -> list[dict[str, Any]]:
    """Observed risk rate per score bin (for the calibration plot)."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    curve = []
    for b in range(bins):
        mask = which == b
        curve.append(
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "n": int(mask.sum()),
                "mean_score": float(scores[mask].mean()) if mask.any() else None,
                "observed_rate": float(labels[mask].mean()) if mask.any() else None,
            }
        )
    return curve


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class Pass1Classifier:
    """Calibrated message scorer plus the session-signal combination and threshold."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        coef: np.ndarray,
        intercept: np.ndarray,
        risk_classes: np.ndarray,
        platt: tuple[float, float],
        threshold: float,
        session: SessionParams,
        classes: list[str] | None = None,
        meta: dict[str, Any] | None = None,
        min_english_ratio: float = 0.0,
    ):
        self.encoder = encoder
        self.coef = np.atleast_2d(np.asarray(coef, dtype=np.float32))
        self.intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float32))
        self.risk_classes = np.asarray(risk_classes, dtype=bool)
        if not (len(self.coef) == len(self.intercept) == len(self.risk_classes) >= 2):
            raise ValueError("pass-1 classifier needs one weight row per class (at least two)")
        self.classes = list(classes or range(len(self.coef)))
        self.platt = (float(platt[0]), float(platt[1]))
        self.threshold = float(threshold)
        self.session = session
        self.meta = dict(meta or {})
        self.min_english_ratio = float(min_english_ratio)

    def raw_logit(self, embeddings: np.ndarray) -> np.ndarray:
        """Log-odds of the risk classes' total probability under the category softmax."""
        z = embeddings @ self.coef.T + self.intercept
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        risk = np.clip(p[:, self.risk_classes].sum(axis=1), 1e-7, 1 - 1e-7)
        return np.log(risk / (1 - risk))

    def _prob(self, embeddings: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt[0] * self.raw_logit(embeddings) + self.platt[1])

    def score_embeddings(self, embeddings: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
        """Message scores from chunk embeddings (the maximum over each message's chunks)."""
        return pool_max(self._prob(embeddings), owner, n)

    def unreadable(self, text: str) -> bool:
        """Whether ``text`` has a sentence the encoder cannot read (it then scores 1)."""
        return unreadable(self.encoder.chunks(text), self.min_english_ratio)

    def unreadable_mask(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`unreadable` of each text, as a boolean array."""
        return np.array([self.unreadable(t) for t in texts], dtype=bool)

    def score_texts(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Calibrated risk score of each text (no session context), as ``score_message``."""
        texts = list(texts)
        embeddings, owner = self.encoder.encode_each(texts, progress=progress)
        scores = self.score_embeddings(embeddings, owner, len(texts))
        scores[self.unreadable_mask(texts)] = 1.0
        return scores

    def score_message(self, text: str) -> float:
        """Calibrated risk score of one message (the guardrail's per-turn path)."""
        if self.unreadable(text):
            return 1.0
        return float(self._prob(self.encoder.encode_one(text)).max())

    def signals(self, previous: Sequence[float], message_score: float) -> dict[str, float]:
        """Session-aware signals (message, history, escalation, combined)."""
        return session_signals(previous, message_score, self.session)

    def save(self, out_dir: str | Path, calibration: dict[str, Any] | None = None) -> Path:
        """Write ``classifier.json`` (+ ``calibration.json``) and a copy of the embedding model."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        embedding_copy = out_dir / EMBEDDING_DIR
        if self.encoder.model_dir.resolve() != embedding_copy.resolve():
            shutil.copytree(self.encoder.model_dir, embedding_copy, dirs_exist_ok=True)
        document = {
            "kind": "mhai.safety.pass1",
            "embedding": {
                "dir": EMBEDDING_DIR,
                "max_tokens": self.encoder.max_tokens,
                "quantize": self.encoder.quantize,
                "split": getattr(self.encoder, "split", "length"),
            },
            "classes": [str(c) for c in self.classes],
            "risk_classes": [bool(r) for r in self.risk_classes],
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "platt": list(self.platt),
            "threshold": self.threshold,
            "min_english_ratio": self.min_english_ratio,
            "session": asdict(self.session),
            "meta": self.meta,
        }
        (out_dir / MODEL_FILE).write_text(json.dumps(document, indent=1))
        if calibration is not None:
            (out_dir / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=1))
        return out_dir

    @classmethod
    def load(cls, model_dir: str | Path, encoder: SentenceEncoder | None = None):
        """Load a saved classifier; errors name the folder and what is missing."""
        model_dir = Path(model_dir)
        path = model_dir / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{model_dir}: no pass-1 classifier here ({MODEL_FILE} missing); "
                "run the workflow's safety_train_classifier rule first"
            )
        document = json.loads(path.read_text())
        if document.get("kind") != "mhai.safety.pass1":
            raise ValueError(f"{path}: not a pass-1 classifier file")
        emb = document["embedding"]
        if encoder is None:
            encoder = SentenceEncoder(
                model_dir / emb["dir"],
                max_tokens=emb["max_tokens"],
                quantize=emb["quantize"],
                split=emb.get("split", "length"),
            )
        return cls(
            encoder,
            np.asarray(document["coef"]),
            np.asarray(document["intercept"]),
            np.asarray(document["risk_classes"]),
            tuple(document["platt"]),
            document["threshold"],
            SessionParams(**document["session"]),
            classes=document["classes"],
            meta=document.get("meta"),
            min_english_ratio=document.get("min_english_ratio", 0.0),
        )


def embed_corpus(encoder: SentenceEncoder, texts: Sequence[str], progress: bool = True):
    """One embedding per text for training: the renormalised mean of its chunk embeddings."""
    texts = list(texts)
    embeddings, owner = encoder.encode(texts, progress=progress)
    sums = np.zeros((len(texts), embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, owner, embeddings)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def template_folds(families: pd.Series, k: int, seed: int) -> np.ndarray:
    """Fold (0..k-1) of each row by its template family; rows without a family get -1."""
    names = np.array(sorted(families.dropna().unique()))
    np.random.default_rng(seed).shuffle(names)
    fold_of = {name: i % k for i, name in enumerate(names)}
    return families.map(fold_of).fillna(-1).astype(int).to_numpy()


def _fit_head(embeddings, owner, targets, rows, C: float, seed: int):
    """Category softmax head on the chunks of ``rows``: ``(coef, intercept, classes)``."""
    from sklearn.linear_model import LogisticRegression

    chunk = np.isin(owner, rows)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    model.fit(embeddings[chunk], targets[owner[chunk]])
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn stores one row for two classes: a softmax pair
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    return coef, intercept, [str(c) for c in model.classes_]


def fit_classifier(
    units: pd.DataFrame,
    unit_embeddings: tuple[np.ndarray, np.ndarray],
    messages: pd.DataFrame,
    message_embeddings: tuple[np.ndarray, np.ndarray],
    encoder: SentenceEncoder,
    cfg: dict[str, Any],
    seed: int,
) -> tuple[Pass1Classifier, dict[str, Any]]:
    """Fit the head on ``units``; Platt-scale and pick the threshold on cross-fitted scores.

    ``units`` (``text, label, category, family``) are the training examples, ideally single
    sentences; ``messages`` (``text, label, family``) are whole messages of the same template
    families. Each ``*_embeddings`` is ``(chunk embeddings, owner row)``. A unit without a
    family (shared context sentences, the data stage's rows) is in every fold's training set.
    With ``calibration.folds`` = k, the message scores come from k heads, each fitted without
    the message's template family; the final head is fitted on every unit. ``cfg`` is the
    ``safety`` section. Returns the classifier and the calibration record (threshold table,
    reliability curve, cross-fitted recall and FPR).
    """
    from sklearn.linear_model import LogisticRegression

    ccfg, cal = cfg["classifier"], cfg["calibration"]
    unit_emb, unit_owner = unit_embeddings
    message_emb, message_owner = message_embeddings
    target = units["category"] if ccfg["target"] == "category" else units["label"]
    target = target.astype(str).to_numpy()
    risky = set(target[units["label"].to_numpy() == 1])
    session = SessionParams(**ccfg["session"])
    gate = ccfg["min_english_ratio"]

    def head(rows: np.ndarray) -> Pass1Classifier:
        coef, intercept, classes = _fit_head(unit_emb, unit_owner, target, rows, ccfg["C"], seed)
        risk = np.array([c in risky for c in classes])
        return Pass1Classifier(
            encoder, coef, intercept, risk, (1.0, 0.0), 0.5, session,
            classes=classes, min_english_ratio=gate,
        )  # fmt: skip

    folds = cal["folds"]
    families = pd.concat([units["family"], messages["family"]], ignore_index=True)
    fold = template_folds(families, folds, seed)
    unit_fold, message_fold = fold[: len(units)], fold[len(units) :]
    if (message_fold < 0).any():
        raise ValueError("every calibration message needs a template family")
    logits = np.empty(len(messages))
    for k in range(folds):
        rows = np.flatnonzero(message_fold == k)
        chunk = np.isin(message_owner, rows)
        fold_head = head(np.flatnonzero(unit_fold != k))
        position = np.searchsorted(rows, message_owner[chunk])
        logits[rows] = pool_max(fold_head.raw_logit(message_emb[chunk]), position, len(rows))
    y = messages["label"].to_numpy().astype(int)
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(logits[:, None], y)
    clf = head(np.arange(len(units)))
    clf.platt = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    scores = _sigmoid(clf.platt[0] * logits + clf.platt[1])
    scores[clf.unreadable_mask(messages["text"])] = 1.0  # as deployed
    threshold, table = choose_threshold(
        scores,
        y,
        target_recall=cal["target_recall"],
        cost_ratio=cal["cost_ratio"],
        prevalence=cal["prevalence"],
        confidence=cal["recall_confidence"],
        groups=messages["family"].to_numpy(),
    )
    clf.threshold = threshold
    at = table[table["threshold"] == threshold].iloc[0]
    clf.meta = {
        "train_examples": len(units),
        "calib_messages": len(messages),
        "folds": folds,
        "target_recall": cal["target_recall"],
        "cost_ratio": cal["cost_ratio"],
        "prevalence": cal["prevalence"],
        "recall_confidence": cal["recall_confidence"],
        "calib_recall": float(at["recall"]),
        "calib_fpr": float(at["fpr"]),
        "C": ccfg["C"],
        "target": ccfg["target"],
    }
    calibration = {
        "threshold": threshold,
        "reliability": reliability_curve(scores, y, cal["bins"]),
        "table": table.to_dict(orient="list"),
        "messages": {"score": scores.tolist(), "label": y.tolist()},  # cross-fitted
    }
    return clf, calibration
