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


def test_sentence_store_slices_folded_texts_and_folds_the_rest() -> None:
    """A cleaned ASCII text's spans are sliced as they are; any other text is folded: both
    give what `split_sentences` gives."""
    import random

    from dedup.verify import SentenceStore, _spans_folded, packed_spans

    rng = random.Random(3)
    words = ["Mr.", "Smith", "said", "U.S.", "rates", "rose", "3.5%.", "It", "fell.", "Café", "\u00a0", "\u2003"]
    spaces = [" ", " ", " ", "  ", "\n", "\n\n", "\n\n\n", "\t", "\r", "\x0b", "\x1c", " \n\n "]
    texts = ["Prices rose. Then they fell.\n\nA new paragraph here. And more."]
    for _ in range(3000):
        parts = []
        for _ in range(rng.randrange(1, 25)):
            parts += [rng.choice(words), rng.choice(spaces if rng.random() < 0.2 else [" "])]
        texts.append("".join(parts).strip())
    store = SentenceStore(texts)
    for k, text in enumerate(texts):
        store.put(k, packed_spans(text))
    assert _spans_folded(texts[0]) and any(not _spans_folded(t) for t in texts)
    for k, text in enumerate(texts):
        expected = split_sentences(text)
        assert store.texts(k) == [s.text for s in expected], repr(text)
        assert [(s.text, s.start, s.end) for s in store[k]] == [(s.text, s.start, s.end) for s in expected]
