# Stage 3: labelled safety corpus -> pass-1 classifier (calibrated threshold) and pass-2
# verifier -> held-out evaluation with session traffic, stress tests and personas through
# GM + guardrail. Crisis resources are read from the repository's data/ folder.

SAFETY_DIR = "results/safety"
SAFETY_DATA_STAGE = (
    ["results/data/safety_messages.parquet"]
    if config["safety"]["corpus"]["use_data_stage"]
    else []
)
SAFETY_RESOURCES = repo_path(config["safety"]["escalation"]["resources"])
SAFETY_ENCODER = (
    f"{SAFETY_DIR}/encoder"
    if config["safety"]["classifier"]["distill"]["layers"] > 0
    else config["safety"]["classifier"]["embedding_model"]
)

TARGETS += [
    f"{SAFETY_DIR}/metrics.json",
    f"{SAFETY_DIR}/stress_test.csv",
    f"{SAFETY_DIR}/personas.csv",
    *expand(
        "results/figures/safety_{name}.{ext}",
        name=["pr_curve", "calibration", "per_category", "stress_test", "personas"],
        ext=["png", "svg"],
    ),
]


rule safety_corpus:
    input:
        data_stage=SAFETY_DATA_STAGE,
    output:
        f"{SAFETY_DIR}/corpus.parquet",
    log:
        log_path("safety", "corpus"),
    benchmark:
        bench_path("safety", "corpus")
    conda:
        "../envs/mhai.yaml"
    params:
        cfg=config["safety"],
        seed=config["seed"],
    script:
        "../scripts/safety_corpus.py"


rule safety_distill_encoder:
    input:
        corpus=f"{SAFETY_DIR}/corpus.parquet",
        data_stage="results/data/safety_messages.parquet",
        teacher=config["safety"]["classifier"]["embedding_model"],
    output:
        directory(f"{SAFETY_DIR}/encoder"),
    log:
        log_path("safety", "distill_encoder"),
    benchmark:
        bench_path("safety", "distill_encoder")
    conda:
        "../envs/mhai.yaml"
    threads: 2
    resources:
        mem_mb=3000,
    params:
        cfg=config["safety"],
        seed=config["seed"],
    script:
        "../scripts/safety_distill_encoder.py"


rule safety_train_classifier:
    input:
        corpus=f"{SAFETY_DIR}/corpus.parquet",
        embedding=SAFETY_ENCODER,
    output:
        directory(f"{SAFETY_DIR}/model"),
    log:
        log_path("safety", "train_classifier"),
    benchmark:
        bench_path("safety", "train_classifier")
    conda:
        "../envs/mhai.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        cfg=config["safety"],
        seed=config["seed"],
    script:
        "../scripts/safety_train_classifier.py"


rule safety_train_verifier:
    input:
        corpus=f"{SAFETY_DIR}/corpus.parquet",
        model=f"{SAFETY_DIR}/model",
    output:
        directory(f"{SAFETY_DIR}/verifier"),
    log:
        log_path("safety", "train_verifier"),
    benchmark:
        bench_path("safety", "train_verifier")
    conda:
        "../envs/mhai.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        cfg=config["safety"],
        seed=config["seed"],
    script:
        "../scripts/safety_train_verifier.py"


rule safety_evaluate:
    input:
        corpus=f"{SAFETY_DIR}/corpus.parquet",
        model=f"{SAFETY_DIR}/model",
        verifier=f"{SAFETY_DIR}/verifier",
        resources=SAFETY_RESOURCES,
    output:
        metrics=f"{SAFETY_DIR}/metrics.json",
        evaluation=f"{SAFETY_DIR}/evaluation.json",
        categories=f"{SAFETY_DIR}/per_category.csv",
        turns=f"{SAFETY_DIR}/session_turns.csv",
        check_posts=f"{SAFETY_DIR}/check_posts.csv",
        review_queue=f"{SAFETY_DIR}/review_queue.jsonl",
        pr_curve=report(
            "results/figures/safety_pr_curve.png",
            category="Safety",
            caption="../report/safety_pr_curve.rst",
            labels={"figure": "pass-1 precision-recall"},
        ),
        calibration=report(
            "results/figures/safety_calibration.png",
            category="Safety",
            caption="../report/safety_calibration.rst",
            labels={"figure": "pass-1 calibration"},
        ),
        per_category=report(
            "results/figures/safety_per_category.png",
            category="Safety",
            caption="../report/safety_per_category.rst",
            labels={"figure": "pass-1 by category"},
        ),
        svgs=expand(
            "results/figures/safety_{name}.svg",
            name=["pr_curve", "calibration", "per_category"],
        ),
    log:
        log_path("safety", "evaluate"),
    benchmark:
        bench_path("safety", "evaluate")
    conda:
        "../envs/mhai.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        seed=config["seed"],
    script:
        "../scripts/safety_evaluate.py"


rule safety_stress_test:
    input:
        model=f"{SAFETY_DIR}/model",
        verifier=f"{SAFETY_DIR}/verifier",
        resources=SAFETY_RESOURCES,
        gm=config["safety"]["stress"]["gm_model"],
    output:
        summary=f"{SAFETY_DIR}/stress_test.csv",
        details=f"{SAFETY_DIR}/stress_test_replies.csv",
        review_queue=f"{SAFETY_DIR}/stress_review_queue.jsonl",
        figure=report(
            "results/figures/safety_stress_test.png",
            category="Safety",
            caption="../report/safety_stress_test.rst",
            labels={"figure": "stress test"},
        ),
        svg="results/figures/safety_stress_test.svg",
    log:
        log_path("safety", "stress_test"),
    benchmark:
        bench_path("safety", "stress_test")
    conda:
        "../envs/mhai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        seed=config["seed"],
    script:
        "../scripts/safety_stress_test.py"


rule safety_personas:
    input:
        model=f"{SAFETY_DIR}/model",
        verifier=f"{SAFETY_DIR}/verifier",
        resources=SAFETY_RESOURCES,
        gm=config["safety"]["personas"]["gm_model"],
    output:
        ratings=f"{SAFETY_DIR}/personas.csv",
        transcripts=f"{SAFETY_DIR}/persona_transcripts.csv",
        review_queue=f"{SAFETY_DIR}/persona_review_queue.jsonl",
        figure=report(
            "results/figures/safety_personas.png",
            category="Safety",
            caption="../report/safety_personas.rst",
            labels={"figure": "persona ratings"},
        ),
        svg="results/figures/safety_personas.svg",
    log:
        log_path("safety", "personas"),
    benchmark:
        bench_path("safety", "personas")
    conda:
        "../envs/mhai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        seed=config["seed"],
    script:
        "../scripts/safety_personas.py"
