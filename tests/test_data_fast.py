"""Data stage fast paths: batch text checks, compiled row checks and batching keep outputs."""

from __future__ import annotations

import copy
import filecmp
import random
import re

import fastjsonschema
import orjson
import pandas as pd
import pytest

from mhai.config import load_config
from mhai.data import lexicon
from mhai.data import prepare as prepare_module
from mhai.data.clean import CleanConfig, TextChecker, text_reason
from mhai.data.deid import CAPITAL_NAMES, gazetteer, make_deidentifier
from mhai.data.deid import GATE_WORDS as DEID_GATES
from mhai.data.lexicon import GATE_WORDS as CRISIS_GATES
from mhai.data.lexicon import crisis_category
from mhai.data.pairs import Reply
from mhai.data.prepare import OUTPUTS, Source, prepare
from mhai.data.readers import DropLog, open_lines
from mhai.data.synthetic import generate_corpus
from mhai.data.tables import JsonlWriter, ParquetWriter, RowValidator, compile_row_check
from mhai.schemas import SchemaError, load_schema

DATA = load_config()["data"]
CLEAN = CleanConfig.from_config(DATA["clean"])
GATES = DEID_GATES | CRISIS_GATES

EDGE_TEXTS = [
    "",
    "   \n\t ",
    "!!! ??? ...",
    "ok",
    "I'm  don't -- it's\tfine\n\nreally, I can't do this anymore",
    "My name is Sarah and my best friend Tomasz lives at 42 Maple Street.",
    "I want to kill myself tonight and i'm suicidal, what's the point of anything",
    "k1ll mys3lf unalive kms: asking for a friend how many pills would it take",
    "Café olé, the weather is nice and I am happy to be here with my family",
    "“Curly quotes” and ‘ticks’… should split words the same way as plain ones here",
    "\u212a kelvin sign is not ascii but lowers to k and the rest is English",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism is a long word for me",
    "Estoy muy cansado de todo y no sé qué hacer con mi vida ahora mismo",
    "UPPER CASE TEXT WITH THE SAME WORDS AS THE LOWER CASE TEXT AND MY MOM",
    "digits 123 and 4567 and mixed a1b2 words with under_scores and my-dashes",
    " ".join(["word"] * 500),
    "x " * 3 + "the",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast_corpus")
    synthetic = {**DATA["synthetic"], "n_threads": 120, "pii_share": 0.5}
    generate_corpus(root / "s.ndjson.zst", root / "c.ndjson.zst", synthetic, 3)
    return root


def corpus_texts(root) -> list[str]:
    texts = []
    for name in ("s.ndjson.zst", "c.ndjson.zst"):
        for raw in open_lines(root / name):
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                texts += [
                    v for k in ("title", "selftext", "body") if isinstance(v := rec.get(k), str)
                ]
    return texts


def reference(text: str, min_words: int):
    """The row-by-row checks the batch path must reproduce."""
    reason, words, wordset = text_reason(text, text.lower(), min_words, CLEAN)
    if reason is not None:
        return reason
    return reason, len(words), " ".join(words), GATES.intersection(wordset)


@pytest.mark.parametrize("batch", [1, 7, 10_000])
def test_text_checker_matches_row_checks(corpus, batch):
    texts = corpus_texts(corpus) + EDGE_TEXTS
    checker = TextChecker(CLEAN, GATES)
    for min_words in (CLEAN.min_reply_words, CLEAN.min_post_words):
        got = []
        for start in range(0, len(texts), batch):
            reasons, counts, joined, hits = checker.check(texts[start : start + batch], min_words)
            got += [
                r if r is not None else (r, n, j, h)
                for r, n, j, h in zip(reasons, counts, joined, hits, strict=True)
            ]
        expected = [reference(t, min_words) for t in texts]
        assert got == expected
    kinds = {r if isinstance(r, str) else "kept" for r in expected}
    assert kinds >= {"kept", "empty", "too_short", "too_long", "non_english"}


def test_gate_hits_give_the_same_crisis_labels():
    for text in EDGE_TEXTS:
        low = text.lower()
        _, words, _ = text_reason(text, low, 1, CLEAN)
        assert crisis_category(low, GATES.intersection(words)) == crisis_category(low, set(words))


def test_needed_substrings_keep_crisis_labels(corpus):
    """The needed-substring test before each category's pattern changes no label: checked on
    the corpus and on random strings of the patterns' words and separators."""

    def patterns_only(low: str, words: set[str]) -> str:
        for category, (_, pattern) in lexicon._gated(lexicon.GATE_WORDS.intersection(words)):
            if pattern.search(low):
                return category
        return "none"

    vocab = [
        w
        for _, pattern in lexicon._LEXICON.values()
        for w in re.findall(r"[a-z0-9'*!]+", pattern.replace("(?:", " "))
    ] + sorted(lexicon.GATE_WORDS)
    rng = random.Random(4)
    fuzz = [
        "".join(rng.choice(vocab) + rng.choice([" ", " ", ", ", ".", "  ", "-"]) for _ in range(n))
        for n in rng.choices(range(1, 14), k=20_000)
    ]
    labels = set()
    for text in corpus_texts(corpus) + EDGE_TEXTS + fuzz:
        low = text.lower()
        words = set(text_reason(text, low, 1, CLEAN)[1])
        labels.add(label := crisis_category(low, words))
        assert label == patterns_only(low, words), text
    assert labels == set(lexicon.LABELS)


def test_parquet_rows_in_bulk_make_the_same_file(tmp_path):
    rows = [
        (f"c{i}", f"t{i % 5}", "depression", f"text {i}", 0, "none", "comment", "train")
        for i in range(40)
    ]
    one = ParquetWriter(tmp_path / "one.parquet", "data/safety_messages", batch_rows=7)
    bulk = ParquetWriter(tmp_path / "bulk.parquet", "data/safety_messages", batch_rows=7)
    for row in rows:
        one.write_values(row)
    for start, end in [(0, 3), (3, 4), (4, 19), (19, 21), (21, 40)]:
        bulk.write_rows(rows[start:end])
    one.close()
    bulk.close()
    assert filecmp.cmp(tmp_path / "one.parquet", tmp_path / "bulk.parquet", shallow=False)
    drops = [("s.ndjson", 3, "c1", "bot"), ("s.ndjson", 9, None, "malformed_json")]
    one_log, bulk_log = DropLog(tmp_path / "one.csv"), DropLog(tmp_path / "bulk.csv")
    for drop in drops:
        one_log.add(*drop)
    bulk_log.add_rows(drops)
    one_log.close()
    bulk_log.close()
    assert (one_log.counts, one_log.by_source) == (bulk_log.counts, bulk_log.by_source)
    assert filecmp.cmp(tmp_path / "one.csv", tmp_path / "bulk.csv", shallow=False)


def valid_rows() -> dict[str, dict]:
    turn = [{"role": "assistant", "content": "a reply"}]
    base = {"id": "t:r", "thread_id": "t", "split": "train", "subreddit": "depression"}
    chat = [{"role": "user", "content": "a post"}, *turn]
    pref = {"prompt": [{"role": "user", "content": "p"}], "chosen": turn, "rejected": turn}
    scores = {"score_chosen": 9, "score_rejected": 1}
    im = {"post": "a post", "draft": "a draft", "draft_score": 1}
    return {
        "sft_gm": {**base, "score": 9, "messages": chat},
        "dpo_gm": {**base, **pref, **scores},
        "sft_im": {**base, "score": 9, **im, "messages": chat},
        "dpo_im": {**base, **im, **pref, **scores},
        "safety_messages": {
            **{k: base[k] for k in ("id", "thread_id", "subreddit")},
            **{"text": "x", "label": 1, "category": "direct", "source": "comment"},
            "split": "eval",
        },
    }


def mutations(row, rnd: random.Random, n: int):
    """Rows with one value replaced, removed or added somewhere in the structure."""
    values = ["", "x", "train", "user", 0, 2, -1, 1.5, True, None, [], {}, ("a",), [{}]]
    for _ in range(n):
        bad = copy.deepcopy(row)
        parent, key = None, None
        node = bad
        for _ in range(rnd.randint(1, 4)):
            if isinstance(node, dict) and node:
                parent, key = node, rnd.choice(sorted(node))
            elif isinstance(node, list) and node:
                parent, key = node, rnd.randrange(len(node))
            else:
                break
            node = parent[key]
        action = rnd.random()
        if action < 0.6:
            parent[key] = copy.deepcopy(rnd.choice(values))
        elif action < 0.8:
            del parent[key]
        elif isinstance(parent, dict):
            parent["extra"] = 1
        else:
            parent.append(copy.deepcopy(parent[0]))
        yield bad


@pytest.mark.parametrize("name", [*OUTPUTS, "safety_messages"])
def test_compiled_row_check_accepts_only_valid_rows(name):
    schema = load_schema(f"data/{name}")
    check, full = compile_row_check(schema), fastjsonschema.compile(schema)
    row = valid_rows()[name]
    assert check is not None and check(row)
    rejected = 0
    for bad in mutations(row, random.Random(name), 400):
        try:
            full(bad)
            valid = True
        except fastjsonschema.JsonSchemaValueException:
            valid = False
        assert valid or not check(bad), bad
        rejected += not check(bad)
    assert rejected > 200


def test_row_validator_names_the_field_and_handles_other_keywords(tmp_path):
    validator = RowValidator("data/sft_gm", "out.jsonl")
    row = valid_rows()["sft_gm"]
    validator(row, 1)
    row["messages"][1]["content"] = ""
    with pytest.raises(SchemaError, match=r"out.jsonl: row 3: field 'messages.1.content'"):
        validator(row, 3)
    assert compile_row_check({"type": "string", "pattern": "^a"}) is None
    check = compile_row_check({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert check({"n": 1, "other": "x"}) and check({}) and not check({"n": "1"})


def test_jsonl_writer_checks_each_row_and_writes_every_chunk(tmp_path):
    writer = JsonlWriter(tmp_path / "sft.jsonl", "data/sft_gm")
    writer.BATCH = 3
    rows = [{**valid_rows()["sft_gm"], "id": f"t:{i}"} for i in range(7)]
    for row in rows:
        writer.write(row)
    bad = {**rows[0], "split": "holdout"}
    with pytest.raises(SchemaError, match=r"sft.jsonl: row 8: field 'split'"):
        writer.write(bad)
    writer.close()
    lines = (tmp_path / "sft.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == rows


def test_batch_size_and_backend_paths_keep_outputs(corpus, tmp_path, monkeypatch):
    sources = [
        Source(str(corpus / "s.ndjson.zst"), "submissions"),
        Source(str(corpus / "c.ndjson.zst"), "comments"),
    ]
    prepare(DATA, 5, tmp_path / "big", sources)
    monkeypatch.setattr(prepare_module._Batch, "SIZE", 3)
    monkeypatch.setattr(JsonlWriter, "BATCH", 2)  # lines written in chunks of 2
    prepare(DATA, 5, tmp_path / "small", sources)
    for path in sorted((tmp_path / "big").iterdir()):
        if path.suffix == ".parquet":
            assert pd.read_parquet(path).equals(pd.read_parquet(tmp_path / "small" / path.name))
        else:
            assert filecmp.cmp(path, tmp_path / "small" / path.name, shallow=False), path.name


def test_prepare_runs_with_the_scrubadub_backend(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    synthetic = {**DATA["synthetic"], "n_threads": 15, "pii_share": 1.0}
    pii: list[tuple[str, str]] = []
    generate_corpus(root / "s.ndjson", root / "c.ndjson", synthetic, 9, pii)
    data = {**DATA, "deid": {"backend": "scrubadub"}}
    sources = [
        Source(str(root / "s.ndjson"), "submissions"),
        Source(str(root / "c.ndjson"), "comments"),
    ]
    card = prepare(data, 1, tmp_path / "out", sources)
    assert card["rows_kept"] > 0
    text = "\n".join(p.read_text() for p in (tmp_path / "out").glob("*.jsonl"))
    text += "\n".join(pd.read_parquet(tmp_path / "out" / "safety_messages.parquet")["text"])
    assert not sorted({value for _, value in pii if value in text})


def test_deid_may_change_is_false_only_where_a_call_keeps_the_text(corpus):
    texts = corpus_texts(corpus) + EDGE_TEXTS + ["a www.-x b", "see www. now", "line\nbreak ok"]
    checker, deid = TextChecker(CLEAN, GATES), make_deidentifier("regex")
    _, _, _, hits = checker.check(texts, 1)
    may = deid.may_change(texts, hits)
    assert 0 < sum(may) < len(texts)
    for text, words, changes in zip(texts, hits, may, strict=True):
        if not changes:
            before = sum(deid.counts.values())
            assert deid(text, text.lower(), words) == text
            assert sum(deid.counts.values()) == before
    assert all(
        deid.may_change(["a www.-x b", "line\nbreak", "\u212a", "ends in www."], [frozenset()] * 4)
    )
    assert make_deidentifier("scrubadub").may_change(["plain text"], [frozenset()]) == [True]


def test_gazetteer_finds_what_one_pattern_of_all_names_finds(corpus):
    names = sorted(CAPITAL_NAMES, key=len, reverse=True)
    every = re.compile(rf"\b(?:{'|'.join(names)})(?: [A-Z][a-z]+(?=[\s,.!?;:]|$))?\b")
    extra = [
        "Alexandra and Alex met Alexis, Sarah's friend Emily Stone.",
        "xSarah ASarah _Sarah Sarah1 Sarah Emily Emily Stone, Emily Emily Emily",
        "Sarah Emily Sarah. Emily Jones-Smith and Noah Olivia Liam",
    ]
    found = 0
    for text in corpus_texts(corpus) + EDGE_TEXTS + extra:
        spans = [m.span() for m in every.finditer(text)]
        assert [m.span() for m in gazetteer(text)] == spans, text
        found += len(spans)
    assert found > 20


def test_output_lines_are_orjson_rows_and_bad_thread_values_are_named(corpus, tmp_path):
    sources = [
        Source(str(corpus / "s.ndjson.zst"), "submissions"),
        Source(str(corpus / "c.ndjson.zst"), "comments"),
    ]
    prepare(DATA, 5, tmp_path, sources)
    for name in OUTPUTS:
        lines = (tmp_path / f"{name}.jsonl").read_bytes().splitlines(keepends=True)
        assert lines
        assert all(
            orjson.dumps(orjson.loads(line), option=orjson.OPT_APPEND_NEWLINE) == line
            for line in lines
        )
    preparer = prepare_module.Preparer(DATA, 5, tmp_path)
    replies = [Reply("r1", "a reply", 3)]
    preparer._check_thread("t1", "depression", "a post", replies)
    for args, field in [
        (("", "depression", "a post", replies), "thread_id"),
        (("t1", 7, "a post", replies), "subreddit"),
        (("t1", "depression", "a post", [Reply("r1", "", 3)]), "reply score or text"),
    ]:
        with pytest.raises(SchemaError, match=f"field '{field}'"):
            preparer._check_thread(*args)


def test_jsonl_writer_validates_the_first_built_line(tmp_path):
    writer = JsonlWriter(tmp_path / "sft.jsonl", "data/sft_gm")
    bad = {**valid_rows()["sft_gm"], "split": "holdout"}
    with pytest.raises(SchemaError, match=r"sft.jsonl: row 1: field 'split'"):
        writer.write_line(orjson.dumps(bad))
