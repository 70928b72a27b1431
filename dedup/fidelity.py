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
from itertools import chain
from typing import Callable, Iterable, Sequence

import numpy as np

from dedup.jit import joined as joined_bytes, loaded_kernel

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
# A capital at a word start, not first in the text nor after a sentence end: written capital
# first, with the checks as lookbehinds over it, so that the engine scans for capitals in C
# and tries the checks only there (checks first ran them at every character: twice as slow).
_CAPITALISED = re.compile(r"[A-Z](?<=\b[A-Z])(?<![.!?]\s[A-Z])(?<!^[A-Z])[A-Za-z&'-]+")

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
    # Shared word n-grams over each side's n-grams, the lower and the higher of the two
    # shares (BLEU-like precisions, both ways): a paraphrase keeps phrases, another claim
    # about the same thing keeps words but breaks the phrases. Tokens n = 1-4, content-word
    # stems n = 2 (stem unigrams are content_overlap_*).
    *(f"{kind}{n}gram_{side}" for kind, sizes in (("word", (1, 2, 3, 4)), ("stem", (2,)))
      for n in sizes for side in ("min", "max")),
)
_WORD_GRAM_SIZES = (1, 2, 3, 4)
_STEM_GRAM_SIZES = (2,)
_WORD_3GRAMS = _WORD_GRAM_SIZES.index(3)  # position of the word 3-gram set in `_grams`
_ALL_SHARED = (1.0,) * (2 * (len(_WORD_GRAM_SIZES) + len(_STEM_GRAM_SIZES)))  # n-gram shares of a == b


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, numbers kept whole ("1,000", "4.5")."""
    return _TOKEN.findall(text.lower())


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
    return frozenset(map(str.lower, _CAPITALISED.findall(text)))  # the pattern has no groups: whole matches


@lru_cache(maxsize=50_000)
def _words(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(tokens, content words, their stems) of a text, cached: a sentence of a scan is scored
    in every link of every pair it belongs to."""
    all_tokens = tuple(tokens(text))
    content = tuple(w for w in all_tokens if w not in STOPWORDS)
    return all_tokens, content, tuple(_stem_words(list(content)))


@lru_cache(maxsize=8_192)
def _grams(text: str) -> tuple[frozenset, ...]:
    """Word n-gram sets (n in _WORD_GRAM_SIZES) then stem n-gram sets (_STEM_GRAM_SIZES) of a
    text, cached for the same reason as `_words`. An entry is ~13 KB (five sets of tuples, on
    5,000 corpus-10k sentences), so the cache is small: at 50,000 entries each verify worker
    held ~660 MB of it, and the 1M scan's process tree peaked at 4.2 GB. Verify takes pairs in
    graph order (`pipeline._local_order`), so a sentence's reuses come close together."""
    all_tokens, _, stems = _words(text)
    # zip of shifted views builds the n-gram tuples in C: ~4x faster than slicing per position
    return tuple(frozenset(zip(*(seq[k:] for k in range(n))))
                 for seq, sizes in ((all_tokens, _WORD_GRAM_SIZES), (stems, _STEM_GRAM_SIZES)) for n in sizes)


def _gram_precisions(a: str, b: str) -> list[float]:
    """For each n-gram set: (shared / |A's|, shared / |B's|) as (lower, higher); 0 when one side has
    none, 1 when neither has (too short for n-grams of that size: no difference at that size). So
    a sentence paired with itself scores 1 on all of them whatever its length."""
    out: list[float] = []
    for grams_a, grams_b in zip(_grams(a), _grams(b)):
        if grams_a and grams_b:
            shared = len(grams_a & grams_b)
            share_a, share_b = shared / len(grams_a), shared / len(grams_b)
            out += [min(share_a, share_b), max(share_a, share_b)]
        else:
            out += [0.0, 0.0] if grams_a or grams_b else [1.0, 1.0]
    return out


