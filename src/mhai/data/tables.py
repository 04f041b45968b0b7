"""Streaming, schema-checked writers for the data stage's outputs.

Row schemas are the YAML files in ``workflow/schemas/data/`` (loaded by
:func:`mhai.schemas.load_schema`). Each row is validated as it is written, because the prep
writes millions of rows from a full dump: first by a check compiled from the schema into one
Python expression (:func:`compile_row_check`, 1-2.5 us per output row), which accepts only
valid rows; a row it rejects goes through fastjsonschema (3.5-7 us/row, versus ~35 us/row for
jsonschema), so a bad row raises :class:`mhai.schemas.SchemaError` naming the file, the row
number and the field. The prep's JSONL rows skip this: it builds their lines from templates
and checks the values that fill them (``Preparer._check_thread``).
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mhai.schemas import SchemaError, load_schema

# JSON types as exact Python types (stricter than JSON Schema: a tuple is no array, a str
# subclass no string; such rows just take the slow path, which decides).
_TYPE_TESTS = {
    "string": "type({v}) is str",
    "integer": "type({v}) is int",
    "number": "type({v}) in (int, float)",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
    "array": "type({v}) is list",
    "object": "type({v}) is dict",
}
_ANNOTATIONS = {"$schema", "title", "description", "$comment", "definitions"}
_KEYWORDS = {
    "type",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "items",
    "required",
    "properties",
    "additionalProperties",
    "$ref",
} | _ANNOTATIONS


class _CheckCompiler:
    """Translates a schema (simple keywords only) into Python source, one function per
    sub-schema that is a ``$ref`` or an array's ``items``."""

    def __init__(self, schema: dict):
        self.definitions = schema.get("definitions", {})
        self.constants: dict[str, Any] = {}
        self.functions: dict[str, str] = {}  # key -> function name
        self.sources: list[str] = []
        self.expanding: set[str] = set()  # $refs being inlined (recursion guard)
        self.bound_names: list[str] = []
        self.root = self.function("#", schema)

    def function(self, key: str, schema: dict) -> str:
        if key not in self.functions:
            name = self.functions[key] = f"_check_{len(self.functions)}"
            self.sources.append(f"def {name}(x):\n    return {self.expr(schema, 'x')}")
        return self.functions[key]

    def const(self, value: Any) -> str:
        if type(value) in (str, int, float):
            return repr(value)  # a literal in the generated code
        name = f"_const_{len(self.constants)}"
        self.constants[name] = value
        return name

    def expr(self, schema: dict, v: str) -> str:
        if not isinstance(schema, dict) or set(schema) - _KEYWORDS:
            raise NotImplementedError(schema)
        if "$ref" in schema:
            ref = schema["$ref"]
            if set(schema) - _ANNOTATIONS != {"$ref"} or not ref.startswith("#/definitions/"):
                raise NotImplementedError(ref)
            if ref in self.expanding:  # a recursive schema: check through a function
                return f"{self.function(ref, self.definitions[ref.split('/')[-1]])}({v})"
            self.expanding.add(ref)
            try:
                return self.expr(self.definitions[ref.split("/")[-1]], v)
            finally:
                self.expanding.discard(ref)
        types = schema.get("type")
        types = [types] if isinstance(types, str) else types
        single = types[0] if types and len(types) == 1 else None
        parts = []
        if types:
            parts.append("(" + " or ".join(_TYPE_TESTS[t].format(v=v) for t in types) + ")")

        def applies(kind: str, test: str) -> None:
            """Add a keyword test that only constrains values of JSON type ``kind``."""
            if single == kind or (kind == "number" and single == "integer"):
                parts.append(test)
            elif single is None:
                parts.append(f"(not {_TYPE_TESTS[kind].format(v=v)} or {test})")

        if "enum" in schema:
            kinds = {type(e) for e in schema["enum"]}
            if kinds not in ({str}, {int}):
                raise NotImplementedError("enum of mixed or other types")
            member = f"{v} in {self.const(frozenset(schema['enum']))}"
            kind = "string" if kinds == {str} else "integer"
            parts.append(
                member if single == kind else f"({_TYPE_TESTS[kind].format(v=v)} and {member})"
            )
        n_items = schema.get("minItems")
        if single == "array" and "items" in schema and n_items == schema.get("maxItems", -1) <= 4:
            # a short array of fixed length: its items checked inline, without a call
            parts.append(f"len({v}) == {int(n_items)}")
            parts += [f"({self.bound(schema['items'], f'{v}[{i}]')})" for i in range(n_items)]
            schema = {k: x for k, x in schema.items() if k not in ("minItems", "maxItems", "items")}
        for key, kind, op in (
            ("minLength", "string", ">="),
            ("maxLength", "string", "<="),
            ("minItems", "array", ">="),
            ("maxItems", "array", "<="),
        ):
            if key == "minLength" and schema.get(key) == 1:
                applies(kind, f"{v} != ''")  # the common case, without a call
            elif key in schema:
                applies(kind, f"len({v}) {op} {int(schema[key])}")
        for key, op in (("minimum", ">="), ("maximum", "<=")):
            if key in schema:
                applies("number", f"{v} {op} {self.const(schema[key])}")
        if "items" in schema:
            item = self.function(f"{id(schema)}/items", schema["items"])
            applies("array", f"all(map({item}, {v}))")
        if {"properties", "required", "additionalProperties"} & set(schema):
            applies("object", self.object_expr(schema, v))
        return " and ".join(parts) or "True"

    def bound(self, schema: dict, value: str) -> str:
        """The test of ``schema`` for the expression ``value``, which is evaluated once into a
        local name (the first use binds it: tests are ``and``/``or`` chains run in order)."""
        name = f"_v{len(self.bound_names)}_"
        self.bound_names.append(name)
        test = self.expr(schema, name)
        return test.replace(name, f"({name} := {value})", 1) if name in test else test

    def object_expr(self, schema: dict, v: str) -> str:
        properties = schema.get("properties", {})
        required = frozenset(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            raise NotImplementedError("additionalProperties schema")
        if extra is False and required == set(properties):
            parts = [f"{v}.keys() == {self.const(required)}"]
        else:
            parts = [f"{v}.keys() >= {self.const(required)}"] if required else []
            if extra is False:
                parts.append(f"{v}.keys() <= {self.const(frozenset(properties))}")
        for key, sub in properties.items():
            test = self.bound(sub, f"{v}[{self.const(key)}]")
            parts.append(test if key in required else f"({self.const(key)} not in {v} or {test})")
        return "(" + " and ".join(parts) + ")"


def compile_row_check(schema: dict) -> Any:
    """A function ``row -> bool`` that is True only for rows valid against ``schema`` (it may
    reject a valid row: callers then ask a full validator), or None when the schema uses a
    keyword it does not translate."""
    try:
        compiler = _CheckCompiler(schema)
    except NotImplementedError:
        return None
    namespace = dict(compiler.constants)
    exec("\n".join(compiler.sources), namespace)  # noqa: S102 (source built from the schema)
    return namespace[compiler.root]


class RowValidator:
    """Validate single rows against a named row schema; errors name source, row and field."""

    def __init__(self, schema_name: str, source: str):
        self.schema_name = schema_name
        self.source = source
        schema = load_schema(schema_name)
        self._check = fastjsonschema.compile(schema)
        self._fast = compile_row_check(schema)

    def __call__(self, row: dict, row_number: int) -> None:
        if self._fast is not None and self._fast(row):
            return
        try:
            self._check(row)
        except fastjsonschema.JsonSchemaValueException as exc:
            field = ".".join(str(p) for p in exc.path[1:]) or "(row)"
            raise SchemaError(
                f"{self.source}: row {row_number}: field {field!r}: {exc.message} "
                f"(schema {self.schema_name!r})"
            ) from exc


class JsonlWriter:
    """Write validated rows as JSON lines, one at a time (each row is checked as it comes)."""

    BATCH = 1024

    def __init__(self, path: str | Path, schema_name: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.validate = RowValidator(schema_name, str(self.path))
        self.handle = self.path.open("wb", buffering=1 << 20)
        self.lines: list[bytes] = []  # written in chunks of BATCH lines (fewer write calls)
        self.rows = 0

    def write(self, row: dict) -> None:
        self.rows += 1
        fast = self.validate._fast
        if fast is None or not fast(row):  # the compiled check inline: it passes valid rows
            self.validate(row, self.rows)
        self._append(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))

    def write_line(self, line: bytes) -> None:
        """Write a row the caller built as a JSON line from values of checked types (see
        ``Preparer._check_thread``). The first line of a file is parsed back and validated in
        full, so a line builder that no longer matches its schema fails at once."""
        self.rows += 1
        if self.rows == 1:
            self.validate(orjson.loads(line), 1)
        self._append(line)

    def _append(self, line: bytes) -> None:
        self.lines.append(line)
        if len(self.lines) >= self.BATCH:
            self.handle.write(b"".join(self.lines))
            self.lines.clear()

    def close(self) -> None:
        self.handle.write(b"".join(self.lines))
        self.lines.clear()
        self.handle.close()


class ParquetWriter:
    """Write rows to Parquet in batches (constant memory), validated batch by batch.

    Columns and Arrow types come from the row schema. A batch is checked column-wise with
    Arrow compute (types, enum, minLength, minimum, maximum, non-null required columns),
    which is exact for schemas that use only those keywords and ~5x cheaper than row by row;
    when a check fails (or the schema uses other keywords) the batch's rows are validated one
    by one, so the error names the file, the row and the field.
    """

    VECTOR_KEYWORDS = {"type", "enum", "minLength", "minimum", "maximum", "description"}
    TYPES = {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
    }

    def __init__(self, path: str | Path, schema_name: str, batch_rows: int = 50_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.validate = RowValidator(schema_name, str(self.path))
        schema = load_schema(schema_name)
        self.properties = schema["properties"]
        self.required = set(schema.get("required", []))
        self.columns = list(self.properties)
        self._values = itemgetter(*self.columns)
        self.arrow_schema = pa.schema(
            [(c, self.TYPES[_json_type(self.properties[c])]) for c in self.columns]
        )
        self.vectorized = schema.get("additionalProperties") is False and all(
            set(prop) <= self.VECTOR_KEYWORDS for prop in self.properties.values()
        )
        self.batch_rows = batch_rows
        self.buffer: list[tuple] = []
        self.writer = pq.ParquetWriter(self.path, self.arrow_schema)
        self.rows = 0

    def write(self, row: dict) -> None:
        """Buffer one row (a dict with exactly the schema's columns)."""
        if len(row) != len(self.columns):
            self.validate(row, self.rows + len(self.buffer) + 1)  # names the extra/missing field
        try:
            self.buffer.append(self._values(row))
        except KeyError:
            self.validate(row, self.rows + len(self.buffer) + 1)
            raise
        if len(self.buffer) >= self.batch_rows:
            self._flush()

    def write_values(self, values: tuple) -> None:
        """Buffer one row given as a tuple in schema column order (skips the dict)."""
        self.buffer.append(values)
        if len(self.buffer) >= self.batch_rows:
            self._flush()

    def write_rows(self, rows: list[tuple]) -> None:
        """Buffer many rows given as tuples (as :meth:`write_values`); the batches written
        are the same as row by row."""
        room = self.batch_rows - len(self.buffer)
        while len(rows) >= room:
            self.buffer += rows[:room]
            self._flush()
            rows, room = rows[room:], self.batch_rows
        self.buffer += rows

    def _rows_of(self, start: int) -> list[dict]:
        return [dict(zip(self.columns, values, strict=True)) for values in self.buffer[start:]]

    def _check_rows(self) -> None:
        for offset, row in enumerate(self._rows_of(0), start=1):
            self.validate(row, self.rows + offset)

    def _flush(self) -> None:
        if not self.buffer:
            return
        if not self.vectorized:
            self._check_rows()
        try:
            if any(len(values) != len(self.columns) for values in self.buffer):
                raise TypeError("a row with the wrong number of values")
            columns = list(zip(*self.buffer, strict=True))  # rows -> columns in one pass
            table = pa.table(
                [
                    pa.array(column, type=field.type)
                    for column, field in zip(columns, self.arrow_schema, strict=True)
                ],
                schema=self.arrow_schema,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            self._check_rows()  # raises with the row and field
            raise
        if self.vectorized and not self._columns_valid(table):
            self._check_rows()
            raise SchemaError(f"{self.path}: a row breaks its schema")  # pragma: no cover
        self.writer.write_table(table)
        self.rows += len(self.buffer)
        self.buffer = []

    def _columns_valid(self, table: pa.Table) -> bool:
        for name, prop in self.properties.items():
            column = table[name]
            checks = []
            if name in self.required and column.null_count:
                return False
            if "enum" in prop:
                checks.append(pc.is_in(column, value_set=pa.array(prop["enum"], type=column.type)))
            if "minLength" in prop:
                checks.append(pc.greater_equal(pc.utf8_length(column), prop["minLength"]))
            if "minimum" in prop:
                checks.append(pc.greater_equal(column, prop["minimum"]))
            if "maximum" in prop:
                checks.append(pc.less_equal(column, prop["maximum"]))
            if any(not pc.all(check).as_py() for check in checks):
                return False
        return True

    def close(self) -> None:
        self._flush()
        self.writer.close()


def _json_type(prop: dict) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    return kind
