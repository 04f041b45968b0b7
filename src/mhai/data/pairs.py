"""Preference pairs and SFT targets from the vote scores of direct replies to a post.

Rules (the ``data.pairs`` config section):

- A pair (chosen, rejected) of two direct replies to the same post is eligible when
  ``chosen.score - rejected.score >= min_margin`` and
  ``(chosen.score + 1) >= min_ratio * (max(rejected.score, 0) + 1)`` (the +1 keeps the ratio
  defined for zero and negative scores) and ``chosen.score >= min_chosen_score``.
- GM DPO: eligible pairs sorted by margin (largest first, ties by ids), at most
  ``max_pairs_per_thread`` per thread.
- GM SFT: the best reply (highest score, ties by id) if its score >= ``min_sft_score``.
- IM: the best reply is the target; each lower reply that forms an eligible pair with it is a
  human *draft* (largest margin first, at most ``max_pairs_per_thread``). SFT: improve(draft)
  -> best; DPO: chosen = best, rejected = the draft itself, so the model learns to improve on
  the draft rather than echo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple


class Reply(NamedTuple):
    """A direct reply to a post (already cleaned and de-identified)."""

    id: str
    body: str
    score: int


@dataclass(frozen=True)
class PairConfig:
    """Thresholds of pair construction (the ``data.pairs`` config section)."""

    min_margin: int
    min_ratio: float
    min_chosen_score: int
    min_sft_score: int
    max_pairs_per_thread: int

    @classmethod
    def from_config(cls, section: dict) -> PairConfig:
        return cls(**section)


_ID, _SCORE = attrgetter("id"), attrgetter("score")


def ranked(replies: list[Reply]) -> list[Reply]:
    """Replies from the highest to the lowest score (ties broken by id, deterministic)."""
    # by id, then by score: a stable sort (reverse=True keeps the order of equal scores)
    return sorted(sorted(replies, key=_ID), key=_SCORE, reverse=True)


def eligible(chosen: Reply, rejected: Reply, cfg: PairConfig) -> bool:
    """Whether (chosen, rejected) passes the margin, ratio and minimum-score rules."""
    return (
        chosen.score >= cfg.min_chosen_score
        and chosen.score - rejected.score >= cfg.min_margin
        and chosen.score + 1 >= cfg.min_ratio * (max(rejected.score, 0) + 1)
        and chosen.body != rejected.body
    )


def best_reply(replies: list[Reply], cfg: PairConfig, *, is_ranked: bool = False) -> Reply | None:
    """The SFT target of a thread: its top-scored reply, if it scores at least min_sft_score.

    ``is_ranked``: ``replies`` are in :func:`ranked` order already (as for the next two).
    """
    if not replies:
        return None
    top = replies[0] if is_ranked else ranked(replies)[0]
    return top if top.score >= cfg.min_sft_score else None


def gm_pairs(
    replies: list[Reply], cfg: PairConfig, *, is_ranked: bool = False
) -> list[tuple[Reply, Reply]]:
    """GM preference pairs of one thread: largest vote margins first."""
    order = replies if is_ranked else ranked(replies)
    pairs = []
    margin, ratio = cfg.min_margin, cfg.min_ratio
    for i, hi in enumerate(order):
        if hi.score < cfg.min_chosen_score:  # nor can any later (lower) reply be chosen
            break
        top, body = hi.score, hi.body
        pairs += [  # eligible(hi, lo, cfg), inlined: this runs for every pair of replies
            (hi, lo)
            for lo in order[i + 1 :]
            if top - lo.score >= margin
            and top + 1 >= ratio * (max(lo.score, 0) + 1)
            and body != lo.body
        ]
    pairs.sort(key=lambda p: (p[1].score - p[0].score, p[0].id, p[1].id))
    return pairs[: cfg.max_pairs_per_thread]


def im_drafts(
    replies: list[Reply], cfg: PairConfig, *, is_ranked: bool = False
) -> tuple[Reply | None, list[Reply]]:
    """IM material of one thread: the best reply and the lower-voted drafts to improve."""
    order = replies if is_ranked else ranked(replies)
    best = best_reply(order, cfg, is_ranked=True)
    if best is None:
        return None, []
    drafts = [r for r in order[1:] if eligible(best, r, cfg)]
    drafts.sort(key=lambda r: (r.score, r.id))
    return best, drafts[: cfg.max_pairs_per_thread]
