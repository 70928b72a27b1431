"""Verify stage: align the sentences of a candidate pair and measure how much of each side is reused.

A copy or rewrite keeps its source's claims sentence by sentence, while an independent
story on the same event shares names and figures but few sentence-level counterparts.
So the verifier works on sentences, not on the whole-document bag of words:

1. split each cleaned text into sentences;
2. embed every sentence as a TF-IDF vector (word 1-2-grams and char_wb 3-5-grams, hashed,
   IDF fitted on the corpus's sentences, not on the pair);
3. align: a monotone 1-1 dynamic programme for anchors (a rewrite keeps its source's
   order), gap filling between anchors with 1-1 and 1-2 / 2-1 merges, and an order-free
   mutual-best pass so a reordered rewrite is still caught;
4. read features off the alignment: coverage of each side weighted by characters, anchor
   count, longest run, share of near-verbatim links, order consistency, mean similarity.

The relate stage turns the features into a label; the diff view reuses the alignment, so
scan and diff never disagree about which sentences match.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32
from xxhash import xxh3_128_digest

from dedup.fingerprint import ranks_within
from dedup.fidelity import figures, fidelity, forget_word_weights, link_feature_rows, set_ids
from dedup.jit import joined, kernel, loaded_kernel
from dedup.ngram_hash import bmp_word_table, ngram_counts, packed_column_bits, unpack_counts
from dedup.workers import bounded_map, worker_pool


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a cleaned text; `start`/`end` are character offsets into that text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Link:
    """Sentences of A matched to sentences of B.

    `a` and `b` are sentence indices (one or two each: 1-1, 1-2 and 2-1 merges).
    `kind` is "anchor" (monotone 1-1 path), "merge" (gap filled with a 1-2/2-1
    merge), "gap" (1-1 found between anchors) or "reorder" (order-free mutual best).
    """

    a: tuple[int, ...]
    b: tuple[int, ...]
    similarity: float
    kind: str


@dataclass(slots=True)
class Alignment:
    """The sentence alignment of one pair: what the scan labels and the diff shows."""

    a_sentences: list[Sentence]
    b_sentences: list[Sentence]
    links: list[Link] = field(default_factory=list)

    @property
    def unmatched_a(self) -> list[int]:
        used = {i for link in self.links for i in link.a}
        return [i for i in range(len(self.a_sentences)) if i not in used]

    @property
    def unmatched_b(self) -> list[int]:
        used = {j for link in self.links for j in link.b}
        return [j for j in range(len(self.b_sentences)) if j not in used]


_FIGURE_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred january february
    march april may june july august september october november december monday tuesday wednesday thursday
    friday saturday sunday""".split())
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=100_000)
def _figures(text: str) -> frozenset[str]:
    """Figures of a sentence for the template test: numbers, numbers written as words, and
    month and day names (a template's "when" is filled in as much as its values).

    Reuters writes small values as words ("Pay April six", "Qtly div three cts") and moves
    dates ("Record March 15" / "Record June 15"); without them a dividend notice filled with
    other values would look like a copy with a figure dropped. Cached: a scan reads the same
    sentence in every pair it is linked in (18% of the align workers' time on corpus-10k).
    """
    return figures(text) | _FIGURE_WORDS.intersection(_WORD.findall(text.lower()))  # a set: 5x an alternation regex


_FIGURE_WORD_BITS = {word: bit for bit, word in enumerate(sorted(_FIGURE_WORDS))}  # 47 words: one uint64
_FIGURE_WORD_BYTES = joined([word.encode("ascii") for word in _FIGURE_WORD_BITS])  # as the kernel reads them


def _figure_word_masks(texts: Sequence[str]) -> np.ndarray:
    """`_FIGURE_WORDS` found in each text by `_figures`, as bits of `_FIGURE_WORD_BITS` (uint64)."""
    masks = np.zeros(len(texts), dtype=np.uint64)
    compiled = loaded_kernel("figure_word_masks")
    plain = [k for k, text in enumerate(texts) if text.isascii()] if compiled is not None else []
    if plain:  # in ASCII text `\w` is [A-Za-z0-9_], which the kernel reads
        data, offsets = joined([texts[k].lower().encode("ascii") for k in plain])
        words, word_offsets = _FIGURE_WORD_BYTES
        masks[plain] = compiled(np.frombuffer(data, dtype=np.uint8), offsets, np.frombuffer(words, dtype=np.uint8),
                                word_offsets)
    done = set(plain)
    for k, text in enumerate(texts):
        if k not in done:
            masks[k] = sum(1 << _FIGURE_WORD_BITS[w] for w in _FIGURE_WORDS.intersection(_WORD.findall(text.lower())))
    return masks


def template_figure_flags(texts_a: Sequence[str], texts_b: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per link (texts_a[k], texts_b[k]), from each side's `_figures`: (either side has a figure,
    each side has one the other lacks). Each distinct text is read once, its figure words as
    bits (`_figure_word_masks`) and its numbers as `figures` gives them; the sets are compared
    only where two sides' numbers differ. Per link, `_figures` of both sides was 4.8% of
    corpus-1m's block CPU."""
    index: dict[str, int] = {}
    side_a = np.fromiter((index.setdefault(t, len(index)) for t in texts_a), dtype=np.int64, count=len(texts_a))
    side_b = np.fromiter((index.setdefault(t, len(index)) for t in texts_b), dtype=np.int64, count=len(texts_b))
    distinct = list(index)
    masks = _figure_word_masks(distinct)
    numbers = [figures(text) for text in distinct]
    number_id = set_ids(numbers)
    has = (masks != 0) | np.fromiter(map(bool, numbers), dtype=bool, count=len(numbers))
    mask_a, mask_b = masks[side_a], masks[side_b]
    a_only, b_only = (mask_a & ~mask_b) != 0, (mask_b & ~mask_a) != 0
    for k in np.flatnonzero(number_id[side_a] != number_id[side_b]).tolist():
        numbers_a, numbers_b = numbers[side_a[k]], numbers[side_b[k]]
        a_only[k] |= bool(numbers_a - numbers_b)
        b_only[k] |= bool(numbers_b - numbers_a)
    return has[side_a] | has[side_b], a_only & b_only


_DIGIT = re.compile(r"\d")


def has_figures(text: str) -> bool:
    """Whether `_figures(text)` is non-empty (a digit or a figure word), without building or
    caching the set: the verify fast path asks it once of every distinct sentence."""
    return _DIGIT.search(text) is not None or not _FIGURE_WORDS.isdisjoint(_WORD.findall(text.lower()))


@dataclass(slots=True)
class PairFeatures:
    """What the alignment says about a pair; the relate stage reads only these."""

    coverage_a: float  # share of A's characters in linked sentences
    coverage_b: float
    anchors: int  # links on the monotone path
    links: int  # all links (anchor, gap, merge, reorder)
    longest_run: int  # longest run of links consecutive on both sides
    longest_run_share: float  # that run's characters over the shorter side's characters
    verbatim_run: int  # longest run of consecutive near-verbatim links: a pasted passage
    verbatim_run_share: float  # that run's characters over the shorter side's characters
    verbatim_run_at_edge: bool  # the run opens or closes both texts: shared page header/footer
    figure_links: int  # links with a number on either side
    figure_mismatches: int  # of those, links where figures were swapped (each side has one the other lacks)
    verbatim_share: float  # share of links with similarity >= VERBATIM_SIMILARITY
    order_consistency: float  # share of link pairs in the same order on both sides (1.0 below 4 links)
    mean_similarity: float  # mean link similarity, weighted by characters
    weighted_coverage_a: float  # coverage weighted by link similarity
    weighted_coverage_b: float
    faithful_coverage_a: float  # coverage weighted by link claim fidelity (dedup.fidelity)
    faithful_coverage_b: float
    mean_fidelity: float  # mean claim fidelity of the links, weighted by characters
    sentences_a: int
    sentences_b: int
    chars_a: int
    chars_b: int

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- sentences

