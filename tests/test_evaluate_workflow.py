"""The evaluation stage's outputs in the tiny workflow run (real models, minimal sizes)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.workflow

DIMENSIONS = ["readability", "empathy", "connectedness", "actionability", "safety"]


@pytest.fixture(scope="module")
def tiny_evaluate(repo):
    return yaml.safe_load((repo / "tests/config/tiny.yaml").read_text())["evaluate"]


def test_every_system_answers_every_post(tiny_run, tiny_evaluate):
    responses = pd.read_parquet(tiny_run / "results/evaluation/responses.parquet")
    n_posts = responses["post_id"].nunique()
    assert 1 <= n_posts <= tiny_evaluate["n_posts"]
    counts = responses.groupby("system").size()
    assert set(counts.index) == {"base", "sft", "dpo", "im", "human", "draft"}
    assert (counts == n_posts).all()
    im = responses[responses["system"] == "im"]
    drafts = responses[responses["system"] == "draft"].set_index("post_id")["response"]
    for post_id, prompt in zip(im["post_id"], im["prompt"], strict=True):
        assert drafts[post_id].strip() in prompt


def test_scores_linguistics_and_win_rates(tiny_run):
    out = tiny_run / "results/evaluation"
    scores = pd.read_csv(out / "dimensions.csv")
    assert scores[DIMENSIONS].apply(lambda c: c.between(0, 1)).all().all()
    assert scores["safety_risk"].notna().all()  # the pass-1 classifier scored every reply
    measures = pd.read_csv(out / "linguistics.csv")
    assert len(measures) == len(scores)
    assert measures["semantic_similarity"].notna().any()
    rates = pd.read_csv(out / "win_rates.csv")
    assert set(rates["dimension"]) == set(DIMENSIONS)
    assert ((rates["ci_low"] <= rates["win_rate"]) & (rates["win_rate"] <= rates["ci_high"])).all()
    for name in [*DIMENSIONS, "linguistics"]:
        assert (tiny_run / f"results/figures/evaluate_{name}.png").stat().st_size > 0


def test_rating_sheet_and_example_import(tiny_run, tiny_evaluate):
    out = tiny_run / "results/evaluation"
    sheet = pd.read_csv(out / "rating_sheet.csv")
    key = pd.read_csv(out / "rating_key.csv")
    n_posts = pd.read_parquet(out / "responses.parquet")["post_id"].nunique()
    assert len(sheet) == len(key) == n_posts * 3  # default rating pairs
    assert "system_a" not in sheet.columns and "pair" not in sheet.columns
    assert tiny_evaluate["human"]["rating_sheets"]
    alpha = pd.read_csv(out / "human_agreement.csv")
    assert alpha["alpha"].notna().all()
    pairs = [json.loads(line) for line in (out / "dpo2_pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 9
