"""Thread-level seeded splits: every row of a thread lands in the same split."""

from __future__ import annotations

import random

SPLITS = ("train", "eval", "test")


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Thread counts per split by largest remainder; every split with a fraction > 0 gets at
    least one thread when there are enough threads."""
    total = sum(fractions[s] for s in SPLITS)
    if total <= 0:
        raise ValueError("data.splits: fractions must sum to more than 0")
    raw = {s: n * fractions[s] / total for s in SPLITS}
    counts = {s: int(raw[s]) for s in SPLITS}
    for s in sorted(SPLITS, key=lambda s: raw[s] - counts[s], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[s] += 1
    for s in SPLITS:
        if fractions[s] > 0 and counts[s] == 0 and n >= len(SPLITS):
            donor = max(SPLITS, key=counts.get)
            counts[donor] -= 1
            counts[s] += 1
    return counts


def assign_splits(thread_ids: list[str], fractions: dict[str, float], seed: int) -> dict[str, str]:
    """Map each thread id to ``train``/``eval``/``test``: a seeded shuffle of the sorted ids,
    cut at the configured fractions (so the result does not depend on input order)."""
    ids = sorted(set(thread_ids))
    random.Random(seed).shuffle(ids)
    counts = split_counts(len(ids), fractions)
    out: dict[str, str] = {}
    start = 0
    for split in SPLITS:
        for tid in ids[start : start + counts[split]]:
            out[tid] = split
        start += counts[split]
    return out