# Abbreviations that end in a period but rarely end a sentence (lower-cased, without the dot).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres
    inc corp co ltd llc plc bros dept univ assn jan feb mar apr jun jul aug sep sept oct nov dec
    no vs etc approx est fig al e.g i.e u.s u.k u.n a.m p.m""".split()
)
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace
# and an opening capital, digit or quote. Paragraph breaks always end a sentence.
_SENTENCE_END = re.compile(r"""[.!?]+["')\]]*(?=\s+["'(\[]?[A-Z0-9])""")
_BLANK_LINES = re.compile(r"\n\s*\n")  # a paragraph break: whitespace holding two newlines
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def split_sentences(text: str) -> list[Sentence]:
    """Split a cleaned text into sentences, with offsets.

    Rule-based on purpose: fast, deterministic and language-light. Paragraphs (blank-line
    separated) are split at terminal punctuation followed by a capital, except after common
    abbreviations and single initials ("U.S.", "Mr.", "J."). A sentence's text is its span
    with every run of whitespace made one space.
    """
    return [Sentence(" ".join(text[start:end].split()), start, end) for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences `split_sentences` returns."""
    spans: list[tuple[int, int]] = []
    for p_start, chunk in paragraphs(text):
        begin = 0
        for end_match in _SENTENCE_END.finditer(chunk):
            end = end_match.end()
            word = _LAST_WORD.search(chunk, max(0, end_match.start() - 20), end_match.start() + 1)
            if word is not None:
                token = word.group(1).lower().rstrip(".")
                if token in _ABBREVIATIONS or len(token) == 1:
                    continue
            _append_span(spans, chunk, begin, end, p_start)
            begin = end
        _append_span(spans, chunk, begin, len(chunk), p_start)
    return spans


def paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each paragraph: the stripped, non-empty pieces between blank lines.

    Splitting at the breaks, rather than matching paragraphs with a lazy pattern that looks
    ahead for a break after every character, made the whole sentence splitter 2.7x faster.
    """
    begin = 0
    for end, after in [(m.start(), m.end()) for m in _BLANK_LINES.finditer(text)] + [(len(text), len(text))]:
        piece = text[begin:end]
        stripped = piece.strip()
        if stripped:
            yield begin + len(piece) - len(piece.lstrip()), stripped
        begin = after


def _append_span(out: list[tuple[int, int]], chunk: str, begin: int, end: int, offset: int) -> None:
    piece = chunk[begin:end]
    stripped = piece.strip()
    if not stripped or not _HAS_WORD.search(stripped):
        return
    start = offset + begin + len(piece) - len(piece.lstrip())
    out.append((start, start + len(stripped)))


_HAS_WORD = re.compile(r"\w")


# Each abbreviation's bytes packed little-endian into a uint64, for the compiled splitter.
_ABBREVIATION_KEYS = np.array(sorted(sum(ord(c) << (8 * q) for q, c in enumerate(word)) for word in _ABBREVIATIONS),
                              dtype=np.uint64)
assert max(map(len, _ABBREVIATIONS)) <= 8


@lru_cache(maxsize=1)
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per code point below 2^16: (`str.isspace`, the regex `\\w`), which the compiled splitter
    reads where the regexes say `\\s` and `\\w`."""
    return np.array([chr(c).isspace() for c in range(1 << 16)], dtype=np.bool_), bmp_word_table()


def span_array(text: str, compiled: Callable | None = None, data: bytes | None = None) -> np.ndarray:
    """`sentence_spans` as an (n, 2) int32 array; with `compiled` (the `text_sentence_spans`
    kernel) an ASCII text is split by it, from `data` (its ASCII bytes) when the caller has them."""
    if compiled is not None and (data is not None or text.isascii()):
        return compiled(np.frombuffer(text.encode("ascii") if data is None else data, dtype=np.uint8),
                        _ABBREVIATION_KEYS, *_bmp_tables())
    return np.asarray(sentence_spans(text), dtype=np.int32).reshape(-1, 2)


def packed_spans(text: str) -> bytes:
    """A text's sentence spans as int32 (start, end) pairs: what `SentenceStore` holds."""
    return span_array(text, loaded_kernel("text_sentence_spans")).tobytes()


_ASCII_SPACE_BUT_SPACE_NEWLINE = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f"  # each looked for with `in` (memchr): 20x a regex class


def _spans_folded(text: str) -> bool:
    """Is every sentence span of `text` already its whitespace-folded text (so a slice, not
    `" ".join(span.split())`, which was 70% of building the fast path's sentence table)?

    True of a cleaned ASCII text: no whitespace but single spaces and newlines that all sit in
    paragraph breaks (every newline next to another, so `_BLANK_LINES` consumes it), while
    spans are stripped and never cross a break.
    """
    return (text.isascii() and "  " not in text and text.count("\n") == 2 * text.count("\n\n")
            and not any(space in text for space in _ASCII_SPACE_BUT_SPACE_NEWLINE))


def span_texts(text: str, spans: list[tuple[int, int]], folded: bool | None = None) -> list[str]:
    """The sentence texts of `text`'s spans: each with its whitespace folded, or sliced as it is
    when `folded` (`_spans_folded(text)`, found when None)."""
    if folded is None:
        folded = _spans_folded(text)
    if folded:
        return [text[start:end] for start, end in spans]
    return [" ".join(text[start:end].split()) for start, end in spans]


def sentence_keys(sentences: list[str]) -> tuple[bytes, bytes]:
    """(the 16-byte xxh3-128 digest of each sentence text, end to end; their lengths as int32):
    what `SentenceStore.keys` holds, so that equal texts can be found without holding them."""
    digests = b"".join([xxh3_128_digest(t.encode("utf-8", "surrogatepass")) for t in sentences])
    return digests, np.fromiter(map(len, sentences), dtype=np.int32, count=len(sentences)).tobytes()


def split_with_keys(text: str) -> tuple[bytes, tuple[bytes, bytes]]:
    """A text's `packed_spans` and the `sentence_keys` of its sentences (one text of a split
    worker's answer: see `split_batch_with_keys`)."""
    folded = _spans_folded(text)
    data = text.encode("ascii") if folded else None
    packed = span_array(text, loaded_kernel("text_sentence_spans"), data)
    return _keyed_spans(text, packed, None if data is None else memoryview(data))


def _keyed_spans(text: str, packed: np.ndarray, folded_bytes: memoryview | None,
                 base: int = 0) -> tuple[bytes, tuple[bytes, bytes]]:
    """(packed spans, `sentence_keys`) of a text split into `packed`. When the spans are the
    sentence texts (`_spans_folded`: an ASCII text, its bytes are its characters), each is
    hashed straight from the text's bytes, folded_bytes[base:], without a string of its own."""
    spans = packed.tolist()
    if folded_bytes is None:
        return packed.tobytes(), sentence_keys(span_texts(text, spans, False))
    digests = b"".join([xxh3_128_digest(folded_bytes[base + start:base + end]) for start, end in spans])
    return packed.tobytes(), (digests, (packed[:, 1] - packed[:, 0]).astype(np.int32).tobytes())


def split_batch_with_keys(texts: Sequence[str]) -> list[tuple[bytes, tuple[bytes, bytes]]]:
    """`split_with_keys` of each text (a split worker's chunk). A batch of news is large enough
    for the compiled splitter (`_kernels.split_batch`): one call on the ASCII texts' bytes (their
    spans, and which are `_spans_folded`), one on the other texts' code points; a text with a
    code point past 2^16 takes the regex path."""
    is_ascii = [text.isascii() for text in texts]
    ascii_at = [k for k, ascii_ in enumerate(is_ascii) if ascii_]
    other_at = [k for k, ascii_ in enumerate(is_ascii) if not ascii_]
    compiled = kernel("split_batch", sum(len(texts[k]) for k in ascii_at) + 4 * sum(len(texts[k]) for k in other_at))
    if compiled is None:
        return [split_with_keys(text) for text in texts]
    answers: list[tuple[bytes, tuple[bytes, bytes]] | None] = [None] * len(texts)
    for at, dtype, codec in ((ascii_at, np.uint8, "ascii"), (other_at, np.uint32, "utf-32-le")):
        if not at:
            continue
        buffer, offsets = joined([texts[k].encode(codec, "surrogatepass") for k in at])
        points = np.frombuffer(buffer, dtype=dtype)
        spans, span_offsets, plain, fit = compiled(points, offsets // points.itemsize, _ABBREVIATION_KEYS,
                                                   *_bmp_tables())
        view = memoryview(buffer) if dtype is np.uint8 else None  # only ASCII spans can be their sentences
        for k, base, lo, hi, folded, done in zip(at, offsets.tolist(), span_offsets[:-1].tolist(),
                                                 span_offsets[1:].tolist(), plain.tolist(), fit.tolist()):
            if done:
                answers[k] = _keyed_spans(texts[k], spans[lo:hi], view if folded else None, base)
    return [split_with_keys(texts[k]) if answer is None else answer for k, answer in enumerate(answers)]


class SentenceStore:
    """The sentences of a corpus's documents, held as int32 spans into their cleaned texts.

    A scan splits every document that is in a candidate pair. As `Sentence` objects that is
    about 315 bytes a sentence (2.7 KB a news article, more than its text: ~2 GB for a
    million-document scan, and forked verify workers copy the pages they touch); as spans it
    is 8 bytes. `store[k]` makes document k's `Sentence` list when a pair is aligned;
    `texts(k)` and `counts` serve the stages that need no objects. A document not split yet
    holds None; one dropped (in no pair) holds no sentences.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.documents = texts
        self._spans: list[bytes | None] = [None] * len(texts)
        self._folded = bytearray(len(texts))  # per document: 0 not known yet, 1 `_spans_folded`, 2 not
        self._keys: list[tuple[bytes, bytes] | None] = [None] * len(texts)  # `sentence_keys`, when given

    def __len__(self) -> int:
        return len(self._spans)

    def __getitem__(self, k: int) -> list[Sentence]:
        spans = self.spans(k).tolist()
        if not spans:  # a dropped document: its text (perhaps on disk) is not read
            return []
        return [Sentence(sentence, start, end) for sentence, (start, end) in zip(self._span_texts(k, spans), spans)]

    def _span_texts(self, k: int, spans: list[tuple[int, int]]) -> list[str]:
        """Document k's sentence texts: each span with its whitespace folded, or sliced as it is
        when `_spans_folded` (asked once per document: one is read in every pair it is in)."""
        text = self.documents[k]
        flag = self._folded[k]
        if not flag:
            flag = self._folded[k] = 1 if _spans_folded(text) else 2
        return span_texts(text, spans, flag == 1)

    def is_split(self, k: int) -> bool:
        return self._spans[k] is not None

    def put(self, k: int, packed: bytes, keys: tuple[bytes, bytes] | None = None) -> None:
        """Set document k's spans (`packed_spans` of its text) and, if known, its sentences'
        `sentence_keys` (a split worker makes them while it holds the text)."""
        self._spans[k] = packed
        self._keys[k] = keys

    def keys(self, k: int) -> tuple[bytes, bytes]:
        """Document k's `sentence_keys`: as put, or made from its sentence texts now."""
        keys = self._keys[k]
        return keys if keys is not None else sentence_keys(self.texts(k))

    def forget_keys(self) -> None:
        """Free the sentence keys once the sentence table is made."""
        self._keys = [None] * len(self._keys)

    def drop(self, k: int) -> None:
        """Hold no sentences for document k (it is in no pair)."""
        self._spans[k] = b""
        self._keys[k] = None

    def spans(self, k: int) -> np.ndarray:
        packed = self._spans[k]
        if packed is None:
            packed = self._spans[k] = packed_spans(self.documents[k])
        return np.frombuffer(packed, dtype=np.int32).reshape(-1, 2)

    def count(self, k: int) -> int:
        packed = self._spans[k]
        return len(packed) // 8 if packed is not None else len(self.spans(k))

    def counts(self, indices: Iterable[int] | None = None) -> np.ndarray:
        """Sentences per document (of `indices`, default all), as int64."""
        indices = range(len(self)) if indices is None else indices
        return np.fromiter((self.count(k) for k in indices), dtype=np.int64)

    def texts(self, k: int) -> list[str]:
        """Document k's sentence texts (whitespace-normalised), without Sentence objects."""
        spans = self.spans(k).tolist()
        return self._span_texts(k, spans) if spans else []


# --------------------------------------------------------------------------- vectors


class SentenceVectorizer:
    """TF-IDF sentence vectors: word 1-2-grams and char_wb 3-5-grams, hashed, each L2-normalised.

    Hashing keeps memory flat on millions of sentences and makes vectors of a new article
    comparable with an index built earlier. The two channels are concatenated with weight
    1/sqrt(2) each, so a dot product is the mean of the word and the char cosines: words
    reward shared terms, char n-grams forgive inflection ("deploy"/"deployment").
    """

    def __init__(self, n_features: int = 2**18, max_fit_sentences: int = 200_000, seed: int = 0) -> None:
        self.n_features = n_features
        self.max_fit_sentences = max_fit_sentences
        self.seed = seed
        self._word_idf = TfidfTransformer(sublinear_tf=True)
        self._char_idf = TfidfTransformer(sublinear_tf=True)
        self.fitted_ = False

    def counts(self, sentences: Sequence[str], jobs: int = 1) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Hashed word and char n-gram counts (the costly, stateless part), on `jobs` processes.

        The same matrices as scikit-learn's HashingVectorizer (word 1-2-grams with the token
        pattern `(?u)\\b\\w+\\b`; char_wb 3-5-grams), computed by `dedup.ngram_hash` in
        chunks that bound the temporary arrays (about 300 n-grams a sentence).
        """
        done = self._per_chunk(_hash_sentences, sentences, jobs)
        if len(done) == 1:
            return done[0]
        return sp.vstack([w for w, _ in done], format="csr"), sp.vstack([c for _, c in done], format="csr")

    def _per_chunk(self, work: Callable[[tuple[list[str], int]], R], sentences: Sequence[str], jobs: int) -> list[R]:
        """`work((chunk, n_features))` for each HASH_CHUNK of the sentences (one empty sentence
        when there are none), in order; on the scan's shared pool when there are 4+ chunks (no
        process start per call: verify makes one call per block)."""
        sentences = list(sentences) or [""]
        jobs_args = [(sentences[k:k + HASH_CHUNK], self.n_features) for k in range(0, len(sentences), HASH_CHUNK)]
        if jobs <= 1 or len(jobs_args) < 4:
            return [work(job) for job in jobs_args]
        return list(worker_pool(jobs).map(work, jobs_args))

    def _fit_rows(self, n: int) -> np.ndarray | None:
        """The rows of n corpus sentences the IDF is fitted on: a seeded sample of
        `max_fit_sentences` of them, or None for all."""
        if n <= self.max_fit_sentences:
            return None
        return np.sort(np.random.default_rng(self.seed).choice(n, self.max_fit_sentences, replace=False))

    def fit_sentences(self, sentences: Sequence[str], jobs: int = 1) -> "SentenceVectorizer":
        """`fit_counts(*counts(sentences, jobs))`, with only each chunk's document frequencies
        coming back from the workers, not its count matrices: on corpus-100k the scan's IDF
        sample (~100k sentences) sent its matrices back to be stacked and fitted in this
        process, 1.8 s of a 21 s scan."""
        sentences = list(sentences)
        keep = self._fit_rows(len(sentences))
        if keep is not None:
            sentences = [sentences[i] for i in keep]
        word_df = np.zeros(self.n_features, dtype=np.int64)
        char_df = np.zeros(self.n_features, dtype=np.int64)
        for word, char in self._per_chunk(_sentence_frequencies, sentences, jobs):
            word_df += word
            char_df += char
        return self._fit_frequencies(word_df, char_df, max(1, len(sentences)))  # no sentences: one empty row

    def fit_counts(self, word: sp.csr_matrix, char: sp.csr_matrix) -> "SentenceVectorizer":
        """Fit the IDF on counts of corpus sentences (a seeded sample of `max_fit_sentences` rows)."""
        keep = self._fit_rows(word.shape[0])
        if keep is not None:
            word, char = word[keep], char[keep]
        return self._fit_frequencies(_document_frequency(word), _document_frequency(char), word.shape[0])

    def _fit_frequencies(self, word_df: np.ndarray, char_df: np.ndarray, n_rows: int) -> "SentenceVectorizer":
        """Each channel's IDF from its document frequencies over `n_rows` sentences, as
        `TfidfTransformer(smooth_idf=True).fit` makes it (tests hold the two equal)."""
        self._word_idf.idf_ = _smooth_idf(word_df, n_rows)
        self._char_idf.idf_ = _smooth_idf(char_df, n_rows)
        self._weights: dict[str, float] = {}
        forget_word_weights()  # the link scorer's copy of the old weights
        self.fitted_ = True
        return self

    def from_counts(self, word: sp.csr_matrix, char: sp.csr_matrix) -> sp.csr_matrix:
        """TF-IDF rows from counts; a row's dot product with another is the mean word/char cosine."""
        if not self.fitted_:
            raise RuntimeError("SentenceVectorizer.fit must be called before transform")
        return _tfidf_rows(word, char, self._word_idf, self._char_idf)

    def from_packed(self, packed: np.ndarray, indptr: np.ndarray) -> sp.csr_matrix:
        """`from_counts` of counts in `ngram_hash.pack_counts`' form (a row store's rows)."""
        if not self.fitted_:
            raise RuntimeError("SentenceVectorizer.fit must be called before transform")
        return _tfidf_packed(packed, indptr, self.n_features, self._word_idf, self._char_idf)

    def fit_transform(self, sentences: Sequence[str], jobs: int = 1) -> sp.csr_matrix:
        """Fit the IDF on these sentences and return their TF-IDF rows, hashing each once."""
        word, char = self.counts(sentences, jobs)
        self.fit_counts(word, char)
        return self.from_counts(word, char)

    def fit(self, sentences: Sequence[str]) -> "SentenceVectorizer":
        """Fit the IDF on corpus sentences (a seeded sample of at most `max_fit_sentences`)."""
        return self.fit_sentences(sentences)

    def transform(self, sentences: Sequence[str], jobs: int = 1) -> sp.csr_matrix:
        """Rows are sentences; a row's dot product with another is the mean word/char cosine."""
        if len(sentences) == 0:
            return sp.csr_matrix((0, 2 * self.n_features), dtype=np.float32)
        # Each chunk becomes float32 TF-IDF rows where it is hashed (on the workers): only the
        # compact rows travel and are stacked, never a whole block's counts and their float64
        # intermediates (rows are transformed one by one, so chunking changes no value).
        done = list(self.transform_chunks(sentences, jobs))
        return done[0] if len(done) == 1 else sp.vstack(done, format="csr")

    def transform_chunks(self, sentences: Sequence[str], jobs: int = 1) -> Iterator[sp.csr_matrix]:
        """`transform`'s rows as consecutive chunks of HASH_CHUNK sentences, in order, with a
        few chunks in flight on `jobs` processes: a caller that assembles them as they come
        never holds the chunks and their stacked copy together (see `stack_rows`)."""
        if not self.fitted_:
            raise RuntimeError("SentenceVectorizer.fit must be called before transform")
        sentences = list(sentences)
        jobs_args = ((sentences[k:k + HASH_CHUNK], self.n_features, self._word_idf, self._char_idf)
                     for k in range(0, len(sentences), HASH_CHUNK))
        if jobs <= 1 or -(-len(sentences) // HASH_CHUNK) < 4:  # under 4 chunks: no pool
            return map(_tfidf_sentences, jobs_args)
        return bounded_map(worker_pool(jobs), _tfidf_sentences, jobs_args, 2 * jobs)

    def word_weight(self, token: str) -> float:
        """IDF of one word (ranks diff changes, weighs unmatched words); cached.

        The column is the hashed counts' own (murmurhash3 of the token, seed 0), so no
        vectorizer call is made per word. A token the word pattern would split ("11,000")
        takes the weight of its longest part.
        """
        if not self.fitted_:
            return 1.0
        weight = self._weights.get(token)  # callers mostly pass lower-cased tokens: skip .lower()
        if weight is not None:
            return weight
        key = token.lower()
        weight = self._weights.get(key)
        if weight is None:
            parts = re.findall(r"\w+", key) or [key]
            part = max(parts, key=len)
            weight = float(self._word_idf.idf_[abs(murmurhash3_32(part, seed=0)) % self.n_features])
            self._weights[key] = weight
        return weight


# Sentences hashed at once: ~300 n-grams each, ~40 bytes of temporaries per n-gram (~240 MB).
HASH_CHUNK = 20_000
R = TypeVar("R")  # what a per-chunk function of `SentenceVectorizer._per_chunk` returns


def stack_rows(chunks: Iterable[sp.csr_matrix], n_rows: int, n_columns: int) -> sp.csr_matrix:
    """`sp.vstack(chunks)`, assembled in place as the chunks arrive: the chunks and their stacked
    copy are never held whole together (on a verify block of 300k sentences, ~1 GB of rows, that
    is about 1 GB of peak memory less). The output is sized from the first chunk's entries per
    row, 10% over, and grown by a quarter when short."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    indices = np.zeros(0, dtype=np.int32)
    data = np.zeros(0, dtype=np.float32)
    row = nnz = 0
    for chunk in chunks:
        if not len(data):
            indices = np.empty(int(chunk.nnz / max(1, chunk.shape[0]) * n_rows * 1.1) + 1, dtype=np.int32)
            data = np.empty(len(indices), dtype=np.float32)
        end = nnz + chunk.nnz
        if end > len(data):
            size = max(end, int(len(data) * 1.25))
            indices = np.concatenate([indices[:nnz], np.empty(size - nnz, dtype=np.int32)])
            data = np.concatenate([data[:nnz], np.empty(size - nnz, dtype=np.float32)])
        indices[nnz:end] = chunk.indices
        data[nnz:end] = chunk.data
        indptr[row + 1:row + 1 + chunk.shape[0]] = nnz + chunk.indptr[1:]
        row += chunk.shape[0]
        nnz = end
    if row != n_rows:
        raise ValueError(f"stack_rows: {row} rows arrived for {n_rows}")
    return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(n_rows, n_columns))


def _hash_sentences(job: tuple[list[str], int]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    sentences, n_features = job
    return ngram_counts(sentences, n_features)


def _document_frequency(counts: sp.csr_matrix) -> np.ndarray:
    """Entries per column of a count matrix: what scikit-learn's TfidfTransformer counts (a
    bincount of the CSR indices), so chunks' frequencies sum to the stacked matrix's."""
    return np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.int64, copy=False)


def _sentence_frequencies(job: tuple[list[str], int]) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's word and char document frequencies (a worker's part of fitting the IDF)."""
    word, char = _hash_sentences(job)
    return _document_frequency(word), _document_frequency(char)


