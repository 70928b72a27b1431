"""Clean stage: the real seed pages, generated page shapes, and corpus boilerplate."""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

from dedup.clean import Cleaner, clean_text, clean_with_offsets

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def assert_shape(cleaned: str) -> None:
    """One paragraph per block, single blank line between, nothing around."""
    assert cleaned == cleaned.strip()
    assert "\n\n\n" not in cleaned
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs(cleaned))


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_output_shape_and_ascii_punctuation(prefix: str) -> None:
    cleaned = clean_text(seed(prefix))
    assert_shape(cleaned)
    assert not re.search("[\u2018\u2019\u201c\u201d\u2013\u2014\u00a0]", cleaned)
    assert "  " not in cleaned


def test_seed_003_web_page_loses_menus_widgets_and_footer() -> None:
    cleaned = clean_text(seed("003"))
    lines = set(paragraphs(cleaned))
    for furniture in ("Privacy policy", "Sign in", "Top stories", "Sitemap", "Subscribe to newsletter",
                      "Israel-Hamas war", "Français", "Comments", "2 min read", "Video poster", "Follow us"):
        assert furniture not in cleaned, furniture
    assert not re.search(r"\b0 comments\b", cleaned)
    assert "Report: Thousands of North Korean troops deployed to Russia" in lines
    assert any(p.startswith("About 5,000 North Korean soldiers have been deployed to Russia") for p in lines)
    assert cleaned.rstrip().endswith("engage with the North Korean leader.")
    # the caption printed twice (second time with a credit glued on) is kept once
    assert cleaned.count("inspecting the headquarters of the 11th Corps") == 1


@pytest.mark.parametrize("prefix, last_body", [
    ("002", "beyond weapons shipments."),
    ("004", "could begin as early as July or August."),
])
def test_seeds_002_004_lose_author_bio_but_keep_last_body_paragraph(prefix: str, last_body: str) -> None:
    cleaned = clean_text(seed(prefix))
    for furniture in ("Read full bio", "Advertisement", "You Might Also Like", "award-winning journalist",
                      "English news editor", "Evelyn Nakamura", "Mooyoung Lee"):
        assert furniture not in cleaned, furniture
    assert any(p.endswith(last_body) for p in paragraphs(cleaned))


def test_seed_004_caption_repeated_with_other_spelling_kept_once() -> None:
    cleaned = clean_text(seed("004"))
    assert cleaned.count("is seen holding back tears") == 1
    assert "63.3 F" not in cleaned  # weather widget
    assert "North Korea may soon send up to 30,000 troops to Russia, Ukraine says" in paragraphs(cleaned)


def test_seed_000_markdown_gone_broken_sentence_joined_headline_kept() -> None:
    cleaned = clean_text(seed("000"))
    first = paragraphs(cleaned)[0]
    assert first == "North Korea to Send More Troops to Russia, South Korean Intelligence Says"
    assert "announced a second deployment of 4,000 troops" in cleaned
    for markup in ("#", "**", "](", "http", "Original url", "Related article", "<"):
        assert markup not in cleaned, markup
    assert "By AFP" in paragraphs(cleaned)
    assert cleaned.endswith("but did not provide details.")


def test_seed_001_plain_prose_only_quotes_change() -> None:
    raw = seed("001")
    expected = raw.replace("\u2019", "'").strip().split("\n")
    assert paragraphs(clean_text(raw)) == expected


# --------------------------------------------------------------------------- generated page shapes


def test_normalisation_quotes_dashes_spaces_nfkc() -> None:
    text = "\u201cWe\u2019re ready\u201d \u2014 he said\u00a0on  Tuesday \u2013 at 10\u202fam. \ufb01ne \u2460"
    assert clean_text(text) == "\"We're ready\" - he said on Tuesday - at 10 am. fine 1"


