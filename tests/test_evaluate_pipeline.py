"""The stage's steps end to end on a small responses table (real MiniLM for similarity)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mhai.config import load_config
from mhai.evaluate import pipeline
from mhai.schemas import write_parquet

REPLIES = {
    "dpo": "I'm so sorry you feel so alone since the move. How are you feeling on weekends? "
    "Try joining one club this week.",
    "sft": "Moving is hard. You could join a club.",
    "base": "Loneliness is a common experience.",
    "im": "Moving away can feel really lonely. It might help to call an old friend tonight.",
    "human": "Same here, it took me a year. Join a club.",
    "draft": "just get over it",
}


@pytest.fixture()
def stage_inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = []
    for i in range(4):
        post = f"I moved to a new city {i} months ago and I feel alone every weekend."
        for system, reply in REPLIES.items():
            prompt = f"improve: {reply}" if system == "im" else post
            rows.append(
                {
                    "response_id": f"p{i}:{system}",
                    "post_id": f"p{i}",
                    "thread_id": f"t{i}",
                    "subreddit": "test",
                    "system": system,
                    "post": post,
                    "prompt": prompt,
                    "response": reply,
                    "source": "test",
                }
            )
    responses = tmp_path / "responses.parquet"
    write_parquet(pd.DataFrame(rows), responses, "evaluate/responses")
    config = load_config()
    config["tracking"]["mode"] = "disabled"
    config["evaluate"]["bootstrap"]["n_resamples"] = 200
    return responses, config


@pytest.mark.slow
def test_score_compare_and_rating_export(stage_inputs, tmp_path):
    from mhai.models import resolve

    responses, config = stage_inputs
    cfg = config["evaluate"]
    embedder = resolve(config["models"]["embedding"]).path
    scores, measures = pipeline.run_scoring(
        responses, embedder, None, "dimensions.csv", "linguistics.csv", cfg, judge_default="unused"
    )
    by_system = scores.groupby("system")[["empathy", "actionability", "safety"]].mean()
    assert by_system.loc["dpo", "empathy"] > by_system.loc["base", "empathy"]
    assert by_system.loc["dpo", "actionability"] > by_system.loc["base", "actionability"]
    assert by_system.loc["draft", "safety"] < by_system.loc["im", "safety"]
    assert measures["semantic_similarity"].between(-1, 1).all()

    rates = pipeline.run_comparison(
        "dimensions.csv",
        "linguistics.csv",
        responses,
        "win_rates.csv",
        "summary.csv",
        cfg,
        config,
        seed=0,
    )
    dpo_base = rates.set_index(["system_a", "system_b", "dimension"]).loc[
        ("dpo", "base", "empathy")
    ]
    assert dpo_base["win_rate"] == 1.0 and dpo_base["n"] == 4
    for name in ["readability", "empathy", "connectedness", "actionability", "safety"]:
        assert (tmp_path / f"results/figures/evaluate_{name}.png").stat().st_size > 0
    assert (tmp_path / "results/figures/evaluate_linguistics.svg").exists()
    summary = pd.read_csv("summary.csv")
    assert {"corpus_distinct_1", "mtld", "empathy"} <= set(summary["measure"])

    sheet = pipeline.run_rating_export(
        responses, "rating_sheet.csv", "rating_key.csv", cfg["human"]["rating_pairs"], seed=1
    )
    assert len(sheet) == 4 * len(cfg["human"]["rating_pairs"])


def test_rating_import_writes_agreement_win_rates_and_dpo2_pairs(stage_inputs, repo, tmp_path):
    _, config = stage_inputs
    outputs = {
        "agreement": tmp_path / "agreement.csv",
        "win_rates": tmp_path / "human_win_rates.csv",
        "dpo2_pairs": tmp_path / "dpo2_pairs.jsonl",
        "drops": tmp_path / "ratings.drops.csv",
    }
    example = repo / "tests/data/evaluate"
    pipeline.run_rating_import(
        [example / "ratings_filled.csv"],
        example / "rating_key.csv",
        outputs,
        config["evaluate"],
        config,
        seed=0,
    )
    lines = outputs["dpo2_pairs"].read_text().splitlines()
    assert len(lines) == 9
    first = json.loads(lines[0])
    assert set(first) == {
        "id",
        "thread_id",
        "split",
        "subreddit",
        "prompt",
        "chosen",
        "rejected",
        "score_chosen",
        "score_rejected",
    }
    assert pd.read_csv(outputs["drops"]).shape[0] == 1
    agreement = pd.read_csv(outputs["agreement"])
    assert list(agreement["dimension"])[-1] == "all"


def test_pass1_risk_uses_the_saved_classifier_and_skips_empty_replies(monkeypatch):
    """The adapter loads ``results/safety/model`` once and scores only non-empty replies
    (the real classifier runs in the workflow test)."""
    from mhai.evaluate.risk import pass1_risk
    from mhai.safety.classifier import Pass1Classifier

    loaded = []

    class _Scorer:
        def score_texts(self, texts, progress=False):
            return [len(t) / 100 for t in texts]

    def fake_load(model_dir):
        loaded.append(model_dir)
        return _Scorer()

    monkeypatch.setattr(Pass1Classifier, "load", staticmethod(fake_load))
    risk = pass1_risk(["I'm here for you.", "", "  ", "Call 988."], "model_dir")
    assert loaded == ["model_dir"]
    assert risk == [pytest.approx(0.17), 0.0, 0.0, pytest.approx(0.09)]
    assert pass1_risk(["", ""], "unused") == [0.0, 0.0] and loaded == ["model_dir"]