def _smooth_idf(df: np.ndarray, n_rows: int) -> np.ndarray:
    """`TfidfTransformer(smooth_idf=True).fit(counts).idf_` from the counts' document
    frequencies, step for step in the counts' float32."""
    smoothed = df.astype(np.float32)
    smoothed += 1.0
    idf = np.full_like(smoothed, fill_value=n_rows + 1, dtype=np.float32)
    idf /= smoothed
    np.log(idf, out=idf)
    idf += 1.0
    return idf


# Each channel's weight in a sentence row, so that a dot product is the mean of the word and char cosines.
_CHANNEL_SCALE = np.float32(1 / np.sqrt(2))


def _tfidf_rows(word: sp.csr_matrix, char: sp.csr_matrix, word_idf: TfidfTransformer,
                char_idf: TfidfTransformer) -> sp.csr_matrix:
    """TF-IDF rows from counts; a row's dot product with another is the mean word/char cosine.

    The compiled path (`dedup._kernels.tfidf_rows`) makes the same float32 values in one pass
    over the counts, where scikit-learn's transform, two normalisations and the stacking copy
    the matrices several times (a fifth of the time to embed a sentence)."""
    compiled = kernel("tfidf_rows", word.nnz + char.nnz)
    if compiled is not None and word.dtype == char.dtype == np.float32:
        log_table = _sublinear_tf_table(int(max(word.data.max(initial=1), char.data.max(initial=1))))
        n_features = word.shape[1]
        indptr, indices, data = compiled(word.indptr, word.indices, word.data, char.indptr, char.indices, char.data,
                                         log_table, word_idf.idf_, char_idf.idf_, n_features,
                                         _CHANNEL_SCALE)
        return sp.csr_matrix((data, indices, indptr), shape=(word.shape[0], 2 * n_features))
    word = normalize(word_idf.transform(word))
    char = normalize(char_idf.transform(char))
    return (sp.hstack([word, char], format="csr") * _CHANNEL_SCALE).astype(np.float32)


