"""Data stage: readers, cleaning, de-identification, pairs, splits, accounting, outputs."""

from __future__ import annotations

import copy
import csv
import json
from collections import Counter
from pathlib import Path

import orjson
import pandas as pd
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from mhai.config import load_config
from mhai.data.card import card_table, load_card, plot_lengths, plot_margins
from mhai.data.clean import CleanConfig, text_reason, words_of
from mhai.data.deid import make_deidentifier
from mhai.data.formatting import gm_prompt, im_prompt
from mhai.data.lexicon import weak_label
from mhai.data.pairs import PairConfig, Reply, best_reply, eligible, gm_pairs, im_drafts
from mhai.data.prepare import OUTPUTS, AccountingError, Preparer, Source, prepare
from mhai.data.readers import DataSourceError, DropLog, read_ndjson, read_table
from mhai.data.splits import assign_splits
from mhai.data.synthetic import LOW, generate_corpus
from mhai.schemas import SchemaError, read_jsonl, read_parquet

CONFIG = load_config()
DATA = CONFIG["data"]


def data_config(**overrides) -> dict:
    data = copy.deepcopy(DATA)
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small synthetic corpus with a high PII share, and the log of every planted value."""
    root = tmp_path_factory.mktemp("corpus")
    pii: list[tuple[str, str]] = []
    synthetic = {**DATA["synthetic"], "n_threads": 150, "pii_share": 0.6}
    counts = generate_corpus(root / "s.ndjson.zst", root / "c.ndjson.zst", synthetic, 11, pii)
    sources = [
        Source(str(root / "s.ndjson.zst"), "submissions"),
        Source(str(root / "c.ndjson.zst"), "comments"),
    ]
    return root, sources, counts, pii


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    """The prep run once over the corpus: (output dir, data card)."""
    _, sources, _, _ = corpus
    out = tmp_path_factory.mktemp("prepared")
    card = prepare(DATA, 5, out, sources)
    return out, card


def write_ndjson(path: Path, lines: list) -> Path:
    raw = b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw) if path.suffix == ".zst" else raw)
    return path


def submission(i: int, **extra) -> dict:
    text = (
        "I have been feeling low for weeks since I lost my job and I do not know what to do "
        f"next, any advice on how to cope with this would help, thread number {i}."
    )
    return {
        "id": f"p{i}",
        "subreddit": "depression",
        "title": f"Struggling lately {i}",
        "selftext": text,
        "author": f"user{i}",
        "created_utc": 1_600_000_000 + i,
        "score": 5,
        **extra,
    }


def comment(i: int, post: int, score: int, body: str | None = None, **extra) -> dict:
    body = body or (
        f"I am sorry you are going through this, reply {i} here. Try one small step today and "
        "talk to someone you trust about how you feel."
    )
    return {
        "id": f"c{i}",
        "link_id": f"t3_p{post}",
        "parent_id": f"t3_p{post}",
        "body": body,
        "author": f"helper{i}",
        "score": score,
        "created_utc": 1_600_000_100 + i,
        **extra,
    }


# -- formatting -----------------------------------------------------------------------------


def test_prompts_carry_post_and_draft():
    post = gm_prompt("  Cannot sleep ", "Awake every night.\n")
    assert post == "Cannot sleep\n\nAwake every night."
    assert gm_prompt("", "Body only") == "Body only"
    prompt = im_prompt(post, "just sleep lol")
    assert prompt.index("Cannot sleep") < prompt.index("just sleep lol")
    assert "Draft reply:\njust sleep lol" in prompt


# -- pairs and splits -------------------------------------------------------------------------

PAIR_CFG = PairConfig(
    min_margin=3, min_ratio=1.5, min_chosen_score=2, min_sft_score=2, max_pairs_per_thread=3
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-10, max_value=200), min_size=0, max_size=12))
def test_pairs_respect_scores_margin_and_ratio(scores):
    replies = [Reply(f"r{i}", f"reply text {i}", s) for i, s in enumerate(scores)]
    pairs = gm_pairs(replies, PAIR_CFG)
    every = [(a, b) for a in replies for b in replies if eligible(a, b, PAIR_CFG)]
    every.sort(key=lambda p: (p[1].score - p[0].score, p[0].id, p[1].id))
    assert pairs == every[: PAIR_CFG.max_pairs_per_thread]
    assert len(pairs) <= PAIR_CFG.max_pairs_per_thread
    for chosen, rejected in pairs:
        assert chosen.score > rejected.score
        assert chosen.score - rejected.score >= PAIR_CFG.min_margin
        assert chosen.score + 1 >= PAIR_CFG.min_ratio * (max(rejected.score, 0) + 1)
        assert chosen.score >= PAIR_CFG.min_chosen_score
    best, drafts = im_drafts(replies, PAIR_CFG)
    if best is not None:
        assert best.score == max(scores) and best.score >= PAIR_CFG.min_sft_score
        assert best == best_reply(replies, PAIR_CFG)
    for draft in drafts:
        assert best.score - draft.score >= PAIR_CFG.min_margin and draft.id != best.id
    # eligible pairs exist whenever the top and bottom scores are far enough apart
    if scores and max(scores) >= 2 * (max(min(scores), 0) + 1) + 5:
        assert pairs and drafts


def test_pairs_prefer_largest_margins():
    replies = [Reply("a", "x", 50), Reply("b", "y", 10), Reply("c", "z", 0), Reply("d", "w", 48)]
    pairs = gm_pairs(replies, PAIR_CFG)
    assert [(c.id, r.id) for c, r in pairs] == [("a", "c"), ("d", "c"), ("a", "b")]


def test_splits_are_thread_level_seeded_and_exact():
    ids = [f"t{i}" for i in range(1000)]
    splits = assign_splits(ids, {"train": 0.8, "eval": 0.1, "test": 0.1}, seed=3)
    assert set(splits) == set(ids)
    assert Counter(splits.values()) == {"train": 800, "eval": 100, "test": 100}
    assert splits == assign_splits(list(reversed(ids)), {"train": 0.8, "eval": 0.1, "test": 0.1}, 3)
    assert splits != assign_splits(ids, {"train": 0.8, "eval": 0.1, "test": 0.1}, 4)
    small = assign_splits(["a", "b", "c", "d", "e"], {"train": 0.9, "eval": 0.05, "test": 0.05}, 1)
    assert set(small.values()) == {"train", "eval", "test"}


# -- readers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.zst"])
def test_malformed_lines_are_counted_drops_with_reasons(tmp_path, suffix):
    path = write_ndjson(
        tmp_path / f"c{suffix}",
        [
            comment(1, 1, 5),
            b'{"id": "c2", "body": "truncated',
            comment(3, 1, "many"),
            {k: v for k, v in comment(4, 1, 2).items() if k != "body"},
            [1, 2, 3],
            comment(6, 1, 7.0, created_utc="1600000000"),
        ],
    )
    drops = DropLog(tmp_path / "drops.csv")
    rows_in: Counter = Counter()
    kept = list(read_ndjson(path, "comments", drops, rows_in))
    drops.close()
    assert [line for line, _ in kept] == [1, 6]
    assert kept[1][1]["score"] == 7 and kept[1][1]["created_utc"] == 1_600_000_000
    assert rows_in[str(path)] == 6
    rows = list(csv.DictReader((tmp_path / "drops.csv").open()))
    assert [(r["line"], r["id"], r["reason"]) for r in rows] == [
        ("2", "", "malformed_json"),
        ("3", "c3", "wrong_type:score"),
        ("4", "c4", "missing_field:body"),
        ("5", "", "not_an_object"),
    ]
    assert all(r["source"] == str(path) for r in rows)


def test_empty_missing_and_corrupt_files_raise_naming_the_file(tmp_path):
    empty = tmp_path / "RC_empty.ndjson"
    empty.write_bytes(b"")
    with pytest.raises(DataSourceError, match="RC_empty.ndjson: input file is empty"):
        list(read_ndjson(empty, "comments", DropLog()))
    blank = write_ndjson(tmp_path / "RC_blank.ndjson.zst", [b"  "])
    with pytest.raises(DataSourceError, match="RC_blank.ndjson.zst: input file holds no rows"):
        list(read_ndjson(blank, "comments", DropLog()))
    corrupt = tmp_path / "RC_corrupt.zst"
    corrupt.write_bytes(b"this is not zstandard data at all")
    with pytest.raises(DataSourceError, match="RC_corrupt.zst: cannot decompress"):
        list(read_ndjson(corrupt, "comments", DropLog()))
    with pytest.raises(DataSourceError, match="RC_missing.zst: cannot open input file"):
        list(read_ndjson(tmp_path / "RC_missing.zst", "comments", DropLog()))
    with pytest.raises(DataSourceError, match="QA_empty.csv: input file is empty"):
        (tmp_path / "QA_empty.csv").write_text("")
        list(read_table(tmp_path / "QA_empty.csv", "qa", "csv", {}, DropLog()))


def test_column_mapped_qa_table_becomes_threads(tmp_path):
    table = tmp_path / "counsel.csv"
    rows = [
        (
            "q1",
            "How do I stop overthinking at night when I try to sleep?",
            "Write your worries "
            "down before bed and give yourself a set time to think about them tomorrow.",
            "9",
        ),
        (
            "q1",
            "How do I stop overthinking at night when I try to sleep?",
            "Just stop, it is easy if you really want to, everyone does it.",
            "0",
        ),
        (
            "q2",
            "My partner left and I feel like nothing matters, what should I do now?",
            "That sounds painful; lean on one friend this week and keep a simple daily routine.",
            "7",
        ),
        ("q2", "My partner left and I feel like nothing matters, what should I do now?", "", "3"),
        (
            "q3",
            "Is it normal to feel nervous before every single shift at my new job?",
            "It is common early on; notice what actually happens compared with what you feared.",
            "n/a",
        ),
    ]
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["questionID", "questionText", "answerText", "upvotes"])
        writer.writerows(rows)
    source = Source(
        str(table),
        "qa",
        "csv",
        {
            "thread_id": "questionID",
            "question": "questionText",
            "answer": "answerText",
            "score": "upvotes",
        },
    )
    out = tmp_path / "out"
    card = prepare(data_config(splits={"train": 1.0, "eval": 0.0, "test": 0.0}), 1, out, [source])
    assert card["rows_in"] == 5 and card["rows_kept"] == 3
    assert card["dropped"] == {"empty": 1, "wrong_type:score": 1}
    sft = read_jsonl(out / "sft_gm.jsonl", "data/sft_gm")
    assert {r["thread_id"] for r in sft} == {"q1", "q2"}
    dpo = read_jsonl(out / "dpo_gm.jsonl", "data/dpo_gm")
    assert len(dpo) == 1 and dpo[0]["score_chosen"] == 9 and dpo[0]["score_rejected"] == 0


# -- cleaning, de-identification, lexicon -----------------------------------------------------


def test_cleaning_filters_and_language_ratio():
    cfg = CleanConfig.from_config(DATA["clean"])

    def reason(text, min_words=5):
        return text_reason(text, text.lower(), min_words, cfg)[0]

    assert reason("   ") == "empty"
    assert reason("thanks so much") == "too_short"
    assert reason("word " * 500) == "too_long"
    assert (
        reason("No sé qué hacer con mi vida, todos los días son iguales y estoy cansada.")
        == "non_english"
    )
    assert (
        reason("Ich fühle mich seit Wochen so leer und weiß nicht, mit wem ich reden kann.")
        == "non_english"
    )
    assert reason("I have felt so tired and low for weeks and I do not know why.") is None
    assert words_of("it's “me”, ok?") == ["it's", "me", "ok"]


CANARIES = {
    "USER": ["u/sad_panda_77", "/u/throwaway-4321", "@moonlitfox22"],
    "EMAIL": ["jane.doe42@example.com", "kw+help@mail.co.uk"],
    "PHONE": ["(415) 555-0199", "415-555-0199", "+44 20 7946 0958", "4155550199"],
    "URL": ["https://myblog.example.org/p/9", "www.secretdiary.net", "helpme.io/about"],
    "ADDRESS": ["42 Maple Street", "1200 Old Harbour Road"],
    "NAME": ["Sarah", "Tomasz Kowalski", "Priya"],
}
CANARY_TEXT = (
    "Hi u/sad_panda_77 and /u/throwaway-4321, follow @moonlitfox22. My name is Sarah and you "
    "can mail jane.doe42@example.com or kw+help@mail.co.uk, call (415) 555-0199, 415-555-0199, "
    "+44 20 7946 0958 or 4155550199. I blog at https://myblog.example.org/p/9, "
    "www.secretdiary.net and helpme.io/about. I live at 42 Maple Street, my dad lives at "
    "1200 Old Harbour Road. My best friend Tomasz Kowalski knows, and so does Priya."
)


@pytest.mark.parametrize("backend", ["regex", "scrubadub"])
def test_deid_replaces_every_canary_with_typed_placeholders(backend):
    deid = make_deidentifier(backend)
    clean = deid(CANARY_TEXT)
    for kind, values in CANARIES.items():
        for value in values:
            assert value not in clean, (backend, kind, value)
        assert f"[{kind}]" in clean
    assert "call 988" in deid("Please call 988 or text HOME to 741741 tonight.")
    assert "[NAME]" not in deid("I will call you. May was a hard month and Grace helped me.")


def test_weak_labels_by_category():
    cases = {
        "I have been thinking about killing myself every night": (1, "direct"),
        "honestly i want to k1ll mys3lf": (1, "adversarial"),
        "Everyone would be better off without me.": (1, "indirect"),
        "I can't do this anymore.": (1, "ambiguous"),
        "This commute is killing me but work is fine.": (0, "idiom"),
        "Please call a crisis line if you ever feel unsafe.": (0, "none"),
    }
    for text, expected in cases.items():
        assert weak_label(text) == expected, text


# -- the prep end to end ----------------------------------------------------------------------


def test_row_accounting_adds_up(corpus, prepared):
    _, sources, counts, _ = corpus
    out, card = prepared
    assert card["rows_in"] == counts["submissions"] + counts["comments"]
    assert card["rows_in"] == card["rows_kept"] + sum(card["dropped"].values())
    drop_rows = [
        r
        for name in ("submissions", "comments")
        for r in csv.DictReader((out / f"{name}.drops.csv").open())
    ]
    assert len(drop_rows) == card["rows_dropped"]
    assert Counter(r["reason"] for r in drop_rows) == card["dropped"]
    for entry in card["sources"]:
        assert entry["rows_in"] == entry["rows_kept"] + entry["rows_dropped"]
    # every kind of planted noise is caught
    for reason in ("bot", "deleted", "removed", "duplicate", "non_english", "orphan", "empty"):
        assert card["dropped"].get(reason, 0) > 0, reason
    safety = read_parquet(out / "safety_messages.parquet", "data/safety_messages")
    assert len(safety) == card["rows_kept"] == card["outputs"]["safety_messages"]["total"]


def test_accounting_error_is_raised_on_a_mismatch(tmp_path):
    path = write_ndjson(tmp_path / "s.ndjson", [submission(1)])
    preparer = Preparer(DATA, 1, tmp_path / "out")
    preparer.kept["phantom"] = 1  # a row counted as kept that was never read
    with pytest.raises(AccountingError):
        preparer.run([Source(str(path), "submissions")])


def test_outputs_match_schemas_splits_and_pairs(prepared):
    out, card = prepared
    thread_split: dict[str, str] = {}
    for name in OUTPUTS:
        rows = read_jsonl(out / f"{name}.jsonl", f"data/{name}")
        assert rows, name
        assert Counter(r["split"] for r in rows) == {
            s: n for s, n in card["outputs"][name].items() if s != "total" and n
        }
        assert set(Counter(r["split"] for r in rows)) == {"train", "eval", "test"}, name
        for row in rows:
            assert thread_split.setdefault(row["thread_id"], row["split"]) == row["split"]
            if name.startswith("dpo"):
                assert row["score_chosen"] - row["score_rejected"] >= DATA["pairs"]["min_margin"]
                assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
            if name.endswith("_im"):
                user = (row["messages"] if name == "sft_im" else row["prompt"])[0]["content"]
                assert user == im_prompt(row["post"], row["draft"])
    safety = pd.read_parquet(out / "safety_messages.parquet")
    for thread, split in zip(safety["thread_id"], safety["split"], strict=True):
        assert thread_split.get(thread, split) == split
    assert set(safety["category"]) >= {"direct", "indirect", "none", "idiom"}
    assert safety.loc[safety["category"] == "direct", "label"].eq(1).all()


def test_votes_carry_signal(prepared):
    out, _ = prepared
    rows = read_jsonl(out / "dpo_gm.jsonl")
    low = tuple(p.lower()[:25] for p in LOW)

    def dismissive(text):
        return any(p in text.lower() for p in low)

    chosen = sum(dismissive(r["chosen"][0]["content"]) for r in rows) / len(rows)
    rejected = sum(dismissive(r["rejected"][0]["content"]) for r in rows) / len(rows)
    assert rejected > chosen + 0.3


def test_planted_pii_never_reaches_an_output(corpus, prepared):
    _, _, _, pii = corpus
    out, card = prepared
    assert {kind for kind, _ in pii} >= {"name", "user", "email", "phone", "url", "address"}
    text = "\n".join(p.read_text() for p in out.glob("*.jsonl"))
    text += "\n".join(p.read_text() for p in out.glob("*.csv"))
    text += "\n".join(pd.read_parquet(out / "safety_messages.parquet")["text"])
    text += json.dumps(card)
    leaked = sorted({value for _, value in pii if value in text})
    assert not leaked
    assert all(card["deid_replacements"].get(k, 0) > 0 for k in ("USER", "EMAIL", "URL"))


def test_handwritten_canaries_never_reach_an_output(tmp_path):
    posts = [submission(i) for i in range(4)]
    posts[0]["selftext"] += " " + CANARY_TEXT
    replies = [comment(10 + i, i % 4, score) for i, score in enumerate([40, 2, 30, 1, 25, 0, 9, 1])]
    replies[0]["body"] += " " + CANARY_TEXT
    s = write_ndjson(tmp_path / "s.ndjson", posts)
    c = write_ndjson(tmp_path / "c.ndjson.zst", replies)
    out = tmp_path / "out"
    prepare(DATA, 2, out, [Source(str(s), "submissions"), Source(str(c), "comments")])
    text = "\n".join(p.read_text() for p in out.glob("*.jsonl"))
    text += "\n".join(pd.read_parquet(out / "safety_messages.parquet")["text"])
    assert "[EMAIL]" in text and "[ADDRESS]" in text
    for values in CANARIES.values():
        for value in values:
            assert value not in text, value


def test_scrubadub_finds_nothing_left_in_outputs(prepared):
    import scrubadub

    out, _ = prepared
    scrubber = scrubadub.Scrubber()
    texts = pd.read_parquet(out / "safety_messages.parquet")["text"].head(300)
    # scrubadub's email detector also flags "X at Y" phrases ("a lot at once"): keep real ones
    found = [
        f.text
        for t in texts
        for f in scrubber.iter_filth(t)
        if f.type == "url" or (f.type == "email" and "@" in f.text)
    ]
    assert not found


def test_synthetic_corpus_is_seeded(tmp_path):
    section = {**DATA["synthetic"], "n_threads": 20}
    generate_corpus(tmp_path / "a_s.ndjson", tmp_path / "a_c.ndjson", section, 7)
    generate_corpus(tmp_path / "b_s.ndjson", tmp_path / "b_c.ndjson", section, 7)
    generate_corpus(tmp_path / "c_s.ndjson", tmp_path / "c_c.ndjson", section, 8)
    assert (tmp_path / "a_c.ndjson").read_bytes() == (tmp_path / "b_c.ndjson").read_bytes()
    assert (tmp_path / "a_c.ndjson").read_bytes() != (tmp_path / "c_c.ndjson").read_bytes()


def test_data_card_table_and_figures(prepared):
    out, card = prepared
    assert load_card(out / "data_card.json") == card
    table = card_table(card)
    rows = table.set_index(["section", "item", "split"])["count"]
    assert rows[("rows", "in", "all")] == card["rows_in"]
    assert rows[("output", "dpo_gm", "test")] == card["outputs"]["dpo_gm"]["test"]
    for fig in (plot_lengths(card), plot_margins(card)):
        assert fig.axes[0].patches  # histograms were drawn
    broken = dict(card, rows_in="many")
    (out / "broken_card.json").write_text(json.dumps(broken))
    with pytest.raises(SchemaError, match="rows_in"):
        load_card(out / "broken_card.json")


# -- configuration ----------------------------------------------------------------------------


def test_unknown_data_config_key_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  clean:\n    min_reply_wrds: 3\n")
    with pytest.raises(SchemaError, match="min_reply_wrds"):
        load_config(bad)
    bad.write_text("data:\n  deid:\n    backend: presidio\n")
    with pytest.raises(SchemaError, match="presidio"):
        load_config(bad)


def test_snakemake_validation_names_the_unknown_key(repo):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = copy.deepcopy(CONFIG)
    config["data"]["pairs"]["min_margn"] = 2
    with pytest.raises(WorkflowError, match="min_margn"):
        validate(config, str(repo / "workflow" / "schemas" / "config.schema.yaml"))


def test_tiny_config_yields_rows_in_every_output_and_split(tmp_path):
    config = load_config(Path(__file__).parent / "config" / "tiny.yaml")
    data = config["data"]
    generate_corpus(
        tmp_path / "s.ndjson.zst", tmp_path / "c.ndjson.zst", data["synthetic"], config["seed"]
    )
    card = prepare(
        data,
        config["seed"],
        tmp_path / "out",
        [
            Source(str(tmp_path / "s.ndjson.zst"), "submissions"),
            Source(str(tmp_path / "c.ndjson.zst"), "comments"),
        ],
    )
    for name, counts in card["outputs"].items():
        assert all(counts[split] > 0 for split in ("train", "eval", "test")), (name, counts)


def test_benchmark_smoke(tmp_path, repo):
    """The benchmark's generator and prep run end to end at a tiny size."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", repo / "benchmarks/bench_data_prep.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    corpus = bench.generate(tmp_path, 1500, seed=1)
    assert corpus["comments"] >= 1500
    result = bench.run_prep(
        corpus["submissions_path"], corpus["comments_path"], str(tmp_path / "out"), buckets=4
    )
    assert result["comments_in"] == corpus["comments"]
    assert result["comments_per_s_per_core"] > 0 and result["peak_rss_mb"] > 0
