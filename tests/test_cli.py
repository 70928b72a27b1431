"""`dedup scan` on the command line: output formats, --related, --clusters, direction from a
date field, bad input (warnings, --strict, missing path), --jobs and --help.

Runs the typer app in-process with CliRunner (stdout and stderr are captured separately).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from test_scan import S000, S001, SEEDS, seed_text, write_variant_corpus

PAIR_FIELDS = ["a", "b", "relation", "score", "source", "derivative", "direction_reason",
               "coverage_a", "coverage_b", "cluster"]
DERIVED = {"exact", "near_duplicate", "rewrite", "partial"}
WIDE = {"COLUMNS": "240"}  # so the table does not fold long ids


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def scan_json(*args) -> dict:
    result = run("scan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def pair_of(pairs: list[dict], x: str, y: str) -> dict | None:
    found = [p for p in pairs if {p["a"], p["b"]} == {x, y}]
    assert len(found) <= 1
    return found[0] if found else None


def write_jsonl(path: Path, lines: list) -> Path:
    """Records (dicts, dumped) or raw strings (written as they are), one a line."""
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in lines), encoding="utf-8")
    return path


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def seeds_json() -> dict:
    return scan_json(SEEDS)


@pytest.fixture(scope="module")
def seeds_related_json() -> dict:
    return scan_json(SEEDS, "--related", "--clusters")


# -- seeds and output formats -------------------------------------------------------------


def test_seeds_json_reports_the_rewrite_with_source_000(seeds_json):
    assert {"documents", "skipped", "pairs"} <= set(seeds_json)
    assert seeds_json["documents"] == 5 and seeds_json["skipped"] == []
    [pair] = seeds_json["pairs"]
    assert {pair["a"], pair["b"]} == {S000, S001}
    assert pair["relation"] == "rewrite"
    assert pair["source"] == S000 and pair["derivative"] == S001


def test_every_pair_has_exactly_the_documented_fields(seeds_json, seeds_related_json):
    for pair in seeds_json["pairs"] + seeds_related_json["pairs"]:
        assert sorted(pair) == sorted(PAIR_FIELDS)


def test_related_lists_other_seed_pairs_as_related_only(seeds_related_json):
    pairs = seeds_related_json["pairs"]
    assert pair_of(pairs, S000, S001)["relation"] == "rewrite"
    others = [p for p in pairs if {p["a"], p["b"]} != {S000, S001}]
    assert others, "--related lists the same-story seed pairs the candidates stage found"
    assert all(p["relation"] == "related" for p in others), others
    assert all(p["source"] is None and p["cluster"] is None for p in others)


def test_clusters_group_000_and_001_with_000_earliest(seeds_related_json):
    pair = pair_of(seeds_related_json["pairs"], S000, S001)
    clusters = seeds_related_json["clusters"]
    [cluster] = [c for c in clusters if S000 in c["members"]]
    assert S001 in cluster["members"]
    assert cluster["earliest"] == S000
    assert pair["cluster"] == cluster["id"]


def test_jsonl_is_one_pair_per_line(seeds_related_json):
    result = run("scan", SEEDS, "--related", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert all(sorted(r) == sorted(PAIR_FIELDS) for r in records)
    assert records == [{**p, "cluster": None} for p in seeds_related_json["pairs"]]


def test_csv_is_a_header_and_a_row_per_pair(seeds_related_json):
    result = run("scan", SEEDS, "--related", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(PAIR_FIELDS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(lines) - 1 == len(seeds_related_json["pairs"])
    rewrite = [r for r in rows if r["relation"] == "rewrite"]
    assert len(rewrite) == 1 and rewrite[0]["source"] == S000


def test_table_is_the_default_and_shows_the_pair():
    result = run("scan", SEEDS, env=WIDE)
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "rewrite" in line)
    assert S000 in row and S001 in row
    assert row.index(S000) < row.index(S001)  # source first
    assert "5 documents" in result.stdout


def test_unknown_format_is_a_one_line_error():
    result = run("scan", SEEDS, "--format", "xml")
    assert result.exit_code == 2
    assert len(warning_lines(result.stderr)) == 1 and "--format" in result.stderr


# -- direction from dates -----------------------------------------------------------------


def test_earlier_date_is_the_source_and_date_field_option_works(tmp_path):
    """001 is dated first, so it is the source although 000 is the more specific text."""
    records = [{"id": "late", "text": seed_text(S000), "published": "2025-06-27"},
               {"id": "early", "text": seed_text(S001), "published": "2025-06-20"}]
    path = write_jsonl(tmp_path / "dated.jsonl", records)
    [pair] = scan_json(path, "--date-field", "published")["pairs"]
    assert pair["relation"] == "rewrite"
    assert (pair["source"], pair["derivative"]) == ("early", "late")
    assert "date" in pair["direction_reason"] and "2025-06-20" in pair["direction_reason"]
    # Without the option the dates are not read: direction falls back to specificity (000 wins).
    [undated] = scan_json(path)["pairs"]
    assert undated["source"] == "late"
    assert "date field" not in undated["direction_reason"]


def test_date_field_named_date_is_read_by_default(tmp_path):
    records = [{"id": "x", "text": seed_text(S001), "date": "2025-07-02"},
               {"id": "y", "text": seed_text(S000), "date": "2025-07-01"}]
    [pair] = scan_json(write_jsonl(tmp_path / "dated.jsonl", records))["pairs"]
    assert pair["source"] == "y" and "date" in pair["direction_reason"]


def test_exact_copies_without_dates_have_no_direction(tmp_path):
    text = seed_text(S001)  # no dateline in the text
    path = write_jsonl(tmp_path / "copies.jsonl", [{"id": "one", "text": text}, {"id": "two", "text": text}])
    [pair] = scan_json(path)["pairs"]
    assert pair["relation"] == "exact"
    assert pair["source"] is None and pair["derivative"] is None and pair["direction_reason"] is None


# -- bad input ----------------------------------------------------------------------------


def assert_skips_then_strict(path: Path, expected: list[tuple[str, str]], documents: int) -> None:
    """Each bad input is one warning line naming file (and line), the run goes on with exit 0
    and reports the good documents; --strict exits 2 with the first of those lines, no traceback."""
    result = run("scan", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    warnings = warning_lines(result.stderr)
    assert len(warnings) == len(expected), warnings
    for line, (where, reason) in zip(warnings, expected):
        assert line.startswith("warning:") and where in line and reason in line, (line, where, reason)
    report = json.loads(result.stdout)
    assert report["documents"] == documents
    assert len(report["skipped"]) == len(expected)
    assert pair_of(report["pairs"], S000, S001)["relation"] == "rewrite"
    assert "Traceback" not in result.stderr + result.stdout

    strict = run("scan", path, "--strict", "--format", "json")
    assert strict.exit_code == 2
    assert "Traceback" not in strict.stderr + strict.stdout
    [error] = warning_lines(strict.stderr)
    assert error.startswith("error:")
    assert error.split(":", 1)[1].strip() == warnings[0].split("skipped", 1)[1].strip()
    assert strict.stdout == ""


def test_bad_files_in_a_folder_are_skipped_with_a_warning(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for doc_id in (S000, S001):
        (folder / f"{doc_id}.txt").write_text(seed_text(doc_id), encoding="utf-8")
    (folder / "a_empty.txt").write_bytes(b"")
    (folder / "b_binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary\x00payload")
    (folder / "c_latin1.txt").write_bytes("Caf\u00e9 society news, written in Latin-1.".encode("latin-1"))
    assert_skips_then_strict(folder, [
        (str(folder / "a_empty.txt"), "empty"),
        (str(folder / "b_binary.txt"), "binary"),
        (str(folder / "c_latin1.txt"), "UTF-8"),
    ], documents=2)


def test_bad_jsonl_records_are_skipped_with_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "news.jsonl", [
        {"id": S000, "text": seed_text(S000)},
        '{"id": "broken", "text": "unterminated',
        {"id": "no_text", "title": "a record without text"},
        {"id": S000, "text": "the same id again"},
        {"id": S001, "text": seed_text(S001)},
    ])
    assert_skips_then_strict(path, [
        (f"{path}:2", "malformed JSON"),
        (f"{path}:3", "text"),
        (f"{path}:4", "duplicate id"),
    ], documents=2)


def test_missing_path_is_a_one_line_error(tmp_path):
    missing = tmp_path / "nowhere"
    result = run("scan", missing)
    assert result.exit_code == 2
    [error] = warning_lines(result.stderr)
    assert str(missing) in error
    assert "Traceback" not in result.stderr + result.stdout


# -- determinism and help -----------------------------------------------------------------


def test_jobs_do_not_change_the_output(tmp_path):
    corpus = write_variant_corpus(tmp_path / "variants")
    outputs = []
    for jobs in ("1", "2"):
        result = run("scan", corpus, "--format", "json", "--related", "--clusters", "--jobs", jobs)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    pairs = json.loads(outputs[0])["pairs"]
    assert pair_of(pairs, S000, "v_exact")["relation"] == "exact"
    assert any(p["relation"] in DERIVED for p in pairs)


def test_profile_prints_every_stage_on_stderr_and_leaves_stdout_alone():
    plain = run("scan", SEEDS, "--format", "json")
    profiled = run("scan", SEEDS, "--format", "json", "--profile", env={**WIDE, "DEDUP_NO_JIT": "1"})
    assert profiled.exit_code == 0, profiled.stderr
    assert json.loads(profiled.stdout)["pairs"] == json.loads(plain.stdout)["pairs"]
    for stage in ("ingest", "clean", "fingerprint", "candidates", "verify", "relate"):
        assert stage in profiled.stderr
    assert "peak RSS MB" in profiled.stderr
    assert "fingerprint and verify loops: numpy (DEDUP_NO_JIT is set)" in profiled.stderr


def test_texts_kept_on_disk_give_the_same_output(tmp_path):
    corpus = write_variant_corpus(tmp_path / "variants")
    outputs = []
    for spill in ("-1", "0"):  # never / always spill
        result = run("scan", corpus, "--format", "json", "--related", "--spill-texts-mb", spill)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]


def test_unwritable_temporary_folder_is_a_one_line_error(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    result = run("scan", SEEDS, "--spill-texts-mb", "0")
    assert result.exit_code == 2
    [error] = warning_lines(result.stderr)
    assert "no-such-folder" in error and "TMPDIR" in error
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"]])
def test_help_exits_zero(args):
    result = run(*args)
    assert result.exit_code == 0
    assert "Usage" in result.stdout
