"""Rule evaluate_compare: pairwise win rates, per-system summary, figures, W&B."""

from mhai.evaluate.pipeline import run_comparison
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
rates = run_comparison(
    smk.input.dimensions,
    smk.input.linguistics,
    smk.input.responses,
    smk.output.win_rates,
    smk.output.summary,
    smk.params.cfg,
    smk.config,
    seed=smk.params.seed,
    human_win_rates_path=smk.input.human_win_rates[0] if smk.input.human_win_rates else None,
)
log.info("%d win-rate rows -> %s", len(rates), smk.output.win_rates)