def _sublinear_tf_table(largest: int) -> np.ndarray:
    """log(count) + 1 for counts 0..largest, as TfidfTransformer(sublinear_tf=True) makes it:
    numpy's float32 log, plus 1 in float32 (the compiled paths look counts up here)."""
    log_table = np.arange(largest + 1, dtype=np.float32)
    np.log(log_table, out=log_table, where=log_table > 0)
    log_table += 1.0
    return log_table


def _tfidf_packed(packed: np.ndarray, indptr: np.ndarray, n_features: int, word_idf: TfidfTransformer,
                  char_idf: TfidfTransformer) -> sp.csr_matrix:
    """`_tfidf_rows` of counts in `ngram_hash.pack_counts`' form (row r is packed[indptr[r]:
    indptr[r + 1]]): one compiled pass, or unpacked into count matrices for the numpy path."""
    sizes, compiled = kernel("packed_row_sizes", len(packed)), kernel("packed_tfidf_rows", len(packed))
    if sizes is None or compiled is None:
        return _tfidf_rows(*unpack_counts(packed, indptr, n_features), word_idf, char_idf)
    bits = packed_column_bits(n_features)
    rows, largest = sizes(packed, indptr, bits)
    indices, data = compiled(packed, indptr, rows, bits, _sublinear_tf_table(int(largest)), word_idf.idf_,
                             char_idf.idf_, n_features, _CHANNEL_SCALE)
    return sp.csr_matrix((data, indices, rows), shape=(len(indptr) - 1, 2 * n_features))


def _tfidf_sentences(job: tuple[list[str], int, TfidfTransformer, TfidfTransformer]) -> sp.csr_matrix:
    sentences, n_features, word_idf, char_idf = job
    return _tfidf_rows(*ngram_counts(sentences, n_features), word_idf, char_idf)


# --------------------------------------------------------------------------- alignment

# Similarity thresholds (mean of word 1-2-gram and char 3-5-gram TF-IDF cosines).
# Calibrated on ../shared/data/pairs/clough-stevenson.dev.jsonl (heavy rewrites vs non-derived
# answers on the same topic), the seeds (000/001 heavy paraphrase vs 002-004 same event) and
# ../shared/data/pairs/webis-cpc-11.dev.jsonl (sentence paraphrases).
ANCHOR_SIMILARITY = 0.30  # a sentence pair this similar may anchor a monotone alignment
GAP_SIMILARITY = 0.25  # between two anchors, order itself is evidence: accept a bit less
REORDER_SIMILARITY = 0.40  # out of order, demand more
MERGE_GAIN = 0.03  # a 1-2 / 2-1 merge must raise the link similarity by this much
VERBATIM_SIMILARITY = 0.85  # near-verbatim link (copy-editing at most)
COPIED_FIDELITY = 0.98  # link fidelity of a copied sentence: what `fidelity` gives a verbatim one


