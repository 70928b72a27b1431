"""Self-contained HTML for people: one pair's claim diff, and a scan report linking to them.

Read like a Copyleaks or Turnitin report: source and derivative side by side, each
sentence coloured by what happened to it (verbatim, reworded, added, dropped), changed
facts marked inside, a legend that says so, and a summary whose entries link to each
change. Inline CSS and a few lines of inline JS only: no CDN, no fonts, no network; the
page opens from disk. Every text is HTML-escaped.
"""
from __future__ import annotations

import html
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from dedup.claims import Change
from dedup.diff import FACT_TYPES, STATUS_CHANGED, STATUS_REWORDED, STATUS_VERBATIM, PairDiff

STYLE = """
:root { --verbatim:#f9c9c9; --reworded:#ffe2b0; --fact:#6d28d9; --added:#c6e8fb; --dropped:#e4e4e4;
        --ink:#1f2328; --muted:#59636e; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; padding: 0 1.5rem 3rem; background: #fff; }
header { border-bottom: 1px solid var(--line); padding: 1rem 0 .5rem; }
h1 { font-size: 1.35rem; margin: .2rem 0; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
.meta { color: var(--muted); }
.kpi { display: inline-block; margin: .3rem 1.2rem .3rem 0; }
.kpi b { font-size: 1.15rem; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .8rem 0; padding: .5rem .7rem;
          border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; }
.legend span.sw { display: inline-block; padding: 0 .45rem; border-radius: 3px; margin-right: .35rem; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; margin-top: 1rem; }
.doc { border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1rem; }
.doc h3 { margin: .2rem 0 .6rem; font-size: 1rem; }
.doc p { margin: 0 0 .8rem; }
.s { border-radius: 3px; padding: 1px 0; cursor: pointer; }
.s-verbatim { background: var(--verbatim); }
.s-reworded, .s-changed { background: var(--reworded); }
.s-added { background: var(--added); }
.s-dropped { background: var(--dropped); text-decoration: line-through; text-decoration-color: #8c959f; }
.s-other { color: var(--muted); }
.s.hl { outline: 2px solid #0969da; }
.c { border-radius: 2px; }
.c-fact { background: var(--fact); color: #fff; font-weight: 600; padding: 0 2px; }
.c-fact.c-quote { background: #ede4ff; color: #3b0f8c; font-weight: 400; box-shadow: inset 3px 0 0 var(--fact); }
.c-hedge { text-decoration: underline wavy #0969da; text-underline-offset: 3px; }
.c-wording { text-decoration: underline dotted #8c959f; text-underline-offset: 3px; }
:target { outline: 3px solid #0969da; scroll-margin-top: 4rem; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; text-align: left; }
th { background: #f6f8fa; }
.type { display: inline-block; min-width: 6.5rem; font-size: .8rem; font-weight: 600; text-transform: uppercase;
        letter-spacing: .02em; color: var(--muted); }
.old { color: #b42318; } .new { color: #1a7f37; } .none { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: var(--muted); margin: .4rem 0; }
a { color: #0969da; }
"""

SCRIPT = """
document.querySelectorAll('.s[data-al]').forEach(function (el) {
  function mark(on) {
    document.querySelectorAll('.s[data-al="' + el.dataset.al + '"]').forEach(function (p) {
      p.classList.toggle('hl', on);
    });
  }
  el.addEventListener('mouseenter', function () { mark(true); });
  el.addEventListener('mouseleave', function () { mark(false); });
  el.addEventListener('click', function () {
    var other = document.querySelector('.s[data-al="' + el.dataset.al + '"][data-side="' +
      (el.dataset.side === 'a' ? 'b' : 'a') + '"]');
    if (other) { other.scrollIntoView({block: 'center', behavior: 'smooth'}); }
  });
});
"""

LEGEND = (
    ("s-verbatim", "verbatim", "copied sentence, no change"),
    ("s-reworded", "reworded", "same claim, other words"),
    ("c-fact", "changed fact", "a number, date, name, attribution or quote that differs"),
    ("s-added", "added", "a claim only the derivative makes"),
    ("s-dropped", "dropped", "a claim of the source left out"),
)


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}<script>{SCRIPT}</script></body></html>\n"
    )


def _legend() -> str:
    items = "".join(
        f'<span><span class="sw {cls}">{_e(name)}</span><span class="meta">{_e(why)}</span></span>'
        for cls, name, why in LEGEND
    )
    return f'<div class="legend" id="legend"><b>Legend</b>{items}</div>'


