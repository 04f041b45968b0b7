"""Streaming readers for Pushshift-style NDJSON dumps and column-mapped CSV/JSONL tables.

Every reader yields ``(line_number, record)`` one row at a time (constant memory, ``.zst`` read
through a zstandard stream), with fields checked and coerced to the canonical types below.
A malformed line, a missing field or a wrong type is not raised: it is recorded as a drop with
its reason in the :class:`DropLog`, so rows in = rows yielded + rows dropped. A file that cannot
be opened, decompressed or holds no rows raises :class:`DataSourceError` naming it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
import zstandard

# Pushshift dumps use long zstd windows; readers must allow them.
ZSTD_MAX_WINDOW = 2**31

SUBMISSION_FIELDS = ("id", "subreddit", "title", "selftext", "author", "created_utc", "score")
COMMENT_FIELDS = ("id", "link_id", "parent_id", "body", "author", "score", "created_utc")
# Fields of a question-and-answer table row (e.g. a counseling Q&A export): one row = one answer.
QA_FIELDS = ("question", "answer", "score")
QA_OPTIONAL = {
    "thread_id": None,
    "id": None,
    "title": "",
    "subreddit": "qa",
    "author": "",
    "created_utc": 0,
}
KIND_FIELDS = {"submissions": SUBMISSION_FIELDS, "comments": COMMENT_FIELDS, "qa": QA_FIELDS}
INT_FIELDS = {"score", "created_utc"}
_KIND_OF = {fields: kind for kind, fields in KIND_FIELDS.items()}


class DataSourceError(RuntimeError):
    """An input file that cannot be used at all (missing, unreadable, corrupt or empty)."""


class DropLog:
    """Counts dropped rows by reason and writes one CSV line per drop (source, line, id, reason)."""

    def __init__(self, path: str | Path | None = None):
        self.counts: Counter[str] = Counter()
        self.by_source: Counter[str] = Counter()
        self._handle = None
        self._writer = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["source", "line", "id", "reason"])

    def add(self, source: str, line: int, row_id: str | None, reason: str) -> None:
        """Record one dropped row."""
        self.counts[reason] += 1
        self.by_source[source] += 1
        if self._writer is not None:
            self._writer.writerow([source, line, row_id or "", reason])

    def add_rows(self, rows: list[tuple[str, int, str | None, str]]) -> None:
        """Record many dropped rows, each ``(source, line, id, reason)``, in order."""
        if not rows:
            return
        self.counts.update([row[3] for row in rows])
        self.by_source.update([row[0] for row in rows])
        if self._writer is not None:
            self._writer.writerows(rows)  # csv writes a None id as an empty field

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def open_lines(path: str | Path) -> Iterator[bytes]:
    """Yield the raw lines of a plain or ``.zst`` file, streaming; errors name the file."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot open input file: {exc.strerror or exc}") from exc
    with handle:
        if path.stat().st_size == 0:
            raise DataSourceError(f"{path}: input file is empty")
        if path.suffix == ".zst":
            reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
                handle
            )
            stream = io.BufferedReader(reader, buffer_size=1 << 20)
        else:
            stream = handle
        try:
            yield from stream
        except zstandard.ZstdError as exc:
            raise DataSourceError(f"{path}: cannot decompress (.zst): {exc}") from exc


_EXPECTED = {
    kind: (itemgetter(*fields), tuple(int if f in INT_FIELDS else str for f in fields))
    for kind, fields in KIND_FIELDS.items()
}


