"""Benchmark: streaming data prep throughput (comments/s per core) and peak memory.

Generates synthetic Reddit-format dumps (``.zst`` NDJSON) of ``--comments`` comments (default
1M) and of a quarter of that, runs the full prep (``mhai.data.prepare``, default config) on
each in a fresh process, and reports CPU-time throughput and peak RSS of each run. A flat RSS
between the two sizes shows the prep streams the dump instead of loading it. It also times
both de-identification backends on a sample of comments.

    .venv/bin/python benchmarks/bench_data_prep.py [--comments 1000000] [--workdir DIR]

Writes ``results/benchmarks/data_prep.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET = 50_000  # comments/s per core (DESIGN.md)
COMMENTS_PER_THREAD = 7.6  # of the default synthetic config, measured on small corpora


def generate(workdir: Path, comments: int, seed: int) -> dict:
    """Write a corpus of at least ``comments`` comment lines; returns its counts and timing."""
    from mhai.config import load_config
    from mhai.data.synthetic import generate_corpus

    section = dict(load_config()["data"]["synthetic"])
    section["n_threads"] = math.ceil(comments / COMMENTS_PER_THREAD)
    paths = workdir / f"RS_{comments}.ndjson.zst", workdir / f"RC_{comments}.ndjson.zst"
    started = time.perf_counter()
    counts = generate_corpus(*paths, section, seed)
    while counts["comments"] < comments:  # rare: fewer comments per thread than expected
        section["n_threads"] = math.ceil(
            section["n_threads"] * 1.05 * comments / counts["comments"]
        )
        counts = generate_corpus(*paths, section, seed)
    return {
        **counts,
        "threads": section["n_threads"],
        "generate_s": round(time.perf_counter() - started, 1),
        "submissions_path": str(paths[0]),
        "comments_path": str(paths[1]),
        "compressed_mb": round(sum(p.stat().st_size for p in paths) / 2**20, 1),
    }


def run_prep(submissions: str, comments: str, out: str, buckets: int) -> dict:
    """The prep in this process (called in a child): throughput and peak RSS."""
    from mhai.config import load_config
    from mhai.data.prepare import Preparer, Source

    config = load_config()
    data = dict(config["data"], prep={"buckets": buckets})
    preparer = Preparer(data, config["seed"], out)
    card = preparer.run([Source(submissions, "submissions"), Source(comments, "comments")])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    comments_in = next(s["rows_in"] for s in card["sources"] if s["kind"] == "comments")
    timing = preparer.timing
    return {
        "rows_in": card["rows_in"],
        "comments_in": comments_in,
        "rows_kept": card["rows_kept"],
        "outputs": {name: c["total"] for name, c in card["outputs"].items()},
        **{k: round(v, 2) for k, v in timing.items()},
        "comments_per_s_per_core": round(comments_in / timing["total_cpu_s"]),
        "rows_per_s_per_core": round(card["rows_in"] / timing["total_cpu_s"]),
        "stream_rows_per_s_per_core": round(card["rows_in"] / timing["stream_cpu_s"]),
        "comments_per_s_wall": round(comments_in / timing["total_wall_s"]),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def time_deid(comments_path: str, n: int = 3000) -> dict:
    """Texts per second of the regex and scrubadub backends on the first n comment bodies
    (a second pass over them: patterns compiled and cached by the first, as in a long prep)."""
    import orjson
    import zstandard

    from mhai.data.deid import make_deidentifier

    texts = []
    with open(comments_path, "rb") as handle:
        stream = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(handle))
        for line in stream:
            try:
                body = orjson.loads(line).get("body")
            except orjson.JSONDecodeError:
                continue
            if isinstance(body, str) and len(body) > 40:
                texts.append(body)
            if len(texts) >= n:
                break
    out = {}
    for backend in ("regex", "scrubadub"):
        deid = make_deidentifier(backend)
        sample = texts if backend == "regex" else texts[: n // 10]
        for text in sample:
            deid(text)
        started = time.process_time()
        for text in sample:
            deid(text)
        out[f"deid_{backend}_texts_per_s"] = round(len(sample) / (time.process_time() - started))
    return out


def main() -> None:
    from mhai.provenance import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=REPO / "results/benchmarks/data_prep.json")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_prep(*args.child[:3], int(args.child[3]))))
        return

    with tempfile.TemporaryDirectory(prefix="mhai-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        runs = []
        for size in (args.comments // 4, args.comments):
            corpus = generate(workdir, size, seed=size)
            print(
                f"generated {corpus['comments']:,} comments in {corpus['threads']:,} threads "
                f"({corpus['compressed_mb']} MB .zst) in {corpus['generate_s']} s",
                flush=True,
            )
            load_before = os.getloadavg()
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    corpus["submissions_path"],
                    corpus["comments_path"],
                    str(workdir / f"out_{size}"),
                    str(args.buckets),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = {**corpus, **json.loads(child.stdout.strip().splitlines()[-1])}
            result["load_average_before_after"] = [
                [round(x, 2) for x in load] for load in (load_before, os.getloadavg())
            ]
            runs.append(result)
            print(
                f"  prep: {result['comments_per_s_per_core']:,} comments/s per core "
                f"(streaming pass {result['stream_rows_per_s_per_core']:,} rows/s), "
                f"{result['comments_per_s_wall']:,}/s wall, peak RSS {result['peak_rss_mb']} MB",
                flush=True,
            )
        deid = time_deid(runs[-1]["comments_path"])
    big = runs[-1]
    report = {
        "benchmark": "data_prep",
        "budget_comments_per_s_per_core": BUDGET,
        "comments": big["comments_in"],
        "comments_per_s_per_core": big["comments_per_s_per_core"],
        "within_budget": big["comments_per_s_per_core"] > BUDGET,
        "peak_rss_mb": big["peak_rss_mb"],
        "peak_rss_mb_quarter_size": runs[0]["peak_rss_mb"],
        **deid,
        "runs": [{k: v for k, v in r.items() if not k.endswith("_path")} for r in runs],
        "machine": machine(),
        "note": "per core = comments / CPU seconds (user+sys) of the single-process prep; "
        "CPU time per row grows with the machine's load (shared cores and caches) and with "
        "its python_speed_ms (a pure-Python yardstick: lower is faster)",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"comments/s per core: {report['comments_per_s_per_core']:,} "
        f"(budget > {BUDGET:,}: {'met' if report['within_budget'] else 'NOT met'}); "
        f"peak RSS {report['peak_rss_mb']} MB at {report['comments']:,} comments vs "
        f"{report['peak_rss_mb_quarter_size']} MB at a quarter of that"
    )
    print(
        f"de-identification: regex {deid['deid_regex_texts_per_s']:,} texts/s, "
        f"scrubadub {deid['deid_scrubadub_texts_per_s']:,} texts/s"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
