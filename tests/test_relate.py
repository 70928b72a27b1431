"""Relate stage: template pairs, date parsing, dateline direction, clusters."""
from __future__ import annotations

import numpy as np

from dedup.document import Document
from dedup.pipeline import scan
from dedup.relate import clusters, dateline_date, parse_date

TEMPLATE = (
    "{company} said its board declared a quarterly dividend of {div} cts a share, up from {prior} cts.\n\n"
    "The dividend is payable on {pay} to shareholders of record on {record}, the company said.\n\n"
    "{company} earned {net} mln dlrs in the year to December, against {prev} mln dlrs a year earlier.\n\n"
    "Sales rose {pct} pct to {sales} mln dlrs, the company said in a statement."
)


def _report(doc_id: str, **facts: str) -> Document:
    return Document(doc_id, TEMPLATE.format(**facts))


def test_same_wording_with_other_figures_is_template_not_derived():
    first = _report("acme", company="Acme Corp", div="11", prior="10", pay="April 1", record="March 9",
                    net="12.5", prev="10.1", pct="8", sales="140.2")
    second = _report("bolt", company="Bolt Inc", div="24", prior="20", pay="May 15", record="April 30",
                     net="3.1", prev="2.7", pct="12", sales="41.9")
    result = scan([first, second], related=True)
    assert [p.relation for p in result.pairs] == ["template"]
    assert scan([first, second]).pairs == []  # not listed without --related: not derived


def test_same_report_with_one_figure_corrected_is_near_duplicate():
    facts = dict(company="Acme Corp", div="11", prior="10", pay="April 1", record="March 9",
                 net="12.5", prev="10.1", pct="8", sales="140.2")
    first = _report("acme", **facts)
    corrected = _report("acme-corrected", **{**facts, "sales": "142.0"})
    result = scan([first, corrected], related=True)
    assert [p.relation for p in result.pairs] == ["near_duplicate"]


def test_figures_added_or_dropped_in_a_copy_are_not_a_template():
    # Copy-editing adds or drops a figure ("up from 10 cts" cut, a year inserted); a template
    # replaces them. Every sentence below keeps its figures and gains or loses one.
    facts = dict(company="Acme Corp", div="11", prior="10", pay="April 1", record="March 9",
                 net="12.5", prev="10.1", pct="8", sales="140.2")
    first = _report("acme", **facts)
    edited = Document("acme-edited", first.text
                      .replace("up from 10 cts", "up from 10 cts in 1986")
                      .replace("on April 1 to", "on April 1, 1987, to")
                      .replace("against 10.1 mln dlrs a year earlier", "against the year before")
                      .replace("Sales rose 8 pct", "Sales rose 8 pct or 11 mln dlrs"))
    result = scan([first, edited], related=True)
    assert [p.relation for p in result.pairs] == ["near_duplicate"]


def test_values_written_as_words_and_moved_dates_fill_a_template():
    notice = "{company} said its quarterly dividend is {div} cts a share.\n\nPay April {pay}.\n\nRecord {record}."
    first = Document("acme", notice.format(company="Acme Corp", div="three", pay="six", record="March 20"))
    second = Document("bolt", notice.format(company="Bolt Inc", div="40", pay="10", record="June 20"))
    result = scan([first, second], related=True)
    assert [p.relation for p in result.pairs] == ["template"]


def test_dates_and_datelines():
    assert parse_date("26-FEB-1987 15:01:01.79").date().isoformat() == "1987-02-26"
    assert parse_date("2025-06-26T10:00:00Z").date().isoformat() == "2025-06-26"
    assert parse_date("not a date") is None
    assert dateline_date("Seoul\n\nJune 26, 2025\n\nNorth Korea plans").date().isoformat() == "2025-06-26"
    assert dateline_date("No date in this text at all.") is None


def test_clusters_are_connected_components():
    labels = clusters(6, [(0, 1), (1, 2), (4, 5)])
    assert labels[0] == labels[1] == labels[2]
    assert labels[4] == labels[5] != labels[0]
    assert labels[3] == -1
    assert set(np.unique(labels[labels >= 0])) == {0, 1}


def test_same_day_direction_reason_shows_the_times():
    from dedup.relate import direction

    early = Document("early", "x", date="2004-12-08T04:05:59+00:00")
    late = Document("late", "y", date="2004-12-08T06:34:29+00:00")
    source, derivative, reason = direction(late, early, "y", "x")
    assert (source, derivative) == ("early", "late")
    assert "04:05" in reason and "06:34" in reason
    next_day = Document("next", "z", date="2004-12-09")
    assert direction(early, next_day, "x", "z")[2] == "date field: 2004-12-08 before 2004-12-09"


def test_dated_derivative_that_is_mostly_new_text_is_partial_and_a_cut_down_copy_is_not():
    """Both pairs have one side covered and the other not; the dates say which is the derivative."""
    from pathlib import Path

    seeds = Path(__file__).resolve().parent.parent / "seeds"
    source = (seeds / "000_b7963910c6951773.txt").read_text(encoding="utf-8")
    host = (seeds / "003_7edcfdb596ca73d0.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in source.split("\n\n") if p.strip()]
    short_item = "\n\n".join(paragraphs[:4])  # a short wire item ...
    pasted = host + "\n\n" + short_item  # ... pasted whole into a longer story
    cut_down = "\n\n".join(paragraphs[:len(paragraphs) // 3])  # the first third of 000, nothing added

    wire = Document("wire", short_item, date="2025-06-26")
    paste = Document("paste", pasted, date="2025-06-27")
    [pair] = scan([wire, paste]).pairs
    assert (pair.source, pair.derivative, pair.relation) == ("wire", "paste", "partial")
    undated = scan([Document("wire", short_item), Document("paste", pasted)]).pairs
    assert [p.relation for p in undated] == ["near_duplicate"]  # no dates: coverage alone decides

    full = Document("full", source, date="2025-06-26")
    cut = Document("cut", cut_down, date="2025-06-27")
    [pair] = scan([full, cut]).pairs
    assert (pair.source, pair.derivative) == ("full", "cut")
    assert pair.relation == "near_duplicate" and pair.coverage_a < 0.6


def test_a_copy_credited_to_another_outlet_is_exact_though_its_source_loses_a_footer():
    """The footer recurs across one outlet's documents, so the cleaner drops it there only."""
    footer = "Acme Wire is read in forty harbour towns every morning."
    stories = [f"Story {k}: the council voted {k} times on the budget of the harbour {'district ' * k}today."
               for k in range(1, 7)]
    docs = [Document(f"wire-{k}", f"{story}\n\n{footer}", source="Acme Wire") for k, story in enumerate(stories)]
    copied_text = docs[0].text
    docs.append(Document("copy", copied_text, source="Other Daily"))
    result = scan(docs, related=True)
    pair = next(p for p in result.pairs if {p.a, p.b} == {"wire-0", "copy"})
    assert footer not in result.cleaned["wire-0"] and footer in result.cleaned["copy"]
    assert pair.relation == "exact"
