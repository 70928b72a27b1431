"""Claim fidelity of one aligned sentence pair: does B say what A says, or only talk about it?

Two sentences can share most of their words and still make different claims: a figure
changed ("$2.5 billion" vs "$1.8 billion"), a clause added ("... until elections can be
held"), a different actor named. MRPC's "not paraphrase" pairs are mostly of that kind,
and lexical similarity alone cannot separate them. These features look for exactly those
differences; `fidelity()` combines them with a logistic model whose weights were fitted on
../shared/data/pairs/mrpc.train.jsonl by benchmarks/calibrate_fidelity.py (rerun it to refit).
"""
from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Callable

import numpy as np

try:  # PyStemmer is a hard dependency; the fallback only keeps imports working in odd installs.
    import Stemmer

    _stem_words = Stemmer.Stemmer("english").stemWords
except ImportError:  # pragma: no cover
    def _stem_words(words: list[str]) -> list[str]:
        return [w[:6] for w in words]


STOPWORDS = frozenset(
    """a an the of to in and or for on at by with from as is was were are be been being has have had
    having it its it's that this these those he she they we you i me him her them us his hers their our
    your my mine said says say saying will would could should may might can must shall not no nor but
    than then also after before over under about into out up down more most less least new so such
    there here where when which who whom whose what while if because though although yet just only
    very do does did done any all some each every other another both either neither one own same too
    against between through during without within upon among per via""".split()
)

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][A-Za-z&'-]+")

FEATURE_NAMES = (
    "similarity",  # mean word/char TF-IDF cosine of the two sides
    "content_overlap_min",  # shared stemmed content words over the larger side's count
    "content_overlap_max",  # ... over the smaller side's count
    "unmatched_weight_max",  # IDF mass of content words with no counterpart, worse side
    "extra_span_share",  # longest one-sided token insertion, over the longer side
    "extra_span_4plus",  # 1 when some insertion runs 4+ tokens: an added clause
    "numbers_differ",  # 1 when a number stands on one side only
    "entities_differ",  # capitalised words on one side only (capped at 3)
    "length_ratio",  # shorter over longer, in tokens
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, numbers kept whole ("1,000", "4.5")."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stem_words([word])[0]


def numbers(text: str) -> set[str]:
    """Numbers as written, separators removed ("11,000" -> "11000")."""
    return set(figures(text))


@lru_cache(maxsize=100_000)
def figures(text: str) -> frozenset[str]:
    """`numbers`, cached: a scan reads the same sentence's figures in every pair it is linked in."""
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(text))


def capitalised(text: str) -> set[str]:
    """Capitalised words that are not sentence-initial: a cheap proxy for named entities."""
    return set(_capitalised(text))


@lru_cache(maxsize=100_000)
def _capitalised(text: str) -> frozenset[str]:
    return frozenset(m.group(0).lower() for m in _CAPITALISED.finditer(text))


@lru_cache(maxsize=50_000)
def _words(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(tokens, content words, their stems) of a text, cached: a sentence of a scan is scored
    in every link of every pair it belongs to."""
    all_tokens = tuple(tokens(text))
    content = tuple(w for w in all_tokens if w not in STOPWORDS)
    return all_tokens, content, tuple(_stem_words(list(content)))


def fidelity_features(a: str, b: str, similarity: float, weight: Callable[[str], float]) -> np.ndarray:
    """The FEATURE_NAMES vector of one sentence pair (or merged sentences)."""
    ta, ca, sa = _words(a)
    tb, cb, sb = _words(b)
    set_a, set_b = set(sa), set(sb)
    shared = len(set_a & set_b)
    overlap_a = shared / max(1, len(set_a))
    overlap_b = shared / max(1, len(set_b))
    weight_a, weight_b = [weight(w) for w in ca], [weight(w) for w in cb]
    unmatched_a = sum(x for x, s in zip(weight_a, sa) if s not in set_b) / max(1e-9, sum(weight_a) or 1.0)
    unmatched_b = sum(x for x, s in zip(weight_b, sb) if s not in set_a) / max(1e-9, sum(weight_b) or 1.0)
    extra = _longest_insertion(ta, tb)
    longer = max(len(ta), len(tb), 1)
    numbers_differ = float(figures(a) != figures(b))
    entities_differ = float(min(3, len(_capitalised(a) ^ _capitalised(b))))
    return np.array(
        [
            similarity,
            min(overlap_a, overlap_b),
            max(overlap_a, overlap_b),
            max(unmatched_a, unmatched_b),
            extra / longer,
            float(extra >= 4),
            numbers_differ,
            entities_differ,
            min(len(ta), len(tb)) / longer,
        ],
        dtype=np.float64,
    )


@lru_cache(maxsize=100_000)
def _longest_insertion(ta: tuple[str, ...], tb: tuple[str, ...]) -> int:
    """Longest one-sided run of tokens in difflib's opcodes; cached, since template and
    syndicated copy repeat the same sentence pairs across many document pairs."""
    extra = 0
    if ta == tb:
        return extra
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op != "equal":
            extra = max(extra, abs((i2 - i1) - (j2 - j1)))
    return extra


# Logistic weights over FEATURE_NAMES, fitted on ../shared/data/pairs/mrpc.train.jsonl
# (4,076 news sentence pairs) by benchmarks/calibrate_fidelity.py.
# 5-fold cross-validated there: accuracy 0.734 / F1 0.825 at fidelity >= 0.40.
WEIGHTS = np.array([1.3558, 0.5260, 1.3300, -2.6173, -2.1128, -0.4879, -0.4058, 0.0314, 2.0845])
INTERCEPT = -1.1431


def fidelity(features: np.ndarray) -> np.ndarray:
    """Probability that the two sides make the same claims (rows of features, or one row)."""
    z = np.asarray(features, dtype=np.float64) @ WEIGHTS + INTERCEPT
    return 1.0 / (1.0 + np.exp(-z))
