"""The labelled safety corpus: a seeded generator of risk messages and hard negatives.

Messages are composed from the fragments in ``corpus_templates.yaml`` (written by this
project): an optional opener, shared life-context sentences, one or two core sentences from a
category's template *family*, an optional closer, then register transforms (lowercase,
texting abbreviations, typos, emoji). Whole families go to one split (``train``, ``calib``,
``test``), so held-out messages are never paraphrases of training messages. Optionally the
data stage's weakly labelled ``safety_messages.parquet`` is appended to the training split.
"""

from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

SPLITS = ("train", "calib", "test")
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{([a-z_]+)\}")
_ABBREVIATIONS = {
    "you": "u",
    "are": "r",
    "because": "bc",
    "really": "rly",
    "right now": "rn",
    "to be honest": "tbh",
    "I don't know": "idk",
    "going to": "gonna",
    "want to": "wanna",
    "though": "tho",
    "tonight": "tonite",
    "please": "pls",
    "with": "w/",
    "something": "smth",
}
_TAILS = ["😔", "😞", "😭", "🙃", "💀", "...", "😩", "lol", "haha", "😶", "🫠", "🥲"]


@cache
def load_templates() -> dict[str, Any]:
    """The fragment file shipped with the package."""
    text = resources.files("mhai.safety").joinpath("corpus_templates.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@cache
def load_ood_posts() -> pd.DataFrame:
    """Free-form check posts (not built from the templates); evaluation only."""
    text = resources.files("mhai.safety").joinpath("ood_posts.yaml").read_text("utf-8")
    return pd.DataFrame(yaml.safe_load(text)["posts"])


def categories() -> dict[str, dict[str, Any]]:
    """Category name -> {label, group, families}."""
    return load_templates()["categories"]


def risk_categories() -> list[str]:
    """Names of the categories labelled 1 (a clinician should see the message)."""
    return [name for name, spec in categories().items() if spec["label"] == 1]


def fill(template: str, rng: random.Random, slots: dict[str, list[str]]) -> str:
    """Expand ``[a|b|]`` alternatives then ``{slot}`` draws in one template."""
    text = _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    return _SLOT.sub(lambda m: str(rng.choice(slots[m.group(1)])), text)


def _capitalize(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:] if sentence else sentence


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def apply_register(text: str, rng: random.Random) -> str:
    """Random surface changes that real messages show: case, slang, typos, emoji, ellipses."""
    if rng.random() < 0.2:
        for long, short in _ABBREVIATIONS.items():
            if rng.random() < 0.7:
                text = re.sub(rf"\b{re.escape(long)}\b", short, text, flags=re.IGNORECASE)
    if rng.random() < 0.18:
        words = text.split(" ")
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(len(words))
            words[j] = _typo(words[j], rng)
        text = " ".join(words)
    if rng.random() < 0.1:
        text = text.replace(". ", "... ")
    if rng.random() < 0.35:
        text = text.lower()
    elif rng.random() < 0.02:
        text = text.upper()
    if rng.random() < 0.3:
        text = text.rstrip(".")
    if rng.random() < 0.1:
        text = f"{text} {rng.choice(_TAILS)}"
    return text


def compose(core: list[str], rng: random.Random, templates: dict[str, Any]) -> str:
    """One message: opener, context sentences and the core sentence(s), closer, register."""
    slots = templates["slots"]
    n_context = rng.choices([0, 1, 2, 3, 4, 6], weights=[34, 26, 18, 11, 7, 4])[0]
    context = [fill(t, rng, slots) for t in rng.sample(templates["contexts"], n_context)]
    position = rng.randint(0, len(context))
    sentences = context[:position] + core + context[position:]
    sentences = [_capitalize(s) for s in sentences]
    if rng.random() < 0.25:
        sentences.insert(0, rng.choice(templates["openers"]))
    if rng.random() < 0.25:
        sentences.append(rng.choice(templates["closers"]))
    return apply_register(" ".join(sentences), rng)


def assign_families(
    seed: int, fractions: dict[str, float], spec: dict[str, dict[str, Any]] | None = None
) -> dict[tuple[str, str], str]:
    """Map (category, family) -> split; each category has at least one family per split."""
    spec = spec or categories()
    rng = random.Random(seed)
    out: dict[tuple[str, str], str] = {}
    for category, cat in spec.items():
        families = sorted(cat["families"])
        if len(families) < len(SPLITS):
            raise ValueError(f"category {category!r} needs at least {len(SPLITS)} families")
        rng.shuffle(families)
        n_test = max(1, round(fractions["test"] * len(families)))
        n_calib = max(1, round(fractions["calib"] * len(families)))
        n_train = len(families) - n_test - n_calib
        if n_train < 1:
            raise ValueError(f"category {category!r}: no family left for training")
        for i, family in enumerate(families):
            split = "train" if i < n_train else "calib" if i < n_train + n_calib else "test"
            out[(category, family)] = split
    return out


def generate_corpus(n_per_category: int, seed: int, fractions: dict[str, float]) -> pd.DataFrame:
    """The labelled corpus: ``id, text, label, category, group, family, split, source``.

    Each category gets ``n_per_category`` distinct messages, families drawn uniformly.
    Texts are unique across the whole corpus (a duplicate is redrawn), so no held-out text
    also appears in training.
    """
    templates = load_templates()
    split_of = assign_families(seed, fractions)
    rng = random.Random(seed + 1)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for category, cat in categories().items():
        families = sorted(cat["families"])
        made, attempts = 0, 0
        while made < n_per_category and attempts < 50 * n_per_category:
            attempts += 1
            family = rng.choice(families)
            pool = cat["families"][family]
            n_core = 2 if rng.random() < 0.15 and len(pool) > 1 else 1
            core = [fill(t, rng, templates["slots"]) for t in rng.sample(pool, n_core)]
            text = compose(core, rng, templates)
            key = text.lower().strip(" .!?")
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "id": f"{category}-{made:04d}",
                    "text": text,
                    "label": int(cat["label"]),
                    "category": category,
                    "group": cat["group"],
                    "family": family,
                    "split": split_of[(category, family)],
                    "source": "generated",
                }
            )
            made += 1
        if made < n_per_category:
            raise ValueError(
                f"category {category!r}: only {made} distinct messages after {attempts} draws; "
                "lower safety.corpus.n_per_category or add templates"
            )
    return pd.DataFrame(rows)


def add_data_stage(corpus: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Append the data stage's weakly labelled messages to the training split.

    Only their ``train`` rows are used (their labels come from a lexicon, so they never enter
    calibration or test); texts already in the corpus are skipped.
    """
    from mhai.schemas import read_parquet

    extra = read_parquet(path, "data/safety_messages")
    extra = extra[extra["split"] == "train"]
    extra = extra[~extra["text"].str.lower().isin(set(corpus["text"].str.lower()))]
    extra = pd.DataFrame(
        {
            "id": "data-" + extra["id"].astype(str),
            "text": extra["text"],
            "label": extra["label"].astype(int),
            "category": "data_stage_" + extra["label"].map({0: "negative", 1: "risk"}),
            "group": "data_stage",
            "family": "data_stage",
            "split": "train",
            "source": "data_stage",
        }
    )
    return pd.concat([corpus, extra], ignore_index=True)
