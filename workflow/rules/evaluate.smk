# Stage 4: responses of base, SFT and DPO GM, IM refinements and human replies to held-out
# posts; five LLUMI dimensions, linguistic analysis, pairwise win rates, figures; a blinded
# human rating sheet and, when filled sheets are configured, their import (agreement, human
# win rates, DPO2 pairs).

EVAL_DIR = "results/evaluation"
EVAL_FIGURES = ["readability", "empathy", "connectedness", "actionability", "safety"]
EVAL_SAFETY_MODEL = (
    ["results/safety/model"]
    if config["evaluate"]["scoring"]["safety_classifier"]
    else []
)
EVAL_RATING_SHEETS = [
    repo_path(p) for p in config["evaluate"]["human"]["rating_sheets"]
]
EVAL_HUMAN_WIN_RATES = [f"{EVAL_DIR}/human_win_rates.csv"] if EVAL_RATING_SHEETS else []

TARGETS += [
    f"{EVAL_DIR}/responses.parquet",
    f"{EVAL_DIR}/dimensions.csv",
    f"{EVAL_DIR}/linguistics.csv",
    f"{EVAL_DIR}/win_rates.csv",
    f"{EVAL_DIR}/summary.csv",
    f"{EVAL_DIR}/rating_sheet.csv",
    *expand(
        "results/figures/evaluate_{name}.{ext}",
        name=[*EVAL_FIGURES, "linguistics"],
        ext=["png", "svg"],
    ),
]
if EVAL_RATING_SHEETS:
    TARGETS += [
        f"{EVAL_DIR}/human_agreement.csv",
        f"{EVAL_DIR}/human_win_rates.csv",
        f"{EVAL_DIR}/dpo2_pairs.jsonl",
    ]


rule evaluate_generate:
    input:
        pairs="results/data/dpo_gm.jsonl",
        base="results/models/base_lm",
        sft="results/train/gm/sft/adapter",
        dpo="results/train/gm/merged",
        im="results/train/im/merged",
    output:
        f"{EVAL_DIR}/responses.parquet",
    log:
        log_path("evaluate", "generate"),
    benchmark:
        bench_path("evaluate", "generate")
    conda:
        "../envs/mhai.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        cfg=config["evaluate"],
        seed=config["seed"],
    script:
        "../scripts/evaluate_generate.py"


rule evaluate_score:
    input:
        responses=f"{EVAL_DIR}/responses.parquet",
        embedding="results/models/embedding",
        base="results/models/base_lm",
        safety=EVAL_SAFETY_MODEL,
    output:
        dimensions=f"{EVAL_DIR}/dimensions.csv",
        linguistics=f"{EVAL_DIR}/linguistics.csv",
    log:
        log_path("evaluate", "score"),
    benchmark:
        bench_path("evaluate", "score")
    conda:
        "../envs/mhai.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        cfg=config["evaluate"],
    script:
        "../scripts/evaluate_score.py"


rule evaluate_compare:
    input:
        dimensions=f"{EVAL_DIR}/dimensions.csv",
        linguistics=f"{EVAL_DIR}/linguistics.csv",
        responses=f"{EVAL_DIR}/responses.parquet",
        human_win_rates=EVAL_HUMAN_WIN_RATES,
    output:
        win_rates=report(
            f"{EVAL_DIR}/win_rates.csv",
            category="Response evaluation",
            caption="../report/evaluate_win_rates.rst",
            labels={"table": "pairwise win rates"},
        ),
        summary=f"{EVAL_DIR}/summary.csv",
        readability=report(
            "results/figures/evaluate_readability.png",
            category="Response evaluation",
            caption="../report/evaluate_dimension.rst",
            labels={"figure": "readability"},
        ),
        empathy=report(
            "results/figures/evaluate_empathy.png",
            category="Response evaluation",
            caption="../report/evaluate_dimension.rst",
            labels={"figure": "empathy"},
        ),
        connectedness=report(
            "results/figures/evaluate_connectedness.png",
            category="Response evaluation",
            caption="../report/evaluate_dimension.rst",
            labels={"figure": "connectedness"},
        ),
        actionability=report(
            "results/figures/evaluate_actionability.png",
            category="Response evaluation",
            caption="../report/evaluate_dimension.rst",
            labels={"figure": "actionability"},
        ),
        safety=report(
            "results/figures/evaluate_safety.png",
            category="Response evaluation",
            caption="../report/evaluate_dimension.rst",
            labels={"figure": "safety"},
        ),
        linguistics=report(
            "results/figures/evaluate_linguistics.png",
            category="Response evaluation",
            caption="../report/evaluate_linguistics.rst",
            labels={"figure": "linguistic analysis"},
        ),
        svg=expand(
            "results/figures/evaluate_{name}.svg", name=[*EVAL_FIGURES, "linguistics"]
        ),
    log:
        log_path("evaluate", "compare"),
    benchmark:
        bench_path("evaluate", "compare")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        cfg=config["evaluate"],
        seed=config["seed"],
    script:
        "../scripts/evaluate_compare.py"


rule evaluate_rating_sheet:
    input:
        responses=f"{EVAL_DIR}/responses.parquet",
    output:
        sheet=f"{EVAL_DIR}/rating_sheet.csv",
        key=f"{EVAL_DIR}/rating_key.csv",
    log:
        log_path("evaluate", "rating_sheet"),
    benchmark:
        bench_path("evaluate", "rating_sheet")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        pairs=config["evaluate"]["human"]["rating_pairs"],
        seed=config["seed"],
    script:
        "../scripts/evaluate_rating_sheet.py"


# The key is read from the configured archive copy (never the freshly exported one), so the
# DPO2 round (train stage) can use these pairs without a cycle through the trained models.
rule evaluate_import_ratings:
    input:
        sheets=EVAL_RATING_SHEETS,
        key=repo_path(config["evaluate"]["human"]["rating_key"]),
    output:
        agreement=f"{EVAL_DIR}/human_agreement.csv",
        win_rates=f"{EVAL_DIR}/human_win_rates.csv",
        dpo2_pairs=f"{EVAL_DIR}/dpo2_pairs.jsonl",
        drops=f"{EVAL_DIR}/ratings.drops.csv",
    log:
        log_path("evaluate", "import_ratings"),
    benchmark:
        bench_path("evaluate", "import_ratings")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config["evaluate"],
        seed=config["seed"],
    script:
        "../scripts/evaluate_import_ratings.py"
