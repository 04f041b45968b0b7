"""Guardrail latency: pass-1 p50/p95 per message on CPU (budget: p95 < 10 ms), the
end-to-end overhead of the guardrail relative to GM generation, and the flag rates on the
simulated pilot's persona turns (ordinary chat versus sessions with planted crisis language).

    .venv/bin/python benchmarks/bench_guardrail.py [--messages 300] [--threads 1] [--cohort 60]

Needs the safety stage's outputs (results/safety/{model,verifier,corpus.parquet}) and a GM
folder (results/train/gm/merged, else results/models/base_lm). Writes
results/benchmarks/guardrail.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def percentiles(values) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "mean": float(values.mean()),
    }


def persona_flags(guard, config: dict, n: int) -> dict:
    """Every turn of a small simulated cohort's sessions through ``guard.check_turn``."""
    import pandas as pd

    from mhai.pilot.cohort import simulate_cohort
    from mhai.pilot.sessions import build_sessions

    pilot = config["pilot"]
    specs = build_sessions(simulate_cohort(pilot["cohort"], n, 1), pilot["sessions"], 1)
    rows, latency = [], []
    for spec in specs:
        state = guard.new_session(
            spec.session_id, spec.participant_id, spec.persona.region, spec.persona.language
        )
        for text in spec.turns:
            decision = guard.check_turn(state, text, "Thank you for telling me.")
            latency.append(decision.latency_ms["pass1"])
            rows.append(
                {
                    "session": spec.session_id,
                    "crisis": spec.crisis is not None,
                    "language": spec.persona.language,
                    "flagged": decision.flagged,
                    "message_flag": decision.signals["message"] >= guard.threshold,
                }
            )
    turns = pd.DataFrame(rows)
    ordinary = turns[~turns["crisis"]]
    sessions = turns.groupby("session").agg(crisis=("crisis", "first"), flagged=("flagged", "any"))
    return {
        "cohort": n,
        "pass1_ms": percentiles(latency),
        "ordinary_turns": len(ordinary),
        "ordinary_turns_flagged": float(ordinary["flagged"].mean()),
        "ordinary_turns_flagged_message_alone": float(ordinary["message_flag"].mean()),
        "ordinary_turns_flagged_by_language": ordinary.groupby("language")["flagged"]
        .mean()
        .round(4)
        .to_dict(),
        "ordinary_sessions_flagged": float(sessions.loc[~sessions["crisis"], "flagged"].mean()),
        "crisis_sessions": int(sessions["crisis"].sum()),
        "crisis_sessions_flagged": float(sessions.loc[sessions["crisis"], "flagged"].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--safety-dir", type=Path, default=Path("results/safety"))
    parser.add_argument("--gm", type=Path, default=None)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--cohort", type=int, default=60, help="pilot participants (0: skip)")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/guardrail.json"))
    args = parser.parse_args()

    import pandas as pd
    import torch

    from mhai.config import load_config
    from mhai.models import load_causal_lm, load_tokenizer
    from mhai.provenance import machine
    from mhai.safety.guardrail import Guardrail
    from mhai.train.generate import generate

    torch.set_num_threads(args.threads)
    config = load_config()
    guard = Guardrail.load(args.safety_dir, config, review_queue=None)
    corpus = pd.read_parquet(args.safety_dir / "corpus.parquet")
    test = corpus[corpus["split"] == "test"].sample(
        min(args.messages, int((corpus["split"] == "test").sum())), random_state=0
    )
    texts = test["text"].tolist()
    for text in texts[:20]:  # warm-up
        guard.classifier.score_message(text)
    pass1 = []
    for text in texts:
        start = time.perf_counter()
        guard.classifier.score_message(text)
        pass1.append((time.perf_counter() - start) * 1000)
    words = test["text"].str.split().str.len().to_numpy()
    buckets = {
        "short (<=15 words)": words <= 15,
        "medium (16-40)": (words > 15) & (words <= 40),
        "long (>40)": words > 40,
    }
    by_length = {
        name: percentiles(np.asarray(pass1)[mask]) for name, mask in buckets.items() if mask.any()
    }

    personas = persona_flags(guard, config, args.cohort) if args.cohort > 0 else None

    gm = args.gm or next(
        p for p in (Path("results/train/gm/merged"), Path("results/models/base_lm")) if p.exists()
    )
    model, tokenizer = load_causal_lm(gm), load_tokenizer(gm)
    conversations = test["text"].tolist()[: args.conversations]
    gen_ms, guard_ms, pass2_ms, flagged = [], [], [], 0
    for i, message in enumerate(conversations):
        start = time.perf_counter()
        draft = generate(
            model,
            tokenizer,
            [[{"role": "user", "content": message}]],
            max_new_tokens=args.max_new_tokens,
            seed=i,
            batch_size=1,
        )[0]
        gen_ms.append((time.perf_counter() - start) * 1000)
        state = guard.new_session(f"bench-{i}", "bench", "US", "en")
        start = time.perf_counter()
        decision = guard.check_turn(state, message, draft)
        guard_ms.append((time.perf_counter() - start) * 1000)
        if decision.flagged:
            flagged += 1
            pass2_ms.append(decision.latency_ms["pass2"])
    overhead = np.asarray(guard_ms) / np.asarray(gen_ms)
    result = {
        "machine": machine(torch_threads=args.threads),
        "pass1_ms": percentiles(pass1),
        "pass1_ms_by_length": by_length,
        "pass1_ms_persona_turns": personas.pop("pass1_ms") if personas else None,
        "pass1_budget_p95_ms": 10.0,
        "pass1_within_budget": bool(np.percentile(pass1, 95) < 10.0),
        "end_to_end": {
            "gm": str(gm),
            "max_new_tokens": args.max_new_tokens,
            "generation_ms": percentiles(gen_ms),
            "guardrail_ms": percentiles(guard_ms),
            "pass2_ms": percentiles(pass2_ms) if pass2_ms else None,
            "flagged": flagged,
            "overhead_ratio_mean": float(overhead.mean()),
            "overhead_ratio_p95": float(np.percentile(overhead, 95)),
        },
    }
    result["persona_flags"] = personas
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    p1 = result["pass1_ms"]
    print(f"pass 1 per message: p50 {p1['p50']:.2f} ms, p95 {p1['p95']:.2f} ms (budget 10 ms)")
    for name, stats in by_length.items():
        print(f"  {name}: n={stats['n']} p50 {stats['p50']:.2f} ms, p95 {stats['p95']:.2f} ms")
    if personas:
        pt = result["pass1_ms_persona_turns"]
        print(f"  persona turns: p50 {pt['p50']:.2f} ms, p95 {pt['p95']:.2f} ms")
        print(
            f"persona turns flagged: ordinary {100 * personas['ordinary_turns_flagged']:.1f}% "
            f"of {personas['ordinary_turns']} turns "
            f"({100 * personas['ordinary_sessions_flagged']:.1f}% of ordinary sessions); "
            f"crisis sessions {100 * personas['crisis_sessions_flagged']:.0f}% "
            f"of {personas['crisis_sessions']}"
        )
    e2e = result["end_to_end"]
    print(
        f"GM generation {e2e['generation_ms']['mean']:.0f} ms/reply, guardrail "
        f"{e2e['guardrail_ms']['mean']:.1f} ms/turn ({flagged}/{len(conversations)} flagged): "
        f"overhead {100 * e2e['overhead_ratio_mean']:.1f}% of generation time"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
