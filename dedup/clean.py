"""Clean stage: normalise characters, join broken lines, strip page boilerplate.

Everything downstream (sentence split, fingerprints, alignment, diffs) reads the
cleaned text, so cleaning decides what counts as "the article": menus, share and
comment widgets, ads, author bios and repeated captions would otherwise make two
pages of one site look alike, and broken lines would split sentences in two.

Two levels:

* `clean_text(text)`: one document, no corpus knowledge. Rules are general page
  shapes (runs of short menu lines, widget phrases, bios after a name line or at
  the end), never strings of particular sites.
* `Cleaner`: fitted on a corpus, it also drops whole lines that recur in many
  documents of the same source (footers, sign-offs, standing notes). Lines are
  kept as 64-bit hashes so a million documents cost 8 bytes per distinct
  document-line, not the strings.

Output shape: one paragraph per block, blocks separated by one blank line,
no leading or trailing whitespace.
"""
from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from dedup.jit import kernel

__all__ = ["clean_text", "clean_with_offsets", "Cleaner", "Prepared", "line_key", "prepare"]

# --------------------------------------------------------------------------- characters

# Curly quotes, primes and dashes to ASCII; zero-width characters out. NFKC already maps
# no-break and typographic spaces to " ", but not U+2028/2029 separators or these.
_CHAR_MAP = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        **dict.fromkeys("\u00a0\u2007\u202f\u3000\t\f\v", " "),
        **dict.fromkeys("\u2028\u2029\x85", "\n"),
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", None),
        # C0 controls other than tab/newline (Reuters-21578 ends texts with \x03).
        **dict.fromkeys([chr(c) for c in range(32) if chr(c) not in "\t\n\r"], None),
    }
)
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf\u2018-\u201e\u2020-\u2022\u2026\u20ac\u2122]")
_CRLF = re.compile(r"\r\n?")
# Two or more spaces after a non-space (leading indentation is kept: it marks paragraphs).
# Written to start with a literal space, which the regex engine scans for ~4x faster than
# the equivalent r"(?<=\S) {2,}".
_INNER_SPACES = re.compile(r" (?<=\S )  *")


