"""Response generation for every system and the LLM-judge backend, with tiny random models."""

from __future__ import annotations

import numpy as np
import pytest

from mhai.evaluate.generate_responses import SYSTEMS, generate_responses, select_posts
from mhai.evaluate.judge import LLMJudge

POSTS = ["I feel alone since I moved.", "Exams are crushing me and I can't focus."]


def _pair_row(i: int, split: str = "test", thread: str | None = None) -> dict:
    return {
        "id": f"row{i}",
        "thread_id": thread or f"t{i}",
        "split": split,
        "subreddit": "lonely",
        "prompt": [{"role": "user", "content": POSTS[i % 2]}],
        "chosen": [{"role": "assistant", "content": f"good reply {i}"}],
        "rejected": [{"role": "assistant", "content": f"weak draft {i}"}],
        "score_chosen": 10,
        "score_rejected": 1,
    }


@pytest.fixture(scope="module")
def tiny_dirs(base_tokenizer_dir, tmp_path_factory):
    """A tiny merged model folder and a LoRA adapter folder on it."""
    from peft import LoraConfig, get_peft_model

    from mhai.models import load_tokenizer, tiny_causal_lm

    tokenizer = load_tokenizer(base_tokenizer_dir)
    root = tmp_path_factory.mktemp("tiny_models")
    model = tiny_causal_lm(tokenizer)
    model.save_pretrained(root / "merged")
    tokenizer.save_pretrained(root / "merged")
    lora = get_peft_model(
        tiny_causal_lm(tokenizer, seed=1), LoraConfig(r=2, target_modules="all-linear")
    )
    lora.save_pretrained(root / "adapter")
    return root / "merged", root / "adapter"


def test_select_posts_takes_test_split_one_per_thread_seeded():
    rows = [_pair_row(i) for i in range(6)] + [_pair_row(9, split="train")]
    rows.append(_pair_row(7, thread="t0"))  # second row of thread t0
    chosen = select_posts(rows, 3, seed=1)
    assert len(chosen) == 3 and {p["thread_id"] for p in chosen} <= {f"t{i}" for i in range(6)}
    assert chosen == select_posts(rows, 3, seed=1)
    assert select_posts(rows, 3, seed=2) != chosen or len(rows) < 4
    assert chosen[0]["draft"].startswith("weak draft")


def test_select_posts_errors_name_file_row_and_field():
    bad = _pair_row(0)
    bad["chosen"] = "not a list"
    with pytest.raises(ValueError, match=r"pairs.jsonl: row 'row0': field 'chosen'"):
        select_posts([bad], 1, seed=0, source="pairs.jsonl")
    with pytest.raises(ValueError, match="no rows with split 'test'"):
        select_posts([_pair_row(0, split="train")], 1, seed=0)


def test_generate_responses_covers_every_system_and_is_repeatable(tiny_dirs):
    merged, adapter = tiny_dirs
    posts = select_posts([_pair_row(i) for i in range(2)], 2, seed=0)
    models = {"base": merged, "sft": adapter, "dpo": merged, "im": merged}
    kwargs = {"max_new_tokens": 3, "seed": 4, "batch_size": 2, "base_dir": merged}
    table = generate_responses(posts, models, **kwargs)
    assert len(table) == 2 * len(SYSTEMS) and set(table["system"]) == set(SYSTEMS)
    im = table[table["system"] == "im"]
    assert all("weak draft" in p and "Draft reply" in p for p in im["prompt"])
    human = table[table["system"] == "human"].sort_values("post_id")
    assert list(human["response"]) == ["good reply 0", "good reply 1"]
    assert table["response_id"].is_unique and (table["subreddit"] == "lonely").all()
    again = generate_responses(posts, models, **kwargs)
    assert list(again["response"]) == list(table["response"])
    with pytest.raises(ValueError, match=r"system\(s\) \['im'\]"):
        generate_responses(posts, {k: v for k, v in models.items() if k != "im"}, **kwargs)


def test_vllm_backend_gets_full_model_folders(tiny_dirs, monkeypatch):
    import mhai.train.generate as gen

    merged, adapter = tiny_dirs
    seen = []

    def fake_generate(model, tokenizer, conversations, **kwargs):
        assert kwargs["backend"] == "vllm"
        seen.append((model / "config.json").exists())
        return ["reply"] * len(conversations)

    monkeypatch.setattr(gen, "generate", fake_generate)
    posts = select_posts([_pair_row(0)], 1, seed=0)
    models = {"base": merged, "sft": adapter, "dpo": merged, "im": merged}
    table = generate_responses(
        posts, models, max_new_tokens=2, seed=0, backend="vllm", base_dir=merged
    )
    assert seen == [True] * 4  # the adapter was merged into a temporary full folder
    assert (table.loc[table["system"] == "sft", "response"] == "reply").all()


def test_llm_judge_scores_from_option_probabilities(tiny_dirs):
    from mhai.models import load_causal_lm, load_tokenizer

    merged, _ = tiny_dirs
    judge = LLMJudge(load_causal_lm(merged), load_tokenizer(merged))
    replies = ["You are not alone, and it makes sense to feel this way.", "ok"]
    probs = judge.probabilities(POSTS, replies, "empathy", batch_size=2)
    assert probs.shape == (2, 5) and np.allclose(probs.sum(axis=1), 1.0)
    one_by_one = judge.probabilities(POSTS, replies, "empathy", batch_size=1)
    assert np.allclose(probs, one_by_one, atol=1e-4)  # left padding does not change answers
    result = judge.score(POSTS, replies, "empathy")
    assert np.allclose(result["rating"], probs @ np.arange(1, 6))
    assert np.all((result["score"] >= 0) & (result["score"] <= 1))
    with pytest.raises(ValueError, match="unknown dimension"):
        judge.prompts(POSTS, replies, "charm")


def test_llm_judge_backend_keeps_lexical_scores(tiny_dirs):
    import pandas as pd

    from mhai.evaluate.dimensions import score_dimensions

    merged, _ = tiny_dirs
    responses = pd.DataFrame(
        {
            "response_id": ["a:dpo", "a:sft"],
            "post_id": ["a", "a"],
            "system": ["dpo", "sft"],
            "post": [POSTS[0]] * 2,
            "response": ["I'm so sorry, that sounds lonely. Try joining a club.", "ok"],
        }
    )
    table = score_dimensions(responses, backend="llm_judge", judge_model=str(merged))
    assert (table["backend"] == "llm_judge").all()
    assert table["empathy_lexical"].iloc[0] > table["empathy_lexical"].iloc[1]
    assert table["safety_judge_rating"].between(1, 5).all()
    assert table["readability"].between(0, 1).all()


class _SpaceDigitTokenizer:
    """Writes a trailing digit as a lone space piece (1000) plus the digit (2000 + d)."""

    def encode(self, text, add_special_tokens=False):
        if text and text[-1] in "12345":
            return [ord(c) for c in text[:-1]] + [1000, 2000 + int(text[-1])]
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(" " if i == 1000 else str(i - 2000) if i > 2000 else chr(i) for i in ids)


def test_option_tokens_are_found_after_the_prompt():
    from mhai.evaluate.judge import option_token_ids

    ids = option_token_ids(_SpaceDigitTokenizer(), "[INST] rate [/INST]")
    assert ids == [2001, 2002, 2003, 2004, 2005]
