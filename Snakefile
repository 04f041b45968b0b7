# mhai: one DAG from Reddit-format dumps to the paper-vs-reproduced table.
# Run: snakemake --profile profiles/default   (see README.md)
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(
    config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/safety.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/pilot.smk"
include: "workflow/rules/analysis.smk"
# Stage files append to TARGETS; report.smk reads it, so it is included last.
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
        "results/provenance.json",
