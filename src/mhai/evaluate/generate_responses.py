"""Responses to held-out posts from every system under evaluation.

Posts are the ``test`` split of the GM preference pairs (``dpo_gm.jsonl``): the prompt's user
content is the post (:func:`mhai.data.formatting.gm_prompt`), ``chosen`` is the higher-voted
human reply and ``rejected`` the lower-voted one. Systems:

- ``base``, ``sft``, ``dpo``: the base model, the SFT GM and the DPO GM answering the post;
- ``im``: the IM refining the lower-voted human reply (``im_prompt(post, draft)``);
- ``human``: the higher-voted human reply; ``draft``: the lower-voted one (the IM's input).

Posts are chosen with a seeded shuffle; generation is greedy unless sampling is configured,
with a fixed seed per system, so reruns give the same table.
"""

from __future__ import annotations

import logging
import random
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mhai.data.formatting import im_prompt

log = logging.getLogger(__name__)

GM_SYSTEMS = ("base", "sft", "dpo")
MODEL_SYSTEMS = (*GM_SYSTEMS, "im")
HUMAN_SYSTEMS = ("human", "draft")
SYSTEMS = (*MODEL_SYSTEMS, *HUMAN_SYSTEMS)


def _content(messages, source: str, row_id: str, field: str) -> str:
    if not isinstance(messages, list) or not messages or "content" not in messages[0]:
        raise ValueError(f"{source}: row {row_id!r}: field {field!r} is not a list of messages")
    return str(messages[0]["content"])


def select_posts(
    rows: Sequence[dict], n_posts: int, seed: int, source: str = "pairs"
) -> list[dict]:
    """Up to ``n_posts`` test-split posts (one per thread) as dicts: ``post_id``,
    ``thread_id``, ``subreddit``, ``post``, ``human``, ``draft``; chosen by a seeded shuffle."""
    posts: dict[str, dict] = {}
    for row in rows:
        if row.get("split") != "test" or row.get("thread_id") in posts:
            continue
        row_id = str(row.get("id"))
        posts[row["thread_id"]] = {
            "post_id": row_id,
            "thread_id": str(row["thread_id"]),
            "subreddit": str(row.get("subreddit") or ""),
            "post": _content(row.get("prompt"), source, row_id, "prompt"),
            "human": _content(row.get("chosen"), source, row_id, "chosen"),
            "draft": _content(row.get("rejected"), source, row_id, "rejected"),
        }
    if not posts:
        raise ValueError(f"{source}: no rows with split 'test' to evaluate on")
    chosen = sorted(posts.values(), key=lambda p: p["post_id"])
    random.Random(seed).shuffle(chosen)
    return sorted(chosen[:n_posts], key=lambda p: p["post_id"])


def prompts_for(system: str, posts: Sequence[dict]) -> list[str]:
    """The user turn each system answers: the post, or the IM's post-plus-draft prompt."""
    if system == "im":
        return [im_prompt(p["post"], p["draft"]) for p in posts]
    return [p["post"] for p in posts]


def is_adapter(model_dir: Path) -> bool:
    """Whether a folder holds a LoRA adapter rather than a full model."""
    return (model_dir / "adapter_config.json").exists() and not (model_dir / "config.json").exists()


def _load(model_dir: Path, base_dir: Path | None):
    """A causal LM from a merged folder, or a LoRA adapter folder merged onto ``base_dir``;
    on the GPU when there is one."""
    from mhai.models import load_causal_lm, load_tokenizer

    tokenizer_dir = model_dir
    if is_adapter(model_dir):
        if base_dir is None:
            raise ValueError(f"{model_dir}: a LoRA adapter needs the base model folder")
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_causal_lm(base_dir, device="auto"), str(model_dir))
        model = model.merge_and_unload()
        if not (model_dir / "tokenizer_config.json").exists():
            tokenizer_dir = base_dir
    else:
        model = load_causal_lm(model_dir, device="auto")
    return model, load_tokenizer(tokenizer_dir)


def generate_responses(
    posts: Sequence[dict],
    models: Mapping[str, str | Path],
    *,
    max_new_tokens: int,
    seed: int,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 0.7,
    backend: str = "hf",
    base_dir: str | Path | None = None,
) -> pd.DataFrame:
    """One row per (post, system): ``response_id``, ``post_id``, ``thread_id``, ``subreddit``,
    ``system``, ``post``, ``prompt``, ``response``, ``source`` (model folder or ``human``).

    ``models`` maps each of :data:`MODEL_SYSTEMS` to a model folder (merged, or a LoRA adapter
    on ``base_dir``, merged in memory, or into a temporary folder for vLLM); a missing system
    is an error naming it.
    """
    from mhai.train.generate import generate

    missing = [s for s in MODEL_SYSTEMS if s not in models]
    if missing:
        raise ValueError(f"no model folder given for system(s) {missing}")
    rows = []
    base = Path(base_dir) if base_dir else None
    for offset, system in enumerate(MODEL_SYSTEMS):
        model_dir = Path(models[system])
        log.info("generating %d responses with %s (%s)", len(posts), system, model_dir)
        with tempfile.TemporaryDirectory(prefix="mhai-merged-") as scratch:
            if backend == "hf":
                model, tokenizer = _load(model_dir, base)
            elif is_adapter(model_dir):  # vLLM needs a full model folder: merge the adapter
                merged, tokenizer = _load(model_dir, base)
                merged.save_pretrained(scratch)
                tokenizer.save_pretrained(scratch)
                model, merged = Path(scratch), None
            else:
                from mhai.models import load_tokenizer

                model, tokenizer = model_dir, load_tokenizer(model_dir)
            prompts = prompts_for(system, posts)
            replies = generate(
                model,
                tokenizer,
                [[{"role": "user", "content": p}] for p in prompts],
                max_new_tokens=max_new_tokens,
                seed=seed + offset,
                batch_size=batch_size,
                do_sample=do_sample,
                temperature=temperature,
                backend=backend,
            )
            del model
        for post, prompt, reply in zip(posts, prompts, replies, strict=True):
            rows.append(_row(post, system, prompt, reply, str(model_dir)))
    for system in HUMAN_SYSTEMS:
        rows += [_row(p, system, p["post"], p[system], "human") for p in posts]
    return pd.DataFrame(rows)


def _row(post: dict, system: str, prompt: str, response: str, source: str) -> dict:
    return {
        "response_id": f"{post['post_id']}:{system}",
        "post_id": post["post_id"],
        "thread_id": post["thread_id"],
        "subreddit": post["subreddit"],
        "system": system,
        "post": post["post"],
        "prompt": prompt,
        "response": response,
        "source": source,
    }
