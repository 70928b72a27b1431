"""Fingerprint stage: shingle hashes and MinHash signatures, vectorised over whole batches.

Why not one Python object per token: lowercasing, tokenising and 5-gram shingling a
550-word article in Python alone caps out near 3,000 docs/s per core, before any hashing.
So a batch of documents is handled as one UTF-8 byte array in numpy:

1. bytes are classified word / non-word by a lookup table (ASCII letters and digits, and
   every byte >= 0x80 except the encodings of Latin-1 symbols U+0080-U+00BF, general
   punctuation U+2000-U+207F and CJK punctuation U+3000-U+303F, so curly quotes and dashes
   split words as ASCII punctuation does);
2. token boundaries come from `np.diff` of that mask;
3. each token's hash is a polynomial over its bytes, read off prefix sums: an odd base is
   invertible mod 2^64, so sum_j c_j B^(j-s) = (P[e] - P[s]) * B^-s with one gather;
4. a k-gram shingle hash combines k consecutive token hashes with fixed odd multipliers;
   a document shorter than k tokens is one shingle (all of its tokens).

Two channels share this tokeniser:

* ``copy``: word k-grams (default k=5) for exact copies, light edits and partial reuse;
* ``rewrite``: stemmed content-word unigrams (stopwords out, numbers normalised), which
  survive paraphrase: on the seeds 000/001 (an LLM rewrite) word 5-gram Jaccard is 0.008,
  content-word unigram Jaccard 0.34. Only the batch's *new* unique words go through Python
  (normalise + PyStemmer's C batch call); each is cached as raw-token hash -> feature hash.
  A scan of 2,000+ documents also drops the words frequent in its corpus
  (`drop_frequent_words`), which otherwise make rewrite candidates grow with n^2.

`MinHasher` reproduces datasketch's default "affine32" scheme bit for bit: the input hash
is pre-mixed with the 32-bit MurmurHash3 finalizer, then permuted as a*h+b mod 2^32 with
(a, b) drawn exactly as `datasketch.MinHash._init_permutations` draws them.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import Stemmer
import xxhash

from dedup import jit
from dedup.jit import kernel
from dedup.textstore import char_lengths
from dedup.workers import bounded_map, worker_pool

__all__ = [
    "CHANNELS",
    "MinHasher",
    "Fingerprinter",
    "estimate_jaccard",
    "tokenise_batch",
    "MAX_HASH",
]

CHANNELS = ("copy", "rewrite")
MAX_HASH = np.uint32(0xFFFFFFFF)  # datasketch's empty-slot value; a doc with no shingles keeps it

_U64 = np.uint64
_MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------------------
# Hash constants. Fixed forever: changing any of them changes every stored signature.
# ---------------------------------------------------------------------------------------


def splitmix64(state: int, count: int) -> list[int]:
    """`count` well-mixed 64-bit constants from a seed (splitmix64), reproducible anywhere."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        out.append(z ^ (z >> 31))
    return out


BYTE_BASE = 0x100000001B3 | 1  # FNV-64 prime: odd, so invertible mod 2^64
BYTE_BASE_INV = pow(BYTE_BASE, -1, 1 << 64)
MAX_SHINGLE_SIZE = 32
# Multiplier for the t-th token of a shingle (odd) and a tag per shingle length.
POSITION_MULTIPLIERS = [c | 1 for c in splitmix64(0x5EED0001, MAX_SHINGLE_SIZE)]
LENGTH_TAGS = splitmix64(0x5EED0002, MAX_SHINGLE_SIZE + 1)
REWRITE_HASH_SEED = 0x5EED0003  # xxh32 seed for rewrite-channel feature strings

