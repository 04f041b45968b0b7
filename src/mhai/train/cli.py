"""``mhai generate``: replies from a saved (merged) model for a JSONL file of conversations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mhai.schemas import read_jsonl


def conversations_from_rows(rows: list[dict], source: str) -> list[list[dict]]:
    """The conversation of each row: ``messages`` (minus a final assistant turn) or ``prompt``.

    Rows in the data stage's SFT or DPO format work as they are.
    """
    conversations = []
    for n, row in enumerate(rows, start=1):
        messages = row.get("messages", row.get("prompt"))
        if not isinstance(messages, list) or not messages:
            raise ValueError(
                f"{source}: row {n}: needs a 'messages' or 'prompt' list of chat messages"
            )
        if messages[-1].get("role") == "assistant":
            messages = messages[:-1]
        if not messages:
            raise ValueError(f"{source}: row {n}: no user turn before the assistant turn")
        conversations.append(messages)
    return conversations


def run_generate(args: argparse.Namespace) -> int:
    """Generate one reply per input row and write ``{id, response}`` JSON lines."""
    from mhai.models import load_causal_lm, load_tokenizer
    from mhai.train.generate import generate

    rows = read_jsonl(args.input)
    conversations = conversations_from_rows(rows, str(args.input))
    tokenizer = load_tokenizer(args.model)
    model = args.model if args.backend == "vllm" else load_causal_lm(args.model)
    replies = generate(
        model,
        tokenizer,
        conversations,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        batch_size=args.batch_size,
        do_sample=args.sample,
        temperature=args.temperature,
        backend=args.backend,
    )
    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        for n, (row, reply) in enumerate(zip(rows, replies, strict=True), start=1):
            record = {"id": row.get("id", n), "response": reply}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if args.output:
            out.close()
    return 0


def register(subparsers) -> None:
    """Add ``mhai generate`` to the top-level parser."""
    parser = subparsers.add_parser(
        "generate",
        help="generate replies with a saved model for a JSONL file of conversations",
        description=(
            "Reads JSON lines with 'messages' (SFT format; a final assistant turn is ignored) or "
            "'prompt' (DPO format) and writes one {id, response} line per row."
        ),
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="saved model folder (e.g. merged/)"
    )
    parser.add_argument("--input", type=Path, required=True, help="JSONL file of conversations")
    parser.add_argument("--output", type=Path, help="output JSONL (default: stdout)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--backend", choices=["hf", "vllm"], default="hf")
    parser.set_defaults(func=run_generate)
