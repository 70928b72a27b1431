"""Claim-level changes inside one aligned sentence pair (A = source side, B = derivative side).

Everything here is regular expressions and word lists: no model, no network. Each
extractor finds spans on both sides, matches them across the sides, and reports what
was added, dropped or altered. Extractors run in a fixed order (numbers, times,
attributions, quotes, hedges, entities) and every reported change marks its text as
*covered*, so that later extractors and the final token diff (`wording`) do not report
the same words twice.

Ranking: `Change.weight` is a type prior times the largest IDF of the words involved
(the caller passes the IDF lookup fitted on the corpus), so that a changed figure
outranks a reworded synonym.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

CHANGE_TYPES = ("number", "time", "entity", "attribution", "quote", "hedge", "wording")

# Type priors: the order the issue asks for (a figure first, the token diff last). The
# gaps are wide enough that the IDF factor (about 1 to 12 on a news corpus) reorders
# neighbours but never puts a wording change above a number that has the same IDF.
TYPE_PRIOR: dict[str, float] = {
    "number": 1.0,
    "time": 0.9,
    "entity": 0.8,
    "attribution": 0.7,
    "quote": 0.6,
    "hedge": 0.5,
    "wording": 0.3,
}


@dataclass(slots=True)
class Change:
    """One change: `a` is the text on A's side (None when added), `b` on B's (None when dropped)."""

    type: str
    a: str | None
    b: str | None
    weight: float
    a_span: tuple[int, int] | None = field(default=None, repr=False, compare=False)
    b_span: tuple[int, int] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {"type": self.type, "a": self.a, "b": self.b, "weight": round(self.weight, 4)}


# --------------------------------------------------------------------------- tokens

TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*%?|\w+(?:[-'’]\w+)*|[^\w\s]")
WORD_RE = re.compile(r"[A-Za-z]+|\d+")
STOP = frozenset(ENGLISH_STOP_WORDS)


def content_words(text: str) -> list[str]:
    """Lower-cased words and numbers minus stopwords: what IDF weights are looked up for."""
    return [w for w in (m.group(0).lower() for m in WORD_RE.finditer(text)) if w not in STOP]


def _stem(word: str) -> str:
    """A crude plural/possessive strip, enough to match 'troops'/'troop', 'Russia's'/'Russia'."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class _Side:
    """One side's text plus the character ranges already explained by a change."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.covered: list[tuple[int, int]] = []

    def cover(self, span: tuple[int, int] | None) -> None:
        if span is not None:
            self.covered.append(span)

    def is_covered(self, start: int, end: int) -> bool:
        return any(s <= start and end <= e for s, e in self.covered)

    def overlaps(self, start: int, end: int) -> bool:
        return any(start < e and s < end for s, e in self.covered)


# --------------------------------------------------------------------------- numbers

_UNITS_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "a dozen": 12, "dozen": 12,
    "a hundred": 100, "a thousand": 1000, "a million": 1e6, "a billion": 1e9,
    "half": 0.5, "a half": 0.5, "a third": 1 / 3, "a quarter": 0.25,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
          "k": 1e3, "m": 1e6, "mn": 1e6, "bn": 1e9, "tn": 1e12}
# Vague amounts: a magnitude class, not a value ("several million" and "millions" match).
_VAGUE = {
    "dozens": 12, "scores": 20, "hundreds": 1e2, "thousands": 1e3, "millions": 1e6,
    "billions": 1e9, "trillions": 1e12, "several": 5, "a few": 3, "a couple of": 2,
    "a handful of": 5, "numerous": 10, "many": 10,
}
_QUALIFIERS = (
    "approximately|about|around|roughly|nearly|almost|some|over|more than|less than|"
    "fewer than|at least|at most|up to|as many as|as much as|as few as|close to|"
    "just over|just under|under|above|below|an estimated|estimated|upwards of|"
    "in excess of|exactly|only|just|well over|at least|a total of|a record|a further|"
    "an additional|another"
)
_DIGITS = r"\d+(?:-\d+)?/\d+|\.\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WRITTEN = "|".join(sorted((re.escape(w) for w in _UNITS_WORDS), key=len, reverse=True))
_VAGUE_RE = "|".join(sorted((re.escape(w) for w in _VAGUE), key=len, reverse=True))
_SCALE_RE = r"(?:thousand|million|billion|trillion|bn|mn|tn|m|k)\b"
_CURRENCY = r"(?:US\$|A\$|C\$|HK\$|\$|£|€|¥)"
_PERCENT = r"(?:\s?%|\s?pc\b|\s+percent(?:age points?)?|\s+per cent|\s+points?)"
_TIME_UNIT = r"(?:minute|hour|day|week|fortnight|month|year|decade|century)"

# One numeric value: currency? (digits | written) scale? percent?; or a vague amount.
_VALUE = (
    rf"(?:{_CURRENCY}\s?)?(?:{_DIGITS}|(?<![\w-])(?:{_WRITTEN})(?![\w-]))"
    rf"(?:\s*(?:-|–|\s)\s*(?:{_WRITTEN})(?![\w-]))?"  # "twenty-five", "two hundred"
    rf"(?:\s?{_SCALE_RE})?(?:{_PERCENT})?"
)
_NUMBER_RE = re.compile(
    rf"(?<![\w.,/])(?P<qual>(?:(?:{_QUALIFIERS})\s+)+)?"
    rf"(?:(?P<vague>(?:{_VAGUE_RE})(?:\s+(?:of\s+)?(?:{_VAGUE_RE}))*(?:\s+{_SCALE_RE})?)(?![\w-])"
    rf"|(?P<article>(?:a|an|one)\s+{_TIME_UNIT})\b"
    rf"|(?P<ordinal>(?:{'|'.join(_ORDINALS)})|\d+(?:st|nd|rd|th))\b"
    rf"|(?P<between>between\s+)?(?P<lo>{_VALUE})(?:\s*(?P<sep>-|–|to|and)\s*(?P<hi>{_VALUE}))?(?![A-Za-z0-9]|[.,/-]\d))",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Number:
    span: tuple[int, int]
    text: str
    qualifier: str
    value: tuple[float, float] | None  # (lo, hi); None for vague amounts
    magnitude: float | None  # vague amounts only
    unit: str  # "%", "$", "ord", time unit or ""
    nouns: frozenset[str]
    raw: bool = False  # a digit token the grammar does not parse ("2.0GHz"): compared as text


def _parse_value(text: str) -> tuple[float, str] | None:
    """Numeric value and unit ('%', currency symbol or '') of one `_VALUE` match."""
    low = text.lower().strip()
    unit = ""
    cur = re.match(_CURRENCY, text)
    if cur:
        unit = cur.group(0)
        low = low[len(unit):].strip()
    if re.search(r"%|percent|per cent|\dpc\b|\spc\b", low):
        unit = "%"
    elif re.search(r"\bpoints?\b", low):
        unit = "pt"
    digits = re.match(_DIGITS, low)
    if digits and "/" in digits.group(0):  # "22/32", "1-3/32"
        whole, _, frac = digits.group(0).rpartition("-") if "-" in digits.group(0) else ("0", "", digits.group(0))
        num, den = frac.split("/")
        value = float(whole) + float(num) / max(float(den), 1.0)
        rest = low[digits.end():]
    elif digits:
        value = float(digits.group(0).replace(",", ""))
        rest = low[digits.end():]
    else:
        value, rest = 0.0, low
        for word in re.findall(r"[a-z]+(?: (?:dozen|hundred|thousand|million|billion|third|quarter|half))?", low):
            if word in _UNITS_WORDS:
                part = _UNITS_WORDS[word]
                value = value * part if part == 100 and value else value + part
            elif word.split()[0] in _UNITS_WORDS:
                value += _UNITS_WORDS[word.split()[0]]
        if value == 0:
            return None
    scale = re.search(r"\b(thousand|million|billion|trillion|bn|mn|tn|m|k)\b", rest)
    if scale:
        value *= _SCALE[scale.group(1)]
    return value, unit


_DIGIT_TOKEN_RE = re.compile(r"[$£€]?[\w.]*\d[\w,./-]*\w|[$£€]?\d")
_NOUN_SKIP = STOP | {"more", "additional", "further", "new", "its", "their", "of"}


def _counted_nouns(text: str, end: int) -> frozenset[str]:
    """The next few content words after a number: what it counts ('troops', 'artillery shells')."""
    words = []
    for m in re.finditer(r"[A-Za-z][\w'’-]*", text[end:end + 60]):
        w = m.group(0).lower()
        if w in _NOUN_SKIP:
            continue
        words.append(_stem(w))
        if len(words) == 3:
            break
    return frozenset(words)


def find_numbers(text: str, exclude: Iterable[tuple[int, int]] = ()) -> list[_Number]:
    """Every quantity in `text` with its qualifier, range and counted noun, outside `exclude`."""
    excluded = list(exclude)
    found: list[_Number] = []
    for m in _NUMBER_RE.finditer(text):
        start, end = m.span()
        while end > start and text[end - 1] in " \t":
            end -= 1
        if any(start < e and s < end for s, e in excluded):
            continue
        qual = " ".join((m.group("qual") or "").lower().split())
        value = magnitude = None
        unit = ""
        if m.group("vague"):
            vague = " ".join(m.group("vague").lower().split())
            scale = re.search(r"\b(thousand|million|billion|trillion|bn|mn|tn|m|k)$", vague)
            head = re.sub(r"\s+of$", "", vague.split()[-1] if not scale else vague)
            magnitude = _SCALE[scale.group(1)] if scale else _VAGUE.get(head, _VAGUE.get(vague.replace(" of", ""), 10))
            if vague in ("many", "numerous", "several", "a few") and not qual:
                # "many"/"several" alone count only when a noun follows ("many more wounded").
                pass
        elif m.group("article"):
            value, unit = (1.0, 1.0), m.group("article").split()[-1].lower()
        elif m.group("ordinal"):
            word = m.group("ordinal").lower()
            n = _ORDINALS.get(word) or float(re.match(r"\d+", word).group(0))
            value, unit = (float(n), float(n)), "ord"
        else:
            lo = _parse_value(m.group("lo"))
            if lo is None:
                continue
            hi = _parse_value(m.group("hi")) if m.group("hi") else None
            value, unit = (lo[0], lo[0]), lo[1]
            if hi is not None:
                # "25,000 to 30,000" / "between 10 and 20 million": a scale on the upper end
                # applies to the lower one too.
                lo_v = lo[0]
                if hi[0] > 1000 and lo_v < 1000 and not re.search(_SCALE_RE, m.group("lo")):
                    scale = re.search(r"(thousand|million|billion|trillion|bn|mn|tn)", m.group("hi"))
                    if scale:
                        lo_v *= _SCALE[scale.group(1)]
                sep = m.group("sep").strip()
                is_range = ((sep != "and" or m.group("between")) and lo_v < hi[0] <= 10 * max(lo_v, 1e-9)
                            and (not lo[1] or not hi[1] or lo[1] == hi[1]))
                if is_range:
                    value, unit = (lo_v, hi[0]), lo[1] or hi[1]
                elif sep in ("-", "–") and hi[0] < lo_v:
                    pass  # "2-1 win": a score, kept as one span valued by its first figure
                else:
                    # "rose 8 percent to $21.03", "$693 million and 40 jobs": two figures
                    end = m.end("lo")
                    hs, he = m.span("hi")
                    found.append(_Number(span=(hs, he), text=text[hs:he], qualifier="",
                                         value=(hi[0], hi[0]), magnitude=None, unit=hi[1],
                                         nouns=_counted_nouns(text, he)))
        found.append(_Number(
            span=(start, end), text=text[start:end], qualifier=qual, value=value,
            magnitude=magnitude, unit=unit, nouns=_counted_nouns(text, end),
        ))
    # Anything else with a digit ("3km", "2.0GHz", "Q2", "737-700s", "2.6.0") is a number
    # too, so that no figure on one side only goes unreported.
    taken = excluded + [n.span for n in found]
    for m in _DIGIT_TOKEN_RE.finditer(text):
        if any(m.start() < e and s < m.end() for s, e in taken):
            continue
        first = re.search(r"\d+(?:\.\d+)?", m.group(0).replace(",", ""))
        value = float(first.group(0)) if first else 0.0
        unit = re.sub(r"[^a-z]", "", m.group(0).lower()[m.group(0).lower().rfind(first.group(0)[-1]) + 1:]) if first else ""
        found.append(_Number(span=m.span(), text=m.group(0), qualifier="", value=(value, value),
                             magnitude=None, unit=unit, nouns=_counted_nouns(text, m.end()), raw=True))
    found.sort(key=lambda n: n.span)
    return found


def _number_key(n: _Number) -> tuple:
    """What must be equal for two quantities to state the same thing ('15.7 per cent' == '15.7%')."""
    if n.raw:
        return (n.text.lower().replace(",", ""),)
    vague = None
    if n.magnitude is not None:
        vague = " ".join(re.sub(r"\bof\b", " ", n.text[len(n.text) - len(n.text.lstrip()):].lower()).split())
        if n.qualifier:
            vague = vague[len(n.qualifier):].strip() if vague.startswith(n.qualifier) else vague
    return (n.qualifier, n.value, n.unit, vague)


def _number_match_score(x: _Number, y: _Number) -> float:
    """How likely two quantities state the same claim: value first, then the counted noun."""
    if (x.unit == "ord") != (y.unit == "ord"):
        return 0.0
    score = 0.0
    if x.value is not None and y.value is not None:
        if x.value == y.value:
            score += 2.0
        elif x.value[0] <= y.value[1] and y.value[0] <= x.value[1]:
            score += 1.5
        elif max(x.value[1], y.value[1]) > 0 and min(x.value[1], y.value[1]) / max(x.value[1], y.value[1]) > 0.5:
            score += 0.25  # close values: a corrected figure ("4.4%" -> "4.6%")
    elif x.magnitude is not None and y.magnitude is not None:
        score += 2.0 if x.magnitude == y.magnitude else 0.5
    elif x.magnitude is not None or y.magnitude is not None:
        vague, exact = (x, y) if x.magnitude is not None else (y, x)
        if exact.value and vague.magnitude and vague.magnitude <= exact.value[1] < vague.magnitude * 1000:
            score += 0.5
    if x.nouns & y.nouns:
        score += 1.0
    if x.unit and y.unit:
        score += 0.75 if x.unit == y.unit else -1.0
    return score


def _match_greedy(xs: list, ys: list, score: Callable, min_score: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Best-first one-to-one matching; returns the pairs and the unmatched indices of each side."""
    scored = sorted(
        ((score(x, y), i, j) for i, x in enumerate(xs) for j, y in enumerate(ys)),
        key=lambda t: (-t[0], abs(t[1] - t[2]), t[1]),
    )
    used_x: set[int] = set()
    used_y: set[int] = set()
    pairs = []
    for s, i, j in scored:
        if s < min_score or i in used_x or j in used_y:
            continue
        pairs.append((i, j))
        used_x.add(i)
        used_y.add(j)
    return (sorted(pairs), [i for i in range(len(xs)) if i not in used_x],
            [j for j in range(len(ys)) if j not in used_y])