def _fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as cp1252 ("Â£" -> "£"), as 646 of 2,225 BBC texts need.

    Only when the whole text round-trips; a text mixing good and bad characters is
    left alone rather than half-repaired.
    """
    if not _MOJIBAKE.search(text):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text


def _ascii_char_map() -> tuple[bytes, bytes]:
    """`_CHAR_MAP` restricted to ASCII, as a bytes.translate (table, deletions) pair."""
    table = bytearray(range(256))
    drop = bytearray()
    for code in range(128):
        to = _CHAR_MAP.get(code, code)
        if to is None:
            drop.append(code)
        else:
            table[code] = ord(to) if isinstance(to, str) else to
    return bytes(table), bytes(drop)


_ASCII_CHAR_TABLE, _ASCII_CHAR_DROP = _ascii_char_map()
# `_CHAR_MAP` as a substitution: str.translate looks every character of a non-ASCII text up
# in the dict (~130 ns each, 157 us a corpus-1m text), while almost none of those texts hold
# a mapped character (1 in 3,000 of corpus-1m's) and a character-class scan finds that in 11 us.
_CHAR_STRINGS = {chr(code): to or "" for code, to in _CHAR_MAP.items()}
_MAPPED_CHAR = re.compile("[" + "".join(re.escape(char) for char in sorted(_CHAR_STRINGS)) + "]")


def _map_char(match: re.Match) -> str:
    return _CHAR_STRINGS[match.group()]


def _normalise_chars(text: str) -> str:
    if text.isascii():
        # 93% of news texts: no mojibake, NFKC changes nothing, and bytes.translate maps
        # the ASCII part of _CHAR_MAP ~10x faster than str.translate's per-character dict.
        if "\r" in text:
            text = _CRLF.sub("\n", text)
        return text.encode("ascii").translate(_ASCII_CHAR_TABLE, _ASCII_CHAR_DROP).decode("ascii")
    text = _fix_mojibake(text)
    text = unicodedata.normalize("NFKC", _CRLF.sub("\n", text))
    return _MAPPED_CHAR.sub(_map_char, text)  # = text.translate(_CHAR_MAP), see _MAPPED_CHAR


# --------------------------------------------------------------------------- markdown / html

_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_MD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_AUTOLINK = re.compile(r"<(?:https?://|www\.|mailto:)[^>\s]*>", re.I)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_EMAIL = re.compile(r"[\[(<]?\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b[\])>]?")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>\n]*)?/?>")
_HTML_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|nbsp|#\d+|#x[0-9a-fA-F]+);")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_EM_UNDER = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_MD_CODE = re.compile(r"`([^`\n]*)`")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")

# Line prefix: markdown heading, blockquote, or bullet (markdown, typographic, numbered).
_PREFIX = re.compile(
    r"^\s*(?:#{1,6}\s+|(?:>\s?)+|(?P<bullet>[-*+\u2022\u25aa\u25cf\u25e6\u2023\u2043\u25a0\u25ba\u27a4\u2192\u00b7]"
    r"(?=\s)|\d{1,2}[.)](?=\s+\D)))\s*"
)
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")


def _inline_markup(text: str) -> str:
    """Markdown and HTML syntax out, the words they carry kept (link text, not target).

    Run once on the whole text; each pattern is skipped when its marker character is
    absent, which is the common case for plain wire copy.
    """
    if "&" in text:
        text = _HTML_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    if "[" in text:
        text = _MD_IMAGE.sub("", text)
        text = _MD_LINK.sub(r"\1", text)
        text = _MD_REF_LINK.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK.sub("", text)
        text = _HTML_TAG.sub("", text)
    if (":" in text and "://" in text) or "www." in text:  # one character is found ~2x faster than three
        text = _URL.sub("", text)
    if "@" in text:
        text = _EMAIL.sub("", text)
    if "*" in text or "_" in text:
        text = _MD_STRONG.sub(r"\2", text)
        text = _MD_EM_STAR.sub(r"\1", text)
        text = _MD_EM_UNDER.sub(r"\1", text)
    if "`" in text:
        text = _MD_CODE.sub(r"\1", text)
    if _has_empty_brackets(text):
        text = _EMPTY_BRACKETS.sub("", text)
    return _INNER_SPACES.sub(" ", text) if "  " in text else text  # 98% of texts have no double space


def _has_empty_brackets(text: str) -> bool:
    """Does `_EMPTY_BRACKETS` match somewhere? Tried only where a bracket opens: a third of
    news texts hold one, and the alternation scanned the whole text in ~10 us."""
    for opener in "([":
        at = text.find(opener)
        while at >= 0:
            if _EMPTY_BRACKETS.match(text, at):
                return True
            at = text.find(opener, at + 1)
    return False


# --------------------------------------------------------------------------- line classes

# A whole line (lower-cased, bullets/arrows/dashes around it stripped) that is a page widget.
# Phrases are generic page furniture seen on news sites, not any one site's strings.
_WIDGET = re.compile(
    r"""^(?:
      read\ (?:the\ )?(?:full|more)(?:\ (?:bio|biography|story|article|here))?(?:\W.*)?
    | continue\ reading.* | read\ next.* | more\ from\ .{0,60} | more\ (?:stories|news|on\ this\ story)
    | (?:story\ continues\ below\ )?advertisement(?:\W.{0,30})? | advertising | sponsored(?:\ content)? | ad
    | scroll\ (?:down\ )?to\ continue.* | skip\ (?:to\ )?(?:main\ )?content | skip\ ad
    | share(?:\ (?:this|the))?(?:\ (?:article|story|page|post|video))?(?:\ (?:on|via)\ \w+)?
    | (?:facebook|twitter|x|whatsapp|linkedin|telegram|reddit|pinterest|e-?mail|print|copy\ link|tweet|flipboard)
    | (?:\d+\ )?comments? | (?:this\ article\ )?(?:has\ )?received\ \d+\ comments?
    | (?:view|show|load|add|post|leave|see|read)\ (?:a\ |all\ |the\ |more\ |your\ )?comments?(?:\ \(\d+\))?
    | no\ comments(?:\ yet)? | be\ the\ first\ to\ comment | join\ the\ (?:conversation|discussion)
    | \d+\ (?:min|mins|minutes?)(?:\ read|\ watch|\ listen)? | reading\ time\W.{0,20} | listen\ to\ (?:this\ )?(?:article|story).{0,20}
    | sign\ (?:in|up|out)(?:\W.{0,40})? | log\ ?(?:in|out) | register | my\ account
    | subscribe(?:\W.{0,60})? | (?:sign\ up\ for|get)\ (?:our|the)\ (?:\w+\ )?newsletters?.{0,40} | newsletters?
    | (?:get|download)\ the\ .{0,30}\ app
    | you\ (?:might|may)\ (?:also\ )?(?:like|enjoy|be\ interested\ in).{0,20} | recommended(?:\ (?:for\ you|stories|articles|reading))?
    | related(?:\ (?:articles?|stories|story|news|content|coverage|reading|links?|topics?|posts?|videos?))?(?:\ *:.*)?
    | see\ also\W.* | most\ (?:read|popular|viewed|shared)(?:\W.{0,20})? | trending(?:\ now)? | editor'?s\ picks?
    | top\ stories | latest(?:\ news|\ stories)? | breaking\ news
    | follow\ us(?:\W.{0,40})? | connect\ with\ us | contact(?:\ us)? | about\ us | sitemap | careers?
    | (?:\(c\)|©|copyright)\W.{0,80} | .{0,60}all\ rights\ reserved\W{0,3}
    | privacy(?:\ (?:policy|notice|settings|center))? | cookies?(?:\ (?:policy|settings|preferences|list|notice))?
    | we\ use\ cookies.* | terms\ (?:of\ (?:use|service)|and\ conditions) | accessibility(?:\ \w+)?
    | (?:main\ )?menu | footer | content | navigation | search | home(?:\ page)? | back\ to\ top | close | open
    | video\ poster | (?:watch|play)(?:\ (?:video|now|live))? | video | photo | loading\W*
    | (?:photo|image|picture|video)s?(?:\ credit)?\s*[:/].{0,60}
    | (?:original|source)\ (?:url|link|article)\s*:?.*
    | (?:click|tap)\ here.*
    | -?\d{1,3}(?:\.\d)?\ ?°?\ ?[fc]
    )$""",
    re.X,
)
# Widgets after which the next title-like line is the linked item (a video or story title).
_INTRODUCER = re.compile(
    r"^(?:video\ poster|(?:watch|play)(?:\ video)?|video|related(?:\ \w+)?|read\ (?:more|next)|see\ also"
    r"|recommended.*|you\ (?:might|may)\ also\ like.*|more\ on\ this\ story)$",
    re.X,
)
_HAS_WORD = re.compile(r"[^\W_]")
# A figure: digits not glued to letters ("27", "1.19", "16th"), unlike a name such as "i24NEWS".
_NUMBER_TOKEN = re.compile(r"(?<![^\W\d_])\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s)?(?![^\W_])")
_SENTENCE_END = re.compile(r"[.!?]['\")\]]*$|[.!?]['\")\]]*\s")  # anywhere in the line
_ENDS_SENTENCE = re.compile(r"[.!?:]['\")\]]*$")
_WORD = re.compile(r"[^\W\d_][\w'-]*")


def _strip_edges(line: str) -> str:
    """`line` without the characters that are not `str.isalnum` at either end.

    Walks in from both ends: the regex it replaces (non-word characters anchored at the
    end) retried at every position of a long line and was the slowest step of cleaning.
    """
    start, end = 0, len(line)
    while start < end and not line[start].isalnum():
        start += 1
    while end > start and not line[end - 1].isalnum():
        end -= 1
    return line[start:end]


def _is_widget(line: str) -> bool:
    return bool(_WIDGET.match(_strip_edges(line).lower()))


def _menu_like(line: str, bullet: bool) -> int:
    """Word count of a short label line (not prose, no figures), else 0.

    Figures are excluded because table rows ("Shr 34 cts vs 1.19 dlrs", Reuters-21578)
    are runs of short lines too, and are content.
    """
    if len(line) > (90 if bullet else 50) or _NUMBER_TOKEN.search(line) or _SENTENCE_END.search(line):
        return 0
    words = len(_WORD.findall(line))
    return words if words <= (12 if bullet else 6) else 0


# Bio: "<Name> is a/an/the ... journalist/reporter/editor ..." (2-4 capitalised name words).
_BIO = re.compile(
    r"^(?!(?:The|A|An|This|That|These|Those|It|He|She|They|We|Our|His|Her|Its)\b)"
    r"(?P<name>(?:[A-Z][\w'.-]*\s+){1,3}[A-Z][\w'.-]*)\s+(?:is|has\s+been|serves\s+as|works\s+as)\s"
    r"(?P<first>[^.!?]*(?:\.(?=\S)[^.!?]*)*)"  # rest of the first sentence ("U.S." does not end it)
)
_BIO_ROLE = re.compile(
    r"\b(?:journalist|reporter|editor|correspondent|writer|columnist|commentator|contributor|author"
    r"|photographer|photojournalist|anchor|presenter|blogger|freelancer?|newsroom|analyst)s?\b",
    re.I,
)
_BYLINE = re.compile(r"^(?:by|written\s+by|reporting\s+by)\s+", re.I)

# Continuation across a break: previous ends in a lower-case word, a comma or semicolon
# (or a figure, when no blank line separates), next starts with a lower-case word.
_ENDS_MID_STRICT = re.compile(r"(?:(?<![\w'-])[a-z][a-z'-]*|[,;])$")
_ENDS_MID_LOOSE = re.compile(r"[\w,;]$")
_STARTS_LOWER = re.compile(r"^[a-z]+(?:['-][a-z]+)*(?=[\s,;:.!?]|$)")
_HYPHEN_BREAK = re.compile(r"[a-z]-$")
# _ENDS_MID_STRICT, _ENDS_MID_LOOSE and _HYPHEN_BREAK match only at a line's end: they are looked for in its last
# _TAIL characters. Only _ENDS_MID_STRICT's word can be longer, and then the whole tail is
# one run of its letters (_ONE_WORD_TAIL), the one case searched in the whole line.
_TAIL = 32
_ONE_WORD_TAIL = re.compile(r"[a-z'-]*\n?")


def _ends_with(pattern: re.Pattern, text: str) -> bool:
    """pattern.search(text) for one of the end-anchored patterns above, read from the tail
    (a match found there is a match of the text: its lookbehind still sees the characters
    before the tail). Searching the whole text re-read a paragraph each time a line joined
    it, quadratic in hard-wrapped paragraphs (Reuters-21578's): 15% of the clean stage's CPU
    on corpus-1m."""
    start = len(text) - _TAIL
    if start <= 0 or _ONE_WORD_TAIL.fullmatch(text, start):
        return pattern.search(text) is not None
    return pattern.search(text, start) is not None


class _KeyTable(dict):
    """str.translate table keeping letters and digits (lower-cased) and deleting the rest.

    Filled lazily per code point, so translation stays in C after the first sight of a
    character; a regex substitution was the slowest step of cleaning Reuters-21578.
    """

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value = char.lower() if char.isalnum() else None
        self[code] = value
        return value


_KEY_TABLE = _KeyTable()


_ASCII_NON_ALNUM = bytes(c for c in range(128) if not chr(c).isalnum())


def line_key(line: str) -> str:
    """Comparison key of a line: lower-case letters and digits only.

    "Kim Jong Un" and "Kim Jong-un" captions compare equal; so do "- Advertisement -" and
    "Advertisement". An ASCII line takes a bytes fast path (same result, ~5x faster).
    """
    if line.isascii():
        return line.encode("ascii").translate(None, _ASCII_NON_ALNUM).lower().decode("ascii")
    return line.translate(_KEY_TABLE)


_ASCII_NON_ALNUM_BUT_NEWLINE = _ASCII_NON_ALNUM.replace(b"\n", b"")


def _line_keys(lines: list[str]) -> list[str]:
    """`[line_key(line) for line in lines]` for lines holding no newline: an ASCII document's
    lines translated in one call, not one call (and four conversions) per line."""
    joined = "\n".join(lines)
    if not lines or not joined.isascii():
        return [line_key(line) for line in lines]
    return joined.encode("ascii").translate(None, _ASCII_NON_ALNUM_BUT_NEWLINE).lower().decode("ascii").split("\n")


# --------------------------------------------------------------------------- hard wraps


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _unwrap(lines: list[str]) -> list[list[str]]:
    """Group physical lines into logical lines, undoing fixed-width wrapping.

    Detected per document: a wrapped text has a narrow width (most lines near one
    length, at most ~100 chars); Reuters-21578 wraps at ~70 and marks paragraphs by
    indentation, other wrapped texts by a blank line or a short last line.
    Returns groups of raw lines; a blank line is an empty group.
    """
    lengths = sorted(map(len, filter(None, lines)))
    width = lengths[int(0.9 * (len(lengths) - 1))] if len(lengths) >= 3 else 0
    if not 40 <= width <= 100:  # too few lines to tell, or a width no wrapping gives: 97% of corpus-1m's texts
        return [[s] if s else [] for s in lines]
    indents = list(map(_indent, lines))
    base = min(i for s, i in zip(lines, indents) if s)
    by_indent = any(i > base for s, i in zip(lines, indents) if s)
    full_lines = len(lengths) - bisect.bisect_left(lengths, 0.8 * width)
    # Most lines near the width; or, where indentation marks paragraphs, a few full
    # lines among short table rows (Reuters-21578 earnings reports with notes).
    wrapped = lengths[len(lengths) // 2] >= 0.6 * width or (by_indent and full_lines >= 2)
    if wrapped and not by_indent:
        # Wrapping cuts mid-sentence: most full lines end without a sentence end. Text
        # with one short paragraph per line (captions, one-sentence paragraphs) does not.
        full = [s for s in lines if len(s) >= 0.6 * width]
        wrapped = sum(1 for s in full if not _ENDS_SENTENCE.search(s)) > 0.5 * len(full)
    if not wrapped:
        return [[s] if s else [] for s in lines]
    groups: list[list[str]] = []
    current: list[str] = []
    prev_len = 0
    for s, indent in zip(lines, indents):
        if not s:
            if current:
                groups.append(current)
                current = []
            groups.append([])
            continue
        if current and (
            (indent > base if by_indent else prev_len < 0.6 * width) or _PREFIX.match(s) is not None
        ):
            groups.append(current)
            current = []
        current.append(s)
        prev_len = len(s)
    if current:
        groups.append(current)
    return groups


# --------------------------------------------------------------------------- per document


class _Unit:
    """One logical line while cleaning: its text and what its markup said about it."""

    __slots__ = ("text", "bullet", "blank_before")

    def __init__(self, text: str, bullet: bool, blank_before: bool) -> None:
        self.text = text
        self.bullet = bullet
        self.blank_before = blank_before


def _units(text: str) -> list[_Unit]:
    """Normalised logical lines, markup stripped; empty ones dropped (blank gaps remembered)."""
    text = _inline_markup(_normalise_chars(text))
    units: list[_Unit] = []
    blank = False
    for group in _unwrap([s.rstrip() for s in text.split("\n")]):
        if not group:
            blank = True
            continue
        first = group[0]
        # A line opening with a letter (most do) has no prefix, and has a word whatever
        # _TRAILING_HASHES removes: both regexes are skipped, with the same result.
        plain = first[0].isalpha()
        if plain:
            bullet = False
        else:
            prefix = _PREFIX.match(first)
            bullet = prefix is not None and prefix.group("bullet") is not None
            first = first[prefix.end() :] if prefix else first.lstrip()
        line = " ".join([first, *(s.lstrip() for s in group[1:])]) if len(group) > 1 else first
        if "#" in line:
            line = _TRAILING_HASHES.sub("", line)
        if not plain and not _HAS_WORD.search(line):  # symbols, rules, a URL-only line
            continue
        units.append(_Unit(line, bullet, blank))
        blank = False
    return units


def _drop_widgets(units: list[_Unit]) -> list[_Unit]:
    """Widget lines out, and the title a "Video"/"Related" widget introduces."""
    kept: list[_Unit] = []
    skip_title = False
    for unit in units:
        if len(unit.text) <= 200 and _is_widget(unit.text):
            skip_title = bool(_INTRODUCER.match(_strip_edges(unit.text).lower()))
            continue
        if skip_title and len(_WORD.findall(unit.text)) <= 15 and not _SENTENCE_END.search(unit.text):
            skip_title = False
            continue
        skip_title = False
        kept.append(unit)
    return kept


def _drop_menus(units: list[_Unit]) -> list[_Unit]:
    """Runs of short label lines are navigation.

    A run is 3+ bullets averaging at most 4 words, or 4+ labels averaging at most 2.5
    words (menus are one- or two-word links; on BBC News, content lists of fixtures,
    awards or court orders average 3.5 words and more). Blank lines do not break a run
    (menus come in groups under small headings); prose or figures do. A list announced
    by a line ending in ":" is content, and so are plain lines after a run's last
    bullet (a short headline right under the navigation).
    """
    words = [_menu_like(u.text, u.bullet) for u in units]
    if not any(words):  # most documents: no label line, so no run to weigh
        return units
    drop = np.zeros(len(units), dtype=bool)
    start, n = 0, len(units)
    while start < n:
        if not words[start]:
            start += 1
            continue
        end = start
        while end < n and words[end]:
            end += 1
        run_end = end
        bullets = sum(u.bullet for u in units[start:end])
        if bullets:  # plain lines after the last bullet are a headline, not the menu
            while not units[end - 1].bullet:
                end -= 1
        size = end - start
        mean_words = sum(words[start:end]) / size
        announced = start > 0 and units[start - 1].text.endswith(":")
        if not announced and ((bullets >= 3 and mean_words <= 4) or (size >= 4 and mean_words <= 2.5)):
            drop[start:end] = True
        start = run_end
    return [u for u, d in zip(units, drop) if not d]


def _join_continuations(units: list[_Unit], across_blanks: bool) -> list[_Unit]:
    """Join a line to the previous one when a sentence was broken between them.

    The next line must start with a lower-case word (not a bullet, not "i24NEWS"). With
    no blank line between, the previous may end in any word, figure or comma; across a
    blank line only in a lower-case word, comma or semicolon ("announced a\n\nsecond").
    """
    out: list[_Unit] = []
    for unit in units:
        # The first letter is tested before _STARTS_LOWER: most lines fail there, cheaply.
        if (out and not unit.bullet and (across_blanks or not unit.blank_before)
                and "a" <= unit.text[:1] <= "z" and _STARTS_LOWER.match(unit.text)):
            prev = out[-1]
            if _ends_with(_HYPHEN_BREAK, prev.text) and not unit.blank_before:
                prev.text += unit.text
                continue
            if _ends_with(_ENDS_MID_STRICT if unit.blank_before else _ENDS_MID_LOOSE, prev.text):
                prev.text = f"{prev.text} {unit.text}"
                continue
        out.append(unit)
    return out


def _join_paragraphs(paragraphs: list[str]) -> list[str]:
    """`_join_continuations` for finished paragraphs (blank line between each)."""
    units = [_Unit(p, False, True) for p in paragraphs]
    return [u.text for u in _join_continuations(units, across_blanks=True)]


def _drop_repeats(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Keep the first of repeated lines (bylines, captions printed twice).

    Adjacent repeats go whatever their length, and so does a line that only adds a
    credit to the one before ("<caption>AFP/KCNA"). Distant repeats go only from 8 words
    up: shorter table rows repeat legitimately (Reuters-21578 quarter and year tables
    share rows such as "Avg shrs 13.9 mln vs 13.8 mln"). Returns the kept lines and their
    `line_key`s (which the boilerplate hashes use too).
    """
    kept: list[str] = []
    kept_keys: list[str] = []
    seen: set[str] = set()
    prev_key = ""
    for para, key in zip(paragraphs, _line_keys(paragraphs)):
        if key == prev_key or (len(prev_key) >= 20 and (key.startswith(prev_key) or prev_key.startswith(key))):
            continue
        if key in seen and len(_WORD.findall(para)) >= 8:
            continue
        seen.add(key)
        kept.append(para)
        kept_keys.append(key)
        prev_key = key
    return kept, kept_keys


def _drop_bios(paragraphs: list[str], keys: list[str]) -> tuple[list[str], list[str]]:
    """Author bios out: "<Name> is a ... reporter/editor/...", with the name line above it.

    A bio is recognised only where bios sit: right after a line naming the same person
    (a name line or a byline), or in the tail after the last long paragraph. A news
    sentence about a journalist in the body keeps its place. `keys` are the paragraphs'
    `line_key`s; the kept ones come back with the kept paragraphs.
    """
    n = len(paragraphs)
    bios = [(i, m) for i in range(1, n) if (m := _BIO.match(paragraphs[i])) is not None
            and _BIO_ROLE.search(m.group("first"))]
    if not bios:  # nearly every document: no arrays to make
        return paragraphs, keys
    long_para = np.fromiter((len(p) >= 100 for p in paragraphs), dtype=bool, count=n)  # body-sized
    drop = np.zeros(n, dtype=bool)
    for i, m in bios:
        name_key = line_key(m.group("name"))
        above = line_key(_BYLINE.sub("", paragraphs[i - 1]))
        in_tail = not long_para[i + 1 :].any() and long_para[:i].any()
        if above != name_key and not in_tail:
            continue
        drop[i] = True
        j = i - 1
        while j >= 0 and keys[j] == name_key:  # the name line(s) above the bio
            drop[j] = True
            j -= 1
    return [p for p, d in zip(paragraphs, drop) if not d], [k for k, d in zip(keys, drop) if not d]


def _cleaned(text: str) -> tuple[list[str], list[str]]:
    """`_clean_paragraphs(text)` and each paragraph's `line_key`."""
    units = _join_continuations(_units(text), across_blanks=False)  # "a\nshare." is no widget
    units = _join_continuations(_drop_menus(_drop_widgets(units)), across_blanks=True)
    return _drop_bios(*_drop_repeats([u.text for u in units]))


def _clean_paragraphs(text: str) -> list[str]:
    return _cleaned(text)[0]


def clean_text(text: str) -> str:
    """Per-document cleaning, no corpus knowledge.

    Returns paragraphs separated by one blank line, markup and page furniture removed,
    quotes and dashes in ASCII, sentences broken across lines joined.
    """
    return "\n\n".join(_clean_paragraphs(text))


_TOKEN = re.compile(r"[^\W_]+")
_OFFSET_WINDOW = 5000  # tokens searched ahead for the next kept word before giving it up


def _normalised_with_positions(text: str) -> tuple[str, np.ndarray]:
    """`text` with per-character normalisation, and each output char's index in `text`.

    A loop over characters, which is why it is kept off the bulk path: only the diff
    view asks for offsets, one pair at a time.
    """
    pieces: list[str] = []
    positions: list[int] = []
    cache: dict[str, str] = {}
    for index, char in enumerate(text):
        out = cache.get(char)
        if out is None:
            out = cache[char] = unicodedata.normalize("NFKC", char).translate(_CHAR_MAP)
        pieces.append(out)
        positions.extend([index] * len(out))
    return "".join(pieces), np.array(positions, dtype=np.int64)


def clean_with_offsets(text: str) -> tuple[str, np.ndarray]:
    """`clean_text(text)` and, for each cleaned character, its offset in `text`.

    Words of the cleaned text are matched in order to the words of the original (the
    cleaned text is the original's words minus what was removed, in the same order);
    a word's characters map one to one, the spaces and punctuation between words
    take the offset after the previous word, so offsets never decrease. A word not
    found within the next `_OFFSET_WINDOW` words (a mojibake repair, NFKC across
    characters) keeps the previous position. Offsets index the original string.
    """
    cleaned = clean_text(text)
    offsets = np.zeros(len(cleaned), dtype=np.int64)
    if not cleaned:
        return cleaned, offsets
    normalised, positions = _normalised_with_positions(text)
    original_tokens = [(m.group(0).lower(), m.start()) for m in _TOKEN.finditer(normalised)]
    cursor = 0  # index into original_tokens
    last = 0  # original offset after the last mapped char
    mapped_to = 0  # cleaned chars already given an offset
    for match in _TOKEN.finditer(cleaned):
        word = match.group(0).lower()
        found = next(
            (j for j in range(cursor, min(cursor + _OFFSET_WINDOW, len(original_tokens)))
             if original_tokens[j][0] == word),
            None,
        )
        offsets[mapped_to : match.start()] = last
        if found is None:
            offsets[match.start() : match.end()] = last
        else:
            start = original_tokens[found][1]
            offsets[match.start() : match.end()] = positions[start : start + len(word)]
            last = int(positions[start + len(word) - 1]) + 1
            cursor = found + 1
        mapped_to = match.end()
    offsets[mapped_to:] = min(last, max(len(text) - 1, 0))
    np.minimum(offsets, max(len(text) - 1, 0), out=offsets)
    return cleaned, offsets


# --------------------------------------------------------------------------- corpus


def _line_hashes(keys: Sequence[list[str]], sources: Sequence[str], min_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint64 hashes of (source, line key) for every paragraph, and each document's offset;
    `keys[d]` are the `line_key`s of document d's paragraphs (as `_cleaned` returns them).

    Lines whose key is shorter than `min_chars` hash to 0, which is never boilerplate.
    """
    hashes = [
        xxhash.xxh3_64_intdigest(f"{src}\x1f{key}".encode()) if len(key) >= min_chars else 0
        for doc_keys, src in zip(keys, sources)
        for key in doc_keys
    ]
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=offsets[1:])
    return np.array(hashes, dtype=np.uint64), offsets


@dataclass(slots=True)
class Prepared:
    """Documents cleaned one by one, with what `Cleaner` needs to learn and drop recurring lines.

    `texts` are the per-document cleaned texts (paragraphs joined by a blank line, which no
    paragraph contains, so `split("\n\n")` gives the paragraphs back); `line_hashes` and
    `line_offsets` are `_line_hashes` of them; `doc_keys` hash each whole document (copies
    count once). Computed per chunk in worker processes; only these cross back. A scan sends
    the texts back apart (encoded, to be written to disk as they arrive) and leaves `texts`
    empty: fitting needs only the hashes, and `Cleaner.without_boilerplate` takes the texts
    from wherever they are kept.
    """

    texts: list[str]
    line_hashes: np.ndarray
    line_offsets: np.ndarray
    doc_keys: np.ndarray

    @staticmethod
    def join(parts: Sequence["Prepared"]) -> "Prepared":
        counts = np.concatenate([np.diff(p.line_offsets) for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return Prepared(
            [t for p in parts for t in p.texts],
            np.concatenate([p.line_hashes for p in parts]) if parts else np.zeros(0, np.uint64),
            offsets,
            np.concatenate([p.doc_keys for p in parts]) if parts else np.zeros(0, np.uint64),
        )


def prepare(texts: Sequence[str], sources: Sequence[str], min_chars: int) -> Prepared:
    """Clean each text alone and hash its lines (the per-document, parallel part of `Cleaner`)."""
    cleaned = [_cleaned(t) for t in texts]
    hashes, offsets = _line_hashes([keys for _, keys in cleaned], sources, min_chars)
    joined = ["\n\n".join(paras) for paras, _ in cleaned]
    # The document key hashes the paragraphs one newline apart (no paragraph holds a newline
    # or is empty, so this is the joined text with each blank line closed up).
    doc_keys = np.fromiter((xxhash.xxh3_64_intdigest("\n".join(paras).encode("utf-8", "surrogatepass"))
                            for paras, _ in cleaned), dtype=np.uint64, count=len(cleaned))
    return Prepared(joined, hashes, offsets, doc_keys)


class Cleaner:
    """Per-document cleaning plus lines that recur across a source's documents.

    scikit-learn style: parameters in `__init__`, `fit` learns `boilerplate_lines_`
    (sorted uint64 hashes of source + line key), `transform` cleans and drops them.

    A line is boilerplate when it is in at least `min_docs` documents of its source
    and in more than `max_doc_share` of them (like CountVectorizer's `max_df`).
    With `by_source=False`, or no sources, the whole corpus is one source.
    Defaults calibrated on Reuters-21578 (19,043 docs) and BBC News (2,225 docs),
    `../shared/data/corpora/`: see `min_docs`/`max_doc_share` comments below.
    """

    def __init__(
        self,
        min_docs: int = 5,
        max_doc_share: float = 0.05,
        by_source: bool = True,
        min_chars: int = 4,
    ) -> None:
        # min_docs=5: a line in a handful of documents is as likely a quote shared by
        #   related stories as a footer; below that nothing is learnt.
        # max_doc_share=0.05: on Reuters-21578 the sign-off "Reuter" is in 98% of
        #   documents, while the commonest recurring content lines (earnings-table labels
        #   "Year" 3.1%, "Nine mths" 2.2%) stay under 5%; the BBC corpus has no line above 1%.
        # min_chars=4: key length (letters and digits) below which a line is never counted.
        self.min_docs = min_docs
        self.max_doc_share = max_doc_share
        self.by_source = by_source
        self.min_chars = min_chars

    def get_params(self, deep: bool = True) -> dict:
        return {
            "min_docs": self.min_docs,
            "max_doc_share": self.max_doc_share,
            "by_source": self.by_source,
            "min_chars": self.min_chars,
        }

    def _sources(self, n: int, sources: Iterable[str | None] | None) -> list[str]:
        if sources is None or not self.by_source:
            return [""] * n
        labels = ["" if s is None else str(s) for s in sources]
        if len(labels) != n:
            raise ValueError(f"{len(labels)} sources given for {n} texts")
        return labels

    def _fit_prepared(self, prepared: Prepared, sources: list[str]) -> Cleaner:
        source_ids = {s: i for i, s in enumerate(dict.fromkeys(sources))}
        doc_source = np.fromiter((source_ids[s] for s in sources), dtype=np.int64, count=len(sources))
        docs_per_source = np.bincount(doc_source, minlength=len(source_ids))
        hashes, offsets = prepared.line_hashes, prepared.line_offsets
        n_docs = len(offsets) - 1
        # Identical documents (exact copies, a source text quoted in many pairs) count once:
        # their shared lines are the copied story, not page furniture.
        _, first_copy = np.unique(prepared.doc_keys, return_index=True)
        is_first_copy = np.zeros(n_docs, dtype=bool)
        is_first_copy[first_copy] = True
        compiled = kernel("line_document_counts", len(hashes))
        if compiled is not None:  # one pass over a hash table, where the lines are sorted below
            uniq, counts, first_doc = compiled(hashes, np.asarray(offsets, dtype=np.int64), is_first_copy)
        else:
            doc_of_line = np.repeat(np.arange(n_docs), np.diff(offsets))
            counted = (hashes != 0) & is_first_copy[doc_of_line]
            hashes, doc_of_line = hashes[counted], doc_of_line[counted]
            # One count per document: sort by (hash, doc) and keep the first of each pair.
            order = np.lexsort((doc_of_line, hashes))
            hashes, doc_of_line = hashes[order], doc_of_line[order]
            first_in_doc = np.ones(hashes.size, dtype=bool)
            first_in_doc[1:] = (hashes[1:] != hashes[:-1]) | (doc_of_line[1:] != doc_of_line[:-1])
            hashes, doc_of_line = hashes[first_in_doc], doc_of_line[first_in_doc]
            uniq, first, counts = np.unique(hashes, return_index=True, return_counts=True)
            first_doc = doc_of_line[first]
        # The source is part of the hash, so each distinct hash has one source.
        share = counts / np.maximum(docs_per_source[doc_source[first_doc]], 1)
        flagged = np.flatnonzero((counts >= self.min_docs) & (share > self.max_doc_share))
        flagged = flagged[np.argsort(uniq[flagged], kind="stable")]  # the kernel's hashes are unsorted
        self.n_docs_ = n_docs
        self.boilerplate_lines_ = uniq[flagged]
        self.boilerplate_counts_ = counts[flagged]
        return self

    def _prepare(self, texts: Iterable[str], sources: Iterable[str | None] | None, jobs: int) -> tuple[Prepared, list[str]]:
        """Per-document cleaning and line hashes, in chunks on `jobs` worker processes."""
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        labels = self._sources(len(texts), sources)
        chunk = 500
        tasks = [(texts[k:k + chunk], labels[k:k + chunk], self.min_chars) for k in range(0, len(texts), chunk)]
        if jobs > 1 and len(tasks) > 1:
            from dedup.workers import worker_pool

            parts = list(worker_pool(jobs).map(prepare, *zip(*tasks)))
        else:
            parts = [prepare(*task) for task in tasks]
        return Prepared.join(parts), labels

    def fit_prepared(self, prepared: Prepared, sources: Sequence[str | None] | None = None) -> Cleaner:
        """`fit` on documents already cleaned one by one (`prepare`), e.g. in worker processes."""
        return self._fit_prepared(prepared, self._sources(len(prepared.doc_keys), sources))

    def transform_prepared(self, prepared: Prepared) -> list[str]:
        """Drop the learnt boilerplate lines from prepared documents (only documents that hold one change)."""
        out = list(prepared.texts)
        for i, text in self.without_boilerplate(prepared, out):
            out[i] = text
        return out

    def without_boilerplate(self, prepared: Prepared, texts: Sequence[str]) -> Iterator[tuple[int, str]]:
        """(i, text i less its learnt boilerplate lines) for each prepared document that holds one;
        `texts` are the prepared texts, wherever they are kept (a scan's may be on disk)."""
        table = getattr(self, "boilerplate_lines_", None)
        if table is None:
            raise RuntimeError("Cleaner is not fitted: call fit() or fit_transform() first")
        if not table.size or not prepared.line_hashes.size:
            return
        boilerplate = np.isin(prepared.line_hashes, table)
        offsets = prepared.line_offsets
        doc_of_line = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        for i in np.unique(doc_of_line[boilerplate]).tolist():
            flags = boilerplate[offsets[i]:offsets[i + 1]]
            paras = texts[i].split("\n\n")
            yield i, "\n\n".join(_join_paragraphs([p for p, hit in zip(paras, flags) if not hit]))

    def fit(self, texts: Iterable[str], sources: Iterable[str | None] | None = None, jobs: int = 1) -> Cleaner:
        """Learn the lines that recur across documents of one source."""
        prepared, labels = self._prepare(texts, sources, jobs)
        return self._fit_prepared(prepared, labels)

    def transform(self, texts: Iterable[str], sources: Iterable[str | None] | None = None, jobs: int = 1) -> list[str]:
        """Clean each text and drop the boilerplate lines learnt for its source."""
        prepared, _ = self._prepare(texts, sources, jobs)
        return self.transform_prepared(prepared)

    def fit_transform(self, texts: Iterable[str], sources: Iterable[str | None] | None = None, jobs: int = 1) -> list[str]:
        """`fit` then `transform`, cleaning each text once; `jobs` > 1 cleans chunks in worker
        processes (the output is the same whatever `jobs` is)."""
        prepared, labels = self._prepare(texts, sources, jobs)
        self._fit_prepared(prepared, labels)
        return self.transform_prepared(prepared)

    def removed_lines(self, texts: Iterable[str], sources: Iterable[str | None] | None = None) -> list[str]:
        """Distinct cleaned lines of `texts` that the fitted model treats as boilerplate (for reports)."""
        cleaned = [_cleaned(t) for t in texts]
        paragraphs = [paras for paras, _ in cleaned]
        hashes, _ = _line_hashes([keys for _, keys in cleaned], self._sources(len(paragraphs), sources), self.min_chars)
        flat = [p for paras in paragraphs for p in paras]
        return list(dict.fromkeys(p for p, hit in zip(flat, np.isin(hashes, self.boilerplate_lines_)) if hit))
