"""The streaming data preparation: dumps in, de-identified training sets and a data card out.

Passes, all in bounded memory (nothing is stored before de-identification):

1. **Posts** (submission dumps and Q&A tables) are streamed: parse, check fields, drop
   deleted/removed, bots, empty, too short/long, non-English and duplicate rows, weakly
   label, de-identify, and append to one of ``buckets`` temporary files chosen by a hash of
   the thread id. Kept thread ids are collected and split (seeded, thread level).
2. **Comments** are streamed the same way; a comment whose post was not kept is dropped
   (``orphan``, checked first). A kept comment is written to the safety messages at once (its
   split is known); direct replies to the post also go to the thread's bucket.
3. **Threads** are assembled one bucket at a time: the GM/IM SFT and DPO rows, the posts'
   safety messages and the length/margin histograms of the data card.

Dumps are read in batches of rows (:class:`_Batch`) so that the text checks run on a whole
batch at once (:class:`mhai.data.clean.TextChecker`), and so does the test of which texts
de-identification could change (:meth:`mhai.data.deid.RegexDeidentifier.may_change`): the
other texts skip the call, and texts without a crisis gate word skip the lexicon. Rows are
still decided one by one in input order, so the outputs and drops are those of a row-by-row
pass. Output rows are filled into byte templates of their JSON lines (:data:`_SFT_GM` ...)
from values whose types and lengths :meth:`Preparer._check_thread` checks per thread, which is
all the row schemas ask beyond the templates' fixed structure (each file's first line is
also validated in full).

Row accounting: for every source, rows in = rows kept + rows dropped (by reason); checked
before the data card is written.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from mhai.data.clean import (
    DELETED_MARKERS,
    CleanConfig,
    TextChecker,
    dedupe_key,
    deleted_reason,
    is_bot,
)
from mhai.data.deid import GATE_WORDS as DEID_GATES
from mhai.data.deid import make_deidentifier
from mhai.data.formatting import gm_prompt, im_prompt
from mhai.data.lexicon import GATE_WORDS as CRISIS_GATES
from mhai.data.lexicon import LABELS, OPENING_WORDS, crisis_category
from mhai.data.pairs import PairConfig, Reply, best_reply, gm_pairs, im_drafts, ranked
from mhai.data.readers import DropLog, read_ndjson, read_table
from mhai.data.splits import SPLITS, assign_splits
from mhai.data.tables import JsonlWriter, ParquetWriter
from mhai.schemas import SchemaError, validate_document

log = logging.getLogger(__name__)

OUTPUTS = ("sft_gm", "dpo_gm", "sft_im", "dpo_im")
SAFETY_COLUMNS = ("id", "thread_id", "subreddit", "text", "label", "category", "source", "split")
SYNTHETIC_FILES = {
    "submissions": "results/data/raw/submissions.ndjson.zst",
    "comments": "results/data/raw/comments.ndjson.zst",
}


class AccountingError(AssertionError):
    """Rows in != rows kept + rows dropped: a bug, never expected on any input."""


@dataclass(frozen=True)
class Source:
    """One input file: its kind (submissions, comments or qa), format and column mapping."""

    path: str
    kind: str
    format: str = "ndjson"
    columns: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(Path(self.path)))  # the name used in drops.csv


def configured_sources(data: dict[str, Any], repo_root: str | Path = ".") -> list[Source]:
    """The input files named by the ``data`` config section (relative paths: repo root)."""
    if data["source"] == "synthetic":
        return [Source(SYNTHETIC_FILES[kind], kind) for kind in ("submissions", "comments")]

    def resolve(path: str) -> str:
        return path if os.path.isabs(path) else str(Path(repo_root) / path)

    files = data["files"]
    sources = [Source(resolve(p), "submissions") for p in files["submissions"]]
    sources += [Source(resolve(p), "comments") for p in files["comments"]]
    sources += [
        Source(resolve(t["path"]), t["kind"], t["format"], dict(t.get("columns", {})))
        for t in files["tables"]
    ]
    if not sources:
        raise ValueError("data.files: source is 'files' but no submissions/comments/tables given")
    if not any(s.kind in ("submissions", "qa") for s in sources):
        raise ValueError("data.files: no posts given (submissions or a qa table are required)")
    return sources


@dataclass
class Histogram:
    """Counts of integer values (word counts, vote margins): constant memory summaries.
    Values are added to a list and counted together (:meth:`count`), which is cheaper than
    counting them one by one; a caller adding many values calls :meth:`count` now and then."""

    counts: Counter = field(default_factory=Counter)
    pending: list[int] = field(default_factory=list)

    def add(self, value: int) -> None:
        self.pending.append(value)

    def add_all(self, values: list[int]) -> None:
        """Add every value of a list (one call for many values)."""
        self.pending += values

    def count(self) -> None:
        """Count the values added since the last call."""
        self.counts.update(self.pending)
        self.pending.clear()

    def summary(self) -> dict[str, float | int | None]:
        self.count()
        n = sum(self.counts.values())
        if n == 0:
            return {
                "n": 0,
                "mean": None,
                "min": None,
                "p10": None,
                "median": None,
                "p90": None,
                "max": None,
            }
        values = sorted(self.counts)
        total = sum(v * c for v, c in self.counts.items())

        def quantile(q: float) -> int:
            target, seen = q * (n - 1), 0
            for v in values:
                seen += self.counts[v]
                if seen > target:
                    return v
            return values[-1]

        return {
            "n": n,
            "mean": round(total / n, 2),
            "min": values[0],
            "p10": quantile(0.1),
            "median": quantile(0.5),
            "p90": quantile(0.9),
            "max": values[-1],
        }

    def as_dict(self) -> dict[str, int]:
        self.count()
        return {str(k): v for k, v in sorted(self.counts.items())}


class _Buckets:
    """Temporary files holding whole threads (bucket = crc32(thread id) mod n). Records are
    kept per bucket and written together: each line of a file is a JSON list of records."""

    PENDING = 4096  # records held before they are written

    def __init__(self, directory: str, n: int):
        self.n = n
        self.paths = [Path(directory) / f"bucket_{i:04d}.ndjson" for i in range(n)]
        self.handles = [p.open("wb", buffering=1 << 16) for p in self.paths]
        self.pending: list[list[list]] = [[] for _ in range(n)]
        self.held = 0

    def slot(self, thread_id: str) -> list[list]:
        """The pending records of a thread's bucket: a caller that appends to it directly
        reports how many it appended with :meth:`added`."""
        return self.pending[zlib.crc32(thread_id.encode()) % self.n]

    def put(self, thread_id: str, record: list) -> None:
        self.slot(thread_id).append(record)
        self.added(1)

    def added(self, records: int) -> None:
        """Count records appended to the pending lists; write them once enough are held."""
        self.held += records
        if self.held >= self.PENDING:
            self.flush()

    def flush(self) -> None:
        for handle, records in zip(self.handles, self.pending, strict=True):
            if records:
                handle.write(orjson.dumps(records, option=orjson.OPT_APPEND_NEWLINE))
                records.clear()
        self.held = 0

    @staticmethod
    def records(path: Path):
        """The records of a bucket file, in the order they were put, in lists (one per
        write)."""
        with path.open("rb") as handle:
            for line in handle:
                yield orjson.loads(line)

    def close(self) -> None:
        for handle in self.handles:
            handle.close()


class _Batch:
    """Rows read but not checked yet, in input order, so the text checks run on many texts at
    once. The reader records malformed rows here too (it is given the batch as its drop log),
    so every drop keeps its place in the drops file."""

    SIZE = 1024

    def __init__(self) -> None:
        # (line, record, drop reason, text index); a row the reader dropped has no record
        # and its drop (source, line, id, reason) in place of the reason
        self.entries: list[tuple] = []
        self.texts: list[str] = []

    def add(self, source: str, line: int, row_id: str | None, reason: str) -> None:
        """A row the reader dropped (the :class:`DropLog` interface)."""
        self.entries.append((line, None, (source, line, row_id, reason), -1))

    def add_row(self, line: int, rec: dict, reason: str | None, text: str = "") -> None:
        """A parsed row: dropped already (``reason``) or waiting for the text checks."""
        if reason is None:
            self.entries.append((line, rec, None, len(self.texts)))
            self.texts.append(text)
        else:
            self.entries.append((line, rec, reason, -1))

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.SIZE

    def rows(self, drops: DropLog):
        """Yield ``(line, record, reason, text index)``; rows the reader dropped go to drops."""
        for line, rec, reason, j in self.entries:
            if rec is None:
                drops.add(*reason)
            else:
                yield line, rec, reason, j

    def clear(self) -> None:
        self.entries.clear()
        self.texts.clear()


class Preparer:
    """Runs the passes described in the module docstring; ``out_dir`` receives every output."""

    def __init__(self, data: dict[str, Any], seed: int, out_dir: str | Path):
        self.data = data
        self.seed = seed
        self.out = Path(out_dir)
        self.clean = CleanConfig.from_config(data["clean"])
        self.pairs = PairConfig.from_config(data["pairs"])
        self.deid = make_deidentifier(data["deid"]["backend"])
        self.checker = TextChecker(self.clean, DEID_GATES | CRISIS_GATES)
        self.safety_posts = "submission" in data["safety"]["sources"]
        self.safety_comments = "comment" in data["safety"]["sources"]
        self.drops = {
            "submissions": DropLog(self.out / "submissions.drops.csv"),
            "comments": DropLog(self.out / "comments.drops.csv"),
        }
        self.seen: set[int] = set()
        self.threads: list[str] = []
        self.splits: dict[str, str] = {}
        self.subreddits: dict[str, str] = {}  # of kept threads; comments need not carry one
        self.slots: dict[str, list[list]] = {}  # kept thread -> its bucket's pending records
        self.rows_in: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.progress = tqdm(desc="stream rows", unit="row", mininterval=5, disable=None)
        self.ticks = 0

    def _tick(self, rows: int = 1) -> None:
        self.ticks += rows
        if self.ticks >= 10_000:  # a per-row progress update would cost more than a row
            self.progress.update(self.ticks)
            self.ticks = 0

    # -- checks shared by posts and comments -----------------------------------------------
    def _screen(self, author: str, *markers: str) -> str | None:
        """``deleted``/``removed`` (``markers``: the texts checked for deletion), ``bot`` or
        None: the checks that come before the text checks."""
        reason = deleted_reason(*markers)
        if reason:
            return reason
        return "bot" if is_bot(author, self.clean) else None

    def _judge(self, kind: str, reason: str | None, joined: str) -> str | None:
        """The text check's reason, else ``duplicate`` for a repeated text (``kind`` s or c),
        else None (the text is remembered)."""
        if reason:
            return reason
        key = dedupe_key(kind, joined)
        if key in self.seen:
            return "duplicate"
        self.seen.add(key)
        return None

    def _check_one(self, kind: str, text: str, min_words: int, screened: str | None):
        """All checks of one row at once (Q&A tables): (drop reason or None, words, hits)."""
        if screened:
            return screened, 0, frozenset()
        reasons, counts, joined, hits = self.checker.check([text], min_words)
        return self._judge(kind, reasons[0], joined[0]), counts[0], hits[0]

    def _reader(self, source: Source, kind: str, drops: DropLog | _Batch | None = None):
        if drops is None:
            drops = self.drops["submissions" if kind == "submissions" else "comments"]
        if source.format == "ndjson":
            return read_ndjson(source.path, kind, drops, self.rows_in)
        return read_table(source.path, kind, source.format, source.columns, drops, self.rows_in)

    def _keep_post(
        self,
        thread: str,
        rec: dict,
        body: str,
        text: str,
        n_words: int,
        hits: frozenset[str],
        body_may_change: bool = True,
        title_may_change: bool = True,
    ) -> None:
        """Label, de-identify and store a kept post (``text``: title and body;
        ``body_may_change``, ``title_may_change``: False if de-identifying the body or title
        would return it as it is)."""
        self.threads.append(thread)
        self.subreddits[thread] = rec["subreddit"]
        title = rec["title"]
        slot = self.slots[thread] = self.buckets.slot(thread)
        slot.append(
            [
                "s",
                thread,
                rec["subreddit"],
                self.deid(title) if title_may_change else title,
                self.deid(body, None, hits) if body_may_change else body,
                n_words,
                crisis_category(text.lower(), hits),
            ]
        )
        self.buckets.added(1)

    def _keep_reply(self, body: str, hits: frozenset[str]) -> tuple[str, str]:
        """De-identified text and crisis category of a kept reply."""
        low = body.lower()
        return self.deid(body, low, hits), crisis_category(low, hits)

    # -- pass 1a: posts (and Q&A tables) ---------------------------------------------------
    def _stream_submissions(self, source: Source) -> None:
        batch = _Batch()
        for line, rec in self._reader(source, "submissions", batch):
            body, title = rec["selftext"], rec["title"]
            text = gm_prompt(title, body)
            batch.add_row(line, rec, self._screen(rec["author"], body, title), text)
            if batch.full:
                self._posts_checked(source.path, batch)
        self._posts_checked(source.path, batch)

    def _posts_checked(self, name: str, batch: _Batch) -> None:
        drops = self.drops["submissions"]
        checked = self.checker.check(batch.texts, self.clean.min_post_words)
        checked_recs = [rec for _, rec, _, j in batch.entries if j >= 0]
        bodies = [rec["selftext"] for rec in checked_recs]
        may_change = self.deid.may_change(bodies, checked[3])
        # the title's gate words are among the post text's (title and body), so these
        # gates hold for the title too
        titles = [rec["title"] for rec in checked_recs]
        title_may_change = self.deid.may_change(titles, checked[3])
        for line, rec, reason, j in batch.rows(drops):
            thread = rec["id"].removeprefix("t3_")
            if reason is None:
                reason = self._judge("s", checked[0][j], checked[2][j])
            if reason:
                drops.add(name, line, thread, reason)
                continue
            self.kept[name] += 1
            self._keep_post(
                thread,
                rec,
                bodies[j],
                batch.texts[j],
                checked[1][j],
                checked[3][j],
                may_change[j],
                title_may_change[j],
            )
        self._tick(len(batch.entries))
        batch.clear()

    def _stream_qa(self, source: Source) -> None:
        """A Q&A table: each row is one answer; a question is stored once per thread."""
        drops, name = self.drops["comments"], source.path
        questions: dict[str, str | None] = {}
        for line, rec in self._reader(source, "qa"):
            self._tick()
            thread = rec["thread_id"]
            if thread not in questions:
                text = gm_prompt(rec["title"], rec["question"])
                screened = self._screen("", rec["question"], rec["title"])
                reason, n_words, hits = self._check_one(
                    "s", text, self.clean.min_post_words, screened
                )
                if reason is None:
                    self._keep_post(thread, rec, rec["question"], text, n_words, hits)
                questions[thread] = reason
            if questions[thread] is not None:
                drops.add(name, line, rec["id"], f"question_{questions[thread]}")
                continue
            body = rec["answer"]
            screened = self._screen(rec["author"], body)
            reason, n_words, hits = self._check_one("c", body, self.clean.min_reply_words, screened)
            if reason:
                drops.add(name, line, rec["id"], reason)
                continue
            self.kept[name] += 1
            text, category = self._keep_reply(body, hits)
            # safety row written in pass 2, once the thread's split is known
            self.buckets.put(
                thread, ["c", thread, rec["id"], text, rec["score"], n_words, category]
            )

    # -- pass 1b: comments (splits known) --------------------------------------------------
    def _stream_comments(self, source: Source) -> None:
        batch, splits = _Batch(), self.splits
        entries, texts, size = batch.entries, batch.texts, _Batch.SIZE
        markers, bots, suffix = DELETED_MARKERS, self.clean.bots, self.clean.bot_suffix
        for line, rec in self._reader(source, "comments", batch):
            # inlined _Batch.add_row and _screen: this loop runs once per comment of the dump
            if rec["link_id"].removeprefix("t3_") not in splits:
                entries.append((line, rec, "orphan", -1))  # its post was dropped or is absent
            else:
                body = rec["body"]
                reason = None
                if body.startswith("[") or body[:1].isspace():
                    reason = markers.get(body.strip().lower())
                if not reason:
                    name = rec["author"].lower()
                    if name in bots or (suffix and name.endswith(suffix)):
                        reason = "bot"
                if reason:
                    entries.append((line, rec, reason, -1))
                else:
                    entries.append((line, rec, None, len(texts)))
                    texts.append(body)
            if len(entries) >= size:
                self._comments_checked(source.path, batch)
        self._comments_checked(source.path, batch)

    def _comments_checked(self, name: str, batch: _Batch) -> None:
        """Decide a batch of comments in input order; drops, safety rows and bucket records
        are collected and handed on once per batch."""
        splits, texts = self.splits, batch.texts
        reasons, counts, joined, hits = self.checker.check(texts, self.clean.min_reply_words)
        may_change = self.deid.may_change(texts, hits)
        seen, deid, slots, subreddits = self.seen, self.deid, self.slots, self.subreddits
        dropped: list[tuple] = []
        safety: list[tuple] | None = [] if self.safety_comments else None
        kept = replies = 0
        for line, rec, reason, j in batch.entries:
            if rec is None:  # dropped by the reader: reason is the drop
                dropped.append(reason)
                continue
            if reason is None:  # inlined _judge
                reason = reasons[j]
                if reason is None:
                    key = dedupe_key("c", joined[j])
                    if key in seen:
                        reason = "duplicate"
                    else:
                        seen.add(key)
            if reason:
                dropped.append((name, line, rec["id"], reason))
                continue
            kept += 1
            link = rec["link_id"]
            thread = link.removeprefix("t3_")
            body, gates = texts[j], hits[j]
            if may_change[j] or not OPENING_WORDS.isdisjoint(gates):  # inlined _keep_reply
                low = body.lower()
                text = deid(body, low, gates) if may_change[j] else body
                category = crisis_category(low, gates)
            else:  # a call to either would return these
                text, category = body, "none"
            if safety is not None:  # the row of _safety_row
                safety.append(
                    (
                        rec["id"],
                        thread,
                        subreddits[thread],
                        text,
                        LABELS[category],
                        category,
                        "comment",
                        splits[thread],
                    )
                )
            if rec["parent_id"] == link or rec["parent_id"] == f"t3_{thread}":
                slots[thread].append(["r", thread, rec["id"], text, rec["score"], counts[j]])
                replies += 1
        self.drops["comments"].add_rows(dropped)
        if safety:
            self.safety.write_rows(safety)
            self.output_counts["safety_messages"].update(map(itemgetter(7), safety))
            self.safety_counts.update(map(itemgetter(5), safety))
        self.buckets.added(replies)
        self.kept[name] += kept
        self._tick(len(batch.entries))
        batch.clear()

    # -- pass 2: threads -------------------------------------------------------------------
    def _open_outputs(self) -> None:
        self.writers = {
            name: JsonlWriter(self.out / f"{name}.jsonl", f"data/{name}") for name in OUTPUTS
        }
        self.safety = ParquetWriter(self.out / "safety_messages.parquet", "data/safety_messages")
        if self.safety.columns != list(SAFETY_COLUMNS):
            raise RuntimeError(f"safety_messages schema columns changed: {self.safety.columns}")
        self.output_counts = {name: Counter() for name in (*OUTPUTS, "safety_messages")}
        self.safety_counts: Counter[str] = Counter()
        self.hist = {
            name: Histogram()
            for name in (
                "post_words",
                "reply_words",
                "chosen_words",
                "rejected_words",
                "margin_gm",
                "margin_im",
            )
        }

    def _safety_row(
        self,
        row_id: str,
        text: str,
        source: str,
        split: str,
        thread: str,
        subreddit: str,
        category: str,
    ) -> None:
        # column order of workflow/schemas/data/safety_messages.schema.yaml
        self.safety.write_values(
            (row_id, thread, subreddit, text, LABELS[category], category, source, split)
        )
        self.output_counts["safety_messages"][split] += 1
        self.safety_counts[category] += 1

    def _thread(self, post: list, records: list[list], split: str) -> None:
        _, thread, subreddit, title, body, n_words, category = post
        prompt = gm_prompt(title, body)
        hist = self.hist
        hist["post_words"].add(n_words)
        if self.safety_posts:
            self._safety_row(thread, prompt, "submission", split, thread, subreddit, category)
        replies, words = [], {}
        for rec in records:
            if rec[0] == "c" and self.safety_comments:  # a Q&A answer
                self._safety_row(rec[2], rec[3], "comment", split, thread, subreddit, rec[6])
            replies.append(Reply(rec[2], rec[3], rec[4]))
            words[rec[2]] = rec[5]
        hist["reply_words"].add_all([rec[5] for rec in records])
        replies = ranked(replies)
        self._check_thread(thread, subreddit, prompt, replies)
        # the JSON of each value once; the rows are filled into the byte templates
        context = b'"thread_id":%s,"split":"%s","subreddit":%s' % (
            _json(thread),
            split.encode(),
            _json(subreddit),
        )
        post_json = _json(prompt)
        body_json = {r.id: _json(r.body) for r in replies}
        writers, counts = self.writers, self.output_counts
        best = best_reply(replies, self.pairs, is_ranked=True)
        if best is not None:
            writers["sft_gm"].write_line(
                _SFT_GM
                % (
                    _json(f"{thread}:{best.id}"),
                    context,
                    best.score,
                    post_json,
                    body_json[best.id],
                )
            )
            counts["sft_gm"][split] += 1
        pairs = gm_pairs(replies, self.pairs, is_ranked=True)
        if pairs:
            write = writers["dpo_gm"].write_line
            for chosen, rejected in pairs:
                write(
                    _DPO_GM
                    % (
                        _json(f"{thread}:{chosen.id}>{rejected.id}"),
                        context,
                        post_json,
                        body_json[chosen.id],
                        body_json[rejected.id],
                        chosen.score,
                        rejected.score,
                    )
                )
            counts["dpo_gm"][split] += len(pairs)
            hist["margin_gm"].add_all([c.score - r.score for c, r in pairs])
            hist["chosen_words"].add_all([words[c.id] for c, _ in pairs])
            hist["rejected_words"].add_all([words[r.id] for _, r in pairs])
        best, drafts = im_drafts(replies, self.pairs, is_ranked=True)
        if not drafts:
            return
        write_sft, write_dpo = writers["sft_im"].write_line, writers["dpo_im"].write_line
        best_json = body_json[best.id]
        post_inner = _inner_json(prompt.strip(), prompt, post_json)
        for draft in drafts:
            draft_json = body_json[draft.id]
            # the JSON of im_prompt(prompt, draft.body), from the JSON of its parts
            user_json = _IM_USER % (
                post_inner,
                _inner_json(draft.body.strip(), draft.body, draft_json),
            )
            write_sft(
                _SFT_IM
                % (
                    _json(f"{thread}:{draft.id}>{best.id}"),
                    context,
                    best.score,
                    post_json,
                    draft_json,
                    draft.score,
                    user_json,
                    best_json,
                )
            )
            write_dpo(
                _DPO_IM
                % (
                    _json(f"{thread}:{best.id}>{draft.id}"),
                    context,
                    post_json,
                    draft_json,
                    draft.score,
                    user_json,
                    best_json,
                    draft_json,
                    best.score,
                    draft.score,
                )
            )
        hist["margin_im"].add_all([best.score - draft.score for draft in drafts])
        counts["sft_im"][split] += len(drafts)
        counts["dpo_im"][split] += len(drafts)

    def _check_thread(self, thread: Any, subreddit: Any, prompt: str, replies: list[Reply]) -> None:
        """What the output schemas ask of the values a thread's rows are filled with: the
        templates fix the rest (keys, roles, list lengths), so the rows need no other check."""
        bodies_ok = all(type(r.score) is int and type(r.body) is str and r.body for r in replies)
        if type(thread) is str and thread and type(subreddit) is str and prompt and bodies_ok:
            return
        checks = {
            "thread_id": type(thread) is str and thread != "",
            "subreddit": type(subreddit) is str,
            "post": prompt != "",
            "reply score or text": bodies_ok,
        }
        field = next(name for name, ok in checks.items() if not ok)
        raise SchemaError(
            f"{self.out}: thread {thread!r}: field {field!r}: not a valid value for the output rows"
        )

    def _assemble(self, buckets: _Buckets) -> None:
        for path in tqdm(
            buckets.paths, desc="assemble threads", unit="bucket", mininterval=5, disable=None
        ):
            posts: dict[str, list] = {}
            replies: dict[str, list[list]] = {}
            for records in buckets.records(path):
                for rec in records:
                    if rec[0] == "s":
                        posts[rec[1]] = rec
                    elif (group := replies.get(rec[1])) is None:
                        replies[rec[1]] = [rec]
                    else:
                        group.append(rec)
            path.unlink()
            for thread in sorted(posts):
                records = sorted(replies.get(thread, []), key=_REPLY_ID)
                self._thread(posts[thread], records, self.splits[thread])
            for hist in self.hist.values():
                hist.count()

    # -- driver ----------------------------------------------------------------------------
    def run(self, sources: list[Source]) -> dict[str, Any]:
        """Run every pass over ``sources``; returns the data card (also written to disk).

        The cyclic garbage collector is paused meanwhile: the passes make no reference cycles
        (reference counting frees every row), and its scans of the buffered rows are costly.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(sources)
        finally:
            if collecting:
                gc.enable()

    def _run(self, sources: list[Source]) -> dict[str, Any]:
        started, cpu_started = time.perf_counter(), time.process_time()
        self.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mhai-prep-") as tmp:
            buckets = self.buckets = _Buckets(tmp, self.data["prep"]["buckets"])
            self._open_outputs()
            try:
                for source in sources:
                    if source.kind != "comments":
                        log.info("reading %s (%s)", source.path, source.kind)
                        streamer = (
                            self._stream_qa if source.kind == "qa" else self._stream_submissions
                        )
                        streamer(source)
                self.splits = assign_splits(self.threads, self.data["splits"], self.seed)
                for source in sources:
                    if source.kind == "comments":
                        log.info("reading %s (comments)", source.path)
                        self._stream_comments(source)
                buckets.flush()
                buckets.close()
                self.progress.update(self.ticks)
                self.progress.close()
                self.seen.clear()
                streamed, cpu_streamed = time.perf_counter(), time.process_time()
                self._assemble(buckets)
            finally:
                buckets.close()
                for writer in (*self.writers.values(), self.safety):
                    writer.close()
                for drops in self.drops.values():
                    drops.close()
        card = self._card(sources)
        self.timing = {
            "stream_wall_s": streamed - started,
            "stream_cpu_s": cpu_streamed - cpu_started,
            "total_wall_s": time.perf_counter() - started,
            "total_cpu_s": time.process_time() - cpu_started,
        }
        validate_document(card, "data/data_card", str(self.out / "data_card.json"))
        (self.out / "data_card.json").write_bytes(
            orjson.dumps(card, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
        return card

    def _card(self, sources: list[Source]) -> dict[str, Any]:
        dropped: Counter[str] = Counter()
        for drops in self.drops.values():
            dropped.update(drops.counts)
        by_source = []
        for source in sources:
            name = source.path
            source_drops = sum(d.by_source[name] for d in self.drops.values())
            by_source.append(
                {
                    "path": name,
                    "kind": source.kind,
                    "rows_in": self.rows_in[name],
                    "rows_kept": self.kept[name],
                    "rows_dropped": source_drops,
                }
            )
            if self.rows_in[name] != self.kept[name] + source_drops:
                raise AccountingError(
                    f"{name}: rows in {self.rows_in[name]} != kept {self.kept[name]} "
                    f"+ dropped {source_drops}"
                )
        rows_in, rows_kept = sum(self.rows_in.values()), sum(self.kept.values())
        if rows_in != rows_kept + sum(dropped.values()):
            raise AccountingError(f"rows in {rows_in} != kept {rows_kept} + dropped {dropped}")
        threads = Counter(self.splits.values())
        return {
            "rows_in": rows_in,
            "rows_kept": rows_kept,
            "rows_dropped": sum(dropped.values()),
            "dropped": dict(sorted(dropped.items())),
            "sources": by_source,
            "threads": {s: threads[s] for s in SPLITS},
            "outputs": {
                name: {s: c[s] for s in SPLITS} | {"total": sum(c.values())}
                for name, c in self.output_counts.items()
            },
            "safety_categories": dict(sorted(self.safety_counts.items())),
            "deid_replacements": {k: self.deid.counts[k] for k in sorted(self.deid.counts)},
            "lengths": {
                k: self.hist[k].summary()
                for k in ("post_words", "reply_words", "chosen_words", "rejected_words")
            },
            "vote_margins": {k: self.hist[k].summary() for k in ("margin_gm", "margin_im")},
            "histograms": {k: h.as_dict() for k, h in self.hist.items()},
            "config": {
                k: self.data[k] for k in ("source", "clean", "deid", "pairs", "splits", "safety")
            },
            "seed": self.seed,
        }


# Output rows as byte templates, keys in schema order (workflow/schemas/data/): each %s is a
# JSON value from _json (orjson, whose output for a string does not depend on where the string
# is used) and each %d a score, so a line is orjson's line for the row as a dict.
_ROW = b'{"id":%s,%s'  # then the thread's context: thread_id, split, subreddit
_CHAT = b'[{"role":"user","content":%s},{"role":"assistant","content":%s}]'
_PREFERENCE = (
    b'"prompt":[{"role":"user","content":%s}],"chosen":[{"role":"assistant","content":%s}],'
    b'"rejected":[{"role":"assistant","content":%s}],"score_chosen":%d,"score_rejected":%d}\n'
)
_SFT_GM = _ROW + b',"score":%d,"messages":' + _CHAT + b"}\n"
_DPO_GM = _ROW + b"," + _PREFERENCE
_SFT_IM = _ROW + b',"score":%d,"post":%s,"draft":%s,"draft_score":%d,"messages":' + _CHAT + b"}\n"
_DPO_IM = _ROW + b',"post":%s,"draft":%s,"draft_score":%d,' + _PREFERENCE
_json = orjson.dumps
_REPLY_ID = itemgetter(2)  # of a reply record in a bucket


def _inner_json(text: str, original: str, original_json: bytes) -> bytes:
    """The JSON of ``text`` without its quotes; ``original_json`` is the JSON of ``original``
    (reused when the two texts are equal)."""
    return (original_json if text == original else _json(text))[1:-1]


# orjson escapes a string character by character, so the JSON of a concatenation is the
# concatenation of its parts' JSON (quotes aside). The IM prompt is its fixed text around the
# post and the draft, found by formatting two placeholder characters (strip keeps them).
_IM_HEAD, _IM_REST = im_prompt("\x00", "\x01").split("\x00")
_IM_USER = b'"%s%%s%s%%s%s"' % tuple(
    _json(part)[1:-1].replace(b"%", b"%%") for part in (_IM_HEAD, *_IM_REST.split("\x01"))
)


def prepare(
    data: dict[str, Any], seed: int, out_dir: str | Path, sources: list[Source]
) -> dict[str, Any]:
    """Prepare every data-stage output in ``out_dir`` from ``sources``; returns the data card."""
    return Preparer(data, seed, out_dir).run(sources)