def _coerce(record: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """Check required fields in place; return a drop reason or None. Coerces int fields."""
    getter, types = _EXPECTED[_KIND_OF[fields]]
    try:
        if tuple(map(type, getter(record))) == types:  # fast path: every field as expected
            return None
    except KeyError:
        pass
    return _coerce_slow(record, fields)


def _coerce_slow(record: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """Field by field: the reason for the first bad field, or None (int fields coerced)."""
    for field in fields:
        value = record.get(field)
        if value is None:
            return f"missing_field:{field}"
        if field in INT_FIELDS:
            if isinstance(value, bool):
                return f"wrong_type:{field}"
            if isinstance(value, int):
                continue
            if isinstance(value, float) and value.is_integer():
                record[field] = int(value)
                continue
            if isinstance(value, str):
                try:
                    record[field] = int(float(value))
                    continue
                except ValueError:
                    return f"wrong_type:{field}"
            return f"wrong_type:{field}"
        if not isinstance(value, str):
            return f"wrong_type:{field}"
    return None


def _finish(path: Path, rows: int, rows_in: Counter | None) -> None:
    if rows_in is not None:
        rows_in[str(path)] += rows
    if rows == 0:
        raise DataSourceError(f"{path}: input file holds no rows (empty)")


def read_ndjson(
    path: str | Path, kind: str, drops: DropLog, rows_in: Counter | None = None
) -> Iterator[tuple[int, dict]]:
    """Stream a Pushshift NDJSON dump (``kind`` = submissions or comments), plain or ``.zst``.

    Blank lines are skipped and not counted; ``rows_in[path]`` is increased by the number of
    rows read when the file is exhausted.
    """
    path = Path(path)
    fields = KIND_FIELDS[kind]
    getter, types = _EXPECTED[kind]
    source = str(path)
    rows = 0
    for line_no, raw in enumerate(open_lines(path), start=1):
        if raw.isspace():
            continue
        rows += 1
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            drops.add(source, line_no, None, "malformed_json")
            continue
        if not isinstance(record, dict):
            drops.add(source, line_no, None, "not_an_object")
            continue
        try:
            if tuple(map(type, getter(record))) == types:  # every field as expected
                yield line_no, record
                continue
        except KeyError:
            pass
        reason = _coerce_slow(record, fields)
        if reason is not None:
            row_id = record.get("id")
            drops.add(source, line_no, row_id if isinstance(row_id, str) else None, reason)
            continue
        yield line_no, record
    _finish(path, rows, rows_in)


def _table_rows(path: Path, fmt: str) -> Iterator[tuple[int, Any]]:
    """Raw rows of a CSV (dicts) or JSONL (bytes) table, with 1-based line numbers."""
    if fmt == "jsonl":
        for line_no, raw in enumerate(open_lines(path), start=1):
            if not raw.isspace():
                yield line_no, raw
        return
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot open input file: {exc.strerror or exc}") from exc
    with handle:
        if path.stat().st_size == 0:
            raise DataSourceError(f"{path}: input file is empty")
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                # line_num is the physical line where this row ended (header = line 1)
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataSourceError(f"{path}: line {reader.line_num}: unreadable CSV: {exc}") from exc


def read_table(
    path: str | Path,
    kind: str,
    fmt: str,
    columns: dict[str, str],
    drops: DropLog,
    rows_in: Counter | None = None,
) -> Iterator[tuple[int, dict]]:
    """Stream a column-mapped CSV/JSONL table as canonical records of ``kind``.

    ``columns`` maps canonical field names (e.g. ``answer``) to the table's column names
    (e.g. ``answerText``); unmapped fields keep their canonical name. For ``kind="qa"`` a
    missing ``thread_id`` is derived from the question text, so answers to one question form
    one thread.
    """
    path = Path(path)
    fields = KIND_FIELDS[kind]
    source = str(path)
    wanted = list(fields) + (list(QA_OPTIONAL) if kind == "qa" else [])
    rows = 0
    for line_no, raw in _table_rows(path, fmt):
        rows += 1
        if fmt == "jsonl":
            try:
                raw = orjson.loads(raw)
            except orjson.JSONDecodeError:
                drops.add(source, line_no, None, "malformed_json")
                continue
            if not isinstance(raw, dict):
                drops.add(source, line_no, None, "not_an_object")
                continue
        record = {field: raw.get(columns.get(field, field)) for field in wanted}
        if kind == "qa":
            for field, default in QA_OPTIONAL.items():
                if record[field] in (None, ""):
                    record[field] = default
        reason = _coerce(record, fields)
        if reason is not None:
            row_id = record.get("id")
            drops.add(source, line_no, str(row_id) if row_id is not None else None, reason)
            continue
        if kind == "qa":
            if record["thread_id"] is None:
                digest = hashlib.blake2b(record["question"].strip().encode(), digest_size=6)
                record["thread_id"] = f"q{digest.hexdigest()}"
            record["thread_id"] = str(record["thread_id"])
            record["id"] = str(record["id"]) if record["id"] is not None else f"a{line_no}"
        yield line_no, record
    _finish(path, rows, rows_in)