_FMIX64 = (_U64(33), _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53))
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (a bijection that avalanches), element-wise, in place."""
    shift, m1, m2 = _FMIX64
    values ^= values >> shift
    values *= m1
    values ^= values >> shift
    values *= m2
    values ^= values >> shift
    return values


def fmix64_int(value: int) -> int:
    """`fmix64` on one Python int (used by tests' slow reference and by scalar callers)."""
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & _MASK64
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & _MASK64
    return value ^ (value >> 33)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """datasketch's `_fmix(hv, 32)` (MurmurHash3 32-bit finalizer) on a uint32 array."""
    s1, m1, s2, m2 = _FMIX32
    values = values ^ (values >> s1)
    values *= m1
    values ^= values >> s2
    values *= m2
    values ^= values >> s1
    return values


# ---------------------------------------------------------------------------------------
# MinHash
# ---------------------------------------------------------------------------------------


class MinHasher:
    """MinHash signatures for many documents at once, equal to datasketch's `MinHash`.

    For the same 32-bit input hashes, `seed` and `num_perm`, row d of `signatures` equals
    `MinHash(num_perm, seed, hashfunc=identity).update_batch(hashes of doc d).hashvalues`.
    """

    # Shingles per chunk of the (num_perm x chunk) work matrix: 128 x 16384 uint32 is 8 MB,
    # the fastest size measured on this machine (4k: 42k docs/s, 16k: 62k, 64k: 18k docs/s).
    chunk_rows = 16384

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        self.num_perm = int(num_perm)
        self.seed = int(seed)
        gen = np.random.RandomState(self.seed)  # same draws, same order as datasketch affine32
        a = gen.randint(0, 1 << 31, self.num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, self.num_perm, dtype=np.uint32)
        self.a = a
        self.b = b
        self._a_col = a[:, None]
        self._b_col = b[:, None]

    def signatures(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """hashes: uint32 shingle hashes of all docs concatenated; offsets: (n+1,) doc
        boundaries (CSR). -> (n, num_perm) uint32; a doc with no shingles gets all-max."""
        hashes = np.ascontiguousarray(hashes, dtype=np.uint32)
        offsets = np.asarray(offsets, dtype=np.int64)
        n_docs = len(offsets) - 1
        if n_docs <= 0 or len(hashes) == 0:
            return np.full((max(n_docs, 0), self.num_perm), MAX_HASH, dtype=np.uint32)
        mixed = _fmix32(hashes)
        compiled = kernel("minhash_signatures", len(mixed))
        if compiled is not None:
            return compiled(mixed, offsets, self.a, self.b)
        # Built transposed (num_perm x docs): reduceat along the contiguous axis is ~5x faster.
        sig_t = np.full((self.num_perm, n_docs), MAX_HASH, dtype=np.uint32)
        nonempty = np.flatnonzero(np.diff(offsets) > 0)
        doc_begin = offsets[nonempty]
        doc_end = offsets[nonempty + 1]
        work = np.empty((self.num_perm, min(self.chunk_rows, len(mixed))), dtype=np.uint32)
        total = int(offsets[-1])
        for lo in range(int(offsets[0]), total, self.chunk_rows):
            hi = min(lo + self.chunk_rows, total)
            block = work[:, : hi - lo]
            np.multiply(self._a_col, mixed[lo:hi], out=block)
            np.add(block, self._b_col, out=block)
            # Docs overlapping [lo, hi): each contributes one contiguous segment.
            first = np.searchsorted(doc_end, lo, side="right")
            last = np.searchsorted(doc_begin, hi, side="left")
            docs = nonempty[first:last]
            starts = np.maximum(doc_begin[first:last], lo) - lo
            seg_min = np.minimum.reduceat(block, starts, axis=1)
            # A doc appears at most once per chunk, so this read-modify-write is safe.
            sig_t[:, docs] = np.minimum(sig_t[:, docs], seg_min)
        return np.ascontiguousarray(sig_t.T)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Share of equal MinHash slots: a float for two signatures, an array for row-wise pairs.

    Two docs with no shingles (both all-max) estimate 1.0, as datasketch does; callers that
    care exclude empty docs first (see `candidates.LSHBanding`).
    """
    sig_a = np.asarray(sig_a)
    sig_b = np.asarray(sig_b)
    if sig_a.shape[-1] != sig_b.shape[-1]:
        raise ValueError("signatures have different num_perm")
    equal = np.mean(sig_a == sig_b, axis=-1)
    return float(equal) if np.ndim(equal) == 0 else equal


# ---------------------------------------------------------------------------------------
# Byte-level tokeniser
# ---------------------------------------------------------------------------------------

_powers_cache: dict[str, np.ndarray] = {}


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """B^j and B^-j mod 2^64 for j < length, cached and grown geometrically."""
    have = _powers_cache.get("fwd")
    if have is None or len(have) < length:
        size = max(length, 2 * (0 if have is None else len(have)), 1 << 16)
        fwd = np.full(size, BYTE_BASE, dtype=np.uint64)
        fwd[0] = 1
        inv = np.full(size, BYTE_BASE_INV, dtype=np.uint64)
        inv[0] = 1
        _powers_cache["fwd"] = np.cumprod(fwd, dtype=np.uint64)  # wraps mod 2^64, as intended
        _powers_cache["inv"] = np.cumprod(inv, dtype=np.uint64)
    return _powers_cache["fwd"], _powers_cache["inv"]


def _word_mask(data: np.ndarray, join_numbers: bool) -> np.ndarray:
    """Word/non-word per (lowercased) byte; non-ASCII punctuation and, optionally, digit
    separators fixed up. Comparisons, not a lookup table: they vectorise ~4x faster."""
    is_digit = (data - np.uint8(ord("0"))) < 10  # uint8 wraps: one compare per range
    mask = (data >= 0x80) | ((data - np.uint8(ord("a"))) < 26) | is_digit
    # Multi-byte punctuation: C2 80-BF (U+0080-00BF), E2 80/81 xx (U+2000-207F),
    # E3 80 xx (U+3000-303F). Lead bytes are rare, so the fix-up touches few positions.
    lead = np.flatnonzero(data[:-1] >= 0xC2)
    lead = lead[(data[lead] == 0xC2) | (data[lead] == 0xE2) | (data[lead] == 0xE3)]
    if len(lead):
        nxt = data[lead + 1]
        b0 = data[lead]
        two = lead[(b0 == 0xC2) & (nxt >= 0x80) & (nxt <= 0xBF)]
        three = lead[((b0 == 0xE2) & ((nxt == 0x80) | (nxt == 0x81))) | ((b0 == 0xE3) & (nxt == 0x80))]
        three = three[three + 2 < len(data)]
        for step in range(2):
            mask[two + step] = False
        for step in range(3):
            mask[three + step] = False
    return _join_numbers(data, mask) if join_numbers else mask


def _join_numbers(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`mask` with "," and "." between two digits made word bytes ("11,000" and "3.5" stay one token)."""
    if len(data) <= 2:
        return mask
    sep = np.flatnonzero((data[1:-1] == ord(",")) | (data[1:-1] == ord("."))) + 1
    if len(sep):
        is_digit = (data - np.uint8(ord("0"))) < 10
        sep = sep[is_digit[sep - 1] & is_digit[sep + 1]]
        mask = mask.copy()
        mask[sep] = True
    return mask


def _lowered_bytes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 of `text.lower()` for every text, "\n" around each -> (bytes, doc start offsets).

    An ASCII text (`str.isascii` is O(1)) skips `str.lower` and is lowercased in numpy,
    which gives the same bytes at a fraction of the cost.
    """
    encoded = [text.encode() if text.isascii() else text.lower().encode("utf-8", "surrogatepass") for text in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    # A "\n" before, between and after the docs: no token spans two docs, and the buffer
    # starts and ends with a non-word byte, so token edges strictly alternate start/end.
    doc_starts = np.ones(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=doc_starts[1:])
    doc_starts[1:] += 1
    data = np.frombuffer(bytearray(b"\n" + b"\n".join(encoded) + b"\n"), dtype=np.uint8)
    upper = (data - np.uint8(ord("A"))) < 26
    data |= upper.view(np.uint8) << np.uint8(5)
    return data, doc_starts


def tokenise_batch(
    texts: Sequence[str], join_numbers: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokenise a batch: (token_hashes uint64, token_offsets (n+1,) int64, starts, ends, data).

    Tokens are maximal runs of word bytes of `text.lower()` in UTF-8 (see module docstring);
    a token's hash is fmix64(sum_j byte_j * BYTE_BASE^j mod 2^64). `starts`/`ends` are byte
    positions into `data`, the batch's lowered bytes joined with b"\n" (so no token spans
    two docs). With `join_numbers`, "," and "." between two digits are word bytes.
    """
    data, doc_starts = _lowered_bytes(texts)
    compiled = kernel("tokens", len(data))
    if compiled is not None:
        return (*compiled(data, doc_starts, kernel("word_mask", len(data))(data, join_numbers), _U64(BYTE_BASE)), data)
    prefix, inv = _byte_prefix(data)
    return _tokens(data, doc_starts, _word_mask(data, join_numbers), prefix, inv)


def tokenise_batch_twice(texts: Sequence[str]) -> tuple[tuple, tuple]:
    """`tokenise_batch(texts)` and `tokenise_batch(texts, join_numbers=True)`, sharing the
    lowered bytes, the word mask and the byte prefix sums (most of the work)."""
    data, doc_starts = _lowered_bytes(texts)
    compiled = kernel("tokens", len(data))
    if compiled is not None:
        mask = kernel("word_mask", len(data))(data, False)
        joined = kernel("join_numbers", len(data))(data, mask)
        return tuple((*compiled(data, doc_starts, m, _U64(BYTE_BASE)), data) for m in (mask, joined))
    prefix, inv = _byte_prefix(data)
    mask = _word_mask(data, False)
    plain = _tokens(data, doc_starts, mask, prefix, inv)
    return plain, _tokens(data, doc_starts, _join_numbers(data, mask), prefix, inv)


def _byte_prefix(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, B^-j) with P[i] = sum_{j<i} data[j] * B^j mod 2^64: any span's hash in one gather."""
    fwd, inv = _powers(len(data) + 1)
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum(data * fwd[: len(data)], out=prefix[1:])  # uint8 * uint64 -> uint64, wraps
    return prefix, inv


def _tokens(data: np.ndarray, doc_starts: np.ndarray, mask: np.ndarray, prefix: np.ndarray, inv: np.ndarray) -> tuple:
    """Token hashes and offsets of the word runs of `mask` (see `tokenise_batch`)."""
    # Token edges alternate start, end, start, end... so one flatnonzero gives both.
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    starts = edges[0::2]
    ends = edges[1::2]
    token_hashes = (prefix[ends] - prefix[starts]) * inv[starts]
    fmix64(token_hashes)
    token_offsets = np.searchsorted(starts, doc_starts).astype(np.int64)
    token_offsets[-1] = len(starts)
    return token_hashes, token_offsets, starts, ends, data


def ranks_within(sizes: np.ndarray) -> np.ndarray:
    """For runs of the given sizes laid end to end, each element's index inside its run."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _shingle_offsets(token_offsets: np.ndarray, size: int) -> np.ndarray:
    """CSR offsets of shingles: n-k+1 per doc with n >= k tokens, 1 if 0 < n < k, else 0."""
    n_tokens = np.diff(token_offsets)
    counts = np.where(n_tokens >= size, n_tokens - size + 1, np.minimum(n_tokens, 1))
    offsets = np.zeros(len(n_tokens) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def kgram_hashes(token_hashes: np.ndarray, token_offsets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every run of `size` consecutive tokens inside a doc -> (uint32 hashes, offsets).

    shingle(t_0..t_{m-1}) = fmix64(sum_i t_i * POSITION_MULTIPLIERS[i] + LENGTH_TAGS[m]) >> 32,
    with m = size, or m = n for a doc of 0 < n < size tokens (the whole doc is one shingle).
    """
    if not 1 <= size <= MAX_SHINGLE_SIZE:
        raise ValueError(f"shingle size must be in 1..{MAX_SHINGLE_SIZE}, got {size}")
    out_offsets = _shingle_offsets(token_offsets, size)
    mults = np.array(POSITION_MULTIPLIERS, dtype=np.uint64)
    tags = np.array(LENGTH_TAGS, dtype=np.uint64)
    compiled = kernel("kgram_hashes", len(token_hashes))
    if compiled is not None:
        return compiled(token_hashes, np.asarray(token_offsets, dtype=np.int64), size, out_offsets, mults, tags), out_offsets
    n_tokens = np.diff(token_offsets)
    out = np.empty(int(out_offsets[-1]), dtype=np.uint32)
    total = len(token_hashes)
    if total >= size:
        n_windows = total - size + 1
        windows = token_hashes[:n_windows] * mults[0]
        for pos in range(1, size):
            windows += token_hashes[pos : pos + n_windows] * mults[pos]
        windows += tags[size]
        fmix64(windows)
        long_docs = np.flatnonzero(n_tokens >= size)
        per_doc = n_tokens[long_docs] - size + 1
        # Window i of long doc d is windows[token_offsets[d] + i] and lands at out_offsets[d] + i.
        within = ranks_within(per_doc)
        src = within + np.repeat(token_offsets[long_docs], per_doc)
        dst = within + np.repeat(out_offsets[long_docs], per_doc)
        out[dst] = (windows[src] >> _U64(32)).astype(np.uint32)
    short_docs = np.flatnonzero((n_tokens > 0) & (n_tokens < size))
    if len(short_docs):
        first = token_offsets[short_docs]
        lengths = n_tokens[short_docs]
        acc = tags[lengths].copy()
        for pos in range(size - 1):
            has = lengths > pos
            acc[has] += token_hashes[first[has] + pos] * mults[pos]
        fmix64(acc)
        out[out_offsets[short_docs]] = (acc >> _U64(32)).astype(np.uint32)
    return out, out_offsets


# ---------------------------------------------------------------------------------------
# Rewrite channel: stemmed content words, numbers normalised
# ---------------------------------------------------------------------------------------

# English function words, plus news reporting verbs and hedges ("said", "could") that a
# paraphrase swaps freely and independent coverage shares anyway.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could couldn did didn do does doesn
    doing don down during each few for from further had hadn has hasn have haven having he
    her here hers herself him himself his how however i if in into is isn it its itself just
    let ll me might more most mr mrs ms must mustn my myself no nor not now of off on once
    only or other ought our ours ourselves out over own re s same shall shan she should
    shouldn so some such t than that the their theirs them themselves then there these they
    this those through to too under until up upon us ve very was wasn we were weren what
    when where which while who whom whose why will with won would wouldn you your yours
    yourself yourselves said say says saying told tell according also would may many much
    one ones per via within without yet since still even though although
    """.split()
)
_NUMBER = re.compile(r"([0-9][0-9.,]*)")


def normalise_word(word: str) -> str | None:
    """Rewrite-channel form of one lowercased token before stemming; None drops it.

    Numbers lose thousands separators and trailing decimal zeros and their unit suffix
    ("11,000" -> "#11000", "1.50bn" -> "#1.5"), so "11,000" and "11000" match; stopwords and
    single letters carry no claim and are dropped.
    """
    if "0" <= word[0] <= "9":  # not str.isdigit: "٣" or "₂" are digits to it, but not to _NUMBER
        number = _NUMBER.match(word).group(1).replace(",", "").rstrip(".")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        return "#" + number
    if word in STOPWORDS or (len(word) == 1 and word.isascii()):
        return None
    return word


class _HashTable:
    """Open-addressing table uint64 key -> slot, with vectorised lookup and insert.

    numpy has no hash map; a binary search (`searchsorted`) over the vocabulary cost
    ~160 ns per token, a linear-probing table costs one or two random reads. Key 0 marks an
    empty slot, so a token hash of 0 is stored as 1 (a 2^-64 chance of merging two words).
    """

    def __init__(self, capacity_log2: int = 16) -> None:
        self.mask = np.uint64((1 << capacity_log2) - 1)
        self.keys = np.zeros(1 << capacity_log2, dtype=np.uint64)
        self.count = 0

    def _start(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(keys with 0 -> 1, result slots all -1, pending key indices, home slots)."""
        keys = np.where(keys == 0, _U64(1), keys)
        return keys, np.full(len(keys), -1, dtype=np.int64), np.arange(len(keys)), (keys & self.mask).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Slot of each key, or -1 where absent."""
        compiled = kernel("table_find", len(keys))
        if compiled is not None:
            return compiled(self.keys, keys)
        keys, found, pending, slots = self._start(keys)
        while len(pending):
            stored = self.keys[slots]
            hit = stored == keys[pending]
            found[pending[hit]] = slots[hit]
            go_on = ~hit & (stored != 0)
            pending = pending[go_on]
            slots = (slots[go_on] + 1) & int(self.mask)
        return found

    def insert(self, keys: np.ndarray) -> np.ndarray:
        """Insert distinct keys not yet present; -> their slots (for the caller's value arrays)."""
        keys, slots, pending, probe = self._start(keys)
        while len(pending):
            free = self.keys[probe] == 0
            # Among keys that found the same free slot, the first takes it; the rest probe on.
            cand = np.flatnonzero(free)
            _, first = np.unique(probe[cand], return_index=True)
            won = cand[first]
            self.keys[probe[won]] = keys[pending[won]]
            slots[pending[won]] = probe[won]
            lost = np.ones(len(pending), dtype=bool)
            lost[won] = False
            pending = pending[lost]
            probe = (probe[lost] + 1) & int(self.mask)
        self.count += len(keys)
        return slots


class _RewriteVocabulary:
    """Raw-token hash -> rewrite feature hash (or dropped), in a vectorised hash table.

    Only tokens never seen before go through Python (normalise + one PyStemmer batch call),
    so after warm-up a batch costs one table lookup per token.
    """

    max_entries = 1 << 23  # 8M words (~300 MB with the table); past it the cache restarts

    def __init__(self, capacity_log2: int = 16) -> None:
        self.table = _HashTable(capacity_log2)
        self.features = np.zeros(len(self.table.keys), dtype=np.uint32)
        self.keep = np.zeros(len(self.table.keys), dtype=bool)
        self._stemmer = Stemmer.Stemmer("english")

    def lookup(self, token_hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray, data: np.ndarray):
        """-> (feature uint32 per token, keep bool per token)."""
        slots = self.table.find(token_hashes)
        missing = slots < 0
        if missing.any():
            new_keys, first = np.unique(token_hashes[missing], return_index=True)
            where = np.flatnonzero(missing)[first]
            raw = data.tobytes()
            words = [raw[s:e].decode("utf-8", "replace") for s, e in zip(starts[where].tolist(), ends[where].tolist())]
            new_slots, grown = self._add(new_keys, words)
            if grown:  # every slot moved: look the whole batch up again
                slots = self.table.find(token_hashes)
            else:
                slots[missing] = new_slots[np.searchsorted(new_keys, token_hashes[missing])]
        return self.features[slots], self.keep[slots]

    def _add(self, new_keys: np.ndarray, words: list[str]) -> tuple[np.ndarray, bool]:
        """Store new words; -> (their slots, whether the table was rebuilt, moving old slots)."""
        forms = [normalise_word(word) for word in words]
        keep = np.fromiter((form is not None for form in forms), dtype=bool, count=len(forms))
        to_stem = [form for form in forms if form is not None and form[0] != "#"]
        stems = iter(self._stemmer.stemWords(to_stem))
        features = np.fromiter(
            (
                0
                if form is None
                else xxhash.xxh32_intdigest(
                    (form if form[0] == "#" else next(stems)).encode("utf-8", "surrogatepass"), REWRITE_HASH_SEED
                )
                for form in forms
            ),
            dtype=np.uint32,
            count=len(forms),
        )
        grown = False
        if self.table.count + len(new_keys) > self.max_entries:
            self.__init__()
            grown = True
        while (self.table.count + len(new_keys)) * 2 > len(self.table.keys):
            self._grow()  # load factor under 1/2 keeps probe chains short
            grown = True
        slots = self.table.insert(new_keys)
        self.features[slots] = features
        self.keep[slots] = keep
        return slots, grown

    def _grow(self) -> None:
        """Double the table and re-insert every entry with its values."""
        old_keys, old_features, old_keep = self.table.keys, self.features, self.keep
        used = np.flatnonzero(old_keys != 0)
        self.table = _HashTable(int(len(old_keys)).bit_length())
        self.features = np.zeros(len(self.table.keys), dtype=np.uint32)
        self.keep = np.zeros(len(self.table.keys), dtype=bool)
        slots = self.table.insert(old_keys[used])
        self.features[slots] = old_features[used]
        self.keep[slots] = old_keep[used]


_vocabulary: _RewriteVocabulary | None = None


def _rewrite_vocabulary() -> _RewriteVocabulary:
    """One vocabulary per process: the mapping is fixed, so sharing it only saves time."""
    global _vocabulary
    if _vocabulary is None:
        _vocabulary = _RewriteVocabulary()
    return _vocabulary


def rewrite_features(texts: Sequence[str], bigrams: bool = False, tokens: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per doc, the set of stemmed content-word (and optionally content-word bigram) hashes.

    -> (uint32 hashes, sorted and unique within each doc; offsets (n+1,) int64). `tokens`:
    `tokenise_batch(texts, join_numbers=True)` when the caller already has it.
    """
    token_hashes, token_offsets, starts, ends, data = tokens or tokenise_batch(texts, join_numbers=True)
    n_docs = len(token_offsets) - 1
    features, keep = _rewrite_vocabulary().lookup(token_hashes, starts, ends, data)
    compiled = kernel("unique_per_doc", len(features))
    if compiled is not None and not bigrams:
        return compiled(features, keep, np.asarray(token_offsets, dtype=np.int64))
    doc_of_token = np.repeat(np.arange(n_docs, dtype=np.uint64), np.diff(token_offsets))
    content = features[keep].astype(np.uint64)
    content_doc = doc_of_token[keep]
    keys = [(content_doc << _U64(32)) | content]
    if bigrams and len(content) > 1:
        same_doc = content_doc[1:] == content_doc[:-1]
        pair = content[:-1] * _U64(POSITION_MULTIPLIERS[0]) + content[1:] * _U64(POSITION_MULTIPLIERS[1])
        pair += _U64(LENGTH_TAGS[2])
        pair = fmix64(pair[same_doc]) >> _U64(32)
        keys.append((content_doc[1:][same_doc] << _U64(32)) | pair)
    unique = np.sort(np.concatenate(keys))  # by (doc, hash): per-doc sets in CSR order
    if len(unique) > 1:
        unique = unique[np.concatenate(([True], unique[1:] != unique[:-1]))]
    offsets = np.searchsorted(unique >> _U64(32), np.arange(n_docs + 1, dtype=np.uint64)).astype(np.int64)
    return (unique & _U64(0xFFFFFFFF)).astype(np.uint32), offsets


# ---------------------------------------------------------------------------------------
# Passage anchors: winnowed word k-grams, for the shared-passage candidates
# ---------------------------------------------------------------------------------------

# A pasted passage is found by the word 8-grams it shares with its source. 8 words: the
# shortest sentences a shared-sentence channel used to count; shorter n-grams recur as stock
# phrases ("said in a statement on"). Winnowing keeps the minimum of every 8 consecutive
# k-gram hashes (Schleimer et al. 2003), so a shared run of 8 + 8 - 1 = 15 words yields at
# least one common anchor and a run of 2*8 + 8 - 1 = 23 words (a short paragraph) at least
# two, wherever sentence or paragraph breaks fall; about 2/9 of the k-grams are kept.
PASSAGE_WORDS = 8
PASSAGE_WINDOW = 8


def _sliding_min(values: np.ndarray, window: int) -> np.ndarray:
    """out[i] = min(values[i : i + window]) for i <= len - window, by doubling (log2 passes)."""
    out = values
    span = 1
    while span * 2 <= window:
        out = np.minimum(out[:-span], out[span:]) if len(out) > span else out[:0]
        span *= 2
    if span < window:
        rest = window - span
        out = np.minimum(out[:-rest], out[rest:]) if len(out) > rest else out[:0]
    return out


def passage_anchors(
    token_hashes: np.ndarray, token_offsets: np.ndarray, size: int = PASSAGE_WORDS, window: int = PASSAGE_WINDOW
) -> tuple[np.ndarray, np.ndarray]:
    """Winnowed `size`-word k-gram hashes of each doc -> (uint32 hashes in text order, offsets).

    A doc of fewer than `size` tokens has none (a short text shares no passage); a doc of
    fewer than `window` k-grams keeps its single minimum.
    """
    n_docs = len(token_offsets) - 1
    n_tokens = np.diff(token_offsets)
    hashes, offsets = kgram_hashes(token_hashes, token_offsets, size)
    counts = np.where(n_tokens >= size, np.diff(offsets), 0)  # short docs' whole-doc shingle out
    long_docs = np.flatnonzero(counts >= window)
    per_doc = counts[long_docs] - window + 1
    mins = _sliding_min(hashes, window)
    picked = mins[np.repeat(offsets[long_docs], per_doc) + ranks_within(per_doc)]
    picked_doc = np.repeat(long_docs, per_doc)
    few = np.flatnonzero((counts > 0) & (counts < window))
    if len(few):
        gathered = hashes[np.repeat(offsets[few], counts[few]) + ranks_within(counts[few])]
        few_mins = np.minimum.reduceat(gathered, np.cumsum(counts[few]) - counts[few])
        order = np.argsort(np.concatenate([picked_doc, few]), kind="stable")  # two sorted runs: a linear merge
        picked = np.concatenate([picked, few_mins])[order]
        picked_doc = np.concatenate([picked_doc, few])[order]
    # Winnowing repeats a minimum over consecutive windows: keep each run's first. A k-gram
    # repeated further apart in a doc stays twice; SharedPassages drops (hash, doc) repeats
    # in the sort it does anyway, so no per-batch sort is spent on it here.
    fresh = np.ones(len(picked), dtype=bool)
    fresh[1:] = (picked[1:] != picked[:-1]) | (picked_doc[1:] != picked_doc[:-1])
    picked, picked_doc = picked[fresh], picked_doc[fresh]
    doc_offsets = np.searchsorted(picked_doc, np.arange(n_docs + 1)).astype(np.int64)
    return picked, doc_offsets


# ---------------------------------------------------------------------------------------
# Fingerprinter: batches, channels, process pool
# ---------------------------------------------------------------------------------------


def _concat_csr(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Join per-batch (hashes, offsets) into one CSR pair."""
    if not parts:
        return np.zeros(0, dtype=np.uint32), np.zeros(1, dtype=np.int64)
    hashes = np.concatenate([h for h, _ in parts])
    counts = np.concatenate([np.diff(o) for _, o in parts])
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return hashes, offsets


class Fingerprinter:
    """Texts -> shingle hashes -> MinHash signatures, for one channel.

    channel "copy": word `shingle_size`-grams. channel "rewrite": stemmed content-word
    unigrams (plus content-word bigrams if `rewrite_bigrams`); `shingle_size` is not used
    there, since any longer n-gram is what a paraphrase breaks.

    Texts are processed in batches of about `batch_bytes` characters so memory stays
    bounded; `jobs` > 1 spreads batches over a process pool. Every document's output
    depends on that document alone, so results are identical whatever `jobs` or batching.
    """

    def __init__(
        self,
        channel: str = "copy",
        shingle_size: int = 5,
        num_perm: int = 128,
        seed: int = 1,
        jobs: int = 1,
        batch_bytes: int = 1 << 21,
        rewrite_bigrams: bool = False,
    ) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
        if not 1 <= shingle_size <= MAX_SHINGLE_SIZE:
            raise ValueError(f"shingle_size must be in 1..{MAX_SHINGLE_SIZE}, got {shingle_size}")
        self.channel = channel
        self.shingle_size = int(shingle_size)
        self.jobs = max(1, int(jobs) if jobs else (os.cpu_count() or 1))
        self.batch_bytes = int(batch_bytes)
        self.rewrite_bigrams = bool(rewrite_bigrams)
        self.minhasher = MinHasher(num_perm, seed)

    @property
    def num_perm(self) -> int:
        return self.minhasher.num_perm

    def _config(self) -> tuple:
        return (self.channel, self.shingle_size, self.num_perm, self.minhasher.seed, self.batch_bytes, self.rewrite_bigrams)

    def _batch_shingles(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.channel == "rewrite":
            return rewrite_features(texts, self.rewrite_bigrams)
        token_hashes, token_offsets, _, _, _ = tokenise_batch(texts)
        return kgram_hashes(token_hashes, token_offsets, self.shingle_size)

    def _batches(self, texts: Sequence[str]) -> list[slice]:
        """Consecutive slices of about `batch_bytes` characters each (at least one doc)."""
        n = len(texts)
        if n == 0:
            return []
        cumulative = np.cumsum(char_lengths(texts))
        cuts = np.searchsorted(cumulative, np.arange(self.batch_bytes, int(cumulative[-1]), self.batch_bytes), side="right")
        bounds = np.unique(np.concatenate(([0], cuts, [n])))
        return [slice(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]

    def shingles(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """-> (uint32 shingle hashes of all docs concatenated, (n+1,) int64 offsets).

        Copy channel: every k-gram in order (repeats kept; MinHash ignores them).
        Rewrite channel: each doc's feature set, sorted.
        """
        batches = self._batches(texts)
        if self.jobs > 1 and len(batches) > 1:
            parts = worker_pool(self.jobs).map(_pool_shingles, [(self._config(), texts[b]) for b in batches])
            return _concat_csr(list(parts))
        return _concat_csr([self._batch_shingles(texts[b]) for b in batches])

    def _batch_transform(self, texts: Sequence[str]) -> np.ndarray:
        hashes, offsets = self._batch_shingles(texts)
        return self.minhasher.signatures(hashes, offsets)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """-> (n, num_perm) uint32 MinHash signatures (all-max rows for docs with no shingles)."""
        texts = list(texts) if not isinstance(texts, (list, tuple)) else texts
        batches = self._batches(texts)
        if not batches:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        if self.jobs > 1 and len(batches) > 1:
            parts = worker_pool(self.jobs).map(_pool_transform, [(self._config(), texts[b]) for b in batches])
            return np.concatenate(list(parts))
        return np.concatenate([self._batch_transform(texts[b]) for b in batches])


# Worker side: one Fingerprinter per configuration in each worker.
_worker_fingerprinters: dict[tuple, Fingerprinter] = {}


def _worker_fingerprinter(config: tuple) -> Fingerprinter:
    fingerprinter = _worker_fingerprinters.get(config)
    if fingerprinter is None:
        channel, size, num_perm, seed, batch_bytes, bigrams = config
        fingerprinter = Fingerprinter(channel, size, num_perm, seed, 1, batch_bytes, bigrams)
        _worker_fingerprinters[config] = fingerprinter
    return fingerprinter


def _pool_shingles(task: tuple) -> tuple[np.ndarray, np.ndarray]:
    config, texts = task
    return _worker_fingerprinter(config)._batch_shingles(texts)


def _pool_transform(task: tuple) -> np.ndarray:
    config, texts = task
    return _worker_fingerprinter(config)._batch_transform(texts)


# ---------------------------------------------------------------------------------------
# The scan's fingerprint pass: both channels and the passage anchors, one task per batch
# ---------------------------------------------------------------------------------------


_warmed = False


def warm_kernels() -> None:
    """Load this stage's compiled kernels (`dedup.jit`) into this process, by fingerprinting a
    few words with the size floor lifted, so that a scan pays the ~0.5 s load while it reads and
    cleans rather than inside the fingerprint stage. Once per process; a no-op without numba."""
    global _warmed
    if _warmed or not jit.jit_available():
        return
    _warmed = True
    with jit.compiled_always():
        copy, rewrite = Fingerprinter("copy"), Fingerprinter("rewrite")
        _scan_batch(copy, rewrite, ["Kernels warm up on 1,250 words.", "A second, shorter text."], compact=True)
        sizes = np.full(FREQUENT_MIN_CORPUS, 3, dtype=np.int64)
        words = np.arange(3 * FREQUENT_MIN_CORPUS, dtype=np.uint32)
        drop_frequent_words(words, np.concatenate(([0], np.cumsum(sizes))))


def _compacted(signatures: np.ndarray, compact: bool) -> np.ndarray:
    """Signatures cut to their low 16 bits when `compact` (see `scan_fingerprints`)."""
    return signatures.astype(np.uint16) if compact else signatures


def _scan_batch(copy: Fingerprinter, rewrite: Fingerprinter, texts: Sequence[str], compact: bool = False) -> tuple:
    """(copy signatures, rewrite feature hashes, their offsets, anchor hashes, anchor offsets)
    of one batch; the channels share one pass over the bytes, and the copy channel's tokens
    serve the anchors. Rewrite signatures wait for the corpus' word frequencies."""
    plain, joined = tokenise_batch_twice(texts)
    token_hashes, token_offsets = plain[0], plain[1]
    copy_sigs = _compacted(copy.minhasher.signatures(*kgram_hashes(token_hashes, token_offsets, copy.shingle_size)),
                           compact)
    anchors, anchor_offsets = passage_anchors(token_hashes, token_offsets)
    del plain
    features, feature_offsets = rewrite_features(texts, rewrite.rewrite_bigrams, tokens=joined)
    return copy_sigs, features, feature_offsets, anchors, anchor_offsets


def _pool_scan_batch(task: tuple) -> tuple:
    copy_config, rewrite_config, texts, compact = task
    return _scan_batch(_worker_fingerprinter(copy_config), _worker_fingerprinter(rewrite_config), texts, compact)


# Frequent words out of the rewrite channel. A word in many documents ("said", "mln", "pct",
# "company", "shares") links every pair of them, so with all words kept rewrite candidates grow
# with the square of the corpus: on benchmarks' corpus-10k, 2.9k / 11.6k / 41.9k candidates at
# 2.5k / 5k / 10k documents, nearly all Reuters template or same-topic stories. Dropping words in
# more than max(FREQUENT_DOCS, FREQUENT_SHARE * n) documents leaves 0.7k / 1.6k / 5.0k (short
# documents exempt, below) with the same 1,495 of 1,500 planted derived pairs among all
# candidates; on corpus-100k's first 10k / 20k / 30k documents, rewrite candidates per
# document go about 0.18 / 0.21 / 0.24 (all words kept: 0.55 / 0.89 / 1.17).
# A share, not a fixed count: a fixed cap of 100 documents shrinks the sets as the corpus
# grows, and small sets collide more (0.18 / 0.24 / 0.31 per document).
FREQUENT_SHARE = 0.01
FREQUENT_DOCS = 50
# Below this many documents the filter is off: document frequency says little, and the
# seeds and the pair files' small corpora (Clough & Stevenson 114 texts, Webis-CPC 990,
# SemEval 208) keep every word, as the rewrite threshold was calibrated with.
FREQUENT_MIN_CORPUS = 2000
# Documents with fewer content words keep all of them: in a sentence, the frequent words are
# much of the evidence. MRPC train (8,152 sentences) keeps 2,614 gold paraphrase pairs among
# the candidates with all words, 2,559 with frequent words dropped from every document, 2,609 /
# 2,612 / 2,614 with documents under 20 / 21 / 22 content words exempt. On corpus-10k the
# exemption at 22 adds 0.3k candidates to 4.7k (at 30 words it would double them), and at 23+
# a planted word-edit pair whose short side keeps its frequent words and long side drops them
# falls below the rewrite floor.
SHORT_DOC_WORDS = 22
_DF_TABLE_BITS = 22  # hashed document frequencies: 4M counters (16 MB); a rare word shares
# its counter with a frequent one with odds ~ frequent words / 4M, then it is dropped too.
_DF_CHUNK = 1 << 22  # words counted at once


def _frequent_limit(n_docs: int) -> float | None:
    """The most documents a rewrite word may be in and stay, in a corpus of `n_docs`; None
    when the corpus is too small for the filter (`FREQUENT_MIN_CORPUS`)."""
    return max(FREQUENT_DOCS, FREQUENT_SHARE * n_docs) if n_docs >= FREQUENT_MIN_CORPUS else None


def drop_frequent_words(features: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-doc rewrite feature sets (CSR, unique within each doc) less the corpus' frequent
    words; short docs and corpora under FREQUENT_MIN_CORPUS documents are returned whole."""
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    limit = _frequent_limit(n_docs)
    if limit is None or len(features) == 0:
        return features, offsets
    compiled = _compiled_kept_words([(features, offsets)], n_docs, limit)
    if compiled is not None:
        return compiled
    # In chunks: bincount and fancy indexing copy their input to int64, 8 bytes a word.
    mask, chunks = np.uint32((1 << _DF_TABLE_BITS) - 1), range(0, len(features), _DF_CHUNK)
    doc_freq = np.zeros(1 << _DF_TABLE_BITS, dtype=np.int64)
    for lo in chunks:  # a doc's set is unique, so counts are document frequencies
        doc_freq += np.bincount(features[lo:lo + _DF_CHUNK] & mask, minlength=1 << _DF_TABLE_BITS)
    rare_bucket = doc_freq <= limit
    del doc_freq
    keep = np.empty(len(features), dtype=bool)
    for lo in chunks:
        keep[lo:lo + _DF_CHUNK] = rare_bucket[features[lo:lo + _DF_CHUNK] & mask]
    sizes = np.diff(offsets)
    keep |= np.repeat(sizes < SHORT_DOC_WORDS, sizes)
    kept_offsets = np.searchsorted(np.flatnonzero(keep), offsets).astype(np.int64)
    return features[keep], kept_offsets


class _StreamedWordCounts:
    """The document-frequency table of `_compiled_kept_words`, counted batch by batch as the
    fingerprint workers return them: the parent waits for the workers then anyway, where
    counting after the last batch was ~1 s at 1M with one core idle. `counts` is None when
    the compiled path is not in use (fewer documents than `FREQUENT_MIN_CORPUS`, no kernels);
    the filter then counts as before."""

    def __init__(self, n_docs: int) -> None:
        self._count = jit.loaded_kernel("count_words") if _frequent_limit(n_docs) is not None else None
        self.counts = np.zeros(1 << _DF_TABLE_BITS, dtype=np.int64) if self._count is not None else None

    def add(self, features: np.ndarray) -> None:
        """Count one batch's rewrite word sets (unique within each document)."""
        if self._count is not None:
            self._count(features, self.counts, _DF_TABLE_BITS)


def _kept_words(parts: list[tuple[np.ndarray, np.ndarray]],
                counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`drop_frequent_words` of per-batch feature sets joined (`_concat_csr`), without joining
    them first on the compiled path (`_compiled_kept_words`). At a million documents joining
    the batches (~400 MB of words) and masking the kept ones kept the parent busy with a core
    idle: the stage's one-core tail 3.0 -> 1.6 s (cpu-marked corpus-1m scans). `counts`: the
    batches' words counted already (`_StreamedWordCounts`)."""
    n_docs = sum(len(offsets) - 1 for _, offsets in parts)
    limit = _frequent_limit(n_docs)
    if limit is not None:
        kept = _compiled_kept_words(parts, n_docs, limit, counts)
        if kept is not None:
            return kept
    return drop_frequent_words(*_concat_csr(parts))


def _compiled_kept_words(parts: list[tuple[np.ndarray, np.ndarray]], n_docs: int, limit: float,
                         counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """`drop_frequent_words`' compiled path over batches of feature sets: each batch's words
    counted into one document-frequency table (`count_words`; or `counts`, counted by the
    caller), then each batch's kept words copied straight into the result (`keep_rare_words`),
    so neither a joined array nor a keep mask is made. None without the kernels (or with no
    words). The result may be a view of a buffer as long as all the words."""
    total = sum(len(features) for features, _ in parts)
    count, keep = kernel("count_words", total), kernel("keep_rare_words", total)
    if total == 0 or count is None or keep is None:
        return None
    if counts is None:
        counts = np.zeros(1 << _DF_TABLE_BITS, dtype=np.int64)
        for features, _ in parts:
            count(features, counts, _DF_TABLE_BITS)
    out = np.empty(total, dtype=parts[0][0].dtype)
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    written = first_doc = 0
    for features, offsets in parts:
        written = keep(features, np.asarray(offsets, dtype=np.int64), counts, _DF_TABLE_BITS, float(limit),
                       SHORT_DOC_WORDS, out, out_offsets, written, first_doc)
        first_doc += len(offsets) - 1
    return out[:written], out_offsets


def _pool_signatures(task: tuple) -> np.ndarray:
    config, features, offsets, compact = task
    return _compacted(_worker_fingerprinter(config).minhasher.signatures(features, offsets), compact)


def _rewrite_signatures(rewrite: Fingerprinter, features: np.ndarray, offsets: np.ndarray, compact: bool,
                        jobs: int = 1, docs_per_block: int = 1 << 14) -> np.ndarray:
    """MinHash of each doc's feature set, in blocks of docs (on `jobs` processes) so
    temporaries stay small."""
    n_docs = len(offsets) - 1
    blocks = [offsets[lo:min(lo + docs_per_block, n_docs) + 1] for lo in range(0, n_docs, docs_per_block)]
    tasks = [(rewrite._config(), features[b[0]:b[-1]], b - b[0], compact) for b in blocks]
    if jobs > 1 and len(tasks) > 1:
        parts = list(worker_pool(jobs).map(_pool_signatures, tasks))
    else:
        parts = [_pool_signatures(task) for task in tasks]
    if not parts:
        return np.zeros((0, rewrite.num_perm), dtype=np.uint16 if compact else np.uint32)
    return np.concatenate(parts)


def scan_fingerprints(
    texts: Sequence[str], copy: Fingerprinter, rewrite: Fingerprinter, jobs: int = 1, compact: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scan's fingerprint pass over `texts`, in batches on `jobs` processes.

    -> (copy signatures, rewrite signatures, passage anchor hashes, their (n+1,) offsets).
    Workers return each doc's rewrite word set (sorted unique uint32, ~100 a news story);
    once all are in, words frequent in the corpus are dropped (`drop_frequent_words`) and
    the sets are MinHashed. Whatever `jobs` is, the output is the same.

    `compact` keeps the low 16 bits of each signature slot (uint16; an empty doc's slots are
    0xFFFF): half the memory, which at a million documents is 0.5 GB. Banding and Jaccard
    estimates need only slot equality, and unequal slots agree on 16 bits with chance 2^-16,
    which raises an estimate by at most 1.5e-5.
    """
    if copy.channel != "copy" or rewrite.channel != "rewrite":
        raise ValueError("scan_fingerprints takes a copy and a rewrite Fingerprinter")
    texts = texts if isinstance(texts, Sequence) else list(texts)  # a list, or a TextStore on disk
    batches = copy._batches(texts)
    if not batches:
        dtype = np.uint16 if compact else np.uint32
        empty = np.zeros((0, copy.num_perm), dtype=dtype)
        return empty, np.zeros((0, rewrite.num_perm), dtype=dtype), np.zeros(0, np.uint32), np.zeros(1, np.int64)
    counted = None
    if jobs > 1 and len(batches) > 1:
        tasks = ((copy._config(), rewrite._config(), texts[b], compact) for b in batches)  # read as sent
        counted = _StreamedWordCounts(len(texts))
        parts = []
        for part in bounded_map(worker_pool(jobs), _pool_scan_batch, tasks, 2 * jobs):
            counted.add(part[1])
            parts.append(part)
    else:
        parts = [_scan_batch(copy, rewrite, texts[b], compact) for b in batches]
    # Dropping the frequent words (a kernel that releases the GIL) runs on a thread while this
    # one joins the batches' signatures and anchors (copies numpy makes without the GIL): at a
    # million documents the two took ~1.0 and ~0.6 s one after the other, with a core idle.
    with ThreadPoolExecutor(max_workers=1) as thread:
        kept = thread.submit(_kept_words, [(p[1], p[2]) for p in parts], counted.counts if counted else None)
        copy_sigs = np.concatenate([p[0] for p in parts])
        anchors, anchor_offsets = _concat_csr([(p[3], p[4]) for p in parts])
        features, feature_offsets = kept.result()
    del parts
    rewrite_sigs = _rewrite_signatures(rewrite, features, feature_offsets, compact, jobs)
    return copy_sigs, rewrite_sigs, anchors, anchor_offsets
