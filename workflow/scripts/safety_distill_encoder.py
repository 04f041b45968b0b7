"""Rule safety_distill_encoder: a shallower pass-1 encoder distilled from the full one."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import distill_stage

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
distill_stage(
    Path(smk.input.corpus),
    Path(smk.input.data_stage),
    Path(smk.input.teacher),
    Path(smk.output[0]),
    smk.params.cfg,
    smk.params.seed,
)
