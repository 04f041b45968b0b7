"""Benchmark the simulated pilot: cohort simulation time and pass-1 throughput over all sessions.

    .venv/bin/python benchmarks/bench_pilot.py [--safety-dir results/safety] [--n 305]

Measures (on the default config): simulating the cohort cold (solving the calibration scalars)
and warm (cached), building every session's persona turns, and pushing every turn through the
guardrail's pass 1, both batched (``Pass1Classifier.score_texts``) and turn by turn as the
pilot does (``Guardrail.check_turn``, which also runs pass 2 on flagged turns). Writes
``results/benchmarks/pilot.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--safety-dir", default="results/safety", type=Path)
    parser.add_argument("--n", type=int, default=305, help="cohort size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/benchmarks/pilot.json", type=Path)
    args = parser.parse_args()

    import torch

    from mhai.config import load_config
    from mhai.pilot import cohort as cohort_mod
    from mhai.pilot.sessions import CANNED_DRAFT, build_sessions
    from mhai.safety.classifier import Pass1Classifier
    from mhai.safety.guardrail import Guardrail

    torch.set_num_threads(args.threads)
    config = load_config()
    params, seed = config["pilot"]["cohort"], config["seed"]
    start = time.perf_counter()
    cohort = cohort_mod.simulate_cohort(params, args.n, seed)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    cohort_mod.simulate_cohort(params, args.n, seed)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    specs = build_sessions(cohort, config["pilot"]["sessions"], seed)
    build = time.perf_counter() - start
    texts = [t for s in specs for t in s.turns]
    print(f"cohort n={args.n}: cold {cold:.2f} s (solve + truth), warm {warm:.2f} s")
    print(f"{len(specs)} sessions, {len(texts)} turns built in {build:.2f} s")

    classifier = Pass1Classifier.load(args.safety_dir / "model")
    start = time.perf_counter()
    classifier.score_texts(texts, batch_size=64)
    batched = time.perf_counter() - start
    print(f"pass 1 batched: {len(texts) / batched:.0f} turns/s ({batched:.1f} s)")

    guard = Guardrail.load(args.safety_dir, config, review_queue=None)
    pass1, pass2, flagged = [], [], 0
    start = time.perf_counter()
    for spec in specs:
        state = guard.new_session(
            spec.session_id, spec.participant_id, spec.persona.region, spec.persona.language
        )
        for text in spec.turns:
            decision = guard.check_turn(state, text, CANNED_DRAFT[spec.persona.language])
            pass1.append(decision.latency_ms["pass1"])
            if decision.flagged:
                flagged += 1
                pass2.append(decision.latency_ms["pass2"])
    loop = time.perf_counter() - start
    print(
        f"check_turn over all turns: {len(texts) / loop:.0f} turns/s ({loop:.1f} s), "
        f"pass1 p50 {np.percentile(pass1, 50):.2f} ms p95 {np.percentile(pass1, 95):.2f} ms, "
        f"{flagged} turns to pass 2"
    )
    result = {
        "cohort_n": args.n,
        "threads": args.threads,
        "cohort_seconds_cold": cold,
        "cohort_seconds_warm": warm,
        "sessions": len(specs),
        "turns": len(texts),
        "build_sessions_seconds": build,
        "pass1_batched_turns_per_s": len(texts) / batched,
        "check_turn_turns_per_s": len(texts) / loop,
        "check_turn_seconds": loop,
        "pass1_ms_p50": float(np.percentile(pass1, 50)),
        "pass1_ms_p95": float(np.percentile(pass1, 95)),
        "pass2_turns": flagged,
        "pass2_ms_p50": float(np.percentile(pass2, 50)) if pass2 else None,
        "pass2_ms_p95": float(np.percentile(pass2, 95)) if pass2 else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
