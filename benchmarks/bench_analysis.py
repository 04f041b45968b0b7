"""Benchmark the analysis stage: one 305-person trial (budget < 30 s) and R=50 parameter-recovery
replications (budget < 5 min), with the default config. Writes results/benchmarks/analysis.json.

The trial is simulated by ``mhai.pilot.cohort.simulate_cohort`` with the default parameters;
its sessions table is built from the cohort's session plan (guardrail columns are not used by
the timed analysis). Wall and CPU seconds are both reported, with the machine's load average,
because the 2-core machines this runs on are often shared.

Usage: .venv/bin/python benchmarks/bench_analysis.py [--replications 50] [--workers 2]
[--out results/benchmarks/analysis.json] (the summary goes beside it as <stem>_recovery.csv).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mhai.analysis.recovery import run_recovery
from mhai.analysis.trial_analysis import analyse_trial
from mhai.config import load_config
from mhai.pilot.cohort import simulate_cohort, solve_calibration, truth_for
from mhai.provenance import machine

OUT = Path("results/benchmarks/analysis.json")


def trial_tables(cohort) -> dict[str, pd.DataFrame]:
    plan = cohort.session_plan
    sessions = plan.assign(session_id=[f"S{i}" for i in range(len(plan))], flagged=False)
    return {
        "participants": cohort.participants,
        "assessments": cohort.assessments,
        "sessions": sessions,
        "alliance": cohort.alliance,
        "social": cohort.social,
    }


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker processes)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(fn):
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = fn()
    return out, time.perf_counter() - wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT, help="JSON report path")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    config = load_config()
    params = config["pilot"]["cohort"]
    settings = config["analysis"]
    solve_calibration(params)  # one-off calibration, cached (not part of the analysis)
    truth_for(params)
    cohort = simulate_cohort(params, params["n"], config["seed"])
    result, wall, cpu = timed(lambda: analyse_trial(trial_tables(cohort), settings, config["seed"]))
    print(f"one {params['n']}-person trial: {wall:.1f} s wall, {cpu:.1f} s CPU (budget 30 s)")
    rec = settings["recovery"] | {"replications": args.replications, "workers": args.workers}
    rec["n"] = rec["n"] or params["n"]
    (reps, summary), rwall, rcpu = timed(
        lambda: run_recovery(params, settings | {"recovery": rec}, seed=config["seed"])
    )
    print(
        f"{args.replications} recovery replications: {rwall:.1f} s wall, {rcpu:.1f} s CPU "
        f"(budget 300 s)"
    )
    summary.to_csv(args.out.with_name(args.out.stem + "_recovery.csv"), index=False)
    pd.set_option("display.width", 200)
    print(summary.drop(columns="estimand").round(3).to_string(index=False))
    facts = reps.drop_duplicates("replication")
    shares = reps.loc[reps["kind"] == "class share"]
    report = {
        "load_average_1min_at_start": load_start,
        "load_average_1min_at_end": os.getloadavg()[0],
        "machine": machine(),
        "trial": {
            "n": int(params["n"]),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "budget_s": 30,
            "k_chosen": int(result.chosen.k),
        },
        "recovery": {
            "replications": args.replications,
            "n": int(rec["n"]),
            "workers": args.workers,
            "wall_s": round(rwall, 1),
            "cpu_s": round(rcpu, 1),
            "budget_s": 300,
            "k_chosen_counts": {
                str(k): int(v) for k, v in facts["k_chosen"].value_counts().sort_index().items()
            },
            "k_chosen_counts_sabic": {
                str(k): int(v)
                for k, v in facts["k_chosen_sabic"].value_counts().sort_index().items()
            },
            "share_abs_error_points": {
                p: round(float(100 * np.abs(g["estimate"] - g["truth"]).mean()), 2)
                for p, g in shares.groupby("parameter")
            },
            "coverage": {
                r.parameter: round(float(r.coverage), 3)
                for r in summary.dropna(subset=["coverage"]).itertuples()
            },
            "bias": {
                r.parameter: round(float(r.bias), 4)
                for r in summary.dropna(subset=["bias"]).itertuples()
            },
            "accuracy_3plus_waves": round(float(facts["accuracy_3plus_waves"].mean()), 3),
            "accuracy_all": round(float(facts["accuracy_all"].mean()), 3),
            "class_ceiling_known_classes": {
                r.parameter: round(float(r.mean_estimate), 3)
                for r in summary.itertuples()
                if "ceiling" in r.parameter
            },
            "estimands": {
                r.parameter: r.estimand for r in summary.dropna(subset=["estimand"]).itertuples()
            },
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
