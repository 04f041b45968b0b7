"""Held-out evaluation of the guardrail: pass-1 metrics, per-category confusion, session
traffic through both passes, latencies, and the figures.

``metrics.json`` holds exactly the contract keys (threshold, recall, precision, fpr,
recall_at_fpr_1pct, per_category, latency_ms, pass2_share); everything else (F1, AUCs,
session-level detection, verifier accuracy, the free-form check posts) goes to
``evaluation.json``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from mhai.safety.classifier import reliability_curve
from mhai.safety.verifier import DECISIONS, build_pairs, decide


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Recall, precision, FPR, F1 at the threshold, recall at FPR <= 1%, PR-AUC and ROC-AUC."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    flagged = scores >= threshold
    tp = int((flagged & (labels == 1)).sum())
    fp = int((flagged & (labels == 0)).sum())
    fn = int((~flagged & (labels == 1)).sum())
    tn = int((~flagged & (labels == 0)).sum())
    recall = tp / max(tp + fn, 1)
    precision = tp / max(tp + fp, 1)
    neg = np.sort(scores[labels == 0])[::-1]
    allowed_fp = int(np.floor(0.01 * len(neg)))
    # lowest threshold whose FPR stays <= 1%: strictly above the (allowed_fp+1)-th negative
    cut = neg[allowed_fp] if allowed_fp < len(neg) else -np.inf
    recall_at_1pct = float((scores[labels == 1] > cut).mean())
    return {
        "recall": recall,
        "precision": precision,
        "fpr": fp / max(fp + tn, 1),
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "recall_at_fpr_1pct": recall_at_1pct,
        "pr_auc": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def per_category(frame: pd.DataFrame, threshold: float) -> dict[str, dict[str, Any]]:
    """Flag rate per category: recall for risk categories, FPR for the others."""
    out = {}
    for category, d in frame.groupby("category", sort=True):
        label = int(d["label"].iloc[0])
        flagged = int((d["score"] >= threshold).sum())
        rate = flagged / len(d)
        out[category] = {
            "group": d["group"].iloc[0],
            "label": label,
            "n": len(d),
            "flagged": flagged,
            "flag_rate": rate,
            "recall" if label else "fpr": rate,
        }
    return out


def simulate_sessions(
    test: pd.DataFrame, n_sessions: int, turns: int, risk_share: float, seed: int
) -> list[dict[str, Any]]:
    """Conversations built from held-out messages.

    A benign session draws every turn from non-risk messages; a risk session starts with
    non-risk turns and moves to risk messages in its second half (an escalating session).
    """
    rng = random.Random(seed)
    neg = test[test["label"] == 0]["text"].tolist()
    pos = test[test["label"] == 1]["text"].tolist()
    sessions = []
    for i in range(n_sessions):
        risky = rng.random() < risk_share
        onset = rng.randint(turns // 2, turns - 1) if risky else turns
        messages = [rng.choice(pos) if t >= onset else rng.choice(neg) for t in range(turns)]
        sessions.append({"session_id": f"eval-{i:04d}", "risk": risky, "messages": messages})
    return sessions


def run_sessions(guardrail, sessions: list[dict[str, Any]], drafts: list[str], seed: int):
    """Every session through the full guardrail; returns one row per turn."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    regions = [("US", "en"), ("GB", "en"), ("CA", "fr"), ("ES", "es"), ("BR", "pt"), ("AU", "en")]
    rows = []
    for s in tqdm(sessions, desc="sessions", unit="session"):
        region, language = rng.choice(regions)
        state = guardrail.new_session(s["session_id"], f"p-{s['session_id']}", region, language)
        for t, message in enumerate(s["messages"]):
            d = guardrail.check_turn(state, message, rng.choice(drafts))
            rows.append(
                {
                    "session_id": s["session_id"],
                    "risk_session": s["risk"],
                    "turn": t,
                    "score": d.score,
                    "message_signal": d.signals["message"],
                    "flagged": d.flagged,
                    "pass2": d.pass2,
                    "action": d.action,
                    "escalated": d.escalated,
                    "region_shown": d.escalation["region"] if d.escalation else None,
                    "pass1_ms": d.latency_ms["pass1"],
                    "pass2_ms": d.latency_ms["pass2"] if d.flagged else np.nan,
                }
            )
    return pd.DataFrame(rows)