# A copied sentence: this share of the shorter side's word 3-grams stands in the other side, and
# the shorter side has at least COPIED_MIN_GRAMS of them. Calibrated on
# ../shared/data/pairs/clough-stevenson.dev.jsonl (`cut` answers paste source sentences with a
# clause cut or added: 0.8 keeps those, at 0.9 they drop out) and checked on
# ../shared/data/pairs/semeval2022-en.dev.jsonl (independent outlets: no pair changes label).
# A changed name or figure breaks three 3-grams, so a filled-in template sentence stays below.
COPIED_SHARE = 0.8
COPIED_MIN_GRAMS = 6


def copied(a: str, b: str) -> bool:
    """Is one sentence the other with words cut or added? Evidence of derivation in a document
    pair even when the claims differ by a clause (which `fidelity` rightly scores low)."""
    if a == b:  # all its 3-grams are shared: is it long enough to say?
        return _word_3gram_count(a) >= COPIED_MIN_GRAMS
    grams_a, grams_b = _grams(a)[_WORD_3GRAMS], _grams(b)[_WORD_3GRAMS]
    shorter = min(len(grams_a), len(grams_b))
    return shorter >= COPIED_MIN_GRAMS and len(grams_a & grams_b) >= COPIED_SHARE * shorter


@lru_cache(maxsize=100_000)
def _word_3gram_count(text: str) -> int:
    """Distinct word 3-grams of a text (`_grams`' set of them, without building the others)."""
    all_tokens = _token_tuple(text)
    return len(set(zip(all_tokens, all_tokens[1:], all_tokens[2:])))


def fidelity_features(a: str, b: str, similarity: float, weight: Callable[[str], float]) -> np.ndarray:
    """The FEATURE_NAMES vector of one sentence pair (or merged sentences)."""
    if a == b:  # ~40% of a scan's links: a copied sentence needs no comparison
        return np.array([similarity, *_identical_features(a)], dtype=np.float64)
    return _compared_features(a, b, similarity, weight)


def _compared_features(a: str, b: str, similarity: float, weight: Callable[[str], float]) -> np.ndarray:
    """`fidelity_features` computed in full."""
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
            *_gram_precisions(a, b),
        ],
        dtype=np.float64,
    )


def link_feature_rows(links: Sequence[tuple[str, str, float]],
                      weight: Callable[[str], float]) -> tuple[np.ndarray, np.ndarray]:
    """FEATURE_NAMES rows and `copied` flags of many (a, b, similarity) sentence pairs at once.

    A scan scores every link of every aligned pair; one at a time, a non-identical link cost
    ~0.2 ms of Python (n-gram sets of tuples, difflib). The compiled path (`dedup._kernels.
    link_features`) compares the texts as arrays of word ids instead, with the same counts,
    divisions and sums, so the rows are the per-pair `fidelity_features` and `copied`.
    """
    rows = np.zeros((len(links), len(FEATURE_NAMES)), dtype=np.float64)
    copied_flags = np.zeros(len(links), dtype=bool)
    compared: list[int] = []
    for k, (a, b, similarity) in enumerate(links):
        if a == b:
            rows[k, 0] = similarity
            rows[k, 1:] = _identical_features(a)
            copied_flags[k] = copied(a, a)
        else:
            compared.append(k)
    if not compared:
        return rows, copied_flags
    compiled = loaded_kernel("link_features")
    if compiled is None:
        for k in compared:
            a, b, similarity = links[k]
            rows[k] = _compared_features(a, b, similarity, weight)
            copied_flags[k] = copied(a, b)
        return rows, copied_flags
    index: dict[str, int] = {}  # each distinct side text once
    for k in compared:
        index.setdefault(links[k][0], len(index))
        index.setdefault(links[k][1], len(index))
    texts = list(index)
    token_ids, token_offsets, stem_ids, stem_offsets, content = _id_arrays(texts)
    weights = _WORD_WEIGHTS.of(token_ids[content], weight)  # each content word's unmatched-word weight
    side_a = np.fromiter((index[links[k][0]] for k in compared), dtype=np.int64, count=len(compared))
    side_b = np.fromiter((index[links[k][1]] for k in compared), dtype=np.int64, count=len(compared))
    similarity = np.fromiter((links[k][2] for k in compared), dtype=np.float64, count=len(compared))
    found, found_copied = compiled(token_ids, token_offsets, stem_ids, stem_offsets, weights, side_a, side_b,
                                   similarity, COPIED_SHARE, COPIED_MIN_GRAMS)
    # Figures and names: each distinct text's sets once, numbered so that equal sets get
    # equal numbers; a link compares numbers, and counts names only where they differ.
    names = list(map(_capitalised, texts))
    figure_ids, name_ids = set_ids(map(figures, texts)), set_ids(names)
    found[:, 6] = figure_ids[side_a] != figure_ids[side_b]
    differ = np.flatnonzero(name_ids[side_a] != name_ids[side_b])
    found[differ, 7] = [min(3, len(names[a] ^ names[b])) for a, b in zip(side_a[differ].tolist(),
                                                                         side_b[differ].tolist())]
    rows[compared] = found
    copied_flags[compared] = found_copied
    return rows, copied_flags