def test_ascii_fast_path_equals_the_general_normalisation() -> None:
    """ASCII texts skip NFKC and map through bytes.translate: the same as the general path."""
    import unicodedata

    from dedup import clean

    def general(text: str) -> str:
        text = unicodedata.normalize("NFKC", clean._CRLF.sub("\n", clean._fix_mojibake(text)))
        return text.translate(clean._CHAR_MAP)

    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)] + list("ab \n\r\t`\x03\x0b\x0c") * 8
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        assert clean._normalise_chars(text) == general(text), repr(text)
    assert clean._normalise_chars("a\r\nb\rc`d\x03") == "a\nb\nc'd"


def test_end_patterns_read_from_the_tail_as_from_the_whole_line() -> None:
    """_ends_with looks for the end-anchored continuation patterns in a line's last characters
    only (unless that tail is one run of a word's letters): the same answers as searching the
    whole line, including lower-case words longer than the tail and a trailing newline."""
    from dedup import clean

    rng = random.Random(11)
    alphabet = list("abcxyz") * 6 + list("'- ,;.\nA1")
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(120))) for _ in range(4000)]
    word = "a" * (2 * clean._TAIL)
    lines += [word, "x " + word, "X" + word, "1" + word, word + "\n", "'" + word, "-" + word + "-", word + ","]
    for pattern in (clean._ENDS_MID_STRICT, clean._ENDS_MID_LOOSE, clean._HYPHEN_BREAK):
        for line in lines:
            assert clean._ends_with(pattern, line) == (pattern.search(line) is not None), (pattern.pattern, line)


def test_empty_and_whitespace_only_texts() -> None:
    assert clean_text("") == ""
    assert clean_text(" \n\n \t\n") == ""


def test_widget_lines_go_short_real_sentences_stay() -> None:
    text = "\n\n".join([
        "Mayor resigns after audit",
        "5 min read",
        "Share on Facebook",
        "The mayor resigned on Monday after an audit found missing funds.",
        "- Advertisement -",
        "He denied wrongdoing.",
        "It rained.",
        "Sign up for our daily newsletter",
        "Read more: Council budget approved",
        "12 comments",
        "All rights reserved.",
    ])
    assert paragraphs(clean_text(text)) == [
        "Mayor resigns after audit",
        "The mayor resigned on Monday after an audit found missing funds.",
        "He denied wrongdoing.",
        "It rained.",
    ]


def test_menu_runs_go_but_tables_and_announced_lists_stay() -> None:
    menu = "\n".join(f"* {w}" for w in ["Home", "World", "Business", "Sport", "Weather"])
    text = "\n\n".join([
        menu,
        "Council approves budget",
        "The council approved the budget, with these changes:",
        "- Raise parking fees\n- Close two libraries\n- Hire more teachers",
        "Shr 34 cts vs 1.19 dlrs\nNet 807,000 vs 2,858,000\nRevs 12.1 mln vs 11.0 mln",
        "Opinion\nCulture\nTravel\nPodcasts",
    ])
    cleaned = clean_text(text)
    assert not any(w in cleaned for w in ("Home", "Weather", "Podcasts", "Culture"))
    for kept in ("Council approves budget", "Raise parking fees", "Hire more teachers",
                 "Shr 34 cts vs 1.19 dlrs", "Revs 12.1 mln vs 11.0 mln"):
        assert kept in paragraphs(cleaned), kept


def test_bio_goes_after_name_line_or_at_end_but_not_in_body() -> None:
    body = ("Police detained two people on Friday after a protest outside the ministry, officials said, "
            "adding that an investigation into the clashes had been opened by the city prosecutor.")
    in_body = ("Jane Roe is a reporter for a local radio station who was detained by police on Friday "
               "while covering the protest, her employer said.")
    bio = ("Jane Roe is a senior correspondent covering security and justice. "
           "She previously worked in Lagos and Nairobi.")
    text = "\n\n".join([body, in_body, body.replace("Friday", "Saturday"), "Jane Roe", bio, "Read full bio"])
    cleaned = paragraphs(clean_text(text))
    assert in_body in cleaned
    assert bio not in cleaned and "Jane Roe" not in cleaned
    tail_bio = "John Doe is a freelance journalist based in Kyiv."
    assert paragraphs(clean_text(f"{body}\n\n{tail_bio}")) == [body]


