"""Report stage: a scan's pairs as a rich table (people) or JSON / JSONL / CSV (programs)."""
from __future__ import annotations

import csv
import json
from typing import TextIO

from rich.console import Console
from rich.table import Table

from dedup.pipeline import PairResult, ScanResult
from dedup.relate import DERIVED

FORMATS = ("table", "json", "jsonl", "csv")
PAIR_FIELDS = ("a", "b", "relation", "score", "source", "derivative", "direction_reason",
               "coverage_a", "coverage_b", "cluster")
_COLOURS = {"exact": "bold red", "near_duplicate": "red", "rewrite": "magenta", "partial": "yellow",
            "template": "cyan", "related": "dim"}


def write_json(result: ScanResult, out: TextIO) -> None:
    """One JSON document: `documents`, `skipped`, `candidates`, `pairs` (and `clusters`)."""
    json.dump(result.to_dict(), out, ensure_ascii=False, indent=2)
    out.write("\n")


def write_jsonl(pairs: list[PairResult], out: TextIO) -> None:
    for pair in pairs:
        out.write(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")


def write_csv(pairs: list[PairResult], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=PAIR_FIELDS, lineterminator="\n")
    writer.writeheader()
    for pair in pairs:
        writer.writerow(pair.to_dict())


def render_table(result: ScanResult, console: Console) -> None:
    """The default view: one row a pair, strongest first, then clusters and a one-line summary."""
    table = Table(title="dedup scan", show_lines=False, header_style="bold")
    for name, justify in (("source / a", "left"), ("derivative / b", "left"), ("relation", "left"),
                          ("score", "right"), ("cov a", "right"), ("cov b", "right"), ("direction", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for pair in result.pairs:
        first, second = (pair.source, pair.derivative) if pair.source else (pair.a, pair.b)
        cov_first, cov_second = ((pair.coverage_a, pair.coverage_b) if first == pair.a
                                 else (pair.coverage_b, pair.coverage_a))
        direction = _short_reason(pair.direction_reason) if pair.source else "unknown"
        style = _COLOURS.get(pair.relation, "")
        table.add_row(first, second, f"[{style}]{pair.relation}[/]", f"{pair.score:.2f}",
                      f"{cov_first:.2f}", f"{cov_second:.2f}", direction)
    if result.pairs:
        console.print(table)
    derived = sum(1 for p in result.pairs if p.relation in DERIVED)
    console.print(
        f"{result.documents} documents, {result.candidates} candidate pairs, {derived} derived pairs"
        + (f", {len(result.skipped)} inputs skipped" if result.skipped else "")
    )
    for cluster in result.clusters:
        console.print(f"cluster {cluster.id}: earliest [bold]{cluster.earliest}[/], members {', '.join(cluster.members)}")


def _short_reason(reason: str | None) -> str:
    if not reason:
        return ""
    return reason.split(":", 1)[0]


def render(result: ScanResult, fmt: str, out: TextIO, console: Console | None = None) -> None:
    """Write `result` in one of FORMATS."""
    if fmt == "json":
        write_json(result, out)
    elif fmt == "jsonl":
        write_jsonl(result.pairs, out)
    elif fmt == "csv":
        write_csv(result.pairs, out)
    else:
        render_table(result, console or Console(file=out))
