"""Ingest: every input format, the field-name options, and each kind of bad input.

All data is generated in tmp_path, except the seed articles in seeds/.
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from dedup.document import InputProblem, Skip, SkipLog
from dedup.ingest import html_to_text, iter_documents, read_documents

REPO = Path(__file__).resolve().parent.parent


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def assert_skip_and_strict(path, skip_reason_part: str, line: int | None, **options) -> Skip:
    """The bad input is skipped and counted with file and line, and --strict raises the same line."""
    warned: list[Skip] = []
    docs, skips = read_documents(path, on_skip=warned.append, **options)
    assert len(skips) == 1, skips
    skip = skips[0]
    assert warned == [skip]
    assert skip.path == str(path)
    assert skip.line == line
    assert skip_reason_part in skip.reason
    message = str(skip)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:" if line is not None else f"{path}:")
    with pytest.raises(InputProblem) as raised:
        read_documents(path, strict=True, **options)
    assert str(raised.value) == message
    assert raised.value.skip == skip
    return skip


# -- the seeds ---------------------------------------------------------------------


def test_seed_folder_ids_are_file_stems():
    seeds = REPO / "seeds"
    docs, skips = read_documents(seeds)
    assert skips == []
    assert [d.id for d in docs] == sorted(p.stem for p in seeds.glob("*.txt"))
    assert len(docs) == 5
    for doc in docs:
        assert doc.text == (seeds / f"{doc.id}.txt").read_text(encoding="utf-8")
        assert doc.origin == str(seeds / f"{doc.id}.txt")


# -- folders -----------------------------------------------------------------------


def test_folder_is_recursive_sorted_and_ignores_hidden_and_other_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "zeta.md").write_text("# Zeta\n\nbody z", encoding="utf-8")
    (tmp_path / "alpha.txt").write_text("body a", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "inside.txt").write_text("hidden too", encoding="utf-8")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "notes.csv").write_text("text\nnot a document\n", encoding="utf-8")
    docs, skips = read_documents(tmp_path)
    assert skips == []
    assert [(d.id, d.text) for d in docs] == [("alpha", "body a"), ("zeta", "# Zeta\n\nbody z")]
    assert docs[1].origin == str(tmp_path / "b" / "zeta.md")


def test_folder_html_drops_markup_script_and_style(tmp_path):
    page = """<!doctype html><html><head><title>Troops  to Russia</title>
    <meta property="article:published_time" content="2025-06-26T08:00:00Z">
    <meta property="og:site_name" content="AFP">
    <link rel="canonical" href="https://example.org/a">
    <style>p { color: red }</style><script>var x = "<p>not text</p>";</script></head>
    <body><nav>Home</nav><p>First &amp; foremost
    paragraph.</p><p>Second<br>line</p><noscript>enable js</noscript></body></html>"""
    (tmp_path / "story.html").write_text(page, encoding="utf-8")
    [doc], skips = read_documents(tmp_path)
    assert skips == []
    assert doc.id == "story"
    assert doc.text == "Home\n\nFirst & foremost paragraph.\n\nSecond\nline"
    assert (doc.title, doc.date, doc.source, doc.url) == (
        "Troops to Russia", "2025-06-26T08:00:00Z", "AFP", "https://example.org/a")


def test_html_without_closing_head_keeps_body_text():
    text, meta = html_to_text("<html><head><title>T</title><body><p>kept</p>")
    assert text == "kept"
    assert meta["title"] == "T"


def test_single_text_file_is_one_document(tmp_path):
    path = tmp_path / "one.md"
    path.write_text("just one", encoding="utf-8")
    [doc], skips = read_documents(path)
    assert (doc.id, doc.text, doc.origin, skips) == ("one", "just one", str(path), [])


def test_folder_empty_file_is_skipped(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert_folder_skip(tmp_path, empty, "empty file")


def assert_folder_skip(folder: Path, bad: Path, reason: str) -> None:
    """Folder variant of assert_skip_and_strict: the skip names the bad file, the good one is read."""
    (folder / "good.txt").write_text("fine", encoding="utf-8")
    docs, skips = read_documents(folder)
    assert [d.id for d in docs] == ["good"]
    assert [(s.path, s.line) for s in skips] == [(str(bad), None)]
    assert reason in skips[0].reason
    with pytest.raises(InputProblem) as raised:
        read_documents(folder, strict=True)
    assert str(raised.value) == str(skips[0]) == f"{bad}: {skips[0].reason}"


def test_folder_binary_file_is_skipped(tmp_path):
    bad = tmp_path / "image.txt"
    bad.write_bytes(b"GIF89a\x00\x01\x02\x00\xff")
    assert_folder_skip(tmp_path, bad, "binary file")


def test_folder_invalid_utf8_is_skipped_with_byte_offset(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    assert_folder_skip(tmp_path, bad, "invalid UTF-8 at byte 3")


def test_folder_whitespace_only_file_is_skipped(tmp_path):
    bad = tmp_path / "blank.md"
    bad.write_text("  \n\n\t\n", encoding="utf-8")
    assert_folder_skip(tmp_path, bad, "no text")


def test_folder_duplicate_stem_is_skipped(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "story.txt"
    second = tmp_path / "b" / "story.md"
    first.write_text("one", encoding="utf-8")
    second.write_text("two", encoding="utf-8")
    docs, skips = read_documents(tmp_path)
    assert [(d.id, d.text) for d in docs] == [("story", "one")]
    assert [str(s) for s in skips] == [f"{second}: duplicate id 'story' (first seen at {first})"]


# -- JSONL ---------------------------------------------------------------------------


def test_jsonl_reads_fields_and_converts_values(tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", [
        {"id": "r1", "text": "alpha", "title": "T", "date": "26-FEB-1987 15:01:01.79", "source": "Reuters",
         "url": "http://x", "extra": [1, 2]},
        {"id": 7, "text": "beta", "date": 19870226},
        {"text": "gamma", "title": ""},
    ])
    docs, skips = read_documents(path)
    assert skips == []
    assert [d.id for d in docs] == ["r1", "7", "news:3"]
    first = docs[0]
    assert (first.text, first.title, first.date, first.source, first.url) == (
        "alpha", "T", "26-FEB-1987 15:01:01.79", "Reuters", "http://x")
    assert docs[1].date == "19870226"
    assert docs[2].title is None
    assert [d.origin for d in docs] == [f"{path}:1", f"{path}:2", f"{path}:3"]


def test_jsonl_field_name_options(tmp_path):
    path = write_jsonl(tmp_path / "other.ndjson", [
        {"doc_key": "a", "body": "text a", "headline": "H", "published": "2020-01-01", "outlet": "X", "link": "u"},
    ])
    [doc], skips = read_documents(path, text_field="body", id_field="doc_key", title_field="headline",
                                  date_field="published", source_field="outlet", url_field="link")
    assert skips == []
    assert (doc.id, doc.text, doc.title, doc.date, doc.source, doc.url) == ("a", "text a", "H", "2020-01-01", "X", "u")


def test_jsonl_gzip_and_blank_lines(tmp_path):
    path = tmp_path / "wire.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write('{"id": "a", "text": "one"}\n\n{"id": "b", "text": "two"}\n')
    docs, skips = read_documents(path)
    assert [(d.id, d.origin) for d in docs] == [("a", f"{path}:1"), ("b", f"{path}:3")]
    assert skips == []


def test_jsonl_empty_file_is_skipped(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert_skip_and_strict(path, "empty file", None)


def test_jsonl_binary_file_is_skipped(tmp_path):
    path = tmp_path / "blob.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    assert_skip_and_strict(path, "binary file", None)


def test_jsonl_invalid_utf8_line_is_skipped(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = b'{"id": "a", "text": "ok"}\n'
    bad_prefix = b'{"id": "b", "text": "caf'
    path.write_bytes(good + bad_prefix + b'\xe9"}\n' + b'{"id": "c", "text": "ok too"}\n')
    skip = assert_skip_and_strict(path, "invalid UTF-8", 2)
    # the byte offset is counted from the start of the file
    assert skip.reason == f"invalid UTF-8 at byte {len(good) + len(bad_prefix)}"
    docs, _ = read_documents(path)
    assert [d.id for d in docs] == ["a", "c"]


def test_jsonl_malformed_line_is_skipped(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n{"id": "b" "text": "x"}\n{"id": "c", "text": "ok"}\n',
                    encoding="utf-8")
    skip = assert_skip_and_strict(path, "malformed JSON: Expecting ',' delimiter", 2)
    assert [d.id for d in read_documents(path)[0]] == ["a", "c"]
    assert str(skip) == f"{path}:2: malformed JSON: Expecting ',' delimiter (column 12)"


def test_jsonl_line_that_is_not_an_object_is_malformed(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('["text", "not an object"]\n', encoding="utf-8")
    assert_skip_and_strict(path, "malformed JSON: expected an object, got a list", 1)


@pytest.mark.parametrize("record", [{"id": "a"}, {"id": "a", "text": None}, {"id": "a", "text": "   "}])
def test_jsonl_record_without_text_is_skipped(tmp_path, record):
    path = write_jsonl(tmp_path / "notext.jsonl", [{"id": "z", "text": "fine"}, record])
    skip = assert_skip_and_strict(path, "no text in field 'text'", 2)
    assert str(skip) == f"{path}:2: no text in field 'text'"


def test_jsonl_text_that_is_not_a_string_is_skipped(tmp_path):
    path = write_jsonl(tmp_path / "listtext.jsonl", [{"id": "a", "text": ["para 1", "para 2"]}])
    assert_skip_and_strict(path, "field 'text' holds a list, not text", 1)


def test_jsonl_missing_text_field_under_its_custom_name(tmp_path):
    path = write_jsonl(tmp_path / "body.jsonl", [{"id": "a", "text": "here, but not in body"}])
    assert_skip_and_strict(path, "no text in field 'body'", 1, text_field="body")


def test_jsonl_duplicate_id_is_skipped(tmp_path):
    path = write_jsonl(tmp_path / "dups.jsonl", [
        {"id": "x", "text": "first"}, {"id": "y", "text": "other"}, {"id": "x", "text": "again"},
    ])
    skip = assert_skip_and_strict(path, "duplicate id 'x'", 3)
    assert skip.reason == f"duplicate id 'x' (first seen at {path}:1)"
    docs, _ = read_documents(path)
    assert [(d.id, d.text) for d in docs] == [("x", "first"), ("y", "other")]


def test_jsonl_numeric_and_string_ids_collide(tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [{"id": 5, "text": "a"}, {"id": "5", "text": "b"}])
    docs, skips = read_documents(path)
    assert [d.id for d in docs] == ["5"]
    assert [s.line for s in skips] == [2]


def test_jsonl_lone_surrogate_is_skipped(tmp_path):
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"id": "a", "text": "bad \\ud800 half"}\n{"id": "b", "text": "emoji \\ud83d\\ude00"}\n',
                    encoding="utf-8")
    docs, skips = read_documents(path)
    assert [d.text for d in docs] == ["emoji \U0001F600"]
    assert [(s.line, s.reason) for s in skips] == [(1, "invalid Unicode (lone surrogate) in field 'text'")]


def test_jsonl_fast_parser_and_json_give_the_same_documents_and_skips(tmp_path, monkeypatch):
    """Lines are parsed from their bytes by orjson; every line it declines, or whose fields it
    would read differently, goes to json: the documents and skips are json's either way."""
    from dedup import ingest

    if ingest._fast_loads is None:
        pytest.skip("orjson is not installed")
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([
        '{"id": "bom", "text": "a byte-order mark before the first line"}',
        '{"id": 123456789012345678901234567890, "text": "an id past 64 bits stays as written"}',
        '{"id": 12.50, "text": "a float id", "title": ["a", 1e400]}',
        '{"id": "nan", "text": "not strict JSON", "title": NaN}',
        '{"id": "s", "text": "lone \\ud800 surrogate"}',
        '{"id": "e", "text": "pair \\ud83d\\ude00, caf\u00e9 and \\u00e9"}',
        '{"id": "dup", "text": "first", "text": "last key wins"}',
        "   ",
        '["not", "an object"]',
        '{"id": "nested", "text": "x", "source": {"b": 1, "a": [2, 3]}}',
        '{"id": 7, "text": "int id", "date": 19870226, "url": true}',
    ]).encode("utf-8") + b"\n\xff bad byte\n")

    def read() -> tuple[list, list]:
        docs, skips = read_documents(path)
        return [(d.id, d.text, d.title, d.date, d.source, d.url, d.origin) for d in docs], skips

    fast = read()
    monkeypatch.setattr(ingest, "_fast_loads", None)
    assert fast == read()
    ids = [doc[0] for doc in fast[0]]
    assert ids == ["bom", "123456789012345678901234567890", "12.5", "nan", "e", "dup", "nested", "7"]
    assert [s.line for s in fast[1]] == [5, 9, 12]


