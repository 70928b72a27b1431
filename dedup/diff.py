"""A derived pair's claim diff: the verifier's alignment, the changes inside each aligned
pair, and the claims with no counterpart. Built once, shown three ways: terminal (rich),
JSON (`PairDiff.to_json`) and HTML (`dedup.html`).

The diff never aligns anything itself: it takes the `Alignment` the scan labelled, so the
scan and the diff cannot disagree about which sentences match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dedup.claims import Change, extract_changes
from dedup.verify import Alignment, Sentence

# A link this similar is copied text (copy-editing at most): the verifier's threshold for
# near-verbatim anchors (dedup/verify.py VERBATIM_SIMILARITY, calibrated there).
try:
    from dedup.verify import VERBATIM_SIMILARITY
except ImportError:  # the records-only verify module of early commits
    VERBATIM_SIMILARITY = 0.85

# Change types that state a different fact (the rest is wording or tone).
FACT_TYPES = frozenset({"number", "time", "entity", "attribution", "quote"})

STATUS_VERBATIM = "verbatim"
STATUS_REWORDED = "reworded"
STATUS_CHANGED = "changed"


@dataclass(slots=True)
class Claim:
    """A sentence with no counterpart on the other side (an added or dropped claim)."""

    index: int
    text: str
    start: int
    end: int

    def to_json(self) -> dict:
        return {"index": self.index, "text": self.text, "start": self.start, "end": self.end}


@dataclass(slots=True)
class AlignedPair:
    """Sentences of A linked to sentences of B, and what changed between them.

    Change spans (`Change.a_span`/`b_span`) are character offsets into the whole cleaned
    text of A and of B, so that a view can highlight them in place.
    """

    a_sentences: list[int]
    b_sentences: list[int]
    a_text: str
    b_text: str
    similarity: float
    kind: str
    changes: list[Change]
    a_offsets: list[tuple[int, int]] = field(default_factory=list, repr=False)  # (joined, document) per sentence
    b_offsets: list[tuple[int, int]] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        """verbatim (no change), reworded (wording/tone only) or changed (a fact differs)."""
        if any(c.type in FACT_TYPES for c in self.changes):
            return STATUS_CHANGED
        if self.changes:
            return STATUS_REWORDED
        return STATUS_VERBATIM

    def to_json(self, a_sentences: list[Sentence], b_sentences: list[Sentence]) -> dict:
        return {
            "a_sentences": [_sentence_json(i, a_sentences[i]) for i in self.a_sentences],
            "b_sentences": [_sentence_json(j, b_sentences[j]) for j in self.b_sentences],
            "similarity": round(self.similarity, 4),
            "kind": self.kind,
            "status": self.status,
            "changes": [_change_json(c) for c in self.changes],
        }


@dataclass(slots=True)
class PairDiff:
    """Everything the claim diff shows for one pair (A = first input, B = second)."""

    a_id: str
    b_id: str
    relation: str | None
    score: float | None
    source: str | None
    derivative: str | None
    direction_reason: str | None
    a_sentences: list[Sentence]
    b_sentences: list[Sentence]
    alignments: list[AlignedPair]
    added: list[Claim]
    dropped: list[Claim]
    boilerplate_a: list[int] = field(default_factory=list)
    boilerplate_b: list[int] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        by_type: dict[str, int] = {}
        for pair in self.alignments:
            for change in pair.changes:
                by_type[change.type] = by_type.get(change.type, 0) + 1
        statuses = [p.status for p in self.alignments]
        return {
            "relation": self.relation,
            "score": None if self.score is None else round(self.score, 4),
            "source": self.source,
            "derivative": self.derivative,
            "direction": "unknown" if self.source is None else f"{self.source} -> {self.derivative}",
            "direction_reason": self.direction_reason,
            "aligned": len(self.alignments),
            "altered": statuses.count(STATUS_CHANGED),
            "reworded": statuses.count(STATUS_REWORDED),
            "verbatim": statuses.count(STATUS_VERBATIM),
            "added": len(self.added),
            "dropped": len(self.dropped),
            "changes": by_type,
        }

    def ranked_changes(self) -> list[tuple[int, Change]]:
        """All changes with their alignment index, heaviest first, wording last."""
        flat = [(k, c) for k, pair in enumerate(self.alignments) for c in pair.changes]
        flat.sort(key=lambda kc: (kc[1].type == "wording", -kc[1].weight))
        return flat

    def to_json(self) -> dict:
        """The documented JSON schema (README, "Claim diff JSON")."""
        return {
            "a": self.a_id,
            "b": self.b_id,
            "relation": self.relation,
            "score": None if self.score is None else round(self.score, 4),
            "source": self.source,
            "derivative": self.derivative,
            "direction_reason": self.direction_reason,
            "summary": self.summary,
            "alignments": [p.to_json(self.a_sentences, self.b_sentences) for p in self.alignments],
            "added": [c.to_json() for c in self.added],
            "dropped": [c.to_json() for c in self.dropped],
        }


def _sentence_json(index: int, sentence: Sentence) -> dict:
    return {"index": index, "text": sentence.text, "start": sentence.start, "end": sentence.end}


def _change_json(change: Change) -> dict:
    out = change.to_json()
    out["a_span"] = list(change.a_span) if change.a_span else None
    out["b_span"] = list(change.b_span) if change.b_span else None
    return out


# --------------------------------------------------------------------------- building

_BYLINE = re.compile(
    r"^(?:by\s+\S|photo|image|credit|source|file photo|read more|related|advertisement|"
    r"original url|copyright|©|all rights reserved|follow us|share this|sign up|subscribe)",
    re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][\w'-]*")


def is_claim(text: str) -> bool:
    """Does an unaligned sentence state something, or is it page furniture?

    Bylines, credits, datelines, one- to three-word lines and Title Case headings are not
    claims: a rewrite that drops them has not dropped a fact. (Cleaning removes most page
    boilerplate already; this catches what survives into a sentence of its own.)
    """
    stripped = text.strip()
    words = _WORD.findall(stripped)
    if len(words) < 4 or _BYLINE.match(stripped) or re.match(r"^https?://", stripped):
        return False
    long_words = [w for w in words if len(w) > 3]
    capitalised = sum(1 for w in long_words if w[0].isupper())
    if len(long_words) >= 4 and capitalised / len(long_words) >= 0.8 and not stripped.endswith("."):
        return False  # a Title Case heading
    return True


def _joined(sentences: list[Sentence], indices: tuple[int, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The linked sentences as one text, and (offset in that text, offset in the document) per sentence."""
    parts, offsets, pos = [], [], 0
    for i in indices:
        offsets.append((pos, sentences[i].start))
        parts.append(sentences[i].text)
        pos += len(sentences[i].text) + 1
    return " ".join(parts), offsets


