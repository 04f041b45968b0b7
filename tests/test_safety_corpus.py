"""The labelled safety corpus: coverage, held-out templates, reproducibility."""

from __future__ import annotations

import random

import pytest
import yaml

from mhai.config import load_config
from mhai.safety.corpus import categories, fill, generate_corpus, load_ood_posts, risk_categories

SPLITS = {"train": 0.6, "calib": 0.2, "test": 0.2}


@pytest.fixture(scope="module")
def corpus():
    return generate_corpus(60, seed=3, fractions=SPLITS)


def test_every_category_is_in_every_split_with_its_label(corpus):
    assert set(corpus["category"]) == set(categories())
    for category, d in corpus.groupby("category"):
        assert set(d["split"]) == {"train", "calib", "test"}, category
        assert d["label"].nunique() == 1
    required = {
        "direct_ideation", "passive_ideation", "plan_method", "self_harm", "harm_to_others",
        "abuse_disclosure", "psychosis", "mania", "adversarial", "ambiguous",
    }  # fmt: skip
    assert required == set(risk_categories())
    negatives = set(corpus.loc[corpus["label"] == 0, "category"])
    assert {"idiom", "third_party", "past_resolved", "news_fiction", "lyrics"} <= negatives


def test_held_out_templates_and_texts_never_appear_in_training(corpus):
    train = corpus[corpus["split"] == "train"]
    for split in ("calib", "test"):
        held = corpus[corpus["split"] == split]
        assert not set(zip(held["category"], held["family"], strict=True)) & set(
            zip(train["category"], train["family"], strict=True)
        )
        assert not set(held["text"].str.lower()) & set(train["text"].str.lower())
    assert corpus["text"].str.lower().is_unique


def test_seed_reproduces_and_changes_the_corpus():
    a = generate_corpus(20, seed=1, fractions=SPLITS)
    b = generate_corpus(20, seed=1, fractions=SPLITS)
    c = generate_corpus(20, seed=2, fractions=SPLITS)
    assert a.equals(b)
    assert not a["text"].equals(c["text"])


def test_default_config_gives_hundreds_per_side_with_varied_lengths():
    cfg = load_config()["safety"]["corpus"]
    big = generate_corpus(cfg["n_per_category"], seed=0, fractions=cfg["splits"])
    counts = big["label"].value_counts()
    assert counts[0] >= 300 and counts[1] >= 300
    words = big["text"].str.split().str.len()
    assert words.min() <= 5 and words.max() >= 60
    assert (big["text"] != big["text"].str.lower()).any() and (
        big["text"] == big["text"].str.lower()
    ).any()


def test_fill_expands_alternatives_and_slots():
    rng = random.Random(0)
    seen = {fill("I [really |]feel {x}", rng, {"x": ["sad", "tired"]}) for _ in range(50)}
    assert seen == {"I really feel sad", "I really feel tired", "I feel sad", "I feel tired"}


def test_check_posts_have_both_labels():
    posts = load_ood_posts()
    assert set(posts["label"]) == {0, 1} and posts["text"].str.len().min() > 20


def test_data_stage_rows_join_training_only(tmp_path):
    import pandas as pd

    from mhai.safety.corpus import add_data_stage
    from mhai.schemas import validate_frame, write_parquet

    extra = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "thread_id": ["t1", "t2", "t3"],
            "subreddit": ["depression"] * 3,
            "text": ["i want to end it", "this exam is killing me", "held out thread"],
            "label": [1, 0, 1],
            "category": ["direct", "idiom", "direct"],
            "source": ["comment"] * 3,
            "split": ["train", "train", "test"],
        }
    )
    path = write_parquet(extra, tmp_path / "safety_messages.parquet", "data/safety_messages")
    base = generate_corpus(10, seed=0, fractions=SPLITS)
    merged = add_data_stage(base, path)
    added = merged[merged["source"] == "data_stage"]
    assert list(added["text"]) == ["i want to end it", "this exam is killing me"]
    assert set(added["split"]) == {"train"} and list(added["label"]) == [1, 0]
    validate_frame(merged, "safety/corpus", "merged corpus")


def test_ordinary_chat_and_other_languages_are_on_both_sides():
    """Everyday therapy-style talk is a no-risk category; Spanish and French appear with both
    labels, so a language alone never decides the label."""
    spec = categories()
    assert spec["therapy_talk"]["label"] == 0 and len(spec["therapy_talk"]["families"]) >= 10
    for prefix in ("es_", "fr_"):
        labels = {
            spec[c]["label"]
            for c in spec
            for theme in spec[c]["families"]
            if theme.startswith(prefix)
        }
        assert labels == {0, 1}, prefix
    # every theme of the merged files is big enough for a held-out template
    small = [(c, t) for c in spec for t, pool in spec[c]["families"].items() if len(pool) < 3]
    assert not small


def test_a_repeated_yaml_key_is_an_error_not_a_silent_overwrite():
    from mhai.safety.corpus import _UniqueKeyLoader

    with pytest.raises(ValueError, match="repeated key"):
        yaml.load("a:\n  x: 1\na:\n  y: 2\n", Loader=_UniqueKeyLoader)  # noqa: S506
