"""``mhai chat`` (GM + guardrail in the terminal) and ``mhai safety score`` (pass 1 on a CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def score_csv(
    model_dir: Path,
    input_csv: Path,
    text_column: str,
    output_csv: Path,
    session_column: str | None = None,
) -> pd.DataFrame:
    """Add ``risk_score`` and ``flagged`` (and session signals) to every row of a CSV.

    Without ``session_column`` each row is scored alone; with it, rows of one session (in
    file order) also get the history and escalation signals, as in a live conversation.
    """
    from mhai.safety.classifier import Pass1Classifier

    frame = pd.read_csv(input_csv)
    for column in filter(None, (text_column, session_column)):
        if column not in frame.columns:
            raise ValueError(f"{input_csv}: no column {column!r} (columns: {list(frame.columns)})")
    missing = frame[text_column].isna() | (frame[text_column].astype(str).str.strip() == "")
    if missing.any():
        row = int(missing.to_numpy().nonzero()[0][0]) + 1
        raise ValueError(f"{input_csv}: row {row}: column {text_column!r} is empty")
    clf = Pass1Classifier.load(model_dir)
    scores = clf.score_texts(frame[text_column].astype(str).tolist(), progress=len(frame) > 256)
    frame["message_score"] = scores
    if session_column:
        combined, history, escalation = [], [], []
        previous: dict[str, list[float]] = {}
        for session, score in zip(frame[session_column].astype(str), scores, strict=True):
            signals = clf.signals(previous.setdefault(session, []), score)
            previous[session].append(score)
            combined.append(signals["combined"])
            history.append(signals["history"])
            escalation.append(signals["escalation"])
        frame["history"], frame["escalation"] = history, escalation
        frame["risk_score"] = combined
    else:
        frame["risk_score"] = scores
    frame["flagged"] = frame["risk_score"] >= clf.threshold
    frame["threshold"] = clf.threshold
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output_csv, index=False)
    return frame


def run_score(args: argparse.Namespace) -> int:
    """``mhai safety score``."""
    frame = score_csv(args.model, args.input, args.text_column, args.output, args.session_column)
    print(
        f"scored {len(frame)} rows; flagged {int(frame['flagged'].sum())} "
        f"(threshold {frame['threshold'].iloc[0]:.4f}) -> {args.output}"
    )
    return 0


def describe(decision, threshold: float) -> str:
    """One line saying whether and why a turn was flagged."""
    s = decision.signals
    line = (
        f"[guardrail] score {decision.score:.3f} (message {s['message']:.3f}, history "
        f"{s['history']:.3f}, escalation {s['escalation']:.3f}; threshold {threshold:.3f}) "
        f"pass1 {decision.latency_ms['pass1']:.1f} ms"
    )
    if not decision.flagged:
        return line + " -> not flagged"
    if s.get("unreadable"):
        line += "; a sentence in a language the encoder cannot read"
    line += f" -> FLAGGED; pass 2: {decision.pass2} ({decision.pass2_reason})"
    if decision.escalated:
        e = decision.escalation
        line += f"; escalated to {e['service']} ({e['region']}/{e['language']})"
    return line


def run_chat(args: argparse.Namespace) -> int:
    """``mhai chat``: talk to the GM through the guardrail until EOF or 'quit'."""
    from mhai.config import load_config
    from mhai.models import load_causal_lm, load_tokenizer
    from mhai.safety.guardrail import Guardrail
    from mhai.train.generate import generate

    config = load_config(*args.config)
    guard = Guardrail.load(args.safety_dir, config, review_queue=args.review_queue)
    model, tokenizer = load_causal_lm(args.model, device="auto"), load_tokenizer(args.model)
    state = guard.new_session("chat", "terminal-user", args.region, args.language)
    conversation: list[dict[str, str]] = []
    print("mhai chat: not clinical care. Type 'quit' to leave.", flush=True)
    for turn in range(10_000):
        try:
            message = input("you> ").strip()
        except EOFError:
            break
        if message.lower() in {"quit", "exit"}:
            break
        if not message:
            continue
        conversation.append({"role": "user", "content": message})
        draft = generate(
            model,
            tokenizer,
            [conversation],
            max_new_tokens=args.max_new_tokens,
            seed=args.seed + turn,
            batch_size=1,
            do_sample=True,
            temperature=args.temperature,
        )[0]
        decision = guard.check_turn(state, message, draft)
        reply = decision.reply or draft
        conversation.append({"role": "assistant", "content": reply})
        print(describe(decision, guard.threshold), file=sys.stderr, flush=True)
        print(f"mhai> {reply}", flush=True)
    if args.review_queue and state.flagged:
        print(f"flagged turns were written to {args.review_queue}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    """Add ``chat`` and ``safety score`` to the ``mhai`` command line."""
    chat = subparsers.add_parser(
        "chat", help="chat with the GM through the safety guardrail (terminal demo)"
    )
    chat.add_argument("--model", type=Path, default=Path("results/train/gm/merged"))
    chat.add_argument("--safety-dir", type=Path, default=Path("results/safety"))
    chat.add_argument("--config", action="append", default=[], help="config override file(s)")
    chat.add_argument("--region", default="US", help="ISO country code for crisis resources")
    chat.add_argument("--language", default="en", help="ISO 639-1 language of the user")
    chat.add_argument(
        "--review-queue", type=Path, default=Path("results/safety/chat_review_queue.jsonl")
    )
    chat.add_argument("--max-new-tokens", type=int, default=96)
    chat.add_argument("--temperature", type=float, default=0.7)
    chat.add_argument("--seed", type=int, default=0)
    chat.set_defaults(func=run_chat)

    safety = subparsers.add_parser("safety", help="safety tools")
    sub = safety.add_subparsers(dest="safety_command", required=True)
    score = sub.add_parser("score", help="pass-1 risk scores and flags for every row of a CSV")
    score.add_argument("--model", type=Path, default=Path("results/safety/model"))
    score.add_argument("--input", type=Path, required=True)
    score.add_argument("--text-column", required=True)
    score.add_argument("--output", type=Path, required=True)
    score.add_argument(
        "--session-column",
        default=None,
        help="score rows of one session (file order) with history and escalation signals",
    )
    score.set_defaults(func=run_score)