def _change_class(change: Change) -> str:
    if change.type == "quote":  # a whole quote: lighter, so the figures inside stay visible
        return "c c-fact c-quote"
    if change.type in FACT_TYPES:
        return "c c-fact"
    return f"c c-{change.type}"


@dataclass(slots=True)
class _Mark:
    start: int
    end: int
    change_id: int
    change: Change


def _render_document(text: str, sentences, statuses: dict[int, tuple[str, int | None]],
                     marks: list[_Mark], side: str) -> str:
    """The whole text as paragraphs; each sentence a span coloured by status, change spans inside.

    Overlapping change spans (a figure inside a changed quote) are cut into segments and each
    segment takes the innermost change, so that the figure keeps its own mark.
    """
    out: list[str] = []
    pos = 0

    def plain(chunk: str) -> None:
        paragraphs = chunk.split("\n\n")
        for k, para in enumerate(paragraphs):
            if k:
                out.append("</p><p>")
            out.append(_e(para).replace("\n", "<br>"))

    first_mark_seen: set[int] = set()
    for index, sentence in enumerate(sentences):
        plain(text[pos:sentence.start])
        status, link = statuses.get(index, ("other", None))
        attrs = f' data-al="{link}" data-side="{side}"' if link is not None else ""
        anchor = f' id="{side}-s{index}"'
        out.append(f'<span class="s s-{status}"{anchor}{attrs}>')
        inside = [m for m in marks if m.start < sentence.end and sentence.start < m.end]
        cuts = sorted({sentence.start, sentence.end} | {max(m.start, sentence.start) for m in inside}
                      | {min(m.end, sentence.end) for m in inside})
        for seg_start, seg_end in zip(cuts, cuts[1:]):
            covering = [m for m in inside if m.start <= seg_start and seg_end <= m.end]
            chunk = _e(text[seg_start:seg_end])
            if not covering:
                out.append(chunk)
                continue
            mark = min(covering, key=lambda m: (m.end - m.start, m.change.type == "wording"))
            other = mark.change.b if side == "a" else mark.change.a
            tip = f"{mark.change.type}: {'(none)' if other is None else other}"
            ident = ""
            if mark.change_id not in first_mark_seen and mark.start >= seg_start:
                ident = f' id="chg-{mark.change_id}-{side}"'
                first_mark_seen.add(mark.change_id)
            out.append(f'<span class="{_change_class(mark.change)}" data-type="{mark.change.type}"'
                       f'{ident} title="{_e(tip)}">{chunk}</span>')
        out.append("</span>")
        pos = sentence.end
    plain(text[pos:])
    return "<p>" + "".join(out) + "</p>"


def _statuses(diff: PairDiff) -> tuple[dict[int, tuple[str, int | None]], dict[int, tuple[str, int | None]]]:
    status_a: dict[int, tuple[str, int | None]] = {}
    status_b: dict[int, tuple[str, int | None]] = {}
    for k, pair in enumerate(diff.alignments):
        for i in pair.a_sentences:
            status_a[i] = (pair.status, k)
        for j in pair.b_sentences:
            status_b[j] = (pair.status, k)
    for claim in diff.dropped:
        status_a[claim.index] = ("dropped", None)
    for claim in diff.added:
        status_b[claim.index] = ("added", None)
    return status_a, status_b


def _summary(diff: PairDiff) -> str:
    s = diff.summary
    score = "n/a" if s["score"] is None else f"{s['score']:.2f}"
    reason = f' <span class="meta">({_e(diff.direction_reason)})</span>' if diff.direction_reason else ""
    return (
        f'<div><span class="kpi">relation <b>{_e(s["relation"] or "n/a")}</b></span>'
        f'<span class="kpi">score <b>{score}</b></span>'
        f'<span class="kpi">direction <b>{_e(s["direction"])}</b>{reason}</span></div>'
        f'<div><span class="kpi"><a href="#changes"><b>{s["altered"]}</b> altered</a></span>'
        f'<span class="kpi"><b>{s["reworded"]}</b> reworded</span>'
        f'<span class="kpi"><b>{s["verbatim"]}</b> verbatim</span>'
        f'<span class="kpi"><a href="#added"><b>{s["added"]}</b> added</a></span>'
        f'<span class="kpi"><a href="#dropped"><b>{s["dropped"]}</b> dropped</a></span></div>'
    )


