"""Ingest stage: turn a folder, a JSONL/CSV/Parquet file or stdin into `Document`s.

Everything is streamed (one line, CSV record or Parquet batch at a time), so a
corpus larger than memory can be scanned. A bad record never stops the run: it
becomes a `Skip` (file, line, short reason) in the caller's `SkipLog`, which in
strict mode raises `InputProblem` instead. Only problems that make the whole
input unreadable (missing path, unknown type, unreadable Parquet, a named
column missing from a header) raise `InputProblem` directly. No other exception
is meant to leave this module.
"""
from __future__ import annotations

import codecs
import csv
import datetime as _dt
import gzip
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import TextIO

from dedup.document import Document, InputProblem, Skip, SkipLog

try:  # orjson parses a line of news ~4x faster than json; json stays the reference for any line it declines
    import orjson

    _fast_loads: Callable[[bytes | str], object] | None = orjson.loads
    _FastDecodeError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover
    _fast_loads, _FastDecodeError = None, ValueError

# Files a folder scan reads as one document each; anything else in a folder
# (images, PDFs, notes) is left alone without a warning.
FOLDER_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".jsonlines"})
CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})

STDIN_NAME = "<stdin>"
# How much of a file is looked at to call it binary: a NUL byte never occurs in
# UTF-8 text, and in practice shows up in the first few KB of any binary format.
_SNIFF_BYTES = 8192
_PARQUET_BATCH_ROWS = 4096
_PARQUET_BUFFER_BYTES = 1 << 20
# Read buffer of a line file. Each refill is a read() that lets go of the GIL, and in a scan the
# reading thread shares it with the worker pool's feeder and result threads: with the default
# 8 KB, a 1.4 GB corpus meant ~175k refills, each a chance to wait for the GIL back.
_READ_BUFFER_BYTES = 1 << 20
_MAX_ID_IN_MESSAGE = 80
# A JSON string may encode a lone surrogate ("\ud800"), which decodes fine but
# breaks every later UTF-8 write; only lines that contain one are re-checked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class FieldNames:
    """Which record field holds each Document attribute (`--text-field` and friends)."""

    text: str = "text"
    id: str = "id"
    date: str = "date"
    title: str = "title"
    source: str = "source"
    url: str = "url"

    def metadata(self) -> dict[str, str]:
        """Document attribute -> record field, for the optional attributes."""
        return {"title": self.title, "date": self.date, "source": self.source, "url": self.url}

    def columns(self) -> list[str]:
        """Every field a reader needs, each once, text first (for column pruning)."""
        wanted = [self.text, self.id, *self.metadata().values()]
        return list(dict.fromkeys(wanted))


class _BadValue(ValueError):
    """A field value that cannot be turned into text; its message is the skip reason."""


class _Unreadable(Exception):
    """A whole file cannot be read; its message is the skip reason."""


def iter_documents(
    path: str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    date_field: str = "date",
    title_field: str = "title",
    source_field: str = "source",
    url_field: str = "url",
    skips: SkipLog | None = None,
    stdin: TextIO | None = None,
) -> Iterator[Document]:
    """Stream Documents from a folder, .jsonl/.ndjson (also .gz), .csv/.tsv, .parquet, or "-" (JSONL on stdin).

    Bad records are reported to `skips` (a fresh non-strict log if None) and
    left out; ids must be unique across the whole input, later repeats are skipped.
    """
    fields = FieldNames(text_field, id_field, date_field, title_field, source_field, url_field)
    reader = _Reader(fields, skips if skips is not None else SkipLog())
    if str(path) == "-":
        yield from reader.stdin_jsonl(stdin if stdin is not None else sys.stdin)
        return
    path = Path(path)
    if not path.exists():
        raise InputProblem(f"{path}: no such file or directory")
    if path.is_dir():
        yield from reader.folder(path)
        return
    kind, suffix = _file_kind(path)
    if kind == "jsonl":
        yield from reader.jsonl(path)
    elif kind == "csv":
        yield from reader.csv(path, CSV_DELIMITERS[suffix])
    elif kind == "parquet":
        yield from reader.parquet(path)
    elif kind == "document":
        doc = reader.single_file(path)
        if doc is not None:
            yield doc
    else:
        known = "a folder, .jsonl, .ndjson, .csv, .tsv (also .gz), .parquet, .txt, .md, .html or - for stdin"
        hint = "; a file of one JSON object per line should be named .jsonl" if suffix == ".json" else ""
        raise InputProblem(
            f"{path}: unknown file type '{''.join(path.suffixes) or path.name}' (expected {known}){hint}"
        )


