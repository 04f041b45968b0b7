"""Rule pilot_cohort: simulate the cohort, write its tables, the calibration check and figures."""

from mhai.logs import setup_script_logging
from mhai.pilot import figures
from mhai.pilot.calibration import calibration_table
from mhai.pilot.cohort import simulate_cohort, write_cohort
from mhai.tracking import stage_run

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
params = smk.params.cohort
cohort = simulate_cohort(params, params["n"], smk.params.seed)
log.info("screening %s", cohort.screening)
write_cohort(cohort, smk.output.cohort)
table = calibration_table(params, cohort, smk.params.check_n, smk.params.seed)
table.to_csv(smk.output.calibration, index=False)
log.info("calibration:\n%s", table.to_string(index=False))
with stage_run("pilot", smk.config, name="cohort") as run:
    run.log_metrics({"screening": cohort.screening, "truth_cohens_d": cohort.truth["cohens_d"]})
    run.log_table("calibration", table)
    run.save_figure(figures.calibration_figure(table), "calibration")
    run.save_figure(figures.trajectories_figure(cohort), "trajectories")
    run.save_figure(figures.engagement_figure(cohort), "engagement")