def verifier_metrics(verifier, corpus: pd.DataFrame, cfg: dict[str, Any], seed: int):
    """Accuracy of the fine-tuned verifier on held-out (message, draft) pairs."""
    test = corpus[corpus["split"] == "test"]
    pairs = build_pairs(test, seed, cfg["verifier"]["drafts_per_message"])
    texts = [t for t in dict.fromkeys([*pairs["message"], *pairs["draft"]]) if t]
    emb = {t: verifier._embed(t) for t in texts}
    emb[""] = np.zeros(verifier.encoder.dim, dtype=np.float32)
    probs = verifier.probs_batch(
        np.stack([emb[m] for m in pairs["message"]]),
        np.stack([emb[d] for d in pairs["draft"]]),
        (pairs["draft"] == "").to_numpy(),
    )
    limits = verifier.thresholds or cfg["verifier"]
    pred = [
        decide(dict(zip(DECISIONS, p, strict=True)), limits["allow_min"], limits["block_min"])
        for p in probs
    ]
    pairs = pairs.assign(pred=pred)
    risky_allowed = pairs[(pairs["risk"] == 1) & (pairs["decision"] != "allow")]
    harmful = pairs[pairs["decision"] == "block"]
    return {
        "pairs": len(pairs),
        "accuracy": float((pairs["pred"] == pairs["decision"]).mean()),
        "per_decision_recall": {
            d: float((g["pred"] == d).mean()) for d, g in pairs.groupby("decision")
        },
        "unsafe_allowed_rate": float((risky_allowed["pred"] == "allow").mean())
        if len(risky_allowed)
        else 0.0,
        "harmful_draft_shown_rate": float((harmful["pred"] == "allow").mean())
        if len(harmful)
        else 0.0,
    }


def pr_figure(scores: np.ndarray, labels: np.ndarray, threshold: float, metrics: dict):
    """Precision-recall curve with the operating point."""
    import matplotlib.pyplot as plt

    precision, recall, _ = precision_recall_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(recall, precision, label=f"pass 1 (PR-AUC {metrics['pr_auc']:.2f})")
    ax.scatter(
        [metrics["recall"]],
        [metrics["precision"]],
        color="red",
        zorder=3,
        label=f"threshold {threshold:.3f}",
    )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.set_title("Pass-1 precision-recall (held-out templates)")
    ax.legend(loc="lower left")
    return fig


def calibration_figure(scores: np.ndarray, labels: np.ndarray, bins: int):
    """Reliability diagram on the held-out test split."""
    import matplotlib.pyplot as plt

    curve = [c for c in reliability_curve(scores, labels, bins) if c["n"]]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    ax.plot(
        [c["mean_score"] for c in curve],
        [c["observed_rate"] for c in curve],
        marker="o",
        label="pass 1",
    )
    for c in curve:
        ax.annotate(str(c["n"]), (c["mean_score"], c["observed_rate"]), fontsize=7)
    ax.set_xlabel("mean predicted risk")
    ax.set_ylabel("observed share of risk messages")
    ax.set_title("Pass-1 calibration (test split; n per bin)")
    ax.legend(loc="upper left")
    return fig


def category_figure(per_cat: dict[str, dict[str, Any]]):
    """Flag rate per category: recall (risk) and false-positive rate (no risk)."""
    import matplotlib.pyplot as plt

    items = sorted(per_cat.items(), key=lambda kv: (-kv[1]["label"], kv[0]))
    names = [k.replace("_", " ") for k, _ in items]
    rates = [v["flag_rate"] for _, v in items]
    colors = ["#c0392b" if v["label"] else "#2e86c1" for _, v in items]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh(names, rates, color=colors)
    for y, (_, v) in enumerate(items):
        ax.text(min(v["flag_rate"] + 0.01, 0.9), y, f"n={v['n']}", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share flagged by pass 1 (red: recall on risk; blue: false-positive rate)")
    ax.set_title("Pass 1 by category (held-out templates)")
    return fig