def _change_rows(diff: PairDiff, ids: dict[int, int], wording: bool) -> str:
    rows = []
    for k, change in diff.ranked_changes():
        if (change.type == "wording") != wording:
            continue
        cid = ids[id(change)]
        target = f"#chg-{cid}-a" if change.a_span else f"#chg-{cid}-b"
        old = f'<span class="old">{_e(change.a)}</span>' if change.a is not None else '<span class="none">(none)</span>'
        new = f'<span class="new">{_e(change.b)}</span>' if change.b is not None else '<span class="none">(none)</span>'
        rows.append(f'<tr><td><span class="type">{_e(change.type)}</span></td><td>{old}</td><td>{new}</td>'
                    f'<td><a href="{target}">pair {k + 1}</a></td><td class="meta">{change.weight:.2f}</td></tr>')
    if not rows:
        return '<p class="meta">none</p>'
    return ("<table><tr><th>type</th><th>source says</th><th>derivative says</th><th>where</th><th>weight</th></tr>"
            + "".join(rows) + "</table>")


def _claims_list(claims, side: str, anchor: str, title: str) -> str:
    items = "".join(f'<li><a href="#{side}-s{c.index}">{_e(c.text)}</a></li>' for c in claims)
    return f'<h2 id="{anchor}">{_e(title)} ({len(claims)})</h2>' + (f"<ul>{items}</ul>" if items else '<p class="meta">none</p>')


def pair_body(diff: PairDiff, text_a: str, text_b: str, back_link: str | None = None) -> str:
    """The HTML body of one pair's diff (used on its own page and inside a one-file report)."""
    ids: dict[int, int] = {}
    marks_a: list[_Mark] = []
    marks_b: list[_Mark] = []
    for pair in diff.alignments:
        for change in pair.changes:
            cid = ids.setdefault(id(change), len(ids))
            if change.a_span:
                marks_a.append(_Mark(change.a_span[0], change.a_span[1], cid, change))
            if change.b_span:
                marks_b.append(_Mark(change.b_span[0], change.b_span[1], cid, change))
    status_a, status_b = _statuses(diff)
    back = f'<p><a href="{_e(back_link)}">&larr; all pairs</a></p>' if back_link else ""
    label_a = f"A: {diff.a_id}" + (" (source)" if diff.source == diff.a_id else "")
    label_b = f"B: {diff.b_id}" + (" (derivative)" if diff.derivative == diff.b_id else "")
    return (
        f"<header>{back}<h1>Claim diff: {_e(diff.a_id)} &rarr; {_e(diff.b_id)}</h1>{_summary(diff)}</header>"
        f"{_legend()}"
        f'<div class="cols">'
        f'<section class="doc" id="doc-a"><h3>{_e(label_a)}</h3>'
        f'{_render_document(text_a, diff.a_sentences, status_a, marks_a, "a")}</section>'
        f'<section class="doc" id="doc-b"><h3>{_e(label_b)}</h3>'
        f'{_render_document(text_b, diff.b_sentences, status_b, marks_b, "b")}</section>'
        f"</div>"
        f'<h2 id="changes">Changes, heaviest first</h2>{_change_rows(diff, ids, wording=False)}'
        f"{_claims_list(diff.added, 'b', 'added', 'Added claims')}"
        f"{_claims_list(diff.dropped, 'a', 'dropped', 'Dropped claims')}"
        f'<details><summary>Wording changes (token diff)</summary>{_change_rows(diff, ids, wording=True)}</details>'
    )


def render_pair_html(diff: PairDiff, text_a: str, text_b: str, back_link: str | None = None) -> str:
    """One pair's diff as a complete, self-contained HTML page (`text_a`/`text_b`: the cleaned texts)."""
    return _page(f"Claim diff {diff.a_id} -> {diff.b_id}", pair_body(diff, text_a, text_b, back_link))


# --------------------------------------------------------------------------- scan report

DiffFor = Callable[[Any], tuple[PairDiff, str, str]]


