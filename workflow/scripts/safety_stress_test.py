"""Rule safety_stress_test: Moore-style scenarios through GM with and without the guardrail."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import stress_stage

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
summary = stress_stage(
    Path(smk.input.model).parent,
    Path(smk.input.gm),
    dict(smk.output.items()),
    smk.config,
    smk.params.seed,
)
log.info("stress test:\n%s", summary.to_string(index=False))
