"""Rule safety_evaluate: held-out metrics, session traffic through both passes, figures."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import evaluate_stage

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
evaluate_stage(
    Path(smk.input.corpus),
    Path(smk.input.model).parent,
    dict(smk.output.items()),
    smk.config,
    smk.params.seed,
)