def set_ids(sets: Iterable[frozenset]) -> np.ndarray:
    """A number per set, equal for equal sets (first-seen order)."""
    numbers: dict[frozenset, int] = {}
    return np.fromiter((numbers.setdefault(x, len(numbers)) for x in sets), dtype=np.int64)


class _Vocabulary(dict):
    """Word and stem ids for the compiled comparison, one per process: token -> id, where equal
    strings (tokens or stems) get equal ids. A token seen for the first time is stemmed then,
    once: `stem_of[id]` is its stem's id, or -1 for a stopword, so a text's content-word stems
    are a lookup of its token ids (stemming each text's words per call was a tenth of the
    verify workers' time).

    With the kernels loaded, `ids_of` finds a batch's tokens and their ids in compiled code
    (`_kernels.text_tokens`, `vocabulary_find`) over the texts' bytes: every id's string is
    kept as bytes (`store`), and the tokens' ids in an open-addressing table on their bytes
    (`table`); only tokens new to the process come back to Python. Tokenising with the regex
    and looking each token up in this dict was ~30% of scoring a verify chunk's links."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []  # id -> string
        self.stem_of = np.full(1024, -1, dtype=np.int64)
        self._strings: dict[str, int] = {}  # tokens and stems alike
        self.store = np.zeros(1 << 16, dtype=np.uint8)  # every id's UTF-8 bytes, end to end
        self.store_offsets = np.zeros(1025, dtype=np.int64)  # id i: store[offsets[i]:offsets[i + 1]]
        self.table = np.full(1 << 12, -1, dtype=np.int64)  # token ids by their bytes' hash
        self._new_tokens: list[int] = []  # token ids not in `table` yet

    def __missing__(self, token: str) -> int:
        self.add([token])
        return self[token]

    def add(self, tokens: list[str]) -> None:
        """Number `tokens` (distinct, none known yet) and their stems. A block worker meets
        ~100k new words: stemmed in one call and their bytes stored in one copy, where one
        at a time (a stemmer call and a numpy copy per string) they were 3.4% of corpus-1m's
        block CPU."""
        content = [token for token in tokens if token not in STOPWORDS]
        stem_of_content = dict(zip(content, self._intern(_stem_words(content))))
        idents = self._intern(tokens)
        if len(self.words) > len(self.stem_of):
            grown = np.full(2 * len(self.words), -1, dtype=np.int64)
            grown[:len(self.stem_of)] = self.stem_of
            self.stem_of = grown
        self.stem_of[idents] = [stem_of_content.get(token, -1) for token in tokens]
        self.update(zip(tokens, idents))
        self._new_tokens.extend(idents)

    def _intern(self, strings: list[str]) -> list[int]:
        """The ids of `strings` (tokens or stems alike), new ones numbered in order."""
        idents: list[int] = []
        first_new = len(self.words)
        for text in strings:
            ident = self._strings.get(text)
            if ident is None:
                ident = self._strings[text] = len(self.words)
                self.words.append(text)
            idents.append(ident)
        if len(self.words) > first_new:
            self._keep_bytes(first_new, [text.encode("utf-8", "surrogatepass") for text in self.words[first_new:]])
        return idents

    def _keep_bytes(self, first: int, parts: list[bytes]) -> None:
        """Append the bytes of ids first, first + 1, ... to `store` (ids come in order)."""
        last = first + len(parts)
        if last + 1 > len(self.store_offsets):
            grown_offsets = np.zeros(max(2 * len(self.store_offsets), last + 1), dtype=np.int64)
            grown_offsets[:first + 1] = self.store_offsets[:first + 1]
            self.store_offsets = grown_offsets
        data, offsets = joined_bytes(parts)
        begin = int(self.store_offsets[first])
        end = begin + len(data)
        if end > len(self.store):
            grown = np.zeros(max(2 * len(self.store), end), dtype=np.uint8)
            grown[:begin] = self.store[:begin]
            self.store = grown
        self.store[begin:end] = np.frombuffer(data, dtype=np.uint8)
        self.store_offsets[first + 1:last + 1] = begin + offsets[1:]

    def _index_new_tokens(self) -> None:
        """Put the tokens added since the last call into `table`, doubling it past half full."""
        if not self._new_tokens:
            return
        new = np.array(self._new_tokens, dtype=np.int64)
        self._new_tokens.clear()
        if 2 * len(self) > len(self.table):  # every token is in the table once this returns
            size = len(self.table)
            while 2 * len(self) > size:
                size *= 2
            self.table = np.full(size, -1, dtype=np.int64)
            new = np.fromiter(self.values(), dtype=np.int64, count=len(self))
        loaded_kernel("vocabulary_insert")(self.table, self.store, self.store_offsets, new)

    def ids_of(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, tokens per text as offsets) of `texts`, as `tokens` splits them, through
        the compiled kernels (loaded already: `jit.loaded_kernel`). A text is lower-cased as `tokens`
        does, then each non-ASCII character becomes one '?', which no token holds, as no
        token of the pattern holds a non-ASCII character."""
        self._index_new_tokens()
        joined, text_offsets = joined_bytes([text.lower().encode("ascii", "replace") for text in texts])
        buffer = np.frombuffer(joined, dtype=np.uint8)
        starts, ends, token_offsets = loaded_kernel("text_tokens")(buffer, text_offsets)
        ids = loaded_kernel("vocabulary_find")(buffer, starts, ends, self.table, self.store, self.store_offsets)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            found = [joined[start:end].decode("ascii") for start, end in zip(starts[missing].tolist(),
                                                                             ends[missing].tolist())]
            self.add(list(dict.fromkeys(found)))
            ids[missing] = [self[token] for token in found]
            self._index_new_tokens()
        return ids, token_offsets