# --------------------------------------------------------------------------- times

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan\\.|Feb\\.|Mar\\.|Apr\\.|Jun\\.|Jul\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\.")
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_SEASONS = "spring|summer|autumn|winter"
_REL_UNIT = r"(?:year|month|week|weekend|decade|quarter|century|spring|summer|autumn|fall|winter|season|day|night|morning)s?"
_NUMWORD = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|few|a few|couple of|a couple of)"
_TIME_ATOM = (
    rf"(?:(?-i:(?:{_MONTHS}))(?:\s+\d{{1,2}}(?:st|nd|rd|th)?\b)?(?:,?\s+(?:19|20)\d{{2}}\b)?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?-i:(?:{_MONTHS}))(?:,?\s+(?:19|20)\d{{2}})?"
    rf"|(?-i:(?:{_WEEKDAYS}))"
    rf"|(?<![\d,.$£€])(?:19|20)\d{{2}}(?:s)?(?:\s*[–/-]\s*(?:19|20)?\d{{2}})?(?![\d%]|[,.]\d|\s*(?:percent|per cent))"
    rf"|(?:the\s+)?(?:(?:early|late|mid|the end of|the start of|the beginning of|the middle of)[\s-]+)?(?:{_SEASONS})\b"
    rf"|(?:the\s+)?(?:last|next|this|past|previous|coming|following|current|recent)\s+(?:{_NUMWORD}\s+)?{_REL_UNIT}\b"
    rf"|{_NUMWORD}\s+(?:days?|weeks?|months?|years?|decades?)\s+(?:ago|earlier|later|before|previously)\b"
    rf"|\d{{1,2}}(?:[:.]\d{{2}})?\s*(?:a\.m\.|p\.m\.|am\b|pm\b)(?:\s*\(?(?-i:[A-Z]{{2,4}})\)?(?![\w]))?"
    rf"|yesterday|today|tomorrow|tonight|overnight|recently|currently|now"
    rf"|earlier|later|soon"
    rf")"
)
_TIME_PREFIX = (
    r"(?:(?:as early as|as soon as|as late as|no later than|no earlier than|by|in|on|at|since|until|till|"
    r"from|before|after|during|starting|beginning|through|throughout|within|over|around|about|"
    r"earlier|later|so far)\s+)?"
    r"(?:(?:early|late|mid|the end of|the start of|the beginning of|the middle of|earlier|later)[\s-]+)?"
)
_TIME_RE = re.compile(
    rf"(?<![\w-]){_TIME_PREFIX}{_TIME_ATOM}(?:(?:\s*(?:,|or|and|to|-|–|through|of)?\s*){_TIME_ATOM})*(?![\w-])",
    re.IGNORECASE,
)
# Words that are times only next to a date word; alone they are too common to count.
_WEAK_TIME = {"earlier", "later", "soon", "now", "currently", "recently", "overnight"}
_MODAL_MAY = re.compile(r"\bMay\s+(?:be|have|not|also|soon|well|still|already|need|take|begin|help|deploy|send|\w+ed|\w+e)\b")


