"""The safety stage's steps as functions (each workflow script calls one of them).

``cfg`` is always the ``safety`` section of the config; ``config`` the whole config (for
tracking). Paths are plain arguments so each step runs outside Snakemake too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mhai.safety.classifier import (
    CALIBRATION_FILE,
    EMBEDDING_DIR,
    Pass1Classifier,
    embed_corpus,
    fit_classifier,
    pick_threshold,
)
from mhai.safety.corpus import add_data_stage, generate_corpus, load_ood_posts, training_units
from mhai.safety.distill import distill_encoder, distillation_sentences
from mhai.safety.encoder import SentenceEncoder
from mhai.safety.finetune import finetune_encoder
from mhai.safety.verifier import build_pairs, calibrate_thresholds, load_drafts, train_finetuned
from mhai.schemas import read_parquet, write_parquet

log = logging.getLogger(__name__)
CORPUS_SCHEMA = "safety/corpus"


def build_corpus(
    cfg: dict[str, Any], seed: int, out: Path, data_stage: Path | None
) -> pd.DataFrame:
    """Generate the labelled corpus (plus the data stage's messages if given) and save it."""
    ccfg = cfg["corpus"]
    corpus = generate_corpus(ccfg["n_per_category"], seed, ccfg["splits"])
    if data_stage is not None:
        corpus = add_data_stage(corpus, data_stage)
    counts = corpus.groupby(["split", "label"]).size().to_dict()
    log.info("safety corpus: %d messages; (split, label) counts %s", len(corpus), counts)
    write_parquet(corpus, out, CORPUS_SCHEMA)
    return corpus


CALIBRATION_SPLITS = ("train", "calib")  # pass 1's cross-fitted splits; test stays unseen


def pass1_tables(
    corpus: pd.DataFrame, cfg: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What pass 1 is fitted on and calibrated on: ``(units, messages)``.

    Both have ``text, label, category, family`` (family ``<category>:<theme>/<index>``).
    Units are single sentences (:func:`training_units`: core sentences of the ``train`` and
    ``calib`` templates plus the everyday context sentences) and the data stage's rows if the
    corpus has them (no family: in every fold); messages are the whole generated messages of
    the same splits, scored across template folds by :func:`fit_classifier`.
    """
    ccfg = cfg["classifier"]
    units = training_units(seed, cfg["corpus"]["splits"], ccfg["fills"], CALIBRATION_SPLITS)
    units = units.rename(columns={"target": "category"})
    units["family"] = (units["category"] + ":" + units["family"]).where(units["family"].notna())
    extra = corpus[corpus["source"] == "data_stage"].assign(family=None)
    generated = corpus[(corpus["source"] == "generated") & corpus["split"].isin(CALIBRATION_SPLITS)]
    messages = generated.assign(family=generated["category"] + ":" + generated["family"])
    columns = ["text", "label", "category", "family"]
    units = pd.concat([units[columns], extra[columns]], ignore_index=True)
    return units, messages[columns].reset_index(drop=True)


def distill_stage(
    corpus_path: Path,
    data_messages: Path,
    teacher_dir: Path,
    out_dir: Path,
    cfg: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Distil pass 1's encoder (see :mod:`mhai.safety.distill`) on sentences outside the
    held-out test split: all of the corpus's training units and train/calib messages, then
    the data stage's messages (``data_messages``) of its training split up to the cap."""
    corpus = read_parquet(corpus_path, CORPUS_SCHEMA)
    ccfg = cfg["classifier"]
    units, messages = pass1_tables(corpus, cfg, seed)
    stage = pd.read_parquet(data_messages, columns=["text", "split"])
    sentences = distillation_sentences(
        [*units["text"], *messages["text"]],
        stage.loc[stage["split"] == "train", "text"],
        ccfg["distill"]["max_sentences"],
        seed,
    )
    log.info("distilling the encoder on %d sentences", len(sentences))
    return distill_encoder(
        teacher_dir, out_dir, sentences, ccfg["distill"], ccfg["max_tokens"], seed
    )


def train_pass1(
    corpus_path: Path, embedding_dir: Path, out_dir: Path, cfg: dict[str, Any], seed: int
) -> Pass1Classifier:
    """(Adapt the encoder,) embed the training sentences, fit and calibrate pass 1, save."""
    corpus = read_parquet(corpus_path, CORPUS_SCHEMA)
    ccfg = cfg["classifier"]
    ft = ccfg["finetune"]
    units, messages = pass1_tables(corpus, cfg, seed)
    if ft["epochs"] > 0:
        log.info("adapting the encoder on %d training sentences", len(units))
        embedding_dir = finetune_encoder(
            embedding_dir,
            out_dir / EMBEDDING_DIR,
            units.rename(columns={"category": "target"}),
            ft["epochs"],
            ft["learning_rate"],
            ft["batch_size"],
            ccfg["max_tokens"],
            seed,
        )
    encoder = SentenceEncoder(embedding_dir, ccfg["max_tokens"], ccfg["quantize"], ccfg["split"])
    log.info(
        "pass 1: %d training sentences, %d calibration messages in %d template folds",
        len(units),
        len(messages),
        cfg["calibration"]["folds"],
    )
    unit_embeddings = encoder.encode_each(units["text"].tolist(), progress=True)
    message_embeddings = encoder.encode_each(messages["text"].tolist(), progress=True)
    clf, calibration = fit_classifier(
        units, unit_embeddings, messages, message_embeddings, encoder, cfg, seed
    )
    clf.save(out_dir, calibration)
    log.info(
        "pass 1: threshold %.4f; cross-fitted recall %.3f, FPR %.3f",
        clf.threshold,
        clf.meta["calib_recall"],
        clf.meta["calib_fpr"],
    )
    return clf


def train_pass2(
    corpus_path: Path, model_dir: Path, out_dir: Path, cfg: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Fit the fine-tuned verifier head on (message, draft) pairs; save it to ``out_dir``."""
    corpus = read_parquet(corpus_path, CORPUS_SCHEMA)
    corpus = corpus[corpus["source"] == "generated"]
    vcfg = cfg["verifier"]
    clf = Pass1Classifier.load(model_dir)
    pairs = build_pairs(corpus, seed, vcfg["drafts_per_message"])
    messages = list(dict.fromkeys(pairs["message"]))
    drafts = [d for d in dict.fromkeys(pairs["draft"]) if d]
    message_emb = dict(zip(messages, embed_corpus(clf.encoder, messages), strict=True))
    draft_emb = dict(zip(drafts, embed_corpus(clf.encoder, drafts), strict=True))
    verifier = train_finetuned(pairs, message_emb, draft_emb, clf.encoder, vcfg["C"], seed)
    calib = pairs[pairs["split"] == "calib"]
    empty = (calib["draft"] == "").to_numpy()
    probs = verifier.probs_batch(
        np.stack([message_emb[m] for m in calib["message"]]),
        np.stack([draft_emb.get(d, np.zeros(clf.encoder.dim)) for d in calib["draft"]]),
        empty,
    )
    thresholds, accuracy = calibrate_thresholds(
        probs, calib["decision"].to_numpy(), vcfg["max_unsafe_allow"]
    )
    verifier.thresholds = thresholds
    meta = {
        "train_pairs": int((pairs["split"] == "train").sum()),
        "calib_pairs": len(calib),
        "calib_accuracy": accuracy,
        "thresholds": thresholds,
        "draft_types": sorted(load_drafts()),
        "C": vcfg["C"],
    }
    rel = Path("..") / model_dir.name / "embedding"
    verifier.save(out_dir, str(rel), meta)
    log.info("pass 2 (fine-tuned): calibration-split accuracy %.3f", meta["calib_accuracy"])
    return meta


def score_check_posts(clf: Pass1Classifier) -> pd.DataFrame:
    """Pass-1 scores of the free-form check posts (never used for fitting)."""
    posts = load_ood_posts()
    return posts.assign(score=clf.score_texts(posts["text"].tolist()))


def save_json(data: dict[str, Any], path: Path) -> None:
    """Write pretty JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=float))


def _drafts_like_gm(seed: int) -> list[str]:
    """Non-harmful draft replies (what a reasonable GM writes) for the traffic simulation."""
    import random

    from mhai.safety.corpus import fill, load_templates

    rng = random.Random(seed)
    slots = load_templates()["slots"]
    types = load_drafts()
    return [
        fill(t, rng, slots)
        for name in ("safe_referral", "supportive_generic")
        for t in types[name]["templates"]
    ]


def evaluate_stage(
    corpus_path: Path,
    safety_dir: Path,
    outputs: dict[str, Path],
    config: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Held-out metrics, session traffic through both passes, figures; returns metrics.

    ``outputs`` names ``metrics``, ``evaluation``, ``categories`` (CSV), ``turns``
    (Parquet-free CSV of simulated turns) and ``review_queue`` (JSONL).
    """
    from mhai.safety.evaluate import (
        binary_metrics,
        calibration_figure,
        category_figure,
        per_category,
        pr_figure,
        run_sessions,
        simulate_sessions,
        verifier_metrics,
    )
    from mhai.safety.guardrail import Guardrail
    from mhai.safety.verifier import FinetunedVerifier
    from mhai.tracking import stage_run

    cfg = config["safety"]
    ecfg = cfg["evaluation"]
    corpus = read_parquet(corpus_path, CORPUS_SCHEMA)
    test = corpus[(corpus["split"] == "test") & (corpus["source"] == "generated")]
    queue = Path(outputs["review_queue"])
    queue.unlink(missing_ok=True)
    guard = Guardrail.load(safety_dir, config, review_queue=queue)
    clf = guard.classifier
    scores = clf.score_texts(test["text"].tolist(), progress=True)
    labels = test["label"].to_numpy()
    held_out = binary_metrics(scores, labels, clf.threshold)
    readable = ~clf.unreadable_mask(test["text"])
    scored = test.assign(score=scores)
    per_cat = per_category(scored, clf.threshold)
    sessions = simulate_sessions(
        test, ecfg["sessions"], ecfg["turns"], ecfg["risk_session_share"], seed
    )
    turns = run_sessions(guard, sessions, _drafts_like_gm(seed), seed)
    flagged_turns = turns[turns["flagged"]]
    latency = {
        "pass1_p50": float(np.percentile(turns["pass1_ms"], 50)),
        "pass1_p95": float(np.percentile(turns["pass1_ms"], 95)),
        "pass2_p50": float(np.percentile(flagged_turns["pass2_ms"], 50))
        if len(flagged_turns)
        else 0.0,
        "pass2_p95": float(np.percentile(flagged_turns["pass2_ms"], 95))
        if len(flagged_turns)
        else 0.0,
    }
    metrics = {
        "threshold": clf.threshold,
        "recall": held_out["recall"],
        "precision": held_out["precision"],
        "fpr": held_out["fpr"],
        "recall_at_fpr_1pct": held_out["recall_at_fpr_1pct"],
        "per_category": per_cat,
        "latency_ms": latency,
        "pass2_share": float(turns["flagged"].mean()),
    }
    per_session = turns.groupby("session_id").agg(
        risk=("risk_session", "first"), flagged=("flagged", "any"), escalated=("escalated", "any")
    )
    calibration = json.loads((safety_dir / "model" / CALIBRATION_FILE).read_text())
    cross_fitted = pd.DataFrame(calibration["table"])
    points = []
    for target in (0.8, 0.9, 0.95, 0.98, 0.99):
        threshold = pick_threshold(cross_fitted, target)
        at = binary_metrics(scores, labels, threshold)
        points.append(
            {
                "target_recall": target,
                "threshold": threshold,
                "recall": at["recall"],
                "fpr": at["fpr"],
            }
        )
    check = score_check_posts(clf)
    check_metrics = binary_metrics(
        check["score"].to_numpy(), check["label"].to_numpy(), clf.threshold
    )
    evaluation = {
        "held_out": held_out,
        # without the messages the language gate sends to pass 2 (they always score 1)
        "held_out_readable": {
            "messages": int(readable.sum()),
            **binary_metrics(scores[readable], labels[readable], clf.threshold),
        },
        "test_messages": len(test),
        "cross_fitted": {k: clf.meta[k] for k in ("calib_recall", "calib_fpr", "folds")},
        "groups": {
            g: float((d["score"] >= clf.threshold).mean()) for g, d in scored.groupby("group")
        },
        "sessions": {
            "n": len(per_session),
            "risk_sessions_flagged": float(per_session[per_session["risk"]]["flagged"].mean()),
            "benign_sessions_flagged": float(per_session[~per_session["risk"]]["flagged"].mean()),
            "escalated_share": float(per_session["escalated"].mean()),
            "pass2_actions": flagged_turns["action"].value_counts().to_dict(),
            "review_queue_sessions": len(guard.review_queue.sessions()),
            "flagged_sessions": int(per_session["flagged"].sum()),
        },
        "check_posts": {
            k: check_metrics[k] for k in ("recall", "fpr", "roc_auc", "tp", "fn", "fp", "tn")
        },
        "operating_points": points,
    }
    if isinstance(guard.verifier, FinetunedVerifier):
        evaluation["verifier"] = verifier_metrics(guard.verifier, corpus, cfg, seed)
    save_json(metrics, Path(outputs["metrics"]))
    save_json(evaluation, Path(outputs["evaluation"]))
    table = pd.DataFrame([{"category": k, **v} for k, v in per_cat.items()])
    table.to_csv(outputs["categories"], index=False)
    turns.to_csv(outputs["turns"], index=False)
    check.to_csv(outputs["check_posts"], index=False)
    with stage_run("safety", config, name="evaluate") as run:
        run.log_metrics({k: v for k, v in metrics.items() if k != "per_category"})
        run.log_metrics({"f1": held_out["f1"], "pr_auc": held_out["pr_auc"]})
        run.log_table("per_category", table.drop(columns=["recall", "fpr"], errors="ignore"))
        run.save_figure(pr_figure(scores, labels, clf.threshold, held_out), "pr_curve")
        run.save_figure(
            calibration_figure(scores, labels, cfg["calibration"]["bins"]), "calibration"
        )
        run.save_figure(category_figure(per_cat), "per_category")
    log.info(
        "held-out: recall %.3f precision %.3f FPR %.3f; pass-2 share %.3f; pass-1 p95 %.1f ms",
        metrics["recall"],
        metrics["precision"],
        metrics["fpr"],
        metrics["pass2_share"],
        latency["pass1_p95"],
    )
    return metrics


def stress_stage(safety_dir: Path, gm_dir: Path, outputs: dict[str, Path], config, seed: int):
    """Moore-style stress test through GM + guardrail; writes the tables and the figure."""
    from mhai.models import load_causal_lm, load_tokenizer
    from mhai.safety.guardrail import Guardrail
    from mhai.safety.judges import make_judge
    from mhai.safety.stress import run_stress_test, stress_figure
    from mhai.tracking import stage_run

    scfg = config["safety"]["stress"]
    Path(outputs["review_queue"]).unlink(missing_ok=True)
    guard = Guardrail.load(safety_dir, config, review_queue=Path(outputs["review_queue"]))
    judge = make_judge(scfg["judge"], scfg.get("judge_model"))
    model, tokenizer = load_causal_lm(gm_dir, device="auto"), load_tokenizer(gm_dir)
    details, summary = run_stress_test(guard, model, tokenizer, judge, scfg, seed)
    summary.to_csv(outputs["summary"], index=False)
    details.to_csv(outputs["details"], index=False)
    with stage_run("safety", config, name="stress_test") as run:
        run.log_table("stress_test", summary)
        run.save_figure(stress_figure(summary), "stress_test")
    return summary


def personas_stage(safety_dir: Path, gm_dir: Path, outputs: dict[str, Path], config, seed: int):
    """VERA-MH-style persona conversations; writes ratings, transcripts and the figure."""
    from mhai.models import load_causal_lm, load_tokenizer
    from mhai.safety.guardrail import Guardrail
    from mhai.safety.personas import personas_figure, run_personas
    from mhai.tracking import stage_run

    pcfg = config["safety"]["personas"]
    Path(outputs["review_queue"]).unlink(missing_ok=True)
    guard = Guardrail.load(safety_dir, config, review_queue=Path(outputs["review_queue"]))
    model, tokenizer = load_causal_lm(gm_dir, device="auto"), load_tokenizer(gm_dir)
    ratings, transcripts = run_personas(guard, model, tokenizer, pcfg, seed)
    ratings.to_csv(outputs["ratings"], index=False)
    transcripts.to_csv(outputs["transcripts"], index=False)
    with stage_run("safety", config, name="personas") as run:
        run.log_table("personas", ratings)
        run.save_figure(personas_figure(ratings), "personas")
    return ratings
