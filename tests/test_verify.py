"""Sentence splitting: what every alignment is built on."""
from __future__ import annotations

from dedup.verify import paragraphs, split_sentences


def test_sentences_end_at_terminal_punctuation_before_a_capital_but_not_after_abbreviations():
    text = "Mr. Smith went to Washington. He met U.S. officials at 9 a.m. on Monday! Did it help? Yes."
    assert [s.text for s in split_sentences(text)] == [
        "Mr. Smith went to Washington.", "He met U.S. officials at 9 a.m. on Monday!", "Did it help?", "Yes."]


def test_offsets_point_into_the_text_and_whitespace_is_made_one_space():
    text = "  First   line\n continues here.\n\n\tSecond paragraph  \n\n"
    found = split_sentences(text)
    assert [s.text for s in found] == ["First line continues here.", "Second paragraph"]
    assert [text[s.start:s.end] for s in found] == ["First   line\n continues here.", "Second paragraph"]


def test_a_blank_line_ends_a_paragraph_even_after_one_character():
    """A break is whitespace holding two newlines (spaces and tabs between them too)."""
    text = "A\n\nB and more.\n \t\nlast words"
    assert list(paragraphs(text)) == [(0, "A"), (3, "B and more."), (18, "last words")]
    assert [s.text for s in split_sentences(text)] == ["A", "B and more.", "last words"]
    assert list(paragraphs(" \n\n \n")) == []


def test_has_figures_says_whether_the_template_test_sees_any_figure():
    from dedup.verify import _figures, has_figures

    for text in ["Pay April six", "Record June 15", "Qtly div three cts", "Shares rose.", "", "one_two", "2nd",
                 "THIRTY days", "It may rain", "Nothing here at all"]:
        assert has_figures(text) == bool(_figures(text)), text
    assert has_figures("THIRTY days") and not has_figures("Shares rose.")
