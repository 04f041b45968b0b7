"""Rule pilot_sessions: every planned session through the guardrail; trial tables, safety ops."""

import json
from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.models import load_causal_lm, load_tokenizer
from mhai.pilot import figures
from mhai.pilot.cohort import read_cohort
from mhai.pilot.safety_ops import flags_by_week, summarize
from mhai.pilot.sessions import simulate_sessions
from mhai.pilot.trial import write_trial
from mhai.safety.guardrail import Guardrail
from mhai.schemas import write_parquet
from mhai.tracking import stage_run

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
cfg = smk.params.sessions
cohort = read_cohort(smk.input.cohort)
queue = Path(smk.output.review_queue)
queue.parent.mkdir(parents=True, exist_ok=True)
queue.write_text("")  # the guardrail appends flagged sessions; start from an empty queue
guard = Guardrail.load(Path(smk.input.safety_model).parent, smk.config, review_queue=queue)
gm = user_lm = None
if cfg["llm"]["sessions"] > 0:
    gm = (load_causal_lm(smk.input.gm, device="auto"), load_tokenizer(smk.input.gm))
    user_lm = gm
    if cfg["llm"]["user_model"] == "base_lm":
        user_lm = (
            load_causal_lm(smk.input.base_lm, device="auto"),
            load_tokenizer(smk.input.base_lm),
        )
sessions, turns, latency = simulate_sessions(
    cohort, guard, cfg, smk.params.seed, gm=gm, user_lm=user_lm
)
tables = {
    "participants": cohort.participants,
    "assessments": cohort.assessments,
    "sessions": sessions,
    "alliance": cohort.alliance,
    "social": cohort.social,
}
write_trial(tables, Path(smk.output.trial[0]).parent)
write_parquet(turns, smk.output.turns, "pilot/turns")
ops = summarize(turns, sessions, latency, queue)
Path(smk.output.safety_ops).write_text(json.dumps(ops, indent=2))
log.info("safety ops: %s", json.dumps(ops))
with stage_run("pilot", smk.config, name="sessions") as run:
    run.log_metrics({k: v for k, v in ops.items() if k != "paper"})
    run.log_table("flags_by_week", flags_by_week(turns))
    run.log_table("llm_turns", turns.loc[turns["llm"]].drop(columns=["llm"]))
    run.save_figure(figures.flags_figure(flags_by_week(turns)), "flags_by_week")
