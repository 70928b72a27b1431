"""The `dedup` command line: scan a corpus, diff a pair, evaluate on labelled pairs."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from dedup.cli_diff import diff as diff_command
from dedup.document import InputProblem, Skip, SkipLog

app = typer.Typer(
    name="dedup",
    help=(
        "Find copies, rewrites and partial reuse in news copy, and show what changed.\n\n"
        "  dedup scan seeds/                      # who rewrote whom, as a table\n\n"
        "  dedup scan news.jsonl --format jsonl   # one pair per line, for programs\n\n"
        "  dedup diff A.txt B.txt                 # claim-by-claim diff of one pair\n\n"
        "  dedup eval pairs.jsonl --derived cut,light,heavy   # accuracy on labelled pairs"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _warn(skip: Skip) -> None:
    err.print(f"[yellow]warning[/]: skipped {skip}", highlight=False, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[red]error[/]: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def scan(
    path: str = typer.Argument(..., help="A folder (.txt/.md/.html, recursive), a .jsonl/.csv/.parquet file, or - for JSONL on stdin."),
    format: str = typer.Option("table", "--format", "-f", help="table (for people), json, jsonl or csv."),
    related: bool = typer.Option(False, "--related", help="Also list `related` pairs (same topic, written independently) and `template` pairs (same routine wording, other figures)."),
    clusters: bool = typer.Option(False, "--clusters", help="Group derived pairs into story clusters, each with its earliest member."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write an HTML report: a .html file, or a folder with index.html."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.05, max=1.0, help="Copy channel: word-shingle Jaccard the LSH stage aims at."),
    rewrite_threshold: float = typer.Option(0.3, "--rewrite-threshold", min=0.05, max=1.0, help="Rewrite channel: content-word Jaccard the LSH stage aims at."),
    num_perm: int = typer.Option(128, "--num-perm", min=8, max=1024, help="MinHash permutations (more: better estimates, slower)."),
    shingle_size: int = typer.Option(5, "--shingle-size", min=1, max=12, help="Words per shingle in the copy channel."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes; 0 = all cores. Output is the same whatever N is."),
    text_field: str = typer.Option("text", "--text-field", help="Column/field holding the article text."),
    id_field: str = typer.Option("id", "--id-field", help="Column/field holding the article id."),
    date_field: str = typer.Option("date", "--date-field", help="Column/field holding the publication date (decides direction)."),
    title_field: str = typer.Option("title", "--title-field", help="Column/field holding the title."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first bad input (exit 2) instead of skipping it."),
    profile: bool = typer.Option(False, "--profile", help="Print time and peak memory of each stage on stderr."),
    spill_texts_mb: float = typer.Option(512.0, "--spill-texts-mb", min=-1, help="Past this many MB of cleaned text (about 400k articles), keep the texts in a temporary file in TMPDIR instead of in memory; -1 = never."),
) -> None:
    """Find derived pairs (exact, near_duplicate, rewrite, partial) in a corpus."""
    from dedup import report
    from dedup.ingest import iter_documents
    from dedup.pipeline import STAGES, ScanConfig, Scanner
    from dedup.textstore import SpillError

    if format not in report.FORMATS:
        _fail(f"--format must be one of {', '.join(report.FORMATS)}, not {format!r}")
    skips = SkipLog(strict=strict, on_skip=_warn)
    config = ScanConfig(threshold=threshold, rewrite_threshold=rewrite_threshold, num_perm=num_perm,
                        shingle_size=shingle_size, jobs=jobs, related=related, clusters=clusters,
                        progress=sys.stderr.isatty(), keep_alignments=html is not None,
                        spill_texts_mb=None if spill_texts_mb < 0 else spill_texts_mb)
    try:
        documents = iter_documents(path, text_field=text_field, id_field=id_field, date_field=date_field,
                                   title_field=title_field, skips=skips)
        result = Scanner(config).scan(documents, skipped=skips.skips)
    except (InputProblem, SpillError) as problem:
        _fail(str(problem))
        return
    if result.documents == 0:
        err.print("[yellow]warning[/]: no documents read", highlight=False)
    report.render(result, format, sys.stdout, Console())
    if html is not None:
        from dedup.html import write_scan_report

        page = write_scan_report(result, html)
        err.print(f"HTML report: {page}", highlight=False)
    if profile:
        from rich.table import Table

        from dedup.jit import describe

        table = Table(title="profile", header_style="bold", caption=f"fingerprint and verify loops: {describe()}")
        for name in ("stage", "seconds", "docs or pairs", "per second", "peak RSS MB"):
            table.add_column(name, justify="right" if name != "stage" else "left")
        for stage in STAGES:
            stats = result.profile[stage]
            rate = f"{stats.items / stats.seconds:,.0f}" if stats.seconds > 0 and stats.items else ""
            table.add_row(stage, f"{stats.seconds:.3f}", f"{stats.items:,}", rate, f"{stats.peak_rss_mb:,.0f}")
        err.print(table)


@app.command("eval")
def eval_command(
    path: Path = typer.Argument(..., help="Labelled pairs, JSONL with id, a, b, label (like ../shared/data/pairs/*.jsonl)."),
    derived: Optional[str] = typer.Option(None, "--derived", help="Comma-separated gold labels that count as derived (e.g. cut,light,heavy or paraphrase). Default: guessed from the labels."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write one line per pair: id, relation, score."),
    end_to_end: bool = typer.Option(True, "--end-to-end/--no-end-to-end", help="Also scan all texts as one corpus and count the gold derived pairs found (LSH recall)."),
) -> None:
    """Accuracy on labelled pairs: confusion matrix, derived-vs-not P/R/F1, baselines, end-to-end recall."""
    from dedup.evaluate import run_eval

    try:
        run_eval(path, derived=derived.split(",") if derived else None, out=out, end_to_end=end_to_end,
                 console=Console(), warn=_warn)
    except InputProblem as problem:
        _fail(str(problem))


app.command("diff")(diff_command)


def main() -> None:  # pragma: no cover - console script entry point
    """The `dedup` console script: Ctrl-C ends a long scan with one line, not a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        raise SystemExit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
