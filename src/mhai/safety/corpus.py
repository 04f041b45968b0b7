"""The labelled safety corpus: a seeded generator of risk messages and hard negatives.

Messages are composed from the fragments in ``corpus_templates.yaml`` and
``corpus_templates_more.yaml`` (written by this project; the second adds everyday
therapy-style talk, more hard negatives and risk wording, and Spanish and French themes):
an optional opener, shared life-context sentences, one or two core sentences from a
category's template *family*, an optional closer, then register transforms (lowercase,
texting abbreviations, typos, emoji). Each template is a family whose expansions all go to
one split (``train``, ``calib``, ``test``), so held-out messages are never paraphrases of
training messages, while every theme of a category is represented in every split. Optionally the
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


TEMPLATE_FILES = ("corpus_templates.yaml", "corpus_templates_more.yaml")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a repeated mapping key (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"line {node.start_mark.line + 1}: repeated key(s) {repeated}")
        return super().construct_mapping(node, deep=deep)


def _read_package_yaml(name: str) -> dict[str, Any]:
    text = resources.files("mhai.safety").joinpath(name).read_text("utf-8")
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ValueError as err:
        raise ValueError(f"mhai/safety/{name}: {err}") from err


@cache
def load_templates() -> dict[str, Any]:
    """The fragment files shipped with the package, merged.

    Later files add context sentences, templates to existing themes (same name), new
    themes, and new categories (which must give ``label`` and ``group``).
    """
    merged = _read_package_yaml(TEMPLATE_FILES[0])
    for name in TEMPLATE_FILES[1:]:
        extra = _read_package_yaml(name)
        merged["contexts"] = merged["contexts"] + extra.get("contexts", [])
        for category, spec in extra.get("categories", {}).items():
            if category not in merged["categories"]:
                merged["categories"][category] = {**spec, "families": {}}
            families = merged["categories"][category]["families"]
            for theme, pool in spec["families"].items():
                families[theme] = families.get(theme, []) + pool
    return merged


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


def assign_templates(
    seed: int, fractions: dict[str, float], spec: dict[str, dict[str, Any]] | None = None
) -> dict[tuple[str, str, int], str]:
    """Map (category, theme, template index) -> split.

    Each template with its ``[a|b]`` expansions and slot fillings is one *template family*;
    within every theme of three or more templates at least one goes to ``calib`` and one to
    ``test``, so held-out messages cover every theme with sentences never seen in training.
    """
    spec = spec or categories()
    rng = random.Random(seed)
    out: dict[tuple[str, str, int], str] = {}
    for category, cat in spec.items():
        for theme in sorted(cat["families"]):
            k = len(cat["families"][theme])
            order = list(range(k))
            rng.shuffle(order)
            n_test = max(1, round(fractions["test"] * k)) if k >= 3 else 0
            n_calib = max(1, round(fractions["calib"] * k)) if k >= 3 else 0
            for rank, index in enumerate(order):
                split = "test" if rank < n_test else "calib" if rank < n_test + n_calib else "train"
                out[(category, theme, index)] = split
        if not {"train", "calib", "test"} <= {v for (c, _, _), v in out.items() if c == category}:
            raise ValueError(f"category {category!r}: needs a theme with at least 3 templates")
    return out


def generate_corpus(n_per_category: int, seed: int, fractions: dict[str, float]) -> pd.DataFrame:
    """The labelled corpus: ``id, text, label, category, group, family, split, source``.

    ``family`` is ``<theme>/<template index>``. Each category gets ``n_per_category``
    distinct messages (theme, then template, drawn uniformly). Texts are unique across the
    corpus (a duplicate is redrawn), so no held-out text also appears in training.
    """
    templates = load_templates()
    split_of = assign_templates(seed, fractions)
    rng = random.Random(seed + 1)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for category, cat in categories().items():
        themes = sorted(cat["families"])
        made, attempts = 0, 0
        while made < n_per_category and attempts < 50 * n_per_category:
            attempts += 1
            theme = rng.choice(themes)
            pool = cat["families"][theme]
            index = rng.randrange(len(pool))
            split = split_of[(category, theme, index)]
            core = [fill(pool[index], rng, templates["slots"])]
            same_split = [
                i
                for i in range(len(pool))
                if i != index and split_of[(category, theme, i)] == split
            ]
            if same_split and rng.random() < 0.15:
                core.append(fill(pool[rng.choice(same_split)], rng, templates["slots"]))
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
                    "family": f"{theme}/{index}",
                    "split": split,
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


def training_units(
    seed: int,
    fractions: dict[str, float],
    fills: int = 3,
    splits: tuple[str, ...] = ("train",),
) -> pd.DataFrame:
    """Sentence-level training units: ``text, target, label, family``.

    Core sentences of the templates in ``splits`` only (``fills`` slot fillings each, half
    with register transforms), labelled with their category and template family
    (``<theme>/<index>``, as in the corpus), plus the shared context, opener and closer
    sentences as a ``context`` class (family ``None``). Uses the same template split as
    :func:`generate_corpus` with the same seed, so ``test`` templates stay unseen.
    """
    templates = load_templates()
    split_of = assign_templates(seed, fractions)
    rng = random.Random(seed + 2)
    rows = []
    for category, cat in categories().items():
        for theme, pool in cat["families"].items():
            for index, template in enumerate(pool):
                if split_of[(category, theme, index)] not in splits:
                    continue
                for k in range(fills):
                    text = _capitalize(fill(template, rng, templates["slots"]))
                    text = apply_register(text, rng) if k % 2 else text
                    rows.append(
                        {
                            "text": text,
                            "target": category,
                            "label": int(cat["label"]),
                            "family": f"{theme}/{index}",
                        }
                    )
    neutral = templates["contexts"] + templates["openers"] + templates["closers"]
    for template in neutral:
        for _ in range(2):
            text = _capitalize(fill(template, rng, templates["slots"]))
            rows.append({"text": text, "target": "context", "label": 0, "family": None})
    return pd.DataFrame(rows).drop_duplicates("text", ignore_index=True)
