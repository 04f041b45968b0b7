"""Moore-et-al.-style stress test: clinical scenarios through the GM, with and without the
guardrail, each reply checked against explicit criteria.

For every scenario (``scenarios.yaml``: suicidal ideation with an indirect method cue,
delusion, mania, hallucination, OCD) the GM writes ``generations`` sampled replies. Without
the guardrail the reply shown is the GM's draft; with it, the reply is what
``Guardrail.check_turn`` returns (the draft, or the escalation message). A reply is
*appropriate* when it meets every criterion of its condition; the rate per condition comes
with a Wilson 95% interval.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

ARMS = ("without_guardrail", "with_guardrail")


@cache
def load_scenarios() -> dict[str, Any]:
    """Stress scenarios and personas shipped with the package."""
    text = resources.files("mhai.safety").joinpath("scenarios.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(centre - half), float(centre + half))


def generate_drafts(model, tokenizer, messages: list[str], cfg: dict[str, Any], seed: int):
    """GM drafts for single-turn conversations (sampled, seeded)."""
    from mhai.train.generate import generate

    return generate(
        model,
        tokenizer,
        [[{"role": "user", "content": m}] for m in messages],
        max_new_tokens=cfg["max_new_tokens"],
        seed=seed,
        batch_size=cfg["batch_size"],
        do_sample=True,
        temperature=cfg["temperature"],
    )


def run_stress_test(guardrail, model, tokenizer, judge, cfg: dict[str, Any], seed: int):
    """Replies and verdicts per (scenario, generation, arm); returns ``(details, summary)``.

    ``cfg`` is the ``safety.stress`` section; the guardrail's users are in ``region``.
    """
    spec = load_scenarios()["stress"]
    jobs = [
        (condition, block["criteria"], scenario, g)
        for condition, block in spec.items()
        for scenario in block["scenarios"]
        for g in range(cfg["generations"])
    ]
    drafts = generate_drafts(model, tokenizer, [j[2]["message"] for j in jobs], cfg, seed)
    rows = []
    for (condition, criteria, scenario, g), draft in zip(jobs, drafts, strict=True):
        state = guardrail.new_session(f"stress-{scenario['id']}-{g}", "stress", "US", "en")
        decision = guardrail.check_turn(state, scenario["message"], draft)
        shown = {"without_guardrail": draft, "with_guardrail": decision.reply or draft}
        for arm, reply in shown.items():
            verdicts = {c: judge.check(c, scenario["message"], reply, scenario) for c in criteria}
            rows.append(
                {
                    "condition": condition,
                    "scenario": scenario["id"],
                    "generation": g,
                    "arm": arm,
                    "appropriate": all(verdicts.values()),
                    "failed_criteria": ";".join(c for c, ok in verdicts.items() if not ok),
                    "flagged": decision.flagged,
                    "action": decision.action if arm == "with_guardrail" else "none",
                    "score": decision.score,
                    "judge": judge.name,
                    "reply": reply,
                }
            )
    details = pd.DataFrame(rows)
    return details, summarize(details)


def summarize(details: pd.DataFrame) -> pd.DataFrame:
    """Appropriate-response rate per condition and arm (plus ``all``), with Wilson CIs."""
    out = []
    groups = [*details.groupby(["condition", "arm"])]
    groups += [(("all", arm), d) for arm, d in details.groupby("arm")]
    for (condition, arm), d in groups:
        k, n = int(d["appropriate"].sum()), len(d)
        low, high = wilson(k, n)
        out.append(
            {
                "condition": condition,
                "arm": arm,
                "n": n,
                "appropriate": k,
                "rate": k / n,
                "ci_low": low,
                "ci_high": high,
                "flag_rate": float(d["flagged"].mean()),
                "judge": d["judge"].iloc[0],
            }
        )
    return pd.DataFrame(out)


def stress_figure(summary: pd.DataFrame):
    """Grouped bars: appropriate-response rate per condition, with and without guardrail."""
    import matplotlib.pyplot as plt

    conditions = list(dict.fromkeys(summary["condition"]))
    x = np.arange(len(conditions))
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, arm in enumerate(ARMS):
        d = summary[summary["arm"] == arm].set_index("condition").reindex(conditions)
        err = np.clip(np.vstack([d["rate"] - d["ci_low"], d["ci_high"] - d["rate"]]), 0, None)
        ax.bar(
            x + (i - 0.5) * 0.38, d["rate"], 0.38, yerr=err, capsize=3, label=arm.replace("_", " ")
        )
    ax.set_xticks(x, [c.replace("_", " ") for c in conditions], rotation=20)
    ax.set_ylim(0, 1.25)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("appropriate responses")
    ax.set_title("Stress test: appropriate-response rate (Wilson 95% CI)")
    ax.legend(loc="upper left", ncol=2)
    return fig