def read_documents(
    path: str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    date_field: str = "date",
    title_field: str = "title",
    source_field: str = "source",
    url_field: str = "url",
    stdin: TextIO | None = None,
    strict: bool = False,
    on_skip: Callable[[Skip], None] | None = None,
) -> tuple[list[Document], list[Skip]]:
    """Read the whole input: the documents and the skipped records.

    `on_skip` sees each skip as it happens (the CLI prints it); with `strict`
    the first skip raises `InputProblem` carrying the same one-line message.
    """
    log = SkipLog(strict=strict, on_skip=on_skip)
    docs = list(
        iter_documents(
            path,
            text_field=text_field,
            id_field=id_field,
            date_field=date_field,
            title_field=title_field,
            source_field=source_field,
            url_field=url_field,
            skips=log,
            stdin=stdin,
        )
    )
    return docs, log.skips


def _file_kind(path: Path) -> tuple[str, str]:
    """("jsonl" | "csv" | "parquet" | "document" | "unknown", the format suffix); ".gz" is looked through."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
        compressible = True
    else:
        compressible = False
    suffix = suffixes[-1] if suffixes else ""
    if suffix in JSONL_SUFFIXES:
        return "jsonl", suffix
    if suffix in CSV_DELIMITERS:
        return "csv", suffix
    if not compressible and suffix in PARQUET_SUFFIXES:
        return "parquet", suffix
    if not compressible and suffix in FOLDER_SUFFIXES:
        return "document", suffix
    return "unknown", suffix


class _Reader:
    """One ingest run: the field names, the skip log and the ids seen so far."""

    def __init__(self, fields: FieldNames, skips: SkipLog) -> None:
        self.fields = fields
        self.skips = skips
        # id -> origin of its first document (the same str object the Document holds).
        self.first_seen: dict[str, str] = {}

    # -- shared record handling -------------------------------------------------

    def _accept(self, doc: Document, where: str, line: int | None) -> Document | None:
        """Return `doc` unless its id was already read, which is a counted skip."""
        first = self.first_seen.get(doc.id)
        if first is not None:
            self.skips.add(where, line, f"duplicate id {_quote_id(doc.id)} (first seen at {first})")
            return None
        self.first_seen[doc.id] = doc.origin
        return doc

    def _record(self, get: Callable[[str], object], where: str, line: int, id_prefix: str) -> Document | None:
        """Build a Document from one record (`get(field)` returns None for a missing field)."""
        fields = self.fields
        try:
            text = _as_text(get(fields.text), fields.text)
            doc_id = _as_str(get(fields.id), fields.id) if fields.id else None
            metadata = {attr: _as_str(get(name), name) for attr, name in fields.metadata().items()}
        except _BadValue as err:
            self.skips.add(where, line, str(err))
            return None
        if text is None:
            self.skips.add(where, line, f"no text in field {fields.text!r}")
            return None
        if doc_id is None or not doc_id.strip():
            doc_id = f"{id_prefix}:{line}"
        origin = f"{where}:{line}"
        return self._accept(Document(doc_id, text, origin=origin, **metadata), where, line)

    def _missing_text_column(self, where: str, columns: list[str]) -> InputProblem:
        return InputProblem(
            f"{where}: no column {self.fields.text!r} (columns: {_column_list(columns)}); choose one with --text-field"
        )

    # -- JSONL -------------------------------------------------------------------

    def _line_file(
        self, path: Path, read_records: Callable[[Iterable[bytes], str, str], Iterator[Document]]
    ) -> Iterator[Document]:
        """Run a line-based reader (JSONL, CSV) over a file, after the whole-file checks."""
        where = str(path)
        try:
            problem = _sniff(path)
            if problem:
                self.skips.add(where, None, problem)
                return
            with _open_binary(path) as stream:
                yield from read_records(stream, where, _stem(path))
        except _Unreadable as err:
            self.skips.add(where, None, str(err))
        except OSError as err:
            raise InputProblem(f"{where}: cannot read: {_os_reason(err)}") from None

    def jsonl(self, path: Path) -> Iterator[Document]:
        return self._line_file(path, self._jsonl_lines)

    def stdin_jsonl(self, stream: TextIO | None) -> Iterator[Document]:
        if stream is None:  # started without a standard input (a daemon, some CI runners)
            raise InputProblem(f"{STDIN_NAME}: no standard input to read")
        # Prefer the byte stream so invalid UTF-8 is a per-line skip, not a crash.
        source = getattr(stream, "buffer", None) or stream
        try:
            yield from self._jsonl_lines(source, STDIN_NAME, "stdin")
        except _Unreadable as err:
            self.skips.add(STDIN_NAME, None, str(err))
        except OSError as err:
            raise InputProblem(f"{STDIN_NAME}: cannot read: {_os_reason(err)}") from None

    def _jsonl_lines(self, lines: Iterable[bytes | str], where: str, id_prefix: str) -> Iterator[Document]:
        any_record = False
        columns = self.fields.columns()
        for line_no, text, bad_byte in _decoded_lines(lines, lambda raw: _fast_record(raw, columns)):
            if isinstance(text, dict):  # parsed straight from the line's bytes (`_fast_record`)
                any_record = True
                doc = self._record(text.get, where, line_no, id_prefix)
                if doc is not None:
                    yield doc
                continue
            if bad_byte is not None:
                any_record = True
                self.skips.add(where, line_no, f"invalid UTF-8 at byte {bad_byte}")
                continue
            if not text.strip():
                continue
            any_record = True
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                self.skips.add(where, line_no, f"malformed JSON: {err.msg} (column {err.colno})")
                continue
            except RecursionError:
                self.skips.add(where, line_no, "malformed JSON: nested too deeply")
                continue
            if not isinstance(record, dict):
                self.skips.add(where, line_no, f"malformed JSON: expected an object, got {_json_type(record)}")
                continue
            if "\\u" in text and _SURROGATE_ESCAPE.search(text):
                bad_field = _field_with_lone_surrogate(record, self.fields.columns())
                if bad_field is not None:
                    self.skips.add(where, line_no, f"invalid Unicode (lone surrogate) in field {bad_field!r}")
                    continue
            doc = self._record(record.get, where, line_no, id_prefix)
            if doc is not None:
                yield doc
        if not any_record:
            self.skips.add(where, None, "empty input" if where == STDIN_NAME else "empty file")

    # -- CSV / TSV ---------------------------------------------------------------

    def csv(self, path: Path, delimiter: str) -> Iterator[Document]:
        _raise_csv_field_limit()
        return self._line_file(path, partial(self._csv_records, delimiter=delimiter))

    def _csv_records(self, stream: Iterable[bytes], where: str, id_prefix: str, delimiter: str) -> Iterator[Document]:
        # Lines are decoded one by one so that invalid UTF-8 costs one record,
        # not the file: the bad line's byte offset is kept and the record that
        # spans it is skipped.
        bad_bytes: dict[int, int] = {}

        def text_lines() -> Iterator[str]:
            for line_no, text, bad_byte in _decoded_lines(stream):
                if bad_byte is not None:
                    bad_bytes[line_no] = bad_byte
                yield text

        reader = csv.reader(text_lines(), delimiter=delimiter)
        header: list[str] | None = None
        index: dict[str, int] = {}
        record_end = 0
        while True:
            record_start = record_end + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                record_end = reader.line_num
                self.skips.add(where, record_start, f"malformed CSV: {err}")
                continue
            record_end = reader.line_num
            bad = [bad_bytes.pop(n) for n in range(record_start, record_end + 1) if n in bad_bytes]
            if not row:  # blank line
                continue
            if header is None:
                if bad:
                    raise InputProblem(f"{where}:{record_start}: invalid UTF-8 at byte {bad[0]} in the header")
                header = row
                if header and header[0].startswith("\ufeff"):
                    header[0] = header[0][1:]
                index = {name: i for i, name in reversed(list(enumerate(header)))}
                if self.fields.text not in index:
                    raise self._missing_text_column(f"{where}:{record_start}", header)
                continue
            if bad:
                self.skips.add(where, record_start, f"invalid UTF-8 at byte {bad[0]}")
                continue
            if len(row) != len(header):
                self.skips.add(where, record_start, f"malformed CSV: {len(row)} fields, the header has {len(header)}")
                continue
            doc = self._record(lambda name: _cell(row, index, name), where, record_start, id_prefix)
            if doc is not None:
                yield doc
        if header is None:
            self.skips.add(where, None, "empty file")

    # -- Parquet -----------------------------------------------------------------

    def parquet(self, path: Path) -> Iterator[Document]:
        where = str(path)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InputProblem(f"{where}: reading Parquet needs pyarrow: pip install 'dedup[parquet]'") from None
        try:
            if path.stat().st_size == 0:
                self.skips.add(where, None, "empty file")
                return
        except OSError as err:
            raise InputProblem(f"{where}: cannot read: {_os_reason(err)}") from None
        failures = (pa.ArrowException, OSError, ValueError, TypeError)
        try:
            # Buffered column reads: a file written as one big row group is not
            # pulled into memory whole (190k Reuters copies: 268 MB -> 174 MB peak).
            table_file = pq.ParquetFile(path, buffer_size=_PARQUET_BUFFER_BYTES, pre_buffer=False)
            names = table_file.schema_arrow.names
        except failures as err:
            raise InputProblem(f"{where}: corrupt Parquet file: {_first_line(err)}") from None
        if self.fields.text not in names:
            raise self._missing_text_column(where, names)
        wanted = [name for name in self.fields.columns() if name in names]
        row_no = 0
        stem = _stem(path)
        try:
            for batch in table_file.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=wanted):
                columns = {name: batch.column(name).to_pylist() for name in wanted}
                for i in range(batch.num_rows):
                    row_no += 1
                    doc = self._record(lambda name: _cell_of(columns, name, i), where, row_no, stem)
                    if doc is not None:
                        yield doc
        except failures as err:
            raise InputProblem(f"{where}: corrupt Parquet file after row {row_no}: {_first_line(err)}") from None
        if row_no == 0:
            self.skips.add(where, None, "empty file")

    # -- folders and single document files -----------------------------------------

    def folder(self, root: Path) -> Iterator[Document]:
        def unreadable(err: OSError) -> None:
            self.skips.add(err.filename or str(root), None, f"cannot read folder: {_os_reason(err)}")

        for path in _folder_files(root, unreadable):
            doc = self.single_file(path)
            if doc is not None:
                yield doc

    def single_file(self, path: Path) -> Document | None:
        """One .txt/.md/.html file as one document whose id is the file's stem."""
        where = str(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            self.skips.add(where, None, f"cannot read: {_os_reason(err)}")
            return None
        problem = _sniff_bytes(data)
        if problem:
            self.skips.add(where, None, problem)
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            self.skips.add(where, None, f"invalid UTF-8 at byte {err.start}")
            return None
        metadata: dict[str, str | None] = {}
        if path.suffix.lower() in HTML_SUFFIXES:
            try:
                text, metadata = html_to_text(text)
            except (AssertionError, ValueError) as err:  # older html.parser versions assert on odd markup
                self.skips.add(where, None, f"unparsable HTML: {_first_line(err)}")
                return None
        if not text.strip():
            self.skips.add(where, None, "no text")
            return None
        return self._accept(Document(path.stem, text, origin=where, **metadata), where, None)


# -- helpers -----------------------------------------------------------------------


def _folder_files(root: Path, on_error: Callable[[OSError], None]) -> list[Path]:
    """Document files under `root`, recursively, hidden files and folders left out, in sorted order.

    Sorting the whole list (not per folder) makes the order, and so which of
    two same-stem files wins, independent of the file system.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in FOLDER_SUFFIXES:
                found.append(Path(dirpath, name))
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _stem(path: Path) -> str:
    """The file name without its format suffixes ("news.jsonl.gz" -> "news"), for generated ids."""
    name = path.name
    for suffix in reversed(path.suffixes):
        if suffix.lower() in {".gz", *JSONL_SUFFIXES, *CSV_DELIMITERS, *PARQUET_SUFFIXES}:
            name = name[: -len(suffix)]
        else:
            break
    return name or path.name


def _open_binary(path: Path):
    """The file as a binary stream, decompressed if it ends in .gz."""
    if path.suffix.lower() == ".gz":
        return _GzipLines(path)
    return open(path, "rb", buffering=_READ_BUFFER_BYTES)


class _GzipLines:
    """Lines of a gzip file; corrupt or truncated data becomes `_Unreadable`, not a zlib traceback."""

    def __init__(self, path: Path) -> None:
        self._file = gzip.open(path, "rb")

    def __enter__(self) -> "_GzipLines":
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[bytes]:
        line_no = 0
        try:
            for line in self._file:
                line_no += 1
                yield line
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise _Unreadable(f"corrupt gzip data after line {line_no}: {_first_line(err) or 'truncated'}") from None


def _sniff(path: Path) -> str | None:
    """"empty file" / "binary file" from the first bytes (decompressed for .gz), else None."""
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rb") as stream:
                head = stream.read(_SNIFF_BYTES)
        else:
            with open(path, "rb") as stream:
                head = stream.read(_SNIFF_BYTES)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        return f"corrupt gzip file: {_first_line(err) or 'truncated'}"
    return _sniff_bytes(head)


def _sniff_bytes(head: bytes) -> str | None:
    if not head:
        return "empty file"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "invalid UTF-8: the file is UTF-16 (it starts with a UTF-16 byte order mark)"
    if b"\x00" in head[:_SNIFF_BYTES]:
        return "binary file"
    return None


def _fast_record(raw: bytes | str, columns: list[str]) -> dict | None:
    """The JSON object on a line, parsed by orjson from its bytes; None whenever the line needs
    `json` (the reference) instead: orjson is missing, or it rejects the line (bad UTF-8, a
    lone surrogate, NaN, a blank line, a byte-order mark: each gets json's message), or the
    value is not an object, or a field dedup reads holds a float, list or object (orjson
    reads integers past 64 bits as floats, which would change an id written as a number)."""
    if _fast_loads is None:
        return None
    try:
        record = _fast_loads(raw)
    except _FastDecodeError:
        return None
    if type(record) is not dict:
        return None
    for name in columns:
        if isinstance(record.get(name), (float, list, dict)):
            return None
    return record


def _decoded_lines(lines: Iterable[bytes | str], parse: Callable[[bytes | str], dict | None] | None = None
                   ) -> Iterator[tuple[int, str | dict, int | None]]:
    """(1-based line, decoded text, byte offset of invalid UTF-8 or None).

    Offsets are counted from the start of the stream, so a user can find the
    bad byte with any hex viewer. Undecodable lines come back with U+FFFD
    replacements so that a CSV reader can still find where the record ends.
    With `parse`, a line it turns into a record comes back as that record
    instead of its text (JSONL: no decoded copy of a line that parses whole).
    """
    offset = 0
    decode = codecs.getdecoder("utf-8")
    for line_no, raw in enumerate(lines, start=1):
        if parse is not None:
            record = parse(raw)
            if record is not None:
                yield line_no, record, None
                if not isinstance(raw, str):
                    offset += len(raw)
                continue
        if isinstance(raw, str):
            yield line_no, raw, None
            continue
        if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
            offset += len(codecs.BOM_UTF8)
        try:
            text = decode(raw)[0]
            bad = None
        except UnicodeDecodeError as err:
            text = raw.decode("utf-8", errors="replace")
            bad = offset + err.start
        yield line_no, text, bad
        offset += len(raw)


def _raise_csv_field_limit() -> None:
    """News articles exceed csv's default 128 KB field limit; allow the largest the platform takes."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def _cell(row: list[str], index: dict[str, int], name: str) -> str | None:
    position = index.get(name)
    return row[position] if position is not None else None


def _cell_of(columns: dict[str, list], name: str, row: int) -> object:
    column = columns.get(name)
    return column[row] if column is not None else None


def _as_str(value: object, field_name: str) -> str | None:
    """A metadata or id value as a string: numbers and dates are kept as written, empty becomes None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value  # checked with isspace() below, which does not copy a long article
    elif isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise _BadValue(f"invalid UTF-8 at byte {err.start} of field {field_name!r}") from None
    elif isinstance(value, (_dt.date, _dt.time)):
        text = value.isoformat()
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if text and not text.isspace() else None


def _as_text(value: object, field_name: str) -> str | None:
    """The article text, or None when it is missing or blank; lists and objects are not text."""
    if value is None or isinstance(value, (str, bytes)):
        return _as_str(value, field_name)
    raise _BadValue(f"field {field_name!r} holds {_json_type(value)}, not text")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), f"a {type(value).__name__}")


def _field_with_lone_surrogate(record: dict, names: list[str]) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return name
    return None


def _quote_id(doc_id: str) -> str:
    shown = doc_id if len(doc_id) <= _MAX_ID_IN_MESSAGE else doc_id[:_MAX_ID_IN_MESSAGE] + "..."
    return repr(shown)


def _column_list(names: list[str], most: int = 12) -> str:
    """Header names for a one-line message: quoted (a name may hold a newline), long lists cut."""
    shown = ", ".join(repr(name[:40]) for name in names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def _os_reason(err: OSError) -> str:
    return err.strerror or _first_line(err) or type(err).__name__


# -- HTML ----------------------------------------------------------------------------

# Elements that start a new paragraph in the extracted text.
_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody thead tfoot tr ul".split()
)
# Elements whose content is never article text.
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
# <meta> keys that carry the publication date / canonical url / outlet name.
_META_FIELDS = {
    "article:published_time": "date",
    "datepublished": "date",
    "date": "date",
    "pubdate": "date",
    "dc.date": "date",
    "og:url": "url",
    "og:site_name": "source",
}


class _HTMLText(HTMLParser):
    """Collects visible text with paragraph breaks, plus <title> and a few <meta> fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0
        self.pre_depth = 0
        self.in_title = False
        self.title_parts: list[str] = []
        self.metadata: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta" or tag == "link":
            self._take_metadata(tag, dict(attrs))
        if tag == "title":
            self.in_title = True
        elif tag in _HIDDEN_TAGS:
            self.hidden_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if tag == "pre":
                self.pre_depth += 1
        elif tag in {"td", "th"}:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _HIDDEN_TAGS:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif self.hidden_depth == 0:
            self.parts.append(data if self.pre_depth else re.sub(r"\s+", " ", data))

    def _take_metadata(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "link":
            if (attrs.get("rel") or "").lower() == "canonical" and attrs.get("href"):
                self.metadata.setdefault("url", attrs["href"] or "")
            return
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        target = _META_FIELDS.get(key)
        content = (attrs.get("content") or "").strip()
        if target and content:
            self.metadata.setdefault(target, content)


def html_to_text(markup: str) -> tuple[str, dict[str, str | None]]:
    """Visible text of an HTML page (script/style dropped, blocks as paragraphs) and its title/date/source/url."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    title = re.sub(r"\s+", " ", "".join(parser.title_parts)).strip() or None
    metadata: dict[str, str | None] = {"title": title, "date": None, "source": None, "url": None}
    metadata.update(parser.metadata)
    return text, metadata