def test_many_skips_are_all_counted(tmp_path):
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b'{"id": "a", "text": "ok"}\nnot json\n\xff\xfe\n{"id": "a", "text": "dup"}\n{"id": "n"}\n')
    docs, skips = read_documents(path)
    assert [d.id for d in docs] == ["a"]
    assert [s.line for s in skips] == [2, 3, 4, 5]


def test_iter_documents_streams_and_reports_to_given_log(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{"id": "a", "text": "one"}, {"id": "a", "text": "two"}])
    log = SkipLog()
    stream = iter_documents(path, skips=log)
    first = next(stream)
    assert first.id == "a" and log.skips == []
    assert list(stream) == []
    assert [s.line for s in log.skips] == [2]


# -- stdin ---------------------------------------------------------------------------


def test_stdin_text_stream():
    stream = io.StringIO('{"id": "a", "text": "from stdin"}\n{"text": "no id"}\nnot json\n')
    docs, skips = read_documents("-", stdin=stream)
    assert [(d.id, d.origin) for d in docs] == [("a", "<stdin>:1"), ("stdin:2", "<stdin>:2")]
    assert [str(s) for s in skips] == ["<stdin>:3: malformed JSON: Expecting value (column 1)"]


def test_stdin_byte_stream_reports_invalid_utf8_per_line():
    good, bad_prefix = b'{"id": "a", "text": "x"}\n', b'{"id": "b", "text": "'
    stream = io.TextIOWrapper(io.BytesIO(good + bad_prefix + b'\xff"}\n'), encoding="utf-8")
    docs, skips = read_documents("-", stdin=stream)
    assert [d.id for d in docs] == ["a"]
    assert [str(s) for s in skips] == [f"<stdin>:2: invalid UTF-8 at byte {len(good) + len(bad_prefix)}"]
    stream = io.TextIOWrapper(io.BytesIO(bad_prefix + b'\xff"}\n'), encoding="utf-8")
    with pytest.raises(InputProblem, match=rf"^<stdin>:1: invalid UTF-8 at byte {len(bad_prefix)}$"):
        read_documents("-", stdin=stream, strict=True)