_VOCABULARY = _Vocabulary()


class _WordWeights:
    """`weight(word)` per vocabulary id, asked once per word and process. Asked once per
    distinct word of each call instead, the Python calls were 2.4% of corpus-1m's block CPU.
    A new weight function starts afresh; a refit one (same function, new IDF) must call
    `forget_word_weights`."""

    def __init__(self) -> None:
        self.weight: Callable[[str], float] | None = None
        self.values = np.zeros(0, dtype=np.float64)
        self.known = np.zeros(0, dtype=bool)

    def of(self, ids: np.ndarray, weight: Callable[[str], float]) -> np.ndarray:
        """The weight of each id of `ids` (an int64 array of `_VOCABULARY` ids)."""
        if weight != self.weight:  # bound methods are equal when their function and object are
            self.forget()
            self.weight = weight
        size = len(_VOCABULARY.words)
        if size > len(self.values):
            grown = max(size, 2 * len(self.values))
            self.values = np.concatenate([self.values, np.zeros(grown - len(self.values))])
            self.known = np.concatenate([self.known, np.zeros(grown - len(self.known), dtype=bool)])
        new = np.unique(ids[~self.known[ids]])
        if len(new):
            words = _VOCABULARY.words
            self.values[new] = [weight(words[i]) for i in new.tolist()]
            self.known[new] = True
        return self.values[ids]

    def forget(self) -> None:
        self.weight = None
        self.values = np.zeros(0, dtype=np.float64)
        self.known = np.zeros(0, dtype=bool)