def _to_document(span: tuple[int, int] | None, offsets: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Map a span of the joined text back into the document; each end is mapped through the
    sentence it falls in, so a span across a join covers the document's own separator."""
    if span is None:
        return None

    def one(pos: int) -> int:
        base_joined, base_doc = offsets[0]
        for joined_start, doc_start in offsets:
            if joined_start <= pos:
                base_joined, base_doc = joined_start, doc_start
        return pos - base_joined + base_doc

    return one(span[0]), one(span[1] - 1) + 1


def build_diff(
    alignment: Alignment,
    relation: str | None,
    score: float | None,
    source: str | None,
    derivative: str | None,
    direction_reason: str | None,
    a_id: str,
    b_id: str,
    weight: Callable[[str], float] | None = None,
) -> PairDiff:
    """The claim diff of one aligned pair. `weight(word)` is the corpus IDF used for ranking."""
    pairs = []
    for link in sorted(alignment.links, key=lambda l: (l.a[0], l.b[0])):
        a_text, a_offsets = _joined(alignment.a_sentences, link.a)
        b_text, b_offsets = _joined(alignment.b_sentences, link.b)
        changes = extract_changes(a_text, b_text, weight)
        for change in changes:
            change.a_span = _to_document(change.a_span, a_offsets)
            change.b_span = _to_document(change.b_span, b_offsets)
        pairs.append(AlignedPair(list(link.a), list(link.b), a_text, b_text, link.similarity, link.kind,
                                 changes, a_offsets, b_offsets))

    def unmatched(sentences: list[Sentence], indices: list[int]) -> tuple[list[Claim], list[int]]:
        claims, furniture = [], []
        for i in indices:
            s = sentences[i]
            if is_claim(s.text):
                claims.append(Claim(i, s.text, s.start, s.end))
            else:
                furniture.append(i)
        return claims, furniture

    dropped, boilerplate_a = unmatched(alignment.a_sentences, alignment.unmatched_a)
    added, boilerplate_b = unmatched(alignment.b_sentences, alignment.unmatched_b)
    return PairDiff(
        a_id=a_id, b_id=b_id, relation=relation, score=score, source=source,
        derivative=derivative, direction_reason=direction_reason,
        a_sentences=alignment.a_sentences, b_sentences=alignment.b_sentences,
        alignments=pairs, added=added, dropped=dropped,
        boilerplate_a=boilerplate_a, boilerplate_b=boilerplate_b,
    )


# --------------------------------------------------------------------------- terminal

# One colour per change type, shared with the HTML legend's meaning.
TERMINAL_STYLES = {
    "number": "bold red",
    "time": "bold magenta",
    "entity": "bold cyan",
    "attribution": "bold yellow",
    "quote": "bold green",
    "hedge": "italic blue",
    "wording": "underline",
}


def to_joined(span: tuple[int, int], offsets: list[tuple[int, int]]) -> tuple[int, int]:
    """Inverse of `_to_document`: a document span as offsets into the pair's joined text."""
    base_joined, base_doc = offsets[0]
    for joined_start, doc_start in offsets:
        if doc_start <= span[0]:
            base_joined, base_doc = joined_start, doc_start
    return span[0] - base_doc + base_joined, span[1] - base_doc + base_joined


def _span_length(change: Change, side: str) -> int:
    span = change.a_span if side == "a" else change.b_span
    return span[1] - span[0] if span else 0


def _styled(text: str, offsets: list[tuple[int, int]], changes: list[Change], side: str) -> Text:
    """The pair's joined text with each change span in its type's style."""
    out = Text(text)
    # paint long spans first, so that a figure inside a changed quote keeps its own colour
    for change in sorted(changes, key=lambda c: (c.type != "wording", -_span_length(c, side))):
        span = change.a_span if side == "a" else change.b_span
        if span is None:
            continue
        start, end = to_joined(span, offsets)
        if 0 <= start < end <= len(text):
            out.stylize(TERMINAL_STYLES[change.type], start, end)
    return out


def _summary_text(diff: PairDiff) -> Text:
    s = diff.summary
    out = Text()
    out.append(f"{diff.a_id}", style="bold")
    out.append("  vs  ")
    out.append(f"{diff.b_id}\n", style="bold")
    out.append("relation: ")
    out.append(f"{s['relation'] or 'n/a'}", style="bold")
    out.append(f"   score: {s['score'] if s['score'] is not None else 'n/a'}\n")
    out.append(f"direction: {s['direction']}")
    if diff.direction_reason:
        out.append(f"  ({diff.direction_reason})", style="dim")
    out.append("\n")
    out.append(f"aligned {s['aligned']}: ", style="")
    out.append(f"{s['altered']} altered", style="bold red")
    out.append(f", {s['reworded']} reworded, {s['verbatim']} verbatim;  ")
    out.append(f"{s['added']} added", style="bold green")
    out.append(", ")
    out.append(f"{s['dropped']} dropped", style="bold red")
    if s["changes"]:
        out.append("\nchanges: " + ", ".join(f"{k} {v}" for k, v in sorted(s["changes"].items(), key=lambda kv: -kv[1])))
    return out


def _short(text: str | None, limit: int = 70) -> str:
    if text is None:
        return "(none)"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _change_line(change: Change) -> Text:
    line = Text("  ")
    line.append(f"{change.type:<12}", style=TERMINAL_STYLES[change.type])
    line.append(_short(change.a), style="red" if change.a else "dim")
    line.append(" -> ")
    line.append(_short(change.b), style="green" if change.b else "dim")
    return line


def render_terminal(diff: PairDiff, console: Console, max_wording: int = 3) -> None:
    """Summary panel, then each aligned pair side by side in document order, then added/dropped."""
    console.print(Panel(_summary_text(diff), title="claim diff", expand=False))
    legend = Text("legend: ")
    for kind, style in TERMINAL_STYLES.items():
        legend.append(kind, style=style)
        legend.append("  ")
    console.print(legend)
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=True)
    table.add_column("#", justify="right", width=4, no_wrap=True)
    table.add_column(f"A: {diff.a_id}", ratio=1)
    table.add_column(f"B: {diff.b_id}", ratio=1)
    for k, pair in enumerate(diff.alignments):
        a_cell = _styled(pair.a_text, pair.a_offsets, pair.changes, "a")
        b_cell = _styled(pair.b_text, pair.b_offsets, pair.changes, "b")
        typed = [c for c in pair.changes if c.type != "wording"]
        wording = [c for c in pair.changes if c.type == "wording"][:max_wording]
        lines = [_change_line(c) for c in typed + wording]
        marker = {STATUS_CHANGED: "[bold red]≠[/]", STATUS_REWORDED: "[yellow]~[/]", STATUS_VERBATIM: "[green]=[/]"}[pair.status]
        table.add_row(f"{k + 1}\n{marker}", a_cell, Group(b_cell, *lines) if lines else b_cell)
    for claim in diff.dropped:
        table.add_row("[bold red]-[/]", Text(claim.text, style="red strike"), Text("(dropped)", style="dim"))
    for claim in diff.added:
        table.add_row("[bold green]+[/]", Text("(added)", style="dim"), Text(claim.text, style="green"))
    console.print(table)