def test_stdin_empty_input_is_counted():
    docs, skips = read_documents("-", stdin=io.StringIO(""))
    assert docs == [] and [str(s) for s in skips] == ["<stdin>: empty input"]


# -- CSV / TSV -----------------------------------------------------------------------


def test_csv_with_quoted_multiline_text_and_line_numbers(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text('id,title,text,date\n1,One,"first line\nsecond, line",1987-02-26\n2,Two,plain,\n',
                    encoding="utf-8")
    docs, skips = read_documents(path)
    assert skips == []
    assert [(d.id, d.text, d.title, d.date, d.origin) for d in docs] == [
        ("1", "first line\nsecond, line", "One", "1987-02-26", f"{path}:2"),
        ("2", "plain", "Two", None, f"{path}:4"),
    ]


def test_csv_record_line_is_where_it_starts(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text('id,text\na,"multi\nline\ntext"\nb,\nc,ok\n', encoding="utf-8")
    assert_skip_and_strict(path, "no text in field 'text'", 5)


def test_tsv_with_field_names_bom_and_long_field(tmp_path):
    path = tmp_path / "pairs.tsv"
    long_text = "word " * 60_000  # beyond the csv module's default 128 KB field limit
    path.write_text(f"\ufeffkey\tbody\theadline\nk1\t{long_text}\tH\n", encoding="utf-8")
    [doc], skips = read_documents(path, id_field="key", text_field="body", title_field="headline")
    assert skips == []
    assert (doc.id, doc.title, len(doc.text)) == ("k1", "H", len(long_text))


def test_csv_without_id_column_numbers_records(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("text\nalpha\nbeta\n", encoding="utf-8")
    docs, _ = read_documents(path)
    assert [d.id for d in docs] == ["plain:2", "plain:3"]


def test_csv_missing_text_column_stops_the_run(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(InputProblem, match=r"cols.csv:1: no column 'text' \(columns: 'id', 'body'\)"):
        read_documents(path)
    with pytest.raises(InputProblem, match="no column 'article'"):
        read_documents(path, text_field="article")


def test_csv_bad_records(tmp_path):
    path = tmp_path / "bad.csv"
    before_bad = b"id,text\na,ok\nb,caf"
    path.write_bytes(before_bad + b"\xe9\nc,too,many\na,dup\nd,fine\n")
    docs, skips = read_documents(path)
    assert [d.id for d in docs] == ["a", "d"]
    assert [str(s) for s in skips] == [
        f"{path}:3: invalid UTF-8 at byte {len(before_bad)}",
        f"{path}:4: malformed CSV: 3 fields, the header has 2",
        f"{path}:5: duplicate id 'a' (first seen at {path}:2)",
    ]


def test_csv_empty_and_binary_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert_skip_and_strict(empty, "empty file", None)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\x00\x01\x02text\n")
    assert_skip_and_strict(binary, "binary file", None)


# -- Parquet ---------------------------------------------------------------------------


def test_parquet_reads_needed_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime as dt

    table = pa.table({
        "doc": ["p1", "p2", "p3", "p1"],
        "content": ["one", "two", None, "dup"],
        "date": [dt.date(2020, 1, 1), None, None, None],
        "huge_unused": ["x" * 10, "y", "z", "w"],
    })
    path = tmp_path / "corpus.parquet"
    pq.write_table(table, path, row_group_size=2)
    docs, skips = read_documents(path, id_field="doc", text_field="content")
    assert [(d.id, d.text, d.date, d.origin) for d in docs] == [
        ("p1", "one", "2020-01-01", f"{path}:1"), ("p2", "two", None, f"{path}:2")]
    assert [str(s) for s in skips] == [
        f"{path}:3: no text in field 'content'",
        f"{path}:4: duplicate id 'p1' (first seen at {path}:1)",
    ]
    with pytest.raises(InputProblem, match=r"^.*corpus.parquet:3: no text in field 'content'$"):
        read_documents(path, id_field="doc", text_field="content", strict=True)


def test_parquet_problems_stop_the_run(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "cols.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    with pytest.raises(InputProblem, match=r"cols.parquet: no column 'text' \(columns: 'body'\)"):
        read_documents(path)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(InputProblem, match=r"corrupt.parquet: corrupt Parquet file"):
        read_documents(corrupt)
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    assert_skip_and_strict(empty, "empty file", None)


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(InputProblem, match=r"reading Parquet needs pyarrow: pip install 'dedup\[parquet\]'"):
        read_documents(path)


# -- problems that stop the run ------------------------------------------------------


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputProblem, match=r"nope.jsonl: no such file or directory$"):
        read_documents(missing)


def test_unknown_file_type(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InputProblem, match=r"data.xlsx: unknown file type '.xlsx'"):
        read_documents(path)


def test_corrupt_gzip_is_a_counted_skip(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(b"".join(b'{"id": "%d", "text": "t %d"}\n' % (i, i) for i in range(2000)))
    path.write_bytes(whole[: len(whole) // 2])
    docs, skips = read_documents(path)
    assert 0 < len(docs) < 2000
    assert len(skips) == 1 and "corrupt gzip data" in skips[0].reason
    with pytest.raises(InputProblem, match="corrupt gzip"):
        read_documents(path, strict=True)


def test_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n', encoding="utf-16")
    assert_skip_and_strict(path, "invalid UTF-8: the file is UTF-16", None)


def test_json_file_gets_a_hint(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[{"id": "a", "text": "x"}]', encoding="utf-8")
    with pytest.raises(InputProblem, match=r"export.json: unknown file type '.json' .*should be named .jsonl$"):
        read_documents(path)


def test_stdin_missing(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(InputProblem, match=r"^<stdin>: no standard input to read$"):
        read_documents("-")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv", ".html", ".jsonl.gz"])
def test_mangled_files_never_raise_anything_but_one_line_input_problems(tmp_path, suffix):
    """Random byte damage to a valid file: skips or InputProblem, always one line, never another exception."""
    import random

    rng = random.Random(suffix)
    rows = [{"id": str(i), "text": f"caf\u00e9 \"{i}\",\nline"} for i in range(20)]
    if suffix in (".csv", ".tsv"):
        import csv

        out = io.StringIO()
        writer = csv.DictWriter(out, ["id", "text"], delimiter="," if suffix == ".csv" else "\t")
        writer.writeheader()
        writer.writerows(rows)
        valid = out.getvalue().encode()
    elif suffix == ".html":
        valid = b"<html><head><title>t</title><script>if (a<b) {}</script></head><body><p>x<br>y</p><!-- c --></body>"
    else:
        valid = "".join(json.dumps(r) + "\n" for r in rows).encode()
    if suffix.endswith(".gz"):
        valid = gzip.compress(valid)
    for n in range(60):
        damaged = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(damaged))
            if rng.random() < 0.5:
                damaged[at] = rng.randrange(256)
            else:
                damaged[at:at] = bytes(rng.randrange(256) for _ in range(3))
        path = tmp_path / f"m{n}{suffix}"
        path.write_bytes(bytes(damaged))
        for strict in (False, True):
            try:
                _, skips = read_documents(path, strict=strict)
            except InputProblem as problem:
                assert "\n" not in str(problem)
            else:
                assert all("\n" not in str(skip) for skip in skips)


def test_a_document_with_another_text_keeps_every_other_field():
    """`Document.with_text` spells out the fields for speed: a field added to Document and not to
    it would be lost when a scan drops the raw texts."""
    import dataclasses

    from dedup.document import Document

    values = {f.name: f"{f.name}-value" for f in dataclasses.fields(Document)}
    doc = Document(**values)
    assert doc.with_text("cleaned") == dataclasses.replace(doc, text="cleaned")
    assert doc.text == "text-value"
