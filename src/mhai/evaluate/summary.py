"""Per-system distributions of every score and linguistic measure."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mhai.evaluate.linguistics import corpus_distinct


def system_summary(
    table: pd.DataFrame, measures: Sequence[str], responses: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Long table: system, measure, n, mean, sd, median, q25, q75 (NaN values left out).

    With ``responses`` (``system``, ``response``), adds the pooled ``corpus_distinct_1/2``
    of each system's replies (``n`` = replies, the value in ``mean``).
    """
    rows = []
    for system, group in table.groupby("system", sort=True):
        for measure in measures:
            values = pd.to_numeric(group[measure], errors="coerce").dropna()
            rows.append(
                {
                    "system": system,
                    "measure": measure,
                    "n": int(values.size),
                    "mean": values.mean(),
                    "sd": values.std(ddof=1) if values.size > 1 else float("nan"),
                    "median": values.median(),
                    "q25": values.quantile(0.25),
                    "q75": values.quantile(0.75),
                }
            )
    if responses is not None:
        for system, group in responses.groupby("system", sort=True):
            for n in (1, 2):
                rows.append(
                    {
                        "system": system,
                        "measure": f"corpus_distinct_{n}",
                        "n": len(group),
                        "mean": corpus_distinct(list(group["response"]), n),
                    }
                )
    return pd.DataFrame(rows)
