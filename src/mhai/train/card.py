"""Model cards (README.md) for the trained GM and IM models."""

from __future__ import annotations

from typing import Any

import yaml

ROLES = {
    "gm": "generative model (GM): writes a first supportive reply to a help-seeking post",
    "im": "improved model (IM): rewrites a human-written draft reply to a post into a better one",
}
METRIC_COLUMNS = [
    "eval_loss",
    "perplexity",
    "pref_accuracy",
    "reward_margin",
    "dpo_reward_accuracy",
    "dpo_reward_margin",
]


SOFTWARE = ("torch", "transformers", "trl", "peft", "accelerate")


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per training step, one column per metric."""
    lines = [
        "| step | " + " | ".join(METRIC_COLUMNS) + " |",
        "|---" * (len(METRIC_COLUMNS) + 1) + "|",
    ]
    for step, values in metrics.items():
        cells = [f"{values[c]:.4f}" if c in values else "-" for c in METRIC_COLUMNS]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(
    model: str,
    *,
    base_spec: str,
    data: dict[str, Any],
    recipes: dict[str, dict[str, Any]],
    metrics: dict[str, dict[str, float]],
    normalise: str,
) -> str:
    """The README.md of a merged model: base, data, recipes, held-out metrics, use and limits."""
    front = yaml.safe_dump(
        {
            "library_name": "transformers",
            "base_model": base_spec,
            "tags": ["mhai", "lora", "sft", "dpo", "mental-health-support", "research-only"],
            "pipeline_tag": "text-generation",
        },
        sort_keys=False,
    )
    reward = "mean per-token" if normalise == "mean" else "summed"
    dpo2 = "dpo2" in recipes
    rounds = ", then a second DPO round (DPO2) on pairs from human ratings" if dpo2 else ""
    dpo2_data = (
        " DPO2 pairs come from imported human ratings of the model's responses." if dpo2 else ""
    )
    sections = [
        f"---\n{front}---",
        f"# mhai {model.upper()}: {ROLES[model]}",
        "Trained by the `mhai` workflow (a reproduction of the LLUMI set-up): supervised "
        f"fine-tuning, then direct preference optimisation{rounds}, of a LoRA adapter on the "
        f"base model `{base_spec}`; this folder holds the adapter merged into the base weights.",
        "## Data",
        "Posts and replies from mental-health communities (a synthetic Reddit-format corpus in "
        "the default configuration), de-identified by the data stage. SFT pairs a post with its "
        "best-voted reply; DPO pairs a higher-voted (chosen) with a lower-voted (rejected) "
        f"reply.{dpo2_data}\n\n"
        f"```yaml\n{yaml.safe_dump(data, sort_keys=False)}```",
        "## Recipes",
        f"```yaml\n{yaml.safe_dump(recipes, sort_keys=False)}```",
        "## Software",
        ", ".join(f"{name} {_version(name)}" for name in SOFTWARE),
        "## Held-out metrics",
        metrics_table(metrics),
        "`eval_loss` is the token-weighted loss on held-out responses (prompt masked); "
        f"`pref_accuracy` is the share of held-out preference pairs whose chosen reply has the "
        f"higher {reward} log-probability under the model (ties count 1/2), `reward_margin` the "
        "mean difference; `dpo_reward_*` use DPO's implicit reward, beta times the log-ratio to "
        "the model the round started from."
        + (
            " For the IM the rejected reply is the draft quoted in the prompt, which a language "
            "model can copy cheaply, so the log-probability `pref_accuracy` can sit near 0 for "
            "every step: read its `reward_margin` across steps (it rises as training prefers "
            "the improved reply) and `dpo_reward_accuracy`."
            if model == "im"
            else ""
        ),
        "## Intended use and limits",
        "- Research on training and evaluating supportive-reply models; a component of a "
        "simulated pilot. **It is not clinical advice, not a therapist and not a crisis "
        "service.**\n"
        "- It must only be used behind the project's safety guardrail (crisis detection, "
        "verification, escalation to human services) and with human oversight.\n"
        "- Community votes are a proxy for helpfulness, not clinical judgement; the model can "
        "produce wrong, generic, or unsafe text, and reflects the biases of its data.\n"
        "- The default configuration trains a 135M-parameter model for a few minutes on "
        "synthetic data: it demonstrates the pipeline, not a useful support model.",
    ]
    return "\n\n".join(sections) + "\n"