class Verifier:
    """Aligns candidate pairs and extracts their features.

    Parameters live in `__init__` (scikit-learn style); `fit` learns the IDF from the corpus
    so that a pair is judged against what is common in the collection, not within itself.
    """

    def __init__(
        self,
        anchor_similarity: float = ANCHOR_SIMILARITY,
        gap_similarity: float = GAP_SIMILARITY,
        reorder_similarity: float = REORDER_SIMILARITY,
        merge_gain: float = MERGE_GAIN,
        n_features: int = 2**18,
        max_fit_sentences: int = 200_000,
    ) -> None:
        self.anchor_similarity = anchor_similarity
        self.gap_similarity = gap_similarity
        self.reorder_similarity = reorder_similarity
        self.merge_gain = merge_gain
        self.vectorizer = SentenceVectorizer(n_features=n_features, max_fit_sentences=max_fit_sentences)

    # -- fitting
    def fit(self, texts: Iterable[str]) -> "Verifier":
        """Fit the sentence IDF on the corpus's cleaned texts."""
        self.vectorizer.fit([s.text for text in texts for s in split_sentences(text)])
        return self

    # -- one pair
    def align(self, text_a: str, text_b: str) -> Alignment:
        """Sentence alignment of two cleaned texts."""
        sa, sb = split_sentences(text_a), split_sentences(text_b)
        va = self.vectorizer.transform([s.text for s in sa])
        vb = self.vectorizer.transform([s.text for s in sb])
        return self.align_rows(sa, sb, va, (0, va.shape[0]), vb, (0, vb.shape[0]))

    def verify(self, text_a: str, text_b: str) -> tuple[Alignment, PairFeatures]:
        alignment = self.align(text_a, text_b)
        return alignment, self.features(alignment)

    def features(self, alignment: Alignment) -> PairFeatures:
        """Features of an alignment, with each link's claim fidelity scored."""
        return features(alignment, self.link_fidelities(alignment))

    def features_many(self, alignments: Sequence[Alignment]) -> list[PairFeatures]:
        """`features` of many alignments, their links' fidelities scored in one batch."""
        return features_batch(alignments, self.link_fidelities_many(alignments))

    def link_fidelities(self, alignment: Alignment) -> np.ndarray:
        """Claim fidelity (0-1) of each link: same claims, or same topic with other facts?"""
        return self.link_fidelities_many([alignment])[0]

    def link_fidelities_many(self, alignments: Sequence[Alignment]) -> list[np.ndarray]:
        """`link_fidelities` of each alignment (`fidelity.link_feature_rows` over all their links)."""
        texts = [(" ".join(alignment.a_sentences[i].text for i in link.a),
                  " ".join(alignment.b_sentences[j].text for j in link.b), link.similarity)
                 for alignment in alignments for link in alignment.links]
        rows, copied_flags = link_feature_rows(texts, self.vectorizer.word_weight)
        scores = fidelity(rows) if len(rows) else np.zeros(0)
        out: list[np.ndarray] = []
        begin = 0
        for alignment in alignments:
            end = begin + len(alignment.links)
            part = scores[begin:end]
            if len(alignment.a_sentences) > 1 or len(alignment.b_sentences) > 1:
                # In a document pair a copied sentence (a clause cut or added) is derivation evidence
                # as strong as a faithful one. Two single sentences are judged on their claims alone.
                part = np.maximum(part, np.where(copied_flags[begin:end], COPIED_FIDELITY, 0.0))
            out.append(part)
            begin = end
        return out

    def align_rows(
        self, sa: list[Sentence], sb: list[Sentence],
        ma: sp.csr_matrix, rows_a: tuple[int, int], mb: sp.csr_matrix, rows_b: tuple[int, int],
    ) -> Alignment:
        """Align sentences whose vectors are rows `rows_a` of `ma` and `rows_b` of `mb`.

        The batch path of a scan: every sentence of the corpus is vectorised once, and a pair
        reads its two row ranges straight from the CSR arrays (no per-pair sparse objects).
        """
        if not sa or not sb:
            return Alignment(sa, sb)
        da, db = dense_pair(ma, rows_a, mb, rows_b)
        return self.align_similarities(sa, sb, exact_similarities(da, db), _adjacent_dots(da), _adjacent_dots(db))

    def align_similarities(
        self, sa: list[Sentence], sb: list[Sentence], sim: np.ndarray, adjacent_a: np.ndarray, adjacent_b: np.ndarray,
    ) -> Alignment:
        """Align two sentence lists given their similarity matrix and each side's dot products
        of neighbouring sentences (`adjacent_*[k]` = row k . row k+1, for 1-2 / 2-1 merges)."""
        alignment = Alignment(sa, sb)
        if not sa or not sb:
            return alignment
        anchors = monotone_anchors(sim, self.anchor_similarity)
        links = [Link((i,), (j,), float(sim[i, j]), "anchor") for i, j in anchors]
        links = self._fill_gaps(sim, links)
        links = self._merge(sim, adjacent_a, adjacent_b, links)
        links = self._reordered(sim, links)
        links.sort(key=lambda l: (l.a[0], l.b[0]))
        alignment.links = links
        return alignment

    def linkable(self, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which sentences of A (rows) and of B (columns) could end up in some link: a superset,
        read off the similarity matrix without aligning.

        A 1-1 link (anchor, gap or reorder) needs more than `gap_similarity`, the lowest of
        the three thresholds. A sentence k merged into a link (i, j) is a neighbour of i (or
        of j) and, since that link has s > gap_similarity and (s + sim[k, j]) / sqrt(2 + 2 adj)
        >= s + merge_gain with adj >= 0 (TF-IDF rows are non-negative), it needs sim[k, j] >=
        (sqrt(2) - 1) gap_similarity + sqrt(2) merge_gain. A small margin absorbs rounding.
        """
        direct_floor, merge_floor = self.link_floors()
        strong = sim > direct_floor
        weak = sim >= merge_floor

        def side(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
            beside = np.zeros_like(strong)
            beside[1:] |= strong[:-1]
            beside[:-1] |= strong[1:]
            return strong.any(axis=1) | (beside & weak).any(axis=1)

        return side(strong, weak), side(strong.T, weak.T)

    def link_floors(self) -> tuple[float, float]:
        """(direct, merge) floors of `linkable`: a sentence above the first may be linked 1-1, one
        at or above the second only merged beside such a link (see there)."""
        direct = min(self.gap_similarity, self.anchor_similarity, self.reorder_similarity) - 1e-6
        merge = (np.sqrt(2) - 1) * self.gap_similarity + np.sqrt(2) * self.merge_gain - 1e-6
        return float(direct), float(merge)

    def verbatim_floor(self) -> float:
        """Lowest best-match similarity of a link's first sentence when the link is near-verbatim:
        a merge adds a neighbour below 2 * gap_similarity, so (s + 2 gap) / sqrt(2) >= VERBATIM."""
        return float(VERBATIM_SIMILARITY * np.sqrt(2) - 2 * self.gap_similarity) - 1e-6

    def _fill_gaps(self, sim: np.ndarray, links: list[Link]) -> list[Link]:
        """Between consecutive anchors, align the leftover sentences 1-1 at a lower threshold."""
        m, n = sim.shape
        bounds = [(-1, -1)] + [(l.a[0], l.b[0]) for l in links] + [(m, n)]
        filled = list(links)
        for (i0, j0), (i1, j1) in zip(bounds, bounds[1:]):
            if i1 - i0 > 1 and j1 - j0 > 1:
                sub = sim[i0 + 1 : i1, j0 + 1 : j1]
                for i, j in monotone_anchors(sub, self.gap_similarity):
                    filled.append(Link((i0 + 1 + i,), (j0 + 1 + j,), float(sub[i, j]), "gap"))
        filled.sort(key=lambda l: l.a[0])
        return filled

    def _merge(self, sim: np.ndarray, adjacent_a: np.ndarray, adjacent_b: np.ndarray, links: list[Link]) -> list[Link]:
        """Grow 1-1 links into 1-2 / 2-1 merges when an unmatched neighbour completes the sentence.

        A rewrite often splits one long sentence into two or joins two into one. With unit
        rows, cos(r, x + y) = (r.x + r.y) / sqrt(2 + 2 x.y), so a merge costs O(1) given the
        dot products of neighbouring rows on each side.
        """
        used_a = {i for l in links for i in l.a}
        used_b = {j for l in links for j in l.b}
        out: list[Link] = []
        for link in links:
            i, j = link.a[0], link.b[0]
            best = link
            for k in (j - 1, j + 1):
                if 0 <= k < sim.shape[1] and k not in used_b and sim[i, k] < self.gap_similarity * 2:
                    merged = (sim[i, j] + sim[i, k]) / np.sqrt(max(1e-12, 2 + 2 * adjacent_b[min(j, k)]))
                    if merged >= best.similarity + self.merge_gain:
                        best = Link((i,), (min(j, k), max(j, k)), float(merged), "merge")
            for k in (i - 1, i + 1):
                if 0 <= k < sim.shape[0] and k not in used_a and sim[k, j] < self.gap_similarity * 2:
                    merged = (sim[i, j] + sim[k, j]) / np.sqrt(max(1e-12, 2 + 2 * adjacent_a[min(i, k)]))
                    if merged >= best.similarity + self.merge_gain:
                        best = Link((min(i, k), max(i, k)), (j,), float(merged), "merge")
            if best is not link:
                used_a.update(best.a)
                used_b.update(best.b)
            out.append(best)
        return out

    def _reordered(self, sim: np.ndarray, links: list[Link]) -> list[Link]:
        """Order-free pass: link leftover sentences that are each other's best match."""
        used_a = {i for l in links for i in l.a}
        used_b = {j for l in links for j in l.b}
        free_a = np.array([i for i in range(sim.shape[0]) if i not in used_a], dtype=np.int64)
        free_b = np.array([j for j in range(sim.shape[1]) if j not in used_b], dtype=np.int64)
        if len(free_a) == 0 or len(free_b) == 0:
            return links
        sub = sim[np.ix_(free_a, free_b)]
        best_b = sub.argmax(axis=1)
        best_a = sub.argmax(axis=0)
        out = list(links)
        for r, c in enumerate(best_b):
            if best_a[c] == r and sub[r, c] >= self.reorder_similarity:
                out.append(Link((int(free_a[r]),), (int(free_b[c]),), float(sub[r, c]), "reorder"))
        return out


def _adjacent_dots(rows: np.ndarray) -> np.ndarray:
    """Dot product of each row with the next one (length n-1, plus a trailing 0), in float64:
    products of float32 values are exact there, so only the order of the sums (~1e-16) can
    tell the dense and the compiled sparse computation apart."""
    if rows.shape[0] < 2:
        return np.zeros(max(1, rows.shape[0]))
    rows = rows.astype(np.float64, copy=False)
    return np.append(np.einsum("ij,ij->i", rows[:-1], rows[1:]), 0.0)


def dense_pair(
    ma: sp.csr_matrix, rows_a: tuple[int, int], mb: sp.csr_matrix, rows_b: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of two CSR matrices as dense blocks over the union of their columns.

    A pair of articles touches a few thousand of the hashed features; compacting to those
    makes the similarity a small dense product instead of a sparse one over 2^19 columns.
    """
    (a0, a1), (b0, b1) = rows_a, rows_b
    ia0, ia1 = ma.indptr[a0], ma.indptr[a1]
    ib0, ib1 = mb.indptr[b0], mb.indptr[b1]
    cols_a, cols_b = ma.indices[ia0:ia1], mb.indices[ib0:ib1]
    cols = np.union1d(cols_a, cols_b)
    da = np.zeros((a1 - a0, len(cols)), dtype=np.float32)
    db = np.zeros((b1 - b0, len(cols)), dtype=np.float32)
    da[np.repeat(np.arange(a1 - a0), np.diff(ma.indptr[a0:a1 + 1])), np.searchsorted(cols, cols_a)] = ma.data[ia0:ia1]
    db[np.repeat(np.arange(b1 - b0), np.diff(mb.indptr[b0:b1 + 1])), np.searchsorted(cols, cols_b)] = mb.data[ib0:ib1]
    return da, db


def exact_similarities(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """da @ db.T in float64, rounded to 1e-6: the same numbers whatever the product's shape.

    The alignment breaks ties between equal similarities (a sentence repeated in a text, two
    copies reordered) by exact comparison. In float32 the rounding depends on how the
    product was blocked (BLAS threads, how many partners share a product), and a copied
    sentence's similarity to itself is 1 +- 1e-7 depending on its own normalisation, so the
    tie would be broken by noise. Products of float32 values are exact in float64 and the
    sums err by ~1e-16; rounding to 1e-6 (above float32 normalisation error, far below any
    threshold's precision) makes equal sentences tie exactly.
    """
    sim = da.astype(np.float64) @ db.astype(np.float64).T
    return np.round(sim, 6, out=sim)


class GroupSimilarities:
    """Sentence similarity matrices of one document against several partners, in few products.

    Compacting to the columns of the first document is enough (other columns add nothing to
    a dot product with it), so a group needs one set of distinct columns instead of one
    sorted union per pair, and a reusable column-slot table replaces per-pair `searchsorted`.
    Partners are taken in batches whose dense rows stay under `max_cells` floats.

    After a call, `totals[k]` is the sum of partner k's similarity matrix before rounding:
    the dot product of the two documents' summed sentence rows, i.e. their whole-document
    TF-IDF cosine times both sums' norms (the scan's prefilter reads it, no product more).
    """

    def __init__(self, matrix: sp.csr_matrix, max_cells: int = 4_000_000) -> None:
        self.matrix = matrix
        self.max_cells = max_cells
        self._slot = np.full(matrix.shape[1], -1, dtype=np.int64)
        self.totals: list[float] = []

    def __call__(self, rows_a: tuple[int, int], rows_b: list[tuple[int, int]]) -> list[np.ndarray]:
        m = self.matrix
        a0, a1 = rows_a
        cols_a = m.indices[m.indptr[a0]:m.indptr[a1]]
        # Distinct columns without a sort: after the scatter each column holds its last position.
        self._slot[cols_a] = np.arange(len(cols_a))
        columns = cols_a[self._slot[cols_a] == np.arange(len(cols_a))]
        self._slot[columns] = np.arange(len(columns))
        self.totals = []
        try:
            da = np.zeros((a1 - a0, len(columns)), dtype=np.float64)  # float32 values, exact in float64
            da[np.repeat(np.arange(a1 - a0), np.diff(m.indptr[a0:a1 + 1])), self._slot[cols_a]] = \
                m.data[m.indptr[a0]:m.indptr[a1]]
            out: list[np.ndarray] = []
            budget = max(1, self.max_cells // max(1, len(columns)))
            begin = 0
            while begin < len(rows_b):
                end, held = begin + 1, rows_b[begin][1] - rows_b[begin][0]
                while end < len(rows_b) and held + rows_b[end][1] - rows_b[end][0] <= budget:
                    held += rows_b[end][1] - rows_b[end][0]
                    end += 1
                out += self._against(da, rows_b[begin:end], len(columns))
                begin = end
        finally:
            self._slot[columns] = -1
        return out

    def norm(self, rows: tuple[int, int]) -> float:
        """Norm of a document's summed sentence rows (the prefilter's cosine denominator)."""
        m = self.matrix
        lo, hi = m.indptr[rows[0]], m.indptr[rows[1]]
        cols = m.indices[lo:hi]
        self._slot[cols] = np.arange(len(cols))  # each column -> its last position: one slot per column
        try:
            sums = np.bincount(self._slot[cols], weights=m.data[lo:hi], minlength=len(cols))
        finally:
            self._slot[cols] = -1
        return float(np.sqrt(sums @ sums))

    def adjacent(self, rows: tuple[int, int]) -> np.ndarray:
        """Each sentence row's dot product with the next, and a trailing 0 (what 1-2 / 2-1
        merges read), from the document's rows compacted to its own columns."""
        m = self.matrix
        a0, a1 = rows
        if a1 - a0 < 2:
            return np.zeros(1)
        lo, hi = m.indptr[a0], m.indptr[a1]
        cols = m.indices[lo:hi]
        self._slot[cols] = np.arange(len(cols))
        columns = cols[self._slot[cols] == np.arange(len(cols))]
        self._slot[columns] = np.arange(len(columns))
        try:
            dense = np.zeros((a1 - a0, len(columns)), dtype=np.float64)
            dense[np.repeat(np.arange(a1 - a0), np.diff(m.indptr[a0:a1 + 1])), self._slot[cols]] = m.data[lo:hi]
        finally:
            self._slot[columns] = -1
        return _adjacent_dots(dense)

    def _against(self, da: np.ndarray, rows_b: list[tuple[int, int]], n_columns: int) -> list[np.ndarray]:
        """Similarities of `da` (dense, compacted) to each partner's rows."""
        m = self.matrix
        sizes = np.array([b1 - b0 for b0, b1 in rows_b], dtype=np.int64)
        row_ids = np.concatenate([np.arange(b0, b1) for b0, b1 in rows_b])
        lengths = m.indptr[row_ids + 1] - m.indptr[row_ids]
        entries = np.repeat(m.indptr[row_ids], lengths) + ranks_within(lengths)
        slots = self._slot[m.indices[entries]]
        keep = slots >= 0
        db = np.zeros((len(row_ids), n_columns), dtype=np.float64)
        db[np.repeat(np.arange(len(row_ids)), lengths)[keep], slots[keep]] = m.data[entries[keep]]
        sim = da @ db.T
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        column_sums = sim.sum(axis=0)
        self.totals += [float(column_sums[bounds[k]:bounds[k + 1]].sum()) for k in range(len(rows_b))]
        np.round(sim, 6, out=sim)  # as `exact_similarities` does
        return [sim[:, bounds[k]:bounds[k + 1]] for k in range(len(rows_b))]


