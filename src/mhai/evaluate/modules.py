"""The scorers as Hugging Face ``evaluate`` modules, loaded from local files.

Each dimension has a module file ``metrics/<name>/<name>.py`` next to this one. Anyone with
``mhai`` installed can load it by path, offline::

    import evaluate
    from mhai.evaluate.modules import module_path

    empathy = evaluate.load(module_path("mhai_empathy"))
    empathy.compute(predictions=["I'm so sorry ..."], references=["my post ..."])

``compute`` returns one list per component (one value per reply), the per-reply ``score``
and its ``mean_score``. Module files keep one import per line because ``evaluate`` checks a
module's dependencies by reading its import lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
MODULES = {
    "readability": "mhai_readability",
    "empathy": "mhai_empathy",
    "connectedness": "mhai_connectedness",
    "actionability": "mhai_actionability",
    "safety": "mhai_safety",
    "llm_judge": "mhai_llm_judge",
}


def module_path(name: str) -> str:
    """Path of the module file for ``name`` (a dimension or a module name)."""
    name = MODULES.get(name, name)
    path = METRICS_DIR / name / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"no evaluate module {name!r} (looked for {path})")
    return str(path)


def load_module(name: str):
    """``evaluate.load`` of one local module, kept in memory (no cache files)."""
    import evaluate

    return evaluate.load(module_path(name), keep_in_memory=True)


def measurement_info(description: str, inputs_description: str, references: bool):
    """The ``evaluate.MeasurementInfo`` of an mhai module: string replies, optionally posts."""
    import datasets
    import evaluate

    features = {"predictions": datasets.Value("string")}
    if references:
        features["references"] = datasets.Value("string")
    return evaluate.MeasurementInfo(
        module_type="measurement",
        description=description,
        citation="",
        inputs_description=inputs_description,
        features=datasets.Features(features),
    )


def columns(records: Iterable[dict]) -> dict[str, list]:
    """Per-reply result dicts -> one list per key, plus ``mean_score`` over non-NaN scores."""
    records = list(records)
    out: dict[str, list] = {
        key: [r[key] for r in records] for key in (records[0] if records else {})
    }
    scores = [s for s in out.get("score", []) if not math.isnan(s)]
    out["mean_score"] = sum(scores) / len(scores) if scores else math.nan
    return out
