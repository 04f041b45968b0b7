# Stage 5: simulated pilot. A calibrated cohort, then every session through the guardrail.

PILOT_TABLES = ["participants", "assessments", "sessions", "alliance", "social"]


rule pilot_cohort:
    output:
        cohort=directory("results/pilot/cohort"),
        calibration=report(
            "results/pilot/calibration.csv",
            category="Simulated pilot",
            caption="../report/pilot_calibration_table.rst",
            labels={"table": "calibration"},
        ),
        calibration_fig=report(
            "results/figures/pilot_calibration.png",
            category="Simulated pilot",
            caption="../report/pilot_calibration.rst",
            labels={"figure": "calibration"},
        ),
        trajectories_fig=report(
            "results/figures/pilot_trajectories.png",
            category="Simulated pilot",
            caption="../report/pilot_trajectories.rst",
            labels={"figure": "trajectories"},
        ),
        engagement_fig=report(
            "results/figures/pilot_engagement.png",
            category="Simulated pilot",
            caption="../report/pilot_engagement.rst",
            labels={"figure": "engagement"},
        ),
    log:
        log_path("pilot", "pilot_cohort"),
    benchmark:
        bench_path("pilot", "pilot_cohort")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=3000,
    params:
        cohort=config["pilot"]["cohort"],
        check_n=config["pilot"]["calibration_check_n"],
        seed=config["seed"],
    script:
        "../scripts/pilot_cohort.py"


rule pilot_sessions:
    input:
        cohort="results/pilot/cohort",
        safety_model="results/safety/model",
        verifier="results/safety/verifier",
        crisis_resources=repo_path("data/crisis_resources.csv"),
        gm="results/train/gm/merged",
        base_lm="results/models/base_lm",
    output:
        trial=expand("results/pilot/trial/{table}.parquet", table=PILOT_TABLES),
        turns="results/pilot/turns.parquet",
        review_queue="results/pilot/review_queue.jsonl",
        safety_ops="results/pilot/safety_ops.json",
        flags_fig=report(
            "results/figures/pilot_flags_by_week.png",
            category="Simulated pilot",
            caption="../report/pilot_flags.rst",
            labels={"figure": "guardrail flags by week"},
        ),
    log:
        log_path("pilot", "pilot_sessions"),
    benchmark:
        bench_path("pilot", "pilot_sessions")
    conda:
        "../envs/mhai.yaml"
    threads: 2
    resources:
        mem_mb=6000,
    params:
        sessions=config["pilot"]["sessions"],
        seed=config["seed"],
    script:
        "../scripts/pilot_sessions.py"


TARGETS += [
    "results/pilot/calibration.csv",
    "results/pilot/safety_ops.json",
    *expand("results/pilot/trial/{table}.parquet", table=PILOT_TABLES),
]