@dataclass(slots=True)
class _Time:
    span: tuple[int, int]
    text: str
    atoms: frozenset[str]


def find_times(text: str) -> list[_Time]:
    """Dates and relative times with their preposition ('in October last year', 'by late summer')."""
    found = []
    for m in _TIME_RE.finditer(text):
        start, end = m.span()
        phrase = m.group(0)
        words = phrase.lower().split()
        if all(w.strip(",") in _WEAK_TIME | {"by", "in", "on", "at", "as", "so", "far", "the"} for w in words):
            continue
        if re.fullmatch(r"(?:\w+\s+)?May", phrase) and _MODAL_MAY.match(text, start + phrase.rfind("May")):
            continue  # the modal verb, not the month
        atoms = frozenset(
            w.strip(",.").lower()
            for w in re.findall(rf"(?-i:{_MONTHS})|{_WEEKDAYS}|(?:19|20)\d{{2}}|{_SEASONS}|fall|year|month|week|decade|yesterday|today|tomorrow", phrase, re.IGNORECASE)
        )
        found.append(_Time(span=(start, end), text=phrase, atoms=atoms))
    return found


def _time_match_score(x: _Time, y: _Time) -> float:
    if x.text.lower() == y.text.lower():
        return 3.0
    shared = x.atoms & y.atoms
    if shared - {"year", "month", "week", "decade"}:
        return 2.0
    return 1.0 if shared else 0.1  # leftovers pair up in order: a reworded time ("by late summer")