@dataclass(slots=True)
class ChunkSimilarities:
    """Sentence similarity matrices of a chunk of pairs, laid end to end, with what the scan's
    prefilter reads: pair p's matrix is `matrix(p)`, `totals[p]` its sum before rounding (the
    dot product of the two documents' summed sentence rows), `norms_*[p]` those sums' norms.
    Only the pairs in `kept` (the prefilter's survivors) have a matrix."""

    flat: np.ndarray  # float64, every kept pair's rounded matrix, row-major, end to end
    offsets: np.ndarray  # int64, n_pairs + 1 (a pair not kept has no cells)
    n_a: np.ndarray  # int64 rows (A's sentences) per pair
    n_b: np.ndarray  # int64 columns (B's sentences) per pair
    totals: np.ndarray
    norms_a: np.ndarray
    norms_b: np.ndarray
    adjacent: Callable[[tuple[int, int]], np.ndarray]  # a document's `_adjacent_dots`, by its rows
    kept: np.ndarray  # int64 indices of the pairs whose whole-document cosine reaches the floor

    def matrix(self, p: int) -> np.ndarray:
        return self.flat[self.offsets[p]:self.offsets[p + 1]].reshape(int(self.n_a[p]), int(self.n_b[p]))


@dataclass(slots=True)
class LayoutDocuments:
    """Per document of a verify layout, what every chunk of its pairs reads: the norm of its
    summed sentence rows (the prefilter's cosine) and its `_adjacent_dots` (merges). A verify
    block makes them once for all its chunks (`of_rows`): made per chunk, a document paired in
    several chunks was summed again in each, and the two kernels were a tenth of corpus-1m's
    block time."""

    lo: np.ndarray  # int64, sorted: the non-empty documents' first layout rows
    norms: np.ndarray  # float64 per document
    dots: np.ndarray  # float64, every document's adjacent dots end to end
    dot_offsets: np.ndarray  # int64, n_documents + 1
    _index: dict[int, int] | None = None  # first row -> offset of its dots, made when first asked

    @classmethod
    def of_rows(cls, matrix: sp.csr_matrix, row_map: np.ndarray, rows: np.ndarray) -> "LayoutDocuments | None":
        """The documents whose sentences are layout rows (lo, hi), sentence k being row row_map[k]
        of `matrix`; None without the compiled kernels (the numpy path makes its own)."""
        rows = np.unique(np.asarray(rows, dtype=np.int64).reshape(-1, 2), axis=0)
        rows = rows[rows[:, 1] > rows[:, 0]]  # in one layout, documents with rows differ in their first
        norms_kernel, dots_kernel = kernel("summed_row_norms", int(matrix.nnz)), kernel("adjacent_dots", int(matrix.nnz))
        if norms_kernel is None or dots_kernel is None:
            return None
        csr = (matrix.indptr, matrix.indices, matrix.data, matrix.shape[1], np.asarray(row_map, dtype=np.int64))
        dots, dot_offsets = dots_kernel(*csr, rows[:, 0], rows[:, 1])
        return cls(rows[:, 0].copy(), norms_kernel(*csr, rows[:, 0], rows[:, 1]), dots, dot_offsets)

    def _find(self, lo: np.ndarray) -> np.ndarray:
        """Index of the documents starting at rows `lo`; KeyError for a row no document starts at."""
        found = np.minimum(np.searchsorted(self.lo, lo), max(0, len(self.lo) - 1))
        if not len(self.lo) or (self.lo[found] != lo).any():
            raise KeyError("LayoutDocuments: a document outside the layout")
        return found

    def norms_of(self, rows: np.ndarray) -> np.ndarray:
        """Norms of the documents with rows (lo, hi) (0 for an empty one)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        full = rows[:, 1] > rows[:, 0]
        norms = np.zeros(len(rows), dtype=np.float64)
        if full.any():
            norms[full] = self.norms[self._find(rows[full, 0])]
        return norms

    def adjacent(self, rows: tuple[int, int]) -> np.ndarray:
        """`_adjacent_dots` of the document with rows (lo, hi) (asked twice per aligned pair)."""
        lo, hi = rows
        if hi <= lo:
            return np.zeros(1)
        if self._index is None:
            self._index = dict(zip(self.lo.tolist(), self.dot_offsets[:-1].tolist()))
        begin = self._index.get(lo)
        if begin is None:
            raise KeyError("LayoutDocuments: a document outside the layout")
        return self.dots[begin:begin + hi - lo]


def cosine_kept(totals: np.ndarray, norms_a: np.ndarray, norms_b: np.ndarray, floor: float | None) -> np.ndarray:
    """Indices of the pairs whose whole-document cosine (totals over the norms' product) is at
    least `floor` (a pair with an empty side never is); all pairs when `floor` is None."""
    if floor is None:
        return np.arange(len(totals), dtype=np.int64)
    bound = floor * norms_a * norms_b
    return np.flatnonzero((totals >= bound) & (bound > 0.0))


def chunk_similarities(matrix: sp.csr_matrix, row_map: np.ndarray, rows_a: np.ndarray,
                       rows_b: np.ndarray, floor: float | None = None,
                       documents: LayoutDocuments | None = None) -> ChunkSimilarities:
    """Similarities of pairs whose sentences are rows_a[p] = (lo, hi) and rows_b[p] of a layout in
    which sentence k is row row_map[k] of `matrix` (each distinct sentence text has one row).
    With a cosine `floor`, pairs below it (`cosine_kept`) get no matrix: the compiled path finds
    them from the summed rows first (`summed_row_dots`), which costs each pair its entries where
    a matrix costs the products of every column its sentences share (27% of corpus-1m's
    candidates fall below the scan's floor).

    Pairs of one first document should be consecutive: they share its layout. The compiled
    kernel (`dedup._kernels.pair_similarities`) takes the whole chunk in one call; without it,
    the chunk's documents are copied out as a matrix of their own and `GroupSimilarities` takes a
    group at a time. Both give the same rounded similarities (sums in another order differ by
    ~1e-16, far below the 1e-6 rounding). `documents`, when given, holds the documents' norms
    and neighbour dots for the compiled path (a verify block makes them once for its chunks).
    """
    rows_a = np.asarray(rows_a, dtype=np.int64).reshape(-1, 2)
    rows_b = np.asarray(rows_b, dtype=np.int64).reshape(-1, 2)
    row_map = np.asarray(row_map, dtype=np.int64)
    n_a, n_b = rows_a[:, 1] - rows_a[:, 0], rows_b[:, 1] - rows_b[:, 0]
    lengths = np.diff(matrix.indptr)
    work = int(lengths[row_map[np.repeat(rows_b[:, 0], n_b) + ranks_within(n_b)]].sum())
    compiled = kernel("pair_similarities", work)
    if compiled is not None and documents is None:
        documents = LayoutDocuments.of_rows(matrix, row_map, np.concatenate([rows_a, rows_b]))
    if compiled is not None and documents is not None:
        csr = (matrix.indptr, matrix.indices, matrix.data, matrix.shape[1], row_map)
        norms_a, norms_b = documents.norms_of(rows_a), documents.norms_of(rows_b)
        if floor is None:
            flat, offsets, totals = compiled(*csr, rows_a[:, 0], rows_a[:, 1], rows_b[:, 0], rows_b[:, 1])
            kept = cosine_kept(totals, norms_a, norms_b, None)
        else:
            totals = kernel("summed_row_dots", work)(*csr, rows_a[:, 0], rows_a[:, 1], rows_b[:, 0], rows_b[:, 1])
            kept = cosine_kept(totals, norms_a, norms_b, floor)
            flat, kept_offsets, _ = compiled(*csr, rows_a[kept, 0], rows_a[kept, 1], rows_b[kept, 0], rows_b[kept, 1])
            cells = np.zeros(len(rows_a), dtype=np.int64)
            cells[kept] = np.diff(kept_offsets)
            offsets = np.zeros(len(rows_a) + 1, dtype=np.int64)
            np.cumsum(cells, out=offsets[1:])
        return ChunkSimilarities(flat, offsets, n_a, n_b, totals, norms_a, norms_b, documents.adjacent, kept)
    # The numpy path: the chunk's documents as consecutive rows of a local matrix.
    docs, inverse = np.unique(np.concatenate([rows_a, rows_b]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    position = {rows: k for k, rows in enumerate(map(tuple, docs.tolist()))}  # a document's rows -> its index
    sizes = docs[:, 1] - docs[:, 0]
    local = matrix[row_map[np.repeat(docs[:, 0], sizes) + ranks_within(sizes)]]
    local_starts = np.concatenate([[0], np.cumsum(sizes)])
    local_rows = [(int(local_starts[k]), int(local_starts[k + 1])) for k in range(len(docs))]
    similarities = GroupSimilarities(local)
    norms = np.array([similarities.norm(r) for r in local_rows])[inverse]
    pairs_a = [local_rows[k] for k in inverse[:len(rows_a)].tolist()]
    pairs_b = [local_rows[k] for k in inverse[len(rows_a):].tolist()]
    parts: list[np.ndarray] = []
    totals_list: list[float] = []
    begin = 0
    while begin < len(pairs_a):
        end = begin + 1
        while end < len(pairs_a) and pairs_a[end] == pairs_a[begin]:
            end += 1
        parts += [m.ravel() for m in similarities(pairs_a[begin], pairs_b[begin:end])]
        totals_list += similarities.totals
        begin = end
    offsets = np.zeros(len(rows_a) + 1, dtype=np.int64)
    np.cumsum(n_a * n_b, out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.zeros(0)
    adjacent_of: dict[int, np.ndarray] = {}

    def adjacent(rows: tuple[int, int]) -> np.ndarray:  # asked only of documents in aligned pairs
        k = position[tuple(rows)]
        if k not in adjacent_of:
            adjacent_of[k] = similarities.adjacent(local_rows[k])
        return adjacent_of[k]

    totals = np.array(totals_list, dtype=np.float64)
    return ChunkSimilarities(flat, offsets, n_a, n_b, totals, norms[:len(rows_a)], norms[len(rows_a):], adjacent,
                             cosine_kept(totals, norms[:len(rows_a)], norms[len(rows_a):], floor))


def monotone_anchors(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Monotone 1-1 alignment maximising the summed gain (similarity - threshold) of its links.

    DP: D[i, j] = max(D[i-1, j], D[i, j-1], D[i-1, j-1] + gain[i, j]); only links with
    positive gain are kept. With the kernels loaded the DP is compiled (`_kernels.
    monotone_anchors`). Else most matrices of a scan are a few sentences square, where plain
    Python floats beat numpy's per-call overhead, and larger ones run row-vectorised. All three
    do the same float operations in the same order, so they return the same links.
    """
    m, n = sim.shape
    if m == 0 or n == 0:
        return []
    compiled = loaded_kernel("monotone_anchors")
    if compiled is not None:  # the same table and walk, compiled: the Python DP was 4% of corpus-1m's block CPU
        return list(map(tuple, compiled(sim - threshold).tolist()))
    if m * n <= SMALL_DP_CELLS:
        table = _dp_table_small(sim - threshold)
    else:
        table = _dp_table(sim - threshold)
    pairs: list[tuple[int, int]] = []
    i, j = m, n
    while i > 0 and j > 0:
        if table[i][j] == table[i - 1][j]:
            i -= 1
        elif table[i][j] == table[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
    pairs.reverse()
    return pairs


# Below this many cells the DP runs on Python floats (measured: 10x10 about 4x faster than
# numpy row by row; the two meet near 40x40).
SMALL_DP_CELLS = 1600


def _dp_table(gain: np.ndarray) -> list:
    """The DP table, row-vectorised: the D[i, j-1] term is a running maximum along the row."""
    m, n = gain.shape
    table = np.zeros((m + 1, n + 1), dtype=np.float64)
    for i in range(1, m + 1):
        prev = table[i - 1]
        diag = prev[:-1] + np.where(gain[i - 1] > 0, gain[i - 1], -np.inf)
        row = np.maximum(prev[1:], diag)
        table[i, 1:] = np.maximum.accumulate(row)
    return table.tolist()


def _dp_table_small(gain: np.ndarray) -> list:
    """`_dp_table` on Python floats (the same additions and maxima, so the same table)."""
    n = gain.shape[1]
    prev = [0.0] * (n + 1)
    table = [prev]
    neg_inf = float("-inf")
    for gains in gain.tolist():
        row = [0.0] * (n + 1)
        run = neg_inf
        for j in range(1, n + 1):
            g = gains[j - 1]
            diag = prev[j - 1] + g if g > 0 else neg_inf
            best = prev[j] if prev[j] >= diag else diag
            if best > run:
                run = best
            row[j] = run
        table.append(row)
        prev = row
    return table


# --------------------------------------------------------------------------- features


def features(alignment: Alignment, link_fidelity: np.ndarray | None = None) -> PairFeatures:
    """Read the relate stage's features off an alignment (`link_fidelity`: one value per link)."""
    sa, sb, links = alignment.a_sentences, alignment.b_sentences, alignment.links
    if link_fidelity is None:
        link_fidelity = np.ones(len(links))
    # Per-sentence bookkeeping on Python lists (numpy scalar indexing costs more than the
    # arithmetic here); the sums below stay numpy's.
    chars_list_a = [len(s.text) for s in sa]
    chars_list_b = [len(s.text) for s in sb]
    len_a = np.array(chars_list_a, dtype=np.float64)
    len_b = np.array(chars_list_b, dtype=np.float64)
    chars_a, chars_b = float(len_a.sum()), float(len_b.sum())
    cov_list_a, fid_list_a = [0.0] * len(sa), [0.0] * len(sa)
    cov_list_b, fid_list_b = [0.0] * len(sb), [0.0] * len(sb)
    for link, fid in zip(links, np.asarray(link_fidelity, dtype=np.float64).tolist()):
        for i in link.a:
            cov_list_a[i] = max(cov_list_a[i], link.similarity)
            fid_list_a[i] = max(fid_list_a[i], fid)
        for j in link.b:
            cov_list_b[j] = max(cov_list_b[j], link.similarity)
            fid_list_b[j] = max(fid_list_b[j], fid)
    cov_a, fid_a = np.array(cov_list_a, dtype=np.float64), np.array(fid_list_a, dtype=np.float64)
    cov_b, fid_b = np.array(cov_list_b, dtype=np.float64), np.array(fid_list_b, dtype=np.float64)
    coverage_a = float(len_a[cov_a > 0].sum() / chars_a) if chars_a else 0.0
    coverage_b = float(len_b[cov_b > 0].sum() / chars_b) if chars_b else 0.0
    weighted_a = float((len_a * cov_a).sum() / chars_a) if chars_a else 0.0
    weighted_b = float((len_b * cov_b).sum() / chars_b) if chars_b else 0.0

    if links:
        link_chars = np.array([sum(chars_list_a[i] for i in l.a) + sum(chars_list_b[j] for j in l.b) for l in links],
                              dtype=np.float64)
        sims = np.array([l.similarity for l in links])
        mean_similarity = float((sims * link_chars).sum() / link_chars.sum())
        mean_fidelity = float((np.asarray(link_fidelity) * link_chars).sum() / link_chars.sum())
        verbatim_share = float((sims >= VERBATIM_SIMILARITY).mean())
    else:
        mean_similarity = verbatim_share = mean_fidelity = 0.0

    figure_links = figure_mismatches = 0
    for link in links:
        figures_a = _figures(" ".join(sa[i].text for i in link.a))
        figures_b = _figures(" ".join(sb[j].text for j in link.b))
        if figures_a or figures_b:
            figure_links += 1
            # A template fills the same wording with other values: a figure is *replaced*.
            # A figure only added or dropped (copy-editing, a cut clause) is not that signal.
            figure_mismatches += bool(figures_a - figures_b) and bool(figures_b - figures_a)

    ordered = sorted(links, key=lambda l: (l.a[0], l.b[0]))
    best_run, best_chars, _ = _longest_run(ordered, chars_list_a, chars_list_b)
    verbatim_run, verbatim_chars, (first, last) = _longest_run(
        [l for l in ordered if l.similarity >= VERBATIM_SIMILARITY], chars_list_a, chars_list_b)
    at_edge = first is not None and (
        (first.a[0] == 0 and first.b[0] == 0) or (last.a[-1] == len(sa) - 1 and last.b[-1] == len(sb) - 1))
    shorter = min(chars_a, chars_b) or 1.0

    if len(ordered) >= 4:
        bs = np.array([l.b[0] for l in ordered])
        agree = (bs[None, :] > bs[:, None])[np.triu_indices(len(bs), 1)]
        order_consistency = float(agree.mean())
    else:
        order_consistency = 1.0

    return PairFeatures(
        coverage_a=coverage_a,
        coverage_b=coverage_b,
        anchors=sum(1 for l in links if l.kind == "anchor"),
        links=len(links),
        longest_run=best_run,
        longest_run_share=float(min(1.0, best_chars / shorter)),
        verbatim_run=verbatim_run,
        verbatim_run_share=float(min(1.0, verbatim_chars / shorter)),
        verbatim_run_at_edge=bool(at_edge),
        figure_links=figure_links,
        figure_mismatches=figure_mismatches,
        verbatim_share=verbatim_share,
        order_consistency=order_consistency,
        mean_similarity=mean_similarity,
        weighted_coverage_a=weighted_a,
        weighted_coverage_b=weighted_b,
        faithful_coverage_a=float((len_a * fid_a).sum() / chars_a) if chars_a else 0.0,
        faithful_coverage_b=float((len_b * fid_b).sum() / chars_b) if chars_b else 0.0,
        mean_fidelity=mean_fidelity,
        sentences_a=len(sa),
        sentences_b=len(sb),
        chars_a=int(chars_a),
        chars_b=int(chars_b),
    )


def features_batch(alignments: Sequence[Alignment], link_fidelities: Sequence[np.ndarray]) -> list[PairFeatures]:
    """`features` of many alignments at once (a verify chunk's), from flat arrays of their
    sentences and links: the per-pair Python of `features` (seven passes over the links,
    small numpy arrays, `_longest_run` twice) was 13% of corpus-1m's block time.

    Counts, lengths and the runs are the same integers; sums of floats run in order here
    (`np.bincount`) where `features` uses numpy's pairwise `sum`, so the similarity- and
    fidelity-weighted features agree to ~1e-15 relative (tests/test_fastverify.py).
    """
    n_pairs = len(alignments)
    if n_pairs == 0:
        return []
    lengths_a = [[len(s.text) for s in al.a_sentences] for al in alignments]
    lengths_b = [[len(s.text) for s in al.b_sentences] for al in alignments]
    n_a = np.fromiter(map(len, lengths_a), dtype=np.int64, count=n_pairs)
    n_b = np.fromiter(map(len, lengths_b), dtype=np.int64, count=n_pairs)
    len_a = np.fromiter(chain.from_iterable(lengths_a), dtype=np.float64, count=int(n_a.sum()))
    len_b = np.fromiter(chain.from_iterable(lengths_b), dtype=np.float64, count=int(n_b.sum()))
    first_a, first_b = np.cumsum(n_a) - n_a, np.cumsum(n_b) - n_b  # each pair's first sentence
    owner_a, owner_b = np.repeat(np.arange(n_pairs), n_a), np.repeat(np.arange(n_pairs), n_b)
    chars_a = np.bincount(owner_a, weights=len_a, minlength=n_pairs)
    chars_b = np.bincount(owner_b, weights=len_b, minlength=n_pairs)

    # Links, flat: per link its pair, ends, similarity, kind and figures; per side entry
    # (a link's sentence) its link and its sentence's flat position.
    link_pair, a_first, a_last, b_first, b_last, similarity, anchor, texts_a, texts_b = ([] for _ in range(9))
    entry_a_link, entry_a, entry_b_link, entry_b = [], [], [], []
    k = 0
    for p, alignment in enumerate(alignments):
        sa, sb = alignment.a_sentences, alignment.b_sentences
        base_a, base_b = int(first_a[p]), int(first_b[p])
        for link in alignment.links:
            la, lb = link.a, link.b
            link_pair.append(p)
            a_first.append(la[0])
            a_last.append(la[-1])
            b_first.append(lb[0])
            b_last.append(lb[-1])
            similarity.append(link.similarity)
            anchor.append(link.kind == "anchor")
            texts_a.append(sa[la[0]].text if len(la) == 1 else " ".join(sa[i].text for i in la))
            texts_b.append(sb[lb[0]].text if len(lb) == 1 else " ".join(sb[j].text for j in lb))
            for i in la:
                entry_a_link.append(k)
                entry_a.append(base_a + i)
            for j in lb:
                entry_b_link.append(k)
                entry_b.append(base_b + j)
            k += 1
    n_links = k
    # A template fills the same wording with other values: a figure is *replaced*.
    figured, swapped = template_figure_flags(texts_a, texts_b)
    link_pair = np.array(link_pair, dtype=np.int64)
    a_first, a_last = np.array(a_first, dtype=np.int64), np.array(a_last, dtype=np.int64)
    b_first, b_last = np.array(b_first, dtype=np.int64), np.array(b_last, dtype=np.int64)
    similarity = np.array(similarity, dtype=np.float64)
    fidelity = (np.concatenate([np.asarray(f, dtype=np.float64) for f in link_fidelities]) if n_links
                else np.zeros(0))
    entry_a_link, entry_a = np.array(entry_a_link, dtype=np.int64), np.array(entry_a, dtype=np.int64)
    entry_b_link, entry_b = np.array(entry_b_link, dtype=np.int64), np.array(entry_b, dtype=np.int64)

    # Per sentence: its best link similarity and fidelity (0 when unlinked).
    cov_a, fid_a = np.zeros(len(len_a)), np.zeros(len(len_a))
    cov_b, fid_b = np.zeros(len(len_b)), np.zeros(len(len_b))
    np.maximum.at(cov_a, entry_a, similarity[entry_a_link])
    np.maximum.at(fid_a, entry_a, fidelity[entry_a_link])
    np.maximum.at(cov_b, entry_b, similarity[entry_b_link])
    np.maximum.at(fid_b, entry_b, fidelity[entry_b_link])

    def per_pair(owner: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=n_pairs)

    covered_a, covered_b = per_pair(owner_a, len_a * (cov_a > 0)), per_pair(owner_b, len_b * (cov_b > 0))
    weighted_a, weighted_b = per_pair(owner_a, len_a * cov_a), per_pair(owner_b, len_b * cov_b)
    faithful_a, faithful_b = per_pair(owner_a, len_a * fid_a), per_pair(owner_b, len_b * fid_b)
    side_a = np.bincount(entry_a_link, weights=len_a[entry_a], minlength=n_links)  # a link's characters
    side_b = np.bincount(entry_b_link, weights=len_b[entry_b], minlength=n_links)
    link_chars = side_a + side_b
    links = np.bincount(link_pair, minlength=n_pairs)
    link_total = per_pair(link_pair, link_chars)
    sim_total = per_pair(link_pair, similarity * link_chars)
    fid_total = per_pair(link_pair, fidelity * link_chars)
    verbatim = similarity >= VERBATIM_SIMILARITY
    verbatim_links = np.bincount(link_pair, weights=verbatim, minlength=n_pairs)
    anchors = np.bincount(link_pair, weights=np.array(anchor, dtype=bool), minlength=n_pairs)
    figure_links = np.bincount(link_pair, weights=figured, minlength=n_pairs)
    figure_mismatches = np.bincount(link_pair, weights=swapped, minlength=n_pairs)

    # Runs of links consecutive on both sides, links in (a, b) order as `_longest_run` takes them.
    ordered = np.lexsort((np.arange(n_links), b_first, a_first, link_pair))
    run_chars = np.minimum(side_a, side_b)
    best_run, best_chars, _, _ = longest_runs(ordered, link_pair, a_first, a_last, b_first, b_last, run_chars, n_pairs)
    in_verbatim = ordered[verbatim[ordered]]
    verbatim_run, verbatim_chars, first, last = longest_runs(in_verbatim, link_pair, a_first, a_last, b_first, b_last,
                                                             run_chars, n_pairs)
    at_edge = runs_at_edge(first, last, a_first, a_last, b_first, b_last, n_a, n_b)
    agree, compared = _batch_order_agreement(ordered, link_pair, b_first, links)

    out = []
    for p in range(n_pairs):
        ca, cb = float(chars_a[p]), float(chars_b[p])
        shorter = min(ca, cb) or 1.0
        n = int(links[p])
        total = float(link_total[p])
        out.append(PairFeatures(
            coverage_a=float(covered_a[p] / ca) if ca else 0.0,
            coverage_b=float(covered_b[p] / cb) if cb else 0.0,
            anchors=int(anchors[p]),
            links=n,
            longest_run=int(best_run[p]),
            longest_run_share=float(min(1.0, best_chars[p] / shorter)),
            verbatim_run=int(verbatim_run[p]),
            verbatim_run_share=float(min(1.0, verbatim_chars[p] / shorter)),
            verbatim_run_at_edge=bool(at_edge[p]),
            figure_links=int(figure_links[p]),
            figure_mismatches=int(figure_mismatches[p]),
            verbatim_share=float(verbatim_links[p] / n) if n else 0.0,
            order_consistency=float(agree[p] / compared[p]) if n >= 4 else 1.0,
            mean_similarity=float(sim_total[p] / total) if n else 0.0,
            weighted_coverage_a=float(weighted_a[p] / ca) if ca else 0.0,
            weighted_coverage_b=float(weighted_b[p] / cb) if cb else 0.0,
            faithful_coverage_a=float(faithful_a[p] / ca) if ca else 0.0,
            faithful_coverage_b=float(faithful_b[p] / cb) if cb else 0.0,
            mean_fidelity=float(fid_total[p] / total) if n else 0.0,
            sentences_a=int(n_a[p]),
            sentences_b=int(n_b[p]),
            chars_a=int(ca),
            chars_b=int(cb),
        ))
    return out


def longest_runs(ordered: np.ndarray, link_pair: np.ndarray, a_first: np.ndarray, a_last: np.ndarray,
                 b_first: np.ndarray, b_last: np.ndarray, chars: np.ndarray,
                 n_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`_longest_run` of every pair at once over the links `ordered` (grouped by pair, in (a, b)
    order; link k joins A's sentences a_first[k]..a_last[k] to B's b_first[k]..b_last[k], and
    counts chars[k]) -> per pair (longest run, its greatest characters, first and last link of
    the first longest run, -1 when the pair has none of these links). The verify fast path
    reads its verbatim links' runs with it too."""
    best_len = np.zeros(n_pairs, dtype=np.int64)
    best_chars = np.zeros(n_pairs)
    first = np.full(n_pairs, -1, dtype=np.int64)
    last = np.full(n_pairs, -1, dtype=np.int64)
    if not len(ordered):
        return best_len, best_chars, first, last
    pair = link_pair[ordered]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = ((pair[1:] != pair[:-1]) | (a_first[ordered[1:]] != a_last[ordered[:-1]] + 1)
                  | (b_first[ordered[1:]] != b_last[ordered[:-1]] + 1))
    run_first = np.flatnonzero(starts)
    run_last = np.append(run_first[1:], len(ordered)) - 1
    run_pair = pair[run_first]
    run_len = run_last - run_first + 1
    # A run's characters only grow along it (chars >= 0), so its best is its total.
    run_chars = np.add.reduceat(chars[ordered], run_first)
    np.maximum.at(best_chars, run_pair, run_chars)
    head = np.lexsort((np.arange(len(run_pair)), -run_len, run_pair))  # per pair, the first longest run first
    head = head[np.r_[True, run_pair[head][1:] != run_pair[head][:-1]]]
    best_len[run_pair[head]] = run_len[head]
    first[run_pair[head]] = ordered[run_first[head]]
    last[run_pair[head]] = ordered[run_last[head]]
    return best_len, best_chars, first, last


def runs_at_edge(first: np.ndarray, last: np.ndarray, a_first: np.ndarray, a_last: np.ndarray, b_first: np.ndarray,
                 b_last: np.ndarray, n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Per pair: does the run from link first[p] to link last[p] (`longest_runs`; -1: none) open
    or close both texts, of n_a[p] and n_b[p] sentences (`features`' verbatim_run_at_edge)?"""
    at_edge = np.zeros(len(first), dtype=bool)
    has = np.flatnonzero(first >= 0)
    f, l_ = first[has], last[has]
    at_edge[has] = (((a_first[f] == 0) & (b_first[f] == 0))
                    | ((a_last[l_] == n_a[has] - 1) & (b_last[l_] == n_b[has] - 1)))
    return at_edge


def _batch_order_agreement(ordered: np.ndarray, link_pair: np.ndarray, b_first: np.ndarray,
                           links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair with 4+ links: how many of its (earlier, later) link pairs in (a, b) order are
    also in order on B, and how many such pairs there are (`features`' order_consistency)."""
    n_pairs = len(links)
    agree = np.zeros(n_pairs, dtype=np.int64)
    compared = np.maximum(1, links * (links - 1) // 2)
    many = links >= 4
    if not many.any():
        return agree, compared
    pair = link_pair[ordered]
    keep = many[pair]
    bs, pair = b_first[ordered][keep], pair[keep]
    counts = links[many]
    # Every (i, j), i < j, within each pair: i runs over a pair's links, j over those after it.
    after = np.repeat(counts, counts) - ranks_within(counts) - 1  # links after each link in its pair
    i = np.repeat(np.arange(len(bs)), after)
    j = i + 1 + ranks_within(after)
    agree[np.flatnonzero(many)] = np.bincount(np.repeat(np.arange(len(counts)), counts)[i],
                                              weights=bs[j] > bs[i], minlength=len(counts)).astype(np.int64)
    return agree, compared


def _longest_run(
    ordered: list[Link], len_a: Sequence[int], len_b: Sequence[int]
) -> tuple[int, float, tuple[Link | None, Link | None]]:
    """Longest run of links consecutive on both sides: (links, shorter side's characters, (first, last))."""
    run, best_run, run_chars, best_chars = 0, 0, 0.0, 0.0
    prev: Link | None = None
    run_first: Link | None = None
    bounds: tuple[Link | None, Link | None] = (None, None)
    for link in ordered:
        chars = min(sum(len_a[i] for i in link.a), sum(len_b[j] for j in link.b))
        if prev is not None and link.a[0] == prev.a[-1] + 1 and link.b[0] == prev.b[-1] + 1:
            run += 1
            run_chars += chars
        else:
            run, run_chars, run_first = 1, chars, link
        best_chars = max(best_chars, run_chars)
        if run > best_run:
            best_run, bounds = run, (run_first, link)
        prev = link
    return best_run, best_chars, bounds