def test_repeated_lines_keep_first() -> None:
    caption = "Rescue workers search the rubble of a collapsed building in the city centre on Monday."
    text = "\n".join(["Quake hits city", "Staff Reporter", "Staff Reporter", caption, caption + " Photo/AP",
                      "Rescuers worked through the night, the fire service said.", caption])
    assert paragraphs(clean_text(text)) == [
        "Quake hits city", "Staff Reporter", caption, "Rescuers worked through the night, the fire service said."
    ]


def test_markdown_link_text_kept_target_dropped() -> None:
    text = ("## Talks resume\n\nThe [foreign ministry](https://example.org/fm) said **talks** would resume, "
            "see <https://example.org/x> and https://example.org/y for _details_.\n\n![photo](img.png)")
    assert clean_text(text) == (
        "Talks resume\n\nThe foreign ministry said talks would resume, see and for details."
    )


def test_broken_lines_joined_even_across_blank_line_but_not_new_sentences() -> None:
    text = "The minister said the plan was\n\napproved on Monday, and that\nwork starts soon.\n\nIt will cost more."
    assert paragraphs(clean_text(text)) == [
        "The minister said the plan was approved on Monday, and that work starts soon.",
        "It will cost more.",
    ]
    assert paragraphs(clean_text("Talks collapsed\n\nThe union said.")) == ["Talks collapsed", "The union said."]


def test_hard_wrapped_wire_copy_is_unwrapped_by_indentation() -> None:
    rng = random.Random(7)
    words = "the company said it expects higher sales and earnings in the coming quarter".split()

    def wrapped_paragraph(first_indent: str) -> str:
        text = " ".join(rng.choice(words) for _ in range(60)).capitalize() + "."
        lines, line = [], ""
        for word in text.split():
            if len(line) + len(word) + 1 > 65:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        return first_indent + "\n".join(lines)

    paras = [wrapped_paragraph(""), wrapped_paragraph("    "), wrapped_paragraph("    ")]
    cleaned = paragraphs(clean_text("\n".join(paras) + "\n Reuter"))
    assert cleaned[:3] == [" ".join(p.split()) for p in paras]
    assert cleaned[3] == "Reuter"


# --------------------------------------------------------------------------- corpus boilerplate


def make_corpus(n: int, seed_: int = 3) -> list[str]:
    """Distinct generated articles that share nothing but what a test adds to them."""
    rng = random.Random(seed_)
    nouns = ["council", "port", "bank", "river", "school", "mine", "court", "airport", "union", "farm"]
    verbs = ["closed", "opened", "expanded", "sold", "rebuilt", "inspected", "fined", "praised"]
    docs = []
    for i in range(n):
        sents = [
            f"The {rng.choice(nouns)} in district {i} was {rng.choice(verbs)} on day {rng.randint(1, 28)}"
            f" after {rng.randint(2, 900)} residents {rng.choice(verbs)} the plan." for _ in range(4)
        ]
        docs.append("\n\n".join([f"Story number {i} about the {rng.choice(nouns)}", *sents]))
    return docs


FOOTER = "Copyleft notice: this story may be freely reproduced by member newspapers."


def test_cleaner_removes_footer_repeated_across_documents() -> None:
    docs = make_corpus(10)
    docs = [f"{d}\n\n{FOOTER}" for d in docs]
    shared = "The minister will visit the region again next spring, officials said."
    docs[0] += f"\n\n{shared}"
    docs[1] += f"\n\n{shared}"
    cleaner = Cleaner(min_docs=5)
    out = cleaner.fit_transform(docs, ["Wire"] * 10)
    assert len(cleaner.boilerplate_lines_) == 1
    assert all(FOOTER not in d for d in out)
    assert shared in out[0] and shared in out[1]
    assert all(d.startswith(f"Story number {i} ") for i, d in enumerate(out))
    assert out == cleaner.transform(docs, ["Wire"] * 10)
    assert cleaner.removed_lines(docs[:3], ["Wire"] * 3) == [FOOTER]
    for d in out:
        assert_shape(d)