# --------------------------------------------------------------------------- entities

# Demonym -> country, for matching "South Korean intelligence" with "South Korea".
DEMONYMS: dict[str, str] = {
    "north korean": "north korea", "south korean": "south korea", "korean": "korea",
    "american": "united states", "u.s.": "united states", "us": "united states",
    "british": "united kingdom", "uk": "united kingdom", "u.k.": "united kingdom", "britain": "united kingdom",
    "english": "england", "scottish": "scotland", "welsh": "wales", "irish": "ireland",
    "russian": "russia", "soviet": "soviet union", "ukrainian": "ukraine", "chinese": "china",
    "japanese": "japan", "taiwanese": "taiwan", "indian": "india", "pakistani": "pakistan",
    "afghan": "afghanistan", "iranian": "iran", "iraqi": "iraq", "syrian": "syria",
    "israeli": "israel", "palestinian": "palestine", "lebanese": "lebanon", "jordanian": "jordan",
    "egyptian": "egypt", "saudi": "saudi arabia", "turkish": "turkey", "greek": "greece",
    "german": "germany", "french": "france", "italian": "italy", "spanish": "spain",
    "portuguese": "portugal", "dutch": "netherlands", "belgian": "belgium", "swiss": "switzerland",
    "austrian": "austria", "swedish": "sweden", "norwegian": "norway", "danish": "denmark",
    "finnish": "finland", "polish": "poland", "czech": "czech republic", "hungarian": "hungary",
    "romanian": "romania", "bulgarian": "bulgaria", "serbian": "serbia", "croatian": "croatia",
    "belarusian": "belarus", "georgian": "georgia", "armenian": "armenia", "azerbaijani": "azerbaijan",
    "kazakh": "kazakhstan", "mongolian": "mongolia", "vietnamese": "vietnam", "thai": "thailand",
    "filipino": "philippines", "philippine": "philippines", "indonesian": "indonesia",
    "malaysian": "malaysia", "singaporean": "singapore", "burmese": "myanmar",
    "australian": "australia", "canadian": "canada", "mexican": "mexico", "brazilian": "brazil",
    "argentine": "argentina", "argentinian": "argentina", "chilean": "chile", "colombian": "colombia",
    "peruvian": "peru", "venezuelan": "venezuela", "cuban": "cuba", "nigerian": "nigeria",
    "kenyan": "kenya", "ethiopian": "ethiopia", "south african": "south africa",
    "moroccan": "morocco", "algerian": "algeria", "libyan": "libya", "sudanese": "sudan",
    "yemeni": "yemen", "qatari": "qatar", "emirati": "united arab emirates", "kuwaiti": "kuwait",
    "european": "europe", "african": "africa", "asian": "asia", "new zealander": "new zealand",
}
TITLES = frozenset({
    "president", "prime", "minister", "secretary", "chancellor", "king", "queen", "pope",
    "general", "gen", "gen.", "senator", "sen.", "rep.", "governor", "gov.", "mayor", "dr.",
    "mr.", "mrs.", "ms.", "mr", "mrs", "ms", "dr", "chairman", "chairwoman", "chief", "ceo", "director", "leader",
    "lawmaker", "head", "spokesman", "spokeswoman", "spokesperson", "commander", "ambassador",
    "deputy", "vice", "foreign", "defense", "defence", "sir", "lord", "judge", "justice",
})
_CAP_TOKEN = r"(?:[A-Z][\w’'.&-]*|\d+(?:st|nd|rd|th))"
_ENTITY_RE = re.compile(rf"{_CAP_TOKEN}(?:(?:\s+(?:of|de|for|al|bin|van|von|der|la|&)\s+|\s*&\s*|\s+){_CAP_TOKEN})*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]['\"”’)]*\s+|[\"“‘(]\s*|\n\s*)$")
_TIME_WORDS = frozenset(w.lower() for w in (_MONTHS + "|" + _WEEKDAYS).replace("\\.", "").split("|"))


