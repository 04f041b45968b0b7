"""Accommodation, diversity and similarity match values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mhai.evaluate import linguistics as ling


def test_accommodation_matches_hand_computation():
    # post: i am sad and i cry (6 words): personal pronouns 2/6, auxiliaries 1/6, conjunctions 1/6
    # reply: you are not alone (4 words): personal pronouns 1/4, auxiliaries 1/4, negations 1/4
    eps = 0.0001
    ppron = 1 - abs(100 * 2 / 6 - 25) / (100 * 2 / 6 + 25 + eps)
    aux = 1 - abs(100 / 6 - 25) / (100 / 6 + 25 + eps)
    conj = 1 - (100 / 6) / (100 / 6 + eps)
    neg = 1 - 25 / (25 + eps)
    expected = (ppron + aux + conj + neg + 5 * 1.0) / 9  # five categories absent from both
    assert ling.accommodation("I am sad and I cry.", "You are not alone.") == pytest.approx(
        expected, abs=1e-9
    )
    assert expected == pytest.approx(0.73968, abs=1e-5)


def test_accommodation_is_one_for_identical_style_and_nan_for_empty():
    assert ling.accommodation("I am here for you.", "I am here for you.") == pytest.approx(1.0)
    assert math.isnan(ling.accommodation("I am sad.", ""))


def test_contractions_count_in_both_categories():
    rates = ling.category_rates(["i", "am", "not"])
    assert rates["personal_pronouns"] == pytest.approx(100 / 3)
    assert rates["auxiliary_verbs"] == pytest.approx(100 / 3)
    assert rates["negations"] == pytest.approx(100 / 3)


def test_distinct_n_matches_hand_counts():
    text = "the cat the cat sat"
    assert ling.distinct_n(text, 1) == pytest.approx(3 / 5)
    assert ling.distinct_n(text, 2) == pytest.approx(3 / 4)
    assert math.isnan(ling.distinct_n("alone", 2))
    assert ling.corpus_distinct(["the cat", "the cat"], 2) == pytest.approx(1 / 2)


def test_mtld_matches_hand_computation():
    # forward a b a|b c d: one full factor (TTR 2/3 <= 0.72), remainder TTR 1 adds 0 -> 6 / 1
    # backward d c b a b a: TTR falls to 4/6 at the last token -> one factor -> 6 / 1
    assert ling.mtld(["a", "b", "a", "b", "c", "d"]) == pytest.approx(6.0)
    # forward a a|b c: 4 / 1; backward c b a a: no full factor, remainder TTR 3/4 gives
    # (1 - 0.75) / (1 - 0.72) = 0.892857 factors -> 4 / 0.892857 = 4.48; mean 4.24
    assert ling.mtld(["a", "a", "b", "c"]) == pytest.approx((4 + 4 / (0.25 / 0.28)) / 2)
    assert ling.mtld(["a", "a", "b", "c"]) == pytest.approx(4.24)


def test_mtld_is_nan_without_factors_and_lower_for_repetitive_text():
    assert math.isnan(ling.mtld(["all", "different", "words"]))
    assert math.isnan(ling.mtld(""))
    varied = "we walked along the river and talked about books music friends and old jobs"
    repetitive = "it is bad it is bad it is so bad it is bad and it is bad"
    assert ling.mtld(varied) > ling.mtld(repetitive)


class _FakeEmbedder:
    """Maps each text to a fixed unit vector by its first letter."""

    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [np.sqrt(0.5), np.sqrt(0.5)]}

    def encode(self, texts, **kwargs):
        assert kwargs["normalize_embeddings"]
        return np.array([self.vectors[t[0]] for t in texts])


def test_cosine_similarities_embed_each_text_once_and_skip_empty_replies():
    sims = ling.cosine_similarities(_FakeEmbedder(), ["a post", "a post", "b post"], ["a", "c", ""])
    assert sims[0] == pytest.approx(1.0)
    assert sims[1] == pytest.approx(np.sqrt(0.5))
    assert math.isnan(sims[2])


def test_linguistics_table_has_one_row_per_reply():
    table = ling.linguistics(["I am sad.", "I am sad."], ["You are not alone.", ""], [0.5, np.nan])
    assert list(table["length_words"]) == [4, 0]
    assert table.loc[0, "semantic_similarity"] == 0.5
    assert math.isnan(table.loc[1, "accommodation"])