_WORD_WEIGHTS = _WordWeights()


def forget_word_weights() -> None:
    """Drop the per-word weights `link_feature_rows` keeps: call when the weights change
    (`verify.SentenceVectorizer` does whenever it is fitted)."""
    _WORD_WEIGHTS.forget()


@lru_cache(maxsize=50_000)
def _token_tuple(text: str) -> tuple[str, ...]:
    """`tokens(text)`, cached: a sentence is compared in every link of every pair it is in."""
    return tuple(tokens(text))


def _id_arrays(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_words`' token and content-word stem sequences of many texts as id arrays laid end to
    end -> (token ids, token offsets, stem ids, stem offsets, content mask over the tokens)."""
    if loaded_kernel("text_tokens") is not None:
        token_ids, token_offsets = _VOCABULARY.ids_of(texts)
    else:
        token_lists = [_token_tuple(text) for text in texts]
        token_offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, token_lists), dtype=np.int64, count=len(texts)), out=token_offsets[1:])
        token_ids = np.fromiter(map(_VOCABULARY.__getitem__, chain.from_iterable(token_lists)), dtype=np.int64,
                                count=int(token_offsets[-1]))
    stems = _VOCABULARY.stem_of[token_ids]
    content = stems >= 0
    content_before = np.zeros(len(token_ids) + 1, dtype=np.int64)
    np.cumsum(content, out=content_before[1:])
    return token_ids, token_offsets, stems[content], content_before[token_offsets], content


@lru_cache(maxsize=100_000)
def _identical_features(text: str) -> tuple[float, ...]:
    """FEATURE_NAMES[1:] of a text against itself, what the general path computes for a == b:
    every share is 1 (0 for the word shares of a text without such words), no unmatched
    weight whatever the weights, no insertion, no differing number or name. A text has
    content-word stems exactly when it has a content word, so nothing is stemmed here."""
    all_tokens = _token_tuple(text)
    has_stems = float(not STOPWORDS.issuperset(all_tokens))
    has_tokens = float(bool(all_tokens))
    return (has_stems, has_stems, 0.0, 0.0, 0.0, 0.0, 0.0, has_tokens, *_ALL_SHARED)


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
# 5-fold cross-validated there: accuracy 0.755 / F1 0.837 at fidelity >= 0.40 (0.734 / 0.825
# with the first nine features only: the n-gram precisions add the rest).
WEIGHTS = np.array([3.0069, 0.4426, 2.1030, -2.2584, -2.2412, -0.4680, -0.4768, 0.0439, 0.7544, 2.2603, 1.1920,
                    1.3952, -0.5499, 0.6486, -1.2338, 0.4850, -1.1592, -1.5372, -1.5556])
INTERCEPT = -2.1842


def fidelity(features: np.ndarray) -> np.ndarray:
    """Probability that the two sides make the same claims (rows of features, or one row)."""
    z = np.asarray(features, dtype=np.float64) @ WEIGHTS + INTERCEPT
    return 1.0 / (1.0 + np.exp(-z))
