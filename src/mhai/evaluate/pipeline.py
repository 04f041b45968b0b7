"""The evaluation stage's steps, one function per workflow rule (scripts only call these).

- :func:`run_generation`: held-out posts -> ``responses.parquet``;
- :func:`run_scoring`: responses -> ``dimensions.csv`` and ``linguistics.csv``;
- :func:`run_comparison`: win rates, per-system summary, figures, W&B;
- :func:`run_rating_export`: the blinded ``rating_sheet.csv`` and its private key;
- :func:`run_rating_import`: filled sheets -> agreement, human win rates, DPO2 pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mhai.evaluate import rating_sheet as sheets
from mhai.evaluate.dimensions import score_dimensions
from mhai.evaluate.generate_responses import generate_responses, select_posts
from mhai.evaluate.linguistics import cosine_similarities, linguistics
from mhai.evaluate.pairwise import pairwise_win_rates
from mhai.evaluate.scorers import DIMENSIONS
from mhai.evaluate.summary import system_summary
from mhai.evaluate.tables import read_csv, write_csv
from mhai.schemas import read_jsonl, read_parquet, write_jsonl, write_parquet

log = logging.getLogger(__name__)

ID_DTYPES = {"response_id": str, "post_id": str, "thread_id": str, "system": str}
LINGUISTIC_COLUMNS = [
    "accommodation",
    "semantic_similarity",
    "distinct_1",
    "distinct_2",
    "mtld",
    "length_words",
    "length_sentences",
]


def run_generation(
    pairs_path: str | Path,
    models: Mapping[str, str | Path],
    out_path: str | Path,
    cfg: Mapping[str, Any],
    seed: int,
    base_dir: str | Path,
) -> pd.DataFrame:
    """Generate every system's responses to ``cfg['n_posts']`` held-out posts."""
    rows = read_jsonl(pairs_path)
    posts = select_posts(rows, cfg["n_posts"], seed, source=str(pairs_path))
    log.info("%d held-out posts from %s", len(posts), pairs_path)
    gen = cfg["generation"]
    responses = generate_responses(
        posts,
        models,
        max_new_tokens=gen["max_new_tokens"],
        seed=seed,
        batch_size=gen["batch_size"],
        do_sample=gen["do_sample"],
        temperature=gen["temperature"],
        backend=gen["backend"],
        base_dir=base_dir,
    )
    write_parquet(responses, out_path, "evaluate/responses")
    return responses