def test_cleaner_learns_nothing_below_min_docs() -> None:
    docs = [f"{d}\n\n{FOOTER}" for d in make_corpus(4)]
    cleaner = Cleaner(min_docs=5).fit(docs)
    assert len(cleaner.boilerplate_lines_) == 0
    assert all(FOOTER in d for d in cleaner.transform(docs))


def test_cleaner_counts_per_source() -> None:
    docs = make_corpus(40)
    sources = ["A"] * 20 + ["B"] * 20
    # the footer is in every A document, but in only 1 of the 20 B documents
    docs = [f"{d}\n\n{FOOTER}" if s == "A" or i == 20 else d for i, (d, s) in enumerate(zip(docs, sources))]
    cleaner = Cleaner(min_docs=5, max_doc_share=0.1)
    out = cleaner.fit_transform(docs, sources)
    assert all(FOOTER not in d for d in out[:20])
    assert FOOTER in out[20]
    pooled = Cleaner(min_docs=5, max_doc_share=0.1, by_source=False).fit_transform(docs, sources)
    assert all(FOOTER not in d for d in pooled)


def test_cleaner_share_threshold_keeps_lines_in_few_documents() -> None:
    docs = make_corpus(200)
    common = "Shares were unchanged in early trading on the local exchange."
    docs = [f"{d}\n\n{common}" if i % 25 == 0 else d for i, d in enumerate(docs)]  # 8 of 200 = 4%
    cleaner = Cleaner(min_docs=5, max_doc_share=0.05).fit(docs)
    assert len(cleaner.boilerplate_lines_) == 0
    assert isinstance(cleaner.boilerplate_lines_, np.ndarray)
    assert len(Cleaner(min_docs=5, max_doc_share=0.02).fit(docs).boilerplate_lines_) == 1


def test_cleaner_rejoins_sentence_split_by_removed_line() -> None:
    docs = [f"{d}\n\nThe mayor said plan {i} was\n\n{FOOTER}\n\napproved by council {i}."
            for i, d in enumerate(make_corpus(8))]
    out = Cleaner(min_docs=5).fit_transform(docs)
    assert all(f"The mayor said plan {i} was approved by council {i}." in d for i, d in enumerate(out))


def test_cleaner_errors() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        Cleaner().transform(["text"])
    with pytest.raises(ValueError, match="sources"):
        Cleaner().fit(["a", "b"], ["x"])


# --------------------------------------------------------------------------- offsets


def assert_offsets_point_at_words(original: str, cleaned: str, offsets: np.ndarray) -> None:
    assert offsets.shape == (len(cleaned),)
    assert (np.diff(offsets) >= 0).all()
    for match in re.finditer(r"[^\W_]+", cleaned):
        start, end = offsets[match.start()], offsets[match.end() - 1] + 1
        assert original[start:end].lower() == match.group(0).lower(), match.group(0)


@pytest.mark.parametrize("prefix", ["000", "003", "004"])
def test_offsets_map_cleaned_words_back_to_seed_text(prefix: str) -> None:
    raw = seed(prefix)
    cleaned, offsets = clean_with_offsets(raw)
    assert cleaned == clean_text(raw)
    assert_offsets_point_at_words(raw, cleaned, offsets)


def test_offsets_skip_markup_and_removed_lines() -> None:
    raw = "# Title\n\nSee [the report](http://x.org/r) \u201cnow\u201d.\n\nAdvertisement\n\nThe end."
    cleaned, offsets = clean_with_offsets(raw)
    assert cleaned == 'Title\n\nSee the report "now".\n\nThe end.'
    assert_offsets_point_at_words(raw, cleaned, offsets)
    assert raw[offsets[cleaned.index("The end")]:].startswith("The end.")
    assert clean_with_offsets("")[1].size == 0