def _clusters(pairs: Iterable[Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for pair in pairs:
        cluster = getattr(pair, "cluster", None)
        if cluster is not None:
            groups[cluster].append(pair)
    return groups


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _index_body(pairs: list[Any], hrefs: list[str], title: str) -> str:
    rows = []
    for k, (pair, href) in enumerate(zip(pairs, hrefs)):
        direction = (f"{_e(pair.source)} &rarr; {_e(pair.derivative)}" if getattr(pair, "source", None)
                     else "unknown")
        reason = getattr(pair, "direction_reason", None)
        rows.append(
            f'<tr id="pair-{k + 1}"><td>{k + 1}</td><td>{_e(pair.a)}</td><td>{_e(pair.b)}</td>'
            f"<td><b>{_e(pair.relation)}</b></td><td>{_fmt(getattr(pair, 'score', None))}</td>"
            f'<td>{direction}<div class="meta">{_e(reason or "")}</div></td>'
            f"<td>{_fmt(getattr(pair, 'coverage_a', None))} / {_fmt(getattr(pair, 'coverage_b', None))}</td>"
            f"<td>{_e(getattr(pair, 'cluster', ''))}</td>"
            f'<td><a href="{_e(href)}">diff</a></td></tr>'
        )
    clusters = _clusters(pairs)
    cluster_rows = []
    for cluster, members in sorted(clusters.items(), key=lambda kv: str(kv[0])):
        ids = sorted({str(x) for p in members for x in (p.a, p.b)})
        cluster_rows.append(f"<tr><td>{_e(cluster)}</td><td>{len(ids)}</td><td>{_e(', '.join(ids))}</td></tr>")
    cluster_table = ("<table><tr><th>cluster</th><th>documents</th><th>members</th></tr>"
                     + "".join(cluster_rows) + "</table>") if cluster_rows else '<p class="meta">none</p>'
    return (
        f"<header><h1>{_e(title)}</h1><p class=\"meta\">{len(pairs)} derived pairs, "
        f"{len(clusters)} clusters. Each pair links to its claim diff.</p></header>"
        "<h2>Pairs</h2><table><tr><th>#</th><th>A</th><th>B</th><th>relation</th><th>score</th>"
        "<th>direction</th><th>coverage A / B</th><th>cluster</th><th></th></tr>"
        + "".join(rows) + "</table>"
        + f"<h2>Clusters</h2>{cluster_table}"
    )


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))[:80]


def write_scan_report(result: Any, path: str | os.PathLike, diff_for: DiffFor | None = None,
                      title: str = "dedup scan report") -> Path:
    """Write the scan's pairs and clusters, each pair linked to its claim diff.

    `result.pairs` holds the derived pairs (attributes a, b, relation, score, source,
    derivative, direction_reason, coverage_a, coverage_b, cluster). `diff_for(pair)` returns
    (PairDiff, cleaned text A, cleaned text B); by default `result.pair_diff(pair)`.
    A path ending in .html gets one file with every diff inside it; any other path is a
    folder with index.html and one page per pair. Returns the page to open.
    """
    diff_for = diff_for or getattr(result, "pair_diff")
    pairs = list(result.pairs)
    target = Path(path)
    if target.suffix.lower() in (".html", ".htm"):
        target.parent.mkdir(parents=True, exist_ok=True)
        sections = []
        hrefs = []
        for k, pair in enumerate(pairs):
            diff, text_a, text_b = diff_for(pair)
            hrefs.append(f"#diff-{k + 1}")
            # ids inside each diff are made unique by prefixing the section
            body = pair_body(diff, text_a, text_b, back_link=f"#pair-{k + 1}")
            body = _prefix_ids(body, f"p{k + 1}-")
            sections.append(f'<section id="diff-{k + 1}" style="margin-top:3rem;border-top:3px solid #d0d7de">{body}</section>')
        target.write_text(_page(title, _index_body(pairs, hrefs, title) + "".join(sections)), encoding="utf-8")
        return target
    target.mkdir(parents=True, exist_ok=True)
    (target / "pairs").mkdir(exist_ok=True)
    hrefs = []
    for k, pair in enumerate(pairs):
        diff, text_a, text_b = diff_for(pair)
        name = f"pairs/{k + 1:04d}_{_safe_name(pair.a)}__{_safe_name(pair.b)}.html"
        (target / name).write_text(render_pair_html(diff, text_a, text_b, back_link="../index.html"), encoding="utf-8")
        hrefs.append(name)
    index = target / "index.html"
    index.write_text(_page(title, _index_body(pairs, hrefs, title)), encoding="utf-8")
    return index


def _prefix_ids(body: str, prefix: str) -> str:
    """Make a pair body's ids and in-page links unique inside a one-file report."""
    body = re.sub(r'data-al="([^"]+)"', lambda m: f'data-al="{prefix}{m.group(1)}"', body)
    body = re.sub(r'id="(?!diff-|pair-)([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', body)
    return re.sub(r'href="#(?!diff-|pair-)([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', body)
