# Stage 6: effect sizes, trajectory classes, mixed models, retention, the paper-vs-reproduced
# table, and parameter recovery over simulated pilots.

ANALYSIS_TABLES = [
    "effect_sizes",
    "classes",
    "class_fit",
    "class_trajectories",
    "class_assignment",
    "mixed_models",
    "retention",
    "retention_tests",
]


rule analysis_trial:
    input:
        trial=analysis_trial_tables(),
        safety_ops=analysis_safety_ops(),
    output:
        effect_sizes="results/analysis/effect_sizes.csv",
        classes="results/analysis/classes.csv",
        class_fit="results/analysis/class_fit.csv",
        class_trajectories="results/analysis/class_trajectories.csv",
        class_assignment="results/analysis/class_assignment.csv",
        mixed_models="results/analysis/mixed_models.csv",
        retention="results/analysis/retention.csv",
        retention_tests="results/analysis/retention_tests.csv",
        early_prediction="results/analysis/early_prediction.json",
        paper_csv=report(
            "results/analysis/paper_vs_reproduced.csv",
            category="Analysis",
            caption="../report/analysis_paper_table.rst",
            labels={"table": "paper vs reproduced"},
        ),
        paper_md="results/analysis/paper_vs_reproduced.md",
        trajectories=report(
            "results/figures/analysis_trajectories.png",
            category="Analysis",
            caption="../report/analysis_trajectories.rst",
            labels={"figure": "trajectory classes"},
        ),
        effect_sizes_fig=report(
            "results/figures/analysis_effect_sizes.png",
            category="Analysis",
            caption="../report/analysis_effect_sizes.rst",
            labels={"figure": "effect sizes"},
        ),
        bic_fig=report(
            "results/figures/analysis_bic_by_k.png",
            category="Analysis",
            caption="../report/analysis_bic_by_k.rst",
            labels={"figure": "BIC by K"},
        ),
        moderators_fig=report(
            "results/figures/analysis_moderators.png",
            category="Analysis",
            caption="../report/analysis_moderators.rst",
            labels={"figure": "engagement and alliance"},
        ),
        retention_fig=report(
            "results/figures/analysis_retention.png",
            category="Analysis",
            caption="../report/analysis_retention.rst",
            labels={"figure": "retention"},
        ),
        svgs=expand(
            "results/figures/analysis_{name}.svg",
            name=[
                "trajectories",
                "effect_sizes",
                "bic_by_k",
                "moderators",
                "retention",
            ],
        ),
    log:
        log_path("analysis", "analysis_trial"),
    benchmark:
        bench_path("analysis", "analysis_trial")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=2000,
    script:
        "../scripts/analysis_trial.py"


rule analysis_recovery:
    output:
        recovery="results/analysis/recovery.csv",
        replications="results/analysis/recovery_replications.csv",
        figure=report(
            "results/figures/analysis_recovery.png",
            category="Analysis",
            caption="../report/analysis_recovery.rst",
            labels={"figure": "parameter recovery"},
        ),
        svg="results/figures/analysis_recovery.svg",
    log:
        log_path("analysis", "analysis_recovery"),
    benchmark:
        bench_path("analysis", "analysis_recovery")
    conda:
        "../envs/mhai.yaml"
    threads: config["analysis"]["recovery"]["workers"]
    resources:
        mem_mb=3000,
    script:
        "../scripts/analysis_recovery.py"


TARGETS += [
    *expand("results/analysis/{name}.csv", name=ANALYSIS_TABLES),
    "results/analysis/paper_vs_reproduced.csv",
    "results/analysis/paper_vs_reproduced.md",
    "results/analysis/recovery.csv",
]