@dataclass(slots=True)
class _Entity:
    span: tuple[int, int]
    text: str
    key: frozenset[str]  # normalised words: demonyms as countries, titles out
    initials: str


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w[0].isupper() and w.lower() not in ("of", "the", "and", "for"))


_DEMONYM_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(d) for d in sorted(DEMONYMS, key=len, reverse=True)) + r")(?![\w])")
_COUNTRY_WORDS = frozenset(w for c in DEMONYMS.values() for w in c.split())


def _normalise_entity_words(phrase: str, keep_titles: bool = False) -> list[str]:
    """Lower-cased words with demonyms turned into countries and titles/stopwords out."""
    low = phrase.lower().replace("’", "'")
    low = re.sub(r"'s\b", "", low)
    low = _DEMONYM_RE.sub(lambda m: DEMONYMS[m.group(1)], low)
    words = re.findall(r"[a-z0-9]+(?:[.&][a-z0-9]+)*\.?", low)
    titles = frozenset() if keep_titles else TITLES
    return [w.rstrip(".") for w in words if w.rstrip(".") not in titles and w not in titles and w.rstrip(".") not in STOP]


def _name_initials(phrase: str) -> set[str]:
    """Initials of each capitalised run of 2+ words that is not a place ('National Intelligence Service' -> NIS)."""
    out = set()
    for m in _ENTITY_RE.finditer(phrase):
        words = [w for w in re.sub(r"['’]s\b", "", m.group(0)).split()]
        if len(words) < 2 or all(w.lower().strip(".") in _COUNTRY_WORDS or w.lower() in DEMONYMS for w in words):
            continue
        initials = _initials(words)
        if len(initials) >= 2:
            out.add(initials)
    return out


def find_entities(text: str, other_text: str) -> list[_Entity]:
    """Capitalised phrases; a sentence-initial word counts only if it is capitalised elsewhere too."""
    capitalised_elsewhere = {
        m.group(0) for t in (text, other_text) for m in re.finditer(r"(?<=[a-z,;] )[A-Z][\w’'-]*", t)
    }
    found = []
    for m in _ENTITY_RE.finditer(text):
        if m.start() > 0 and re.match(r"[\w'’-]", text[m.start() - 1]):
            continue  # "64-Bit", "AMD64": the tail of a word
        words = m.group(0).split()
        start = m.start()
        # drop leading stopwords and titles ("The", "In", "President"), trailing possessive
        while words and (words[0].lower() in STOP or words[0].lower().rstrip(".") in TITLES
                         or words[0].lower() in _TIME_WORDS):
            start = text.index(words[0], start) + len(words[0])
            start += len(text[start:]) - len(text[start:].lstrip())
            words = words[1:]
        while words and (words[-1].lower() in STOP or words[-1].lower() in ("of", "and", "for")):
            words = words[:-1]
        if words and words[-1].endswith(".") and re.search(r"[a-z]", words[-1]) and words[-1].lower().rstrip(".") not in TITLES:
            words[-1] = words[-1][:-1]  # the sentence's full stop, not an abbreviation
        at_start = bool(_SENTENCE_START.search(text[:start]))
        if at_start and len(words) > 1 and words[0] not in capitalised_elsewhere and words[0].lower() not in DEMONYMS \
                and not words[0].replace(".", "").isupper():
            # "Shares of BioReliance": an ordinary word capitalised only because it starts the sentence
            start = text.index(words[1], start + len(words[0]))
            words = words[1:]
            while words and words[0].lower() in ("of", "&", "for", "de"):
                start = text.index(words[1], start + len(words[0])) if len(words) > 1 else start
                words = words[1:]
        if not words:
            continue
        if len(words) == 1:
            w = words[0].rstrip(".,")
            at_start = bool(_SENTENCE_START.search(text[:start]))
            acronym = len(w) >= 2 and w.replace(".", "").isupper()
            if w.lower() in _TIME_WORDS or re.fullmatch(r"\d+(?:st|nd|rd|th)", w):
                continue
            if at_start and not acronym and w not in capitalised_elsewhere and w.lower() not in DEMONYMS:
                continue
        phrase = " ".join(words)
        end = start + len(phrase)
        if text[start:end] != phrase:  # words were separated by more than one space
            end = text.index(words[-1], start) + len(words[-1])
        key = frozenset(_normalise_entity_words(phrase))
        if not key:
            continue
        found.append(_Entity(span=(start, end), text=text[start:end], key=key,
                             initials="".join(sorted(_name_initials(phrase)))))
    return found


def _entity_present(entity: _Entity, other_entities: list[_Entity], other_words: set[str],
                    other_acronyms: set[str]) -> bool:
    """Is this entity mentioned on the other side, by name, by country, or as acronym/expansion?"""
    if entity.key <= other_words:
        return True
    bare = entity.text.replace(".", "").replace("’s", "").replace("'s", "")
    if bare.isupper() and len(bare) >= 2:
        if any(e.initials == bare for e in other_entities):
            return True
        if any(bare in e.text.replace(".", "") for e in other_entities):
            return True
    if len(entity.initials) >= 2 and entity.initials in other_acronyms:
        return True
    return False


# --------------------------------------------------------------------------- hedges

MODALS = frozenset({"will", "would", "could", "might", "may", "can", "should", "must", "shall"})
HEDGES = frozenset({
    "possibly", "potentially", "perhaps", "probably", "likely", "unlikely", "reportedly",
    "allegedly", "apparently", "seemingly", "presumably", "believed", "thought", "estimated",
    "expected", "suggests", "suggested", "suggest", "appears", "appeared", "appear", "seems",
    "seemed", "seem", "unclear", "unconfirmed", "purportedly", "supposedly", "rumored",
    "rumoured", "tentatively", "arguably", "somewhat",
})
BOOSTERS = frozenset({
    "poised", "certainly", "clearly", "definitely", "undoubtedly", "surely", "indeed",
    "actively", "strongly", "highly", "critical", "crucial", "significant", "significantly",
    "major", "key", "notable", "steep", "dramatic", "dramatically", "sharply", "massive",
    "huge", "vast", "prolonged", "unprecedented", "always", "never", "firmly", "fully",
    "already", "set",
})
_HEDGE_RE = re.compile(r"\b(?:is|are|was|were)\s+(?:said|thought|believed|expected|estimated)\s+to\b|\b[a-z]+\b")


