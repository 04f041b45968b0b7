"""Benchmark the simulated pilot: cohort simulation time and pass-1 throughput over all sessions.

    .venv/bin/python benchmarks/bench_pilot.py [--safety-dir results/safety] [--n 305]

On the default config: the time to simulate the cohort cold (solving the calibration scalars)
and warm (cached), to build every session's persona turns, and to push every turn through the
guardrail as the pilot does (``check_turn`` turn by turn, pass 2 on flagged turns, an encoder
memo so pass 2 reuses pass 1's embedding), once turn by turn and once with the turns embedded
ahead in batches of 64; plus the plain per-turn path (no memo) on a sample of turns for
latency. Writes ``results/benchmarks/pilot.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--safety-dir", default="results/safety", type=Path)
    parser.add_argument("--n", type=int, default=305, help="cohort size")
    parser.add_argument("--per-turn-sample", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/benchmarks/pilot.json", type=Path)
    args = parser.parse_args()

    import torch

    from mhai.config import load_config
    from mhai.pilot.cohort import simulate_cohort
    from mhai.pilot.sessions import (
        build_sessions,
        cached_encoder,
        measure_latency,
        persona_texts,
        run_persona_sessions,
    )
    from mhai.safety.guardrail import Guardrail

    torch.set_num_threads(args.threads)
    config = load_config()
    params, seed = config["pilot"]["cohort"], config["seed"]
    cfg = config["pilot"]["sessions"]
    start = time.perf_counter()
    cohort = simulate_cohort(params, args.n, seed)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    simulate_cohort(params, args.n, seed)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    specs = build_sessions(cohort, cfg, seed)
    build = time.perf_counter() - start
    n_turns = sum(len(s.turns) for s in specs)
    print(f"cohort n={args.n}: cold {cold:.2f} s (solve + truth), warm {warm:.2f} s")
    print(f"{len(specs)} sessions, {n_turns} turns built in {build:.2f} s")

    guard = Guardrail.load(args.safety_dir, config, review_queue=None)
    sample = measure_latency(guard, specs, args.per_turn_sample, cfg["draft_reply"], seed)
    per_turn_s = (sample["pass1_ms"].sum() + sample["pass2_ms"].fillna(0).sum()) / 1000
    print(
        f"per-turn path ({len(sample)} turns): {len(sample) / per_turn_s:.0f} turns/s, "
        f"pass1 p50 {sample['pass1_ms'].median():.2f} ms, "
        f"p95 {sample['pass1_ms'].quantile(0.95):.2f} ms"
    )
    texts = persona_texts(specs, cfg["draft_reply"])
    paths = {}
    for batch_size in (0, 64):  # the pilot's per-turn path (memo), then batched prefill
        start = time.perf_counter()
        with cached_encoder(guard) as cache:
            if batch_size:
                cache.prefill(texts, batch_size)
            records = run_persona_sessions(guard, specs, cfg["draft_reply"], cache.ms_per_text)
        seconds = time.perf_counter() - start
        flagged = sum(r["flagged"] for r in records)
        paths[batch_size] = {
            "seconds": seconds,
            "turns_per_s": n_turns / seconds,
            "flagged": flagged,
        }
        print(
            f"all {n_turns} turns, pass1_batch_size={batch_size}: {n_turns / seconds:.0f} "
            f"turns/s ({seconds:.1f} s), {flagged} turns to pass 2"
        )
    result = {
        "cohort_n": args.n,
        "threads": args.threads,
        "cohort_seconds_cold": cold,
        "cohort_seconds_warm": warm,
        "sessions": len(specs),
        "turns": n_turns,
        "build_sessions_seconds": build,
        "all_turns_per_turn_path_turns_per_s": paths[0]["turns_per_s"],
        "all_turns_per_turn_path_seconds": paths[0]["seconds"],
        "all_turns_batched_turns_per_s": paths[64]["turns_per_s"],
        "all_turns_batched_seconds": paths[64]["seconds"],
        "flagged_turns_per_turn_path": paths[0]["flagged"],
        "flagged_turns_batched": paths[64]["flagged"],
        "per_turn_sample": len(sample),
        "per_turn_turns_per_s": len(sample) / per_turn_s,
        "per_turn_pass1_ms_p50": float(sample["pass1_ms"].median()),
        "per_turn_pass1_ms_p95": float(sample["pass1_ms"].quantile(0.95)),
        "per_turn_pass2_ms_p50": float(sample["pass2_ms"].median()),
        "per_turn_pass2_ms_p95": float(sample["pass2_ms"].quantile(0.95)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