def test_cleaner_output_is_the_same_on_worker_processes():
    """Chunks cleaned in workers, then one fit on their line hashes: same as one process."""
    footer = "Reporting by the wire desk; editing by the night shift."
    texts = [f"Story {k} says the council met on day {k} to vote.\n\nThe vote passed by {k % 7} votes.\n\n{footer}"
             for k in range(1200)]
    sources = ["wire" if k % 3 else "paper" for k in range(1200)]
    serial = Cleaner().fit_transform(texts, sources, jobs=1)
    assert Cleaner().fit_transform(texts, sources, jobs=2) == serial
    assert all(footer not in text for text in serial)
    assert serial[1].startswith("Story 1 says")


def test_fast_paths_equal_the_patterns_they_skip() -> None:
    """The non-ASCII character map (a substitution, not str.translate), the empty-bracket check
    and the double-space check give what the plain patterns give, on texts dense in the
    characters they look for."""
    from dedup import clean

    rng = random.Random(11)
    alphabet = [*map(chr, clean._CHAR_MAP), "a", "B", " ", "  ", "\n", "(", ")", "[", "]", "\u00e9", "\u4e00",
                "\u2003", "\u00a0", "x"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert clean._MAPPED_CHAR.sub(clean._map_char, text) == text.translate(clean._CHAR_MAP)
        assert clean._has_empty_brackets(text) == bool(clean._EMPTY_BRACKETS.search(text))
        spaced = clean._INNER_SPACES.sub(" ", text)
        assert ("  " in text) or spaced == text
    assert clean._has_empty_brackets("see ( \u2003 ) and [x]") and not clean._has_empty_brackets("(a) [b]")


def test_per_line_shortcuts_equal_the_patterns_they_skip() -> None:
    """A line opening with a letter has no `_PREFIX` and has a word (so `_units` skips both
    regexes), a line that does not open with a-z is no `_STARTS_LOWER` continuation, and an
    ASCII document's keys taken in one call are the per-line `line_key`s."""
    from dedup import clean

    rng = random.Random(5)
    alphabet = ["a", "Z", "\u00e9", "\u03a3", "\u0130", "\u4e00", "\u0661", "5", "_", "-", "*", "#", ">", " ",
                ".", ")", "\u2022", "\u00b7", "'", "\u2160"]
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if line[0].isalpha():
            assert clean._PREFIX.match(line) is None and clean._HAS_WORD.search(clean._TRAILING_HASHES.sub("", line))
        if not "a" <= line[:1] <= "z":
            assert clean._STARTS_LOWER.match(line) is None
    for _ in range(300):
        lines = ["".join(rng.choice(alphabet[:3] + alphabet[7:]) for _ in range(rng.randint(0, 12)))
                 for _ in range(rng.randint(0, 5))]
        ascii_lines = [line.encode("ascii", "ignore").decode() for line in lines]
        for group in (lines, ascii_lines):
            assert clean._line_keys(group) == [clean.line_key(line) for line in group]


def test_paragraph_keys_are_the_line_keys_of_the_kept_paragraphs() -> None:
    """`_cleaned` carries each paragraph's key from the repeat test to the boilerplate hashes, so
    a paragraph dropped as a bio must take its key with it."""
    from dedup import clean

    page = ("The council approved the budget on Monday after a long debate about schools, roads and the "
            "cost of the new library.\n\nThe vote was 7 to 2, and the mayor said the plan would be revised in "
            "the spring session of the council.\n\nJane Doe\n\n"
            "Jane Doe is a reporter covering city hall for the paper since 2015.")
    for text in (page, seed("003"), seed("004"), ""):
        paras, keys = clean._cleaned(text)
        assert keys == [clean.line_key(p) for p in paras]
        assert paras == clean._clean_paragraphs(text)
    assert len(clean._cleaned(page)[0]) == 2  # the name line and the bio went