def _hedge_group(word: str) -> str | None:
    w = word.lower()
    if w in MODALS:
        return "modal"
    if w in HEDGES or re.fullmatch(r"(?:is|are|was|were)\s+(?:said|thought|believed|expected|estimated)\s+to", w):
        return "hedge"
    if w in BOOSTERS:
        return "booster"
    return None


@dataclass(slots=True)
class _Hedge:
    span: tuple[int, int]
    text: str
    group: str


def find_hedges(side: _Side) -> list[_Hedge]:
    """Hedge/booster words, those inside a number or time span excepted ('about', 'soon')."""
    found = []
    for m in _HEDGE_RE.finditer(side.text):
        group = _hedge_group(" ".join(m.group(0).split()))
        if group:
            if m.group(0).lower() == "set" and not re.match(r"\s+to\b", side.text[m.end():]):
                continue  # "set to" is a booster; "a set of" is not
            if m.group(0).lower() == "may" and m.group(0)[0] == "M" and not _MODAL_MAY.match(side.text, m.start()):
                continue
            found.append(_Hedge(span=m.span(), text=m.group(0), group=group))
    return found


# --------------------------------------------------------------------------- attribution

REPORT_VERBS = (
    "said|says|say|told|tells|tell|reported|reports|report|stated|states|noted|notes|added|adds|"
    "confirmed|confirms|announced|announces|cited|cites|claimed|claims|indicated|indicates|"
    "revealed|reveals|believes|believe|assessed|assesses|warned|warns|wrote|writes|explained|"
    "argued|insisted|acknowledged|acknowledges|affirmed|affirms|disclosed|estimated|estimates|"
    "alleged|alleges|predicted|predicts|suggested|suggests|quoted"
)
_BOUNDARY = frozenset({
    "that", "which", "who", "whom", "whose", "and", "but", "or", "while", "as", "because",
    "after", "before", "since", "when", "where", "if", "although", "though", "to", "in",
    "on", "at", "by", "with", "for", "from", "despite", "following", "amid", "it", "there",
})
_AUX = frozenset({"has", "have", "had", "was", "were", "is", "are", "also", "previously",
                  "earlier", "later", "repeatedly", "has also", "had also", "separately"})
_ATTR_FORWARD_RE = re.compile(
    r"\b(?:according to|citing|cited by|quoted by|sources? (?:close to|in|at)|in the words of)\s+"
    r"|(?<=[,\"”])\s*(?:said|says|added|adds|noted|explained|stated|told reporters|wrote)\s+(?=[a-zA-Z])",
    re.IGNORECASE)
_ATTR_VERB_RE = re.compile(rf"\b(?:{REPORT_VERBS})\b", re.IGNORECASE)
_NP_STOP = re.compile(r"[,.;:!?()\"“”]|\s(?:that|which|while|but|and|when|as|because|where|although)\s", re.IGNORECASE)
_GENERIC_SOURCE = frozenset({"north", "south", "east", "west", "recent", "senior", "top", "local",
                             "new", "latest", "unnamed", "anonymous", "information", "report"})


@dataclass(slots=True)
class _Attribution:
    span: tuple[int, int]
    text: str
    source: str
    identity: frozenset[str]  # content words naming the source (+ initials of its names)
    places: frozenset[str]  # the countries/entities qualifying it ("South Korean")


def _source_record(text: str, span: tuple[int, int], source: str) -> _Attribution | None:
    words = _normalise_entity_words(re.sub(rf"\b(?:{REPORT_VERBS})\b", " ", source, flags=re.I), keep_titles=True)
    countries = set(DEMONYMS.values())
    places = frozenset(c for c in countries if re.search(rf"\b{re.escape(c)}\b", " ".join(words)))
    place_words = {w for p in places for w in p.split()}
    identity = {_stem(w) for w in words if w not in place_words and w not in _GENERIC_SOURCE}
    identity |= _name_initials(source)
    identity |= {w for w in source.split() if len(w) >= 2 and w.isupper()}
    if not identity and not places:
        return None
    return _Attribution(span=span, text=text[span[0]:span[1]], source=source,
                        identity=frozenset(identity), places=places)


def find_attributions(text: str) -> list[_Attribution]:
    """'according to X', 'citing X', 'X said/told/reported', 'X, who indicated'."""
    found: list[_Attribution] = []
    for m in _ATTR_FORWARD_RE.finditer(text):
        rest = text[m.end():m.end() + 160]
        stop = _NP_STOP.search(rest)
        source = rest[:stop.start()] if stop else rest
        source = " ".join(source.split()[:14])
        if source:
            rec = _source_record(text, (m.start(), m.end() + rest.index(source) + len(source)), source)
            if rec:
                found.append(rec)
    for m in _ATTR_VERB_RE.finditer(text):
        if text[max(0, m.start() - 13):m.start()].lower().endswith("according "):
            continue
        # walk back over auxiliaries, then take the noun phrase up to a boundary
        before = text[:m.start()]
        tokens = list(re.finditer(r"[\w’'.-]+|[,;:()\"“”]", before))
        k = len(tokens) - 1
        while k >= 0 and tokens[k].group(0).lower() in _AUX:
            k -= 1
        if k >= 0 and tokens[k].group(0).lower() == "who":  # "X, who indicated": X is the source
            k -= 1
            if k >= 0 and tokens[k].group(0) == ",":
                k -= 1
        np_tokens = []
        while k >= 0 and len(np_tokens) < 8:
            t = tokens[k].group(0)
            if not re.match(r"[A-Za-z’']", t) or t.lower() in _BOUNDARY or _ATTR_VERB_RE.fullmatch(t):
                break
            np_tokens.append(tokens[k])
            k -= 1
        if not np_tokens:
            continue
        np_tokens.reverse()
        src_start, src_end = np_tokens[0].start(), np_tokens[-1].end()
        source = text[src_start:src_end]
        if source.lower() in ("it", "this", "that", "which", "there", "he", "she", "they", "we", "i"):
            if source.lower() not in ("he", "she", "they", "we", "i"):
                continue
        rec = _source_record(text, (src_start, m.end()), source)
        if rec:
            found.append(rec)
    # an attribution nested in a longer one ("according to a lawmaker who cited ...") is the same one
    found.sort(key=lambda r: (r.span[0], -(r.span[1] - r.span[0])))
    kept: list[_Attribution] = []
    for rec in found:
        if any(k.span[0] <= rec.span[0] and rec.span[1] <= k.span[1] for k in kept):
            continue
        if any(rec.span[0] < k.span[1] and k.span[0] < rec.span[1] for k in kept):
            continue
        kept.append(rec)
    return kept


