# Stage 1: Reddit-format dumps -> de-identified SFT/DPO sets, safety messages, data card.
# Inputs: the synthetic corpus (data.source: synthetic) or the dumps and tables listed in
# data.files (data.source: files; relative paths are read from the repository root).
from mhai.data.prepare import SYNTHETIC_FILES, configured_sources

TARGETS += ["results/models/base_lm", "results/models/embedding"]
TARGETS += [
    "results/data/data_card.json",
    "results/figures/data_lengths.png",
    "results/figures/data_vote_margins.png",
]


rule synthesize_corpus:
    output:
        submissions=SYNTHETIC_FILES["submissions"],
        comments=SYNTHETIC_FILES["comments"],
    log:
        log_path("data", "synthesize_corpus"),
    benchmark:
        bench_path("data", "synthesize_corpus")
    conda:
        "../envs/mhai.yaml"
    params:
        synthetic=config["data"]["synthetic"],
        seed=config["seed"],
    script:
        "../scripts/data_synthesize.py"


rule prepare_data:
    input:
        raw=[source.path for source in configured_sources(config["data"], REPO)],
    output:
        sft_gm="results/data/sft_gm.jsonl",
        dpo_gm="results/data/dpo_gm.jsonl",
        sft_im="results/data/sft_im.jsonl",
        dpo_im="results/data/dpo_im.jsonl",
        safety="results/data/safety_messages.parquet",
        card="results/data/data_card.json",
        submission_drops="results/data/submissions.drops.csv",
        comment_drops="results/data/comments.drops.csv",
    log:
        log_path("data", "prepare_data"),
    benchmark:
        bench_path("data", "prepare_data")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=2000,
    params:
        data=config["data"],
        seed=config["seed"],
        repo=str(REPO),
    script:
        "../scripts/data_prepare.py"


rule data_report:
    input:
        card="results/data/data_card.json",
    output:
        lengths=report(
            "results/figures/data_lengths.png",
            category="Data",
            caption="../report/data_lengths.rst",
        ),
        lengths_svg="results/figures/data_lengths.svg",
        margins=report(
            "results/figures/data_vote_margins.png",
            category="Data",
            caption="../report/data_vote_margins.rst",
        ),
        margins_svg="results/figures/data_vote_margins.svg",
    log:
        log_path("data", "data_report"),
    benchmark:
        bench_path("data", "data_report")
    conda:
        "../envs/mhai.yaml"
    script:
        "../scripts/data_report.py"
