"""`dedup diff A B`: one pair's claim diff in the terminal, as JSON, or as an HTML page.

A plain function with typer annotations; `dedup.cli` registers it as the `diff` command.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from dedup.clean import clean_text
from dedup.diff import PairDiff, build_diff, render_terminal
from dedup.document import Document, InputProblem
from dedup.html import render_pair_html
from dedup.ingest import read_documents
from dedup.verify import Verifier

FORMATS = ("terminal", "json")


def _load(ref: str, corpus_docs: dict[str, Document] | None, corpus: Optional[Path]) -> Document:
    """A document named by a file path, or by its id in the corpus."""
    path = Path(ref)
    if path.is_file():
        docs, skips = read_documents(path)
        if not docs:
            reason = f": {skips[0].reason}" if skips else ""
            raise InputProblem(f"{ref}: no readable document{reason}")
        return docs[0]
    if corpus_docs is not None:
        if ref in corpus_docs:
            return corpus_docs[ref]
        raise InputProblem(f"{ref}: not a file, and no document with this id in {corpus}")
    raise InputProblem(f"{ref}: no such file (to name a document by id, give --corpus)")


def _relate(verifier: Verifier, doc_a: Document, doc_b: Document, text_a: str, text_b: str, alignment):
    """Relation, score, source, derivative and direction reason from the relate stage.

    Uses the same features and rules as `dedup scan`, so scan and diff agree on the label.
    """
    from dedup.relate import relate_pair

    result = relate_pair(doc_a, doc_b, text_a, text_b, verifier.features(alignment))
    return result.relation, result.score, result.source, result.derivative, result.direction_reason


def make_pair_diff(doc_a: Document, doc_b: Document, fit_texts: list[str] | None = None) -> tuple[PairDiff, str, str]:
    """Clean, fit the IDF (on `fit_texts`, else on the two texts), align, relate, diff."""
    text_a, text_b = clean_text(doc_a.text), clean_text(doc_b.text)
    verifier = Verifier().fit(fit_texts if fit_texts else [text_a, text_b])
    alignment = verifier.align(text_a, text_b)
    relation, score, source, derivative, reason = _relate(verifier, doc_a, doc_b, text_a, text_b, alignment)
    diff = build_diff(alignment, relation, score, source, derivative, reason, doc_a.id, doc_b.id,
                      weight=verifier.vectorizer.word_weight)
    return diff, text_a, text_b


def diff(
    a: str = typer.Argument(..., help="The first document: a file (.txt/.md/.html), or an id in --corpus."),
    b: str = typer.Argument(..., help="The second document: a file, or an id in --corpus."),
    corpus: Optional[Path] = typer.Option(
        None, "--corpus", "-c",
        help="A corpus (folder, JSONL, CSV, Parquet) to look ids up in and to fit the word weights on."),
    format: str = typer.Option(
        "terminal", "--format", "-f", help="terminal (side by side, in colour) or json (schema in the README)."),
    html: Optional[Path] = typer.Option(
        None, "--html", help="Also write a self-contained HTML page of the diff to this file."),
    max_wording: int = typer.Option(
        3, "--max-wording", min=0, help="Wording (token diff) changes listed per aligned pair in the terminal."),
) -> None:
    """Show, claim by claim, what B changed relative to A: figures, dates, names, attributions,
    quotes, hedges, then wording; and the claims added or dropped."""
    err = Console(stderr=True, soft_wrap=True)  # an error or warning stays one line, however long the path
    if format not in FORMATS:
        err.print(f"error: --format must be one of {', '.join(FORMATS)}, not {format!r}")
        raise typer.Exit(2)
    try:
        corpus_docs = None
        if corpus is not None:
            docs, skips = read_documents(corpus, on_skip=lambda skip: err.print(f"warning: skipped {skip}"))
            corpus_docs = {doc.id: doc for doc in docs}
        doc_a = _load(a, corpus_docs, corpus)
        doc_b = _load(b, corpus_docs, corpus)
    except InputProblem as problem:
        err.print(f"error: {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    fit_texts = [clean_text(doc.text) for doc in corpus_docs.values()] if corpus_docs else None
    pair_diff, text_a, text_b = make_pair_diff(doc_a, doc_b, fit_texts)
    if format == "json":
        sys.stdout.write(json.dumps(pair_diff.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        render_terminal(pair_diff, Console(), max_wording=max_wording)
    if html is not None:
        try:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_pair_html(pair_diff, text_a, text_b), encoding="utf-8")
        except OSError as problem:
            err.print(f"error: {html}: {problem.strerror or problem}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        err.print(f"wrote {html}", markup=False, highlight=False)