# --------------------------------------------------------------------------- quotes

def find_quotes(text: str) -> list[tuple[tuple[int, int], str]]:
    """Quoted passages: "..." pairs, and a quote cut by a sentence split at either end.

    With an odd number of quote marks, the first one closes a quote begun in an earlier
    sentence when it is a closing mark (” or `," `), else the last one opens a quote that
    runs on past the end.
    """
    marks = [m.start() for m in re.finditer(r"[\"“”]", text)]
    spans: list[tuple[int, int]] = []
    if len(marks) % 2 == 1:
        first = marks[0]
        closes = text[first] == "”" or (text[first] == '"' and first > 0 and text[first - 1] in ",.!?")
        if closes:
            spans.append((0, first + 1))
            marks = marks[1:]
        else:
            spans.append((marks[-1], len(text)))
            marks = marks[:-1]
    spans += [(marks[k], marks[k + 1] + 1) for k in range(0, len(marks), 2)]
    quotes = []
    for start, end in sorted(spans):
        inner = text[start:end].strip("\"“” ")
        if len(inner.split()) >= 2:
            quotes.append(((start, end), inner))
    return quotes


# --------------------------------------------------------------------------- driver


def _words_of(*texts: str | None) -> list[str]:
    return [w for t in texts if t for w in content_words(t)]


def _change_weight(kind: str, a: str | None, b: str | None, weight: Callable[[str], float] | None) -> float:
    # content words; a change made of function words only ("could" -> "might") uses those
    words = _words_of(a, b) or [m.group(0).lower() for t in (a, b) if t for m in WORD_RE.finditer(t)]
    idf = max((weight(w) for w in words), default=1.0) if weight else 1.0
    return TYPE_PRIOR[kind] * (1.0 + idf)


