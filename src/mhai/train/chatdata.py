"""Reading the data stage's chat JSONL for training, and fitting rows to the sequence length.

SFT rows (``messages`` = user turn(s) then one assistant turn) become trl's conversational
*prompt/completion* format, so the loss covers the assistant turn only: the SmolLM2 chat
template has no ``{% generation %}`` markers, which trl's ``assistant_only_loss`` needs,
while prompt/completion masking works with any template. DPO rows are already in trl's
conversational preference format (``prompt``, ``chosen``, ``rejected``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mhai.schemas import read_jsonl

log = logging.getLogger(__name__)


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message names the file, row and field."""


@dataclass
class Fitted:
    """Rows that fit ``max_length`` and the ids of those dropped as overlong."""

    rows: list[dict]
    dropped: list[str] = field(default_factory=list)


def _read(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(
            f"training data {path} not found (the data stage writes it; run "
            f"`snakemake {path}` or check the path)"
        )
    rows = read_jsonl(path)
    if not rows:
        raise TrainingDataError(f"training data {path} is empty")
    return rows


def _check_messages(messages, path, n: int, name: str, roles: tuple[str, ...]) -> None:
    if not isinstance(messages, list) or not messages:
        raise TrainingDataError(
            f"{path}: row {n}: field {name!r}: must be a non-empty list of messages"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise TrainingDataError(
                f"{path}: row {n}: field '{name}[{i}]': needs a string 'content'"
            )
        if message.get("role") not in roles:
            raise TrainingDataError(
                f"{path}: row {n}: field '{name}[{i}].role': {message.get('role')!r} not in {roles}"
            )


def _select(rows: list[dict], path, split: str, max_rows: int | None) -> list[tuple[int, dict]]:
    selected = []
    for n, row in enumerate(rows, start=1):
        for key in ("id", "split"):
            if key not in row:
                raise TrainingDataError(f"{path}: row {n}: field {key!r}: missing")
        if row["split"] == split:
            selected.append((n, row))
    if max_rows is not None:
        selected = selected[:max_rows]
    return selected


def load_sft(path: str | Path, split: str, max_rows: int | None = None) -> list[dict]:
    """SFT rows of one split as ``{id, prompt, completion}`` (conversational)."""
    out = []
    for n, row in _select(_read(path), path, split, max_rows):
        messages = row.get("messages")
        _check_messages(messages, path, n, "messages", ("system", "user", "assistant"))
        if messages[-1]["role"] != "assistant" or len(messages) < 2:
            raise TrainingDataError(
                f"{path}: row {n}: field 'messages': must end with one assistant turn "
                "after a user turn"
            )
        out.append({"id": str(row["id"]), "prompt": messages[:-1], "completion": messages[-1:]})
    return out


def load_pairs(path: str | Path, split: str, max_rows: int | None = None) -> list[dict]:
    """Preference pairs of one split as ``{id, prompt, chosen, rejected}`` (conversational)."""
    out = []
    for n, row in _select(_read(path), path, split, max_rows):
        _check_messages(row.get("prompt"), path, n, "prompt", ("system", "user", "assistant"))
        for name in ("chosen", "rejected"):
            _check_messages(row.get(name), path, n, name, ("assistant",))
        out.append(
            {
                "id": str(row["id"]),
                "prompt": row["prompt"],
                "chosen": row["chosen"],
                "rejected": row["rejected"],
            }
        )
    return out


def prompt_length(tokenizer, prompt: list[dict]) -> int:
    """Tokens of a chat-templated prompt including the assistant generation header."""
    ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def fit_to_length(
    tokenizer,
    rows: list[dict],
    *,
    max_length: int,
    min_completion_tokens: int,
    overlong: str,
    source: str,
    recipe: str,
) -> Fitted:
    """Keep rows whose prompt leaves ``min_completion_tokens`` for the response.

    With ``overlong="error"`` the first row that does not fit stops the run with a message
    naming the data file, the row, its prompt length and the recipe; with ``"drop"`` such rows
    are dropped, counted and logged.
    """
    fitted = Fitted(rows=[])
    budget = max_length - min_completion_tokens
    for row in rows:
        n_tokens = prompt_length(tokenizer, row["prompt"])
        if n_tokens <= budget:
            fitted.rows.append(row)
            continue
        if overlong == "error":
            raise TrainingDataError(
                f"{source}: row id {row['id']!r}: the prompt is {n_tokens} tokens, but recipe "
                f"{recipe} has training.max_length={max_length}, which leaves fewer than "
                f"{min_completion_tokens} tokens for the response; raise max_length or set "
                "data.overlong: drop"
            )
        fitted.dropped.append(row["id"])
    if fitted.dropped:
        log.warning(
            "%s: dropped %d of %d rows whose prompt exceeds max_length=%d - %d (recipe %s)",
            source,
            len(fitted.dropped),
            len(rows),
            max_length,
            min_completion_tokens,
            recipe,
        )
    if not fitted.rows:
        raise TrainingDataError(
            f"{source}: no row fits training.max_length={max_length} of recipe {recipe}"
        )
    return fitted