def run_scoring(
    responses_path: str | Path,
    embedder_dir: str | Path,
    classifier_dir: str | Path | None,
    dimensions_path: str | Path,
    linguistics_path: str | Path,
    cfg: Mapping[str, Any],
    judge_default: str | Path,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every response on the five dimensions and the linguistic measures."""
    from mhai.evaluate.risk import pass1_risk
    from mhai.models import load_embedder

    responses = read_parquet(responses_path, "evaluate/responses")
    posts, replies = list(responses["post"]), list(responses["response"])
    log.info("embedding %d posts and replies", len(replies))
    similarity = cosine_similarities(load_embedder(embedder_dir), posts, replies)
    risk = None
    if classifier_dir:
        log.info("pass-1 risk of %d replies with %s", len(replies), classifier_dir)
        risk = pass1_risk(replies, classifier_dir)
    scoring = cfg["scoring"]
    scores = score_dimensions(
        responses,
        similarities=similarity,
        risk_scores=risk,
        backend=scoring["backend"],
        judge_model=str(scoring["judge_model"] or judge_default),
        judge_batch_size=scoring["judge_batch_size"],
        min_words=scoring["min_words"],
        top_k=scoring["top_k_post_words"],
    )
    measures = linguistics(posts, replies, similarity)
    measures.insert(0, "system", responses["system"].to_numpy())
    measures.insert(0, "post_id", responses["post_id"].to_numpy())
    measures.insert(0, "response_id", responses["response_id"].to_numpy())
    write_csv(scores, dimensions_path, "dimensions")
    write_csv(measures, linguistics_path, "linguistics")
    return scores, measures


def run_comparison(
    dimensions_path: str | Path,
    linguistics_path: str | Path,
    responses_path: str | Path,
    win_rates_path: str | Path,
    summary_path: str | Path,
    cfg: Mapping[str, Any],
    config: Mapping[str, Any],
    seed: int,
    human_win_rates_path: str | Path | None = None,
) -> pd.DataFrame:
    """Pairwise win rates, per-system summary, one figure per dimension, W&B logging.

    With ``human_win_rates_path`` (imported ratings) the figures show those win rates too.
    """
    from mhai.evaluate.figures import dimension_figure, linguistics_figure
    from mhai.tracking import stage_run

    scores = read_csv(dimensions_path, "dimensions", dtype=ID_DTYPES)
    measures = read_csv(linguistics_path, "linguistics", dtype=ID_DTYPES)
    responses = read_parquet(responses_path, "evaluate/responses")
    boot = cfg["bootstrap"]
    rates = pairwise_win_rates(
        scores, cfg["pairs"], DIMENSIONS, n_resamples=boot["n_resamples"], ci=boot["ci"], seed=seed
    )
    write_csv(rates, win_rates_path, "win_rates")
    summary = pd.concat(
        [
            system_summary(scores, DIMENSIONS),
            system_summary(measures, LINGUISTIC_COLUMNS, responses),
        ],
        ignore_index=True,
    )
    Path(summary_path).parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(summary_path, index=False)
    shown = rates
    if human_win_rates_path:
        shown = pd.concat([rates, read_csv(human_win_rates_path, "win_rates")], ignore_index=True)
    with stage_run("evaluate", dict(config), name="compare") as run:
        for dimension in DIMENSIONS:
            run.save_figure(dimension_figure(scores, shown, dimension), dimension)
        run.save_figure(linguistics_figure(measures), "linguistics")
        means = summary.pivot_table(index="system", columns="measure", values="mean")
        run.log_metrics({s: means.loc[s].dropna().to_dict() for s in means.index})
        run.log_table("win_rates", rates)
        run.log_table("summary", summary)
    return rates


def run_rating_export(
    responses_path: str | Path,
    sheet_path: str | Path,
    key_path: str | Path,
    pairs: Sequence[Sequence[str]],
    seed: int,
) -> pd.DataFrame:
    """Write the blinded sheet and its private key."""
    responses = read_parquet(responses_path, "evaluate/responses")
    sheet, key = sheets.export_rating_sheet(responses, pairs, seed)
    Path(sheet_path).parent.mkdir(parents=True, exist_ok=True)
    sheet.to_csv(sheet_path, index=False)
    write_csv(key, key_path, "rating_key")
    log.info("rating sheet: %d items over pairs %s", len(sheet), [list(p) for p in pairs])
    return sheet


def run_rating_import(
    sheet_paths: Sequence[str | Path],
    key_path: str | Path,
    outputs: Mapping[str, str | Path],
    cfg: Mapping[str, Any],
    config: Mapping[str, Any],
    seed: int,
) -> dict[str, pd.DataFrame]:
    """Agreement, human win rates, DPO2 pairs and a dropped-rows table from filled sheets.

    ``outputs`` names the paths ``agreement``, ``win_rates``, ``dpo2_pairs`` and ``drops``.
    """
    from mhai.tracking import stage_run

    human = cfg["human"]
    key = read_csv(key_path, "rating_key", dtype=str, keep_default_na=False)
    ratings, dropped = sheets.read_filled_sheets(sheet_paths, key)
    if ratings.empty:
        raise sheets.RatingSheetError(f"{', '.join(map(str, sheet_paths))}: no ratings found")
    unblinded = sheets.unblind(ratings, key)
    alpha = sheets.agreement(ratings, level=human["alpha_level"])
    boot = cfg["bootstrap"]
    pairs = human["rating_pairs"]
    rates = sheets.human_win_rates(
        unblinded, pairs, n_resamples=boot["n_resamples"], ci=boot["ci"], seed=seed
    )
    dpo2 = sheets.dpo2_pairs(
        unblinded,
        key,
        pairs,
        min_margin=human["dpo2_min_margin"],
        eval_share=human["dpo2_eval_share"],
        seed=seed,
    )
    for path in outputs.values():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    alpha.to_csv(outputs["agreement"], index=False)
    write_csv(rates, outputs["win_rates"], "win_rates")
    write_jsonl(dpo2, outputs["dpo2_pairs"], "data/dpo_gm")
    dropped.to_csv(outputs["drops"], index=False)
    log.info(
        "%d ratings by %d raters (%d unrated rows dropped); %d DPO2 pairs",
        len(ratings),
        ratings["rater"].nunique(),
        len(dropped),
        len(dpo2),
    )
    with stage_run("evaluate", dict(config), name="human") as run:
        run.log_metrics({"alpha": dict(zip(alpha["dimension"], alpha["alpha"], strict=True))})
        run.log_metrics({"n_ratings": len(ratings), "n_dpo2_pairs": len(dpo2)})
        run.log_table("human_win_rates", rates)
    return {"agreement": alpha, "win_rates": rates, "ratings": unblinded}