def _trim(text: str, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """The span without surrounding whitespace."""
    if span is None:
        return None
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def extract_changes(a: str, b: str, weight: Callable[[str], float] | None = None) -> list[Change]:
    """The changes between aligned texts `a` (source side) and `b` (derivative side).

    `weight(word)` is an IDF lookup (lower-cased word); without it every word weighs the
    same and the ranking is by type. Returns changes ranked by weight, `wording` last.
    """
    side_a, side_b = _Side(a), _Side(b)
    changes: list[Change] = []

    def emit(kind: str, a_span: tuple[int, int] | None, b_span: tuple[int, int] | None) -> None:
        a_span, b_span = _trim(a, a_span), _trim(b, b_span)
        a_text = a[a_span[0]:a_span[1]] if a_span else None
        b_text = b[b_span[0]:b_span[1]] if b_span else None
        changes.append(Change(kind, a_text, b_text, _change_weight(kind, a_text, b_text, weight), a_span, b_span))
        side_a.cover(a_span)
        side_b.cover(b_span)

    # times first: a year or a day of the month is a date, not a count
    times_a, times_b = find_times(a), find_times(b)
    pairs, only_a, only_b = _match_greedy(times_a, times_b, _time_match_score, 0.1)
    for i, j in pairs:
        x, y = times_a[i], times_b[j]
        if x.text.lower() != y.text.lower():
            emit("time", x.span, y.span)
        else:
            side_a.cover(x.span)
            side_b.cover(y.span)
    for i in only_a:
        emit("time", times_a[i].span, None)
    for j in only_b:
        emit("time", None, times_b[j].span)
    time_spans_a = [t.span for t in times_a]
    time_spans_b = [t.span for t in times_b]

    nums_a = find_numbers(a, time_spans_a)
    nums_b = find_numbers(b, time_spans_b)
    # 0.75: a shared unit alone ("40GB" -> "80GB", "4.4%" -> "4.6%") pairs two figures
    pairs, only_a, only_b = _match_greedy(nums_a, nums_b, _number_match_score, 0.75)
    for i, j in pairs:
        x, y = nums_a[i], nums_b[j]
        if _number_key(x) != _number_key(y):
            emit("number", x.span, y.span)
    for i in only_a:
        emit("number", nums_a[i].span, None)
    for j in only_b:
        emit("number", None, nums_b[j].span)

    _attribution_changes(side_a, side_b, emit)
    _quote_changes(side_a, side_b, emit)
    _hedge_changes(side_a, side_b, emit)
    _entity_changes(side_a, side_b, emit)
    _wording_changes(side_a, side_b, emit)

    order = {t: k for k, t in enumerate(CHANGE_TYPES)}
    changes.sort(key=lambda c: (c.type == "wording", -c.weight, order[c.type],
                                (c.a_span or c.b_span or (0, 0))[0]))
    return changes


def _attribution_changes(side_a: _Side, side_b: _Side, emit) -> None:
    attrs_a, attrs_b = find_attributions(side_a.text), find_attributions(side_b.text)

    def same_source(x: _Attribution, y: _Attribution) -> float:
        return 1.0 if x.identity & y.identity else 0.0

    def kept_elsewhere(x: _Attribution, others: list[_Attribution]) -> bool:
        return any(x.identity & o.identity for o in others)

    pairs, only_a, only_b = _match_greedy(attrs_a, attrs_b, same_source, 1.0)
    for i, j in pairs:
        x, y = attrs_a[i], attrs_b[j]
        # the same source, qualified by a place on one side only ("South Korean intelligence"
        # -> "intelligence"): the claim lost (or gained) part of its attribution.
        lost = {p for p in x.places - y.places if not re.search(rf"\b{p}", " ".join(_normalise_entity_words(side_b.text)))}
        gained = {p for p in y.places - x.places if not re.search(rf"\b{p}", " ".join(_normalise_entity_words(side_a.text)))}
        if lost or gained:
            emit("attribution", x.span, y.span)
    # a second mention of a source already matched ("a lawmaker said ..., citing the agency"
    # vs one "according to a lawmaker who cited the agency") is no change
    only_a = [i for i in only_a if not kept_elsewhere(attrs_a[i], attrs_b)]
    only_b = [j for j in only_b if not kept_elsewhere(attrs_b[j], attrs_a)]
    for i, j in zip(only_a, only_b):
        emit("attribution", attrs_a[i].span, attrs_b[j].span)
    for i in only_a[len(only_b):]:
        emit("attribution", attrs_a[i].span, None)
    for j in only_b[len(only_a):]:
        emit("attribution", None, attrs_b[j].span)


def _norm_quote(text: str) -> str:
    return " ".join(content_words(text))


def _quote_changes(side_a: _Side, side_b: _Side, emit) -> None:
    quotes_a, quotes_b = find_quotes(side_a.text), find_quotes(side_b.text)

    def overlap(x, y) -> float:
        wa, wb = set(content_words(x[1])), set(content_words(y[1]))
        return len(wa & wb) / max(1, min(len(wa), len(wb)))

    pairs, only_a, only_b = _match_greedy(quotes_a, quotes_b, overlap, 0.2)
    for i, j in pairs:
        if _norm_quote(quotes_a[i][1]) != _norm_quote(quotes_b[j][1]):
            emit("quote", quotes_a[i][0], quotes_b[j][0])
        else:
            side_a.cover(quotes_a[i][0])
            side_b.cover(quotes_b[j][0])
    # a quote on one side only: turned into (or made from) indirect speech
    for i in only_a:
        emit("quote", quotes_a[i][0], None)
    for j in only_b:
        emit("quote", None, quotes_b[j][0])


def _hedge_changes(side_a: _Side, side_b: _Side, emit) -> None:
    hedges_a, hedges_b = find_hedges(side_a), find_hedges(side_b)

    def same(x: _Hedge, y: _Hedge) -> float:
        if x.text.lower() == y.text.lower():
            return 2.0
        return 1.0 if x.group == y.group else 0.0

    # matched over all occurrences, so that a word inside an attribution on one side still
    # pairs with the same word on the other; only uncovered words are reported
    pairs, only_a, only_b = _match_greedy(hedges_a, hedges_b, same, 1.0)
    for i, j in pairs:
        x, y = hedges_a[i], hedges_b[j]
        if x.text.lower() != y.text.lower() and not (side_a.overlaps(*x.span) or side_b.overlaps(*y.span)):
            emit("hedge", x.span, y.span)  # "could" -> "might"
    for i in only_a:
        if not side_a.overlaps(*hedges_a[i].span):
            emit("hedge", hedges_a[i].span, None)
    for j in only_b:
        if not side_b.overlaps(*hedges_b[j].span):
            emit("hedge", None, hedges_b[j].span)


def _entity_changes(side_a: _Side, side_b: _Side, emit) -> None:
    ents_a = find_entities(side_a.text, side_b.text)
    ents_b = find_entities(side_b.text, side_a.text)

    def pool(text: str) -> set[str]:
        return set(_normalise_entity_words(text)) | {_stem(w) for w in _normalise_entity_words(text)}

    def acronyms(text: str) -> set[str]:
        return {w.replace(".", "") for w in re.findall(r"\b[A-Z][A-Z.]{1,7}\b", text)}

    words_a, words_b = pool(side_a.text), pool(side_b.text)
    acr_a, acr_b = acronyms(side_a.text), acronyms(side_b.text)
    seen: set[frozenset[str]] = set()
    for e in ents_a:
        if e.key in seen or side_a.overlaps(*e.span):
            continue
        seen.add(e.key)
        if not _entity_present(e, ents_b, words_b, acr_b):
            emit("entity", e.span, None)
    seen.clear()
    for e in ents_b:
        if e.key in seen or side_b.overlaps(*e.span):
            continue
        seen.add(e.key)
        if not _entity_present(e, ents_a, words_a, acr_a):
            emit("entity", None, e.span)


def _wording_changes(side_a: _Side, side_b: _Side, emit) -> None:
    """What is left: a token diff over the words not explained by a typed change."""
    toks_a = [m for m in TOKEN_RE.finditer(side_a.text) if not side_a.overlaps(*m.span())]
    toks_b = [m for m in TOKEN_RE.finditer(side_b.text) if not side_b.overlaps(*m.span())]
    matcher = difflib.SequenceMatcher(
        a=[m.group(0).lower() for m in toks_a], b=[m.group(0).lower() for m in toks_b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        a_span = (toks_a[i1].start(), toks_a[i2 - 1].end()) if i2 > i1 else None
        b_span = (toks_b[j1].start(), toks_b[j2 - 1].end()) if j2 > j1 else None
        words = [m.group(0).lower() for m in toks_a[i1:i2]] + [m.group(0).lower() for m in toks_b[j1:j2]]
        if not any(re.match(r"\w", w) and w not in STOP for w in words):
            continue  # punctuation or function words only
        emit("wording", a_span, b_span)
