"""numba kernels behind `dedup.jit.kernel` (see there); each equals a numpy function of its stage.

Importing this module imports numba; nothing else in dedup does.
"""
from __future__ import annotations

import numba
import numpy as np

_JIT = {"nogil": True, "cache": True}


@numba.njit(**_JIT)
def minhash_signatures(mixed: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`MinHasher.signatures` after its fmix32: row d holds min over doc d's shingles h of
    (a * h + b) mod 2^32, per permutation; a doc with no shingles keeps 0xFFFFFFFF.

    One document's num_perm minima stay in cache while its shingles stream past, where numpy
    makes three passes (multiply, add, reduceat) over a num_perm x 16k block. On corpus-100k's
    first 10k cleaned documents (2.09M shingles, 128 permutations): numpy 0.074 s, this 0.025 s.
    """
    n_docs = len(offsets) - 1
    n_perm = len(a)
    out = np.full((n_docs, n_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for doc in range(n_docs):
        row = out[doc]
        for s in range(offsets[doc], offsets[doc + 1]):
            h = mixed[s]
            for p in range(n_perm):
                v = np.uint32(a[p] * h + b[p])  # uint32 * uint32 widens in numba: wrap it back
                if v < row[p]:
                    row[p] = v
    return out


@numba.njit(**_JIT)
def _fmix64(value: np.uint64) -> np.uint64:
    """`fingerprint.fmix64` on one value (uint64 shifts and products, which wrap mod 2^64)."""
    value ^= value >> np.uint64(33)
    value *= np.uint64(0xFF51AFD7ED558CCD)
    value ^= value >> np.uint64(33)
    value *= np.uint64(0xC4CEB9FE1A85EC53)
    value ^= value >> np.uint64(33)
    return value


@numba.njit(**_JIT)
def word_mask(data: np.ndarray, join_numbers_too: bool) -> np.ndarray:
    """`fingerprint._word_mask`: word bytes are ASCII letters and digits and bytes >= 0x80, less
    the UTF-8 of U+0080-00BF, U+2000-207F and U+3000-303F; with `join_numbers_too`, "," and "."
    between two digits too (`join_numbers`)."""
    n = len(data)
    mask = np.empty(n, dtype=np.bool_)
    for i in range(n):
        c = data[i]
        mask[i] = c >= 0x80 or (c >= 0x61 and c <= 0x7A) or (c >= 0x30 and c <= 0x39)
    for i in range(n - 1):
        c = data[i]
        if c == 0xC2:
            nxt = data[i + 1]
            if nxt >= 0x80 and nxt <= 0xBF:
                mask[i] = False
                mask[i + 1] = False
        elif c == 0xE2 or c == 0xE3:
            nxt = data[i + 1]
            if ((c == 0xE2 and (nxt == 0x80 or nxt == 0x81)) or (c == 0xE3 and nxt == 0x80)) and i + 2 < n:
                mask[i] = False
                mask[i + 1] = False
                mask[i + 2] = False
    return join_numbers(data, mask) if join_numbers_too else mask


@numba.njit(**_JIT)
def join_numbers(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`fingerprint._join_numbers`: a copy of `mask` with "," and "." between two digits made word bytes."""
    joined = mask.copy()
    for i in range(1, len(data) - 1):
        c = data[i]
        if (c == 0x2C or c == 0x2E) and 0x30 <= data[i - 1] <= 0x39 and 0x30 <= data[i + 1] <= 0x39:
            joined[i] = True
    return joined


@numba.njit(**_JIT)
def tokens(data: np.ndarray, doc_starts: np.ndarray, mask: np.ndarray, base: np.uint64):
    """`fingerprint._tokens`: the runs of `mask` -> (fmix64 of sum_j data[s+j] * base^j, token
    offsets per doc, starts, ends). `data` begins and ends with a non-word byte."""
    n = len(data)
    count = 0
    for i in range(1, n):
        if mask[i] and not mask[i - 1]:
            count += 1
    hashes = np.empty(count, dtype=np.uint64)
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    t = 0
    i = 1
    while i < n:
        if mask[i]:
            h = np.uint64(0)
            power = np.uint64(1)
            s = i
            while mask[i]:
                h += np.uint64(data[i]) * power
                power *= base
                i += 1
            hashes[t] = _fmix64(h)
            starts[t] = s
            ends[t] = i
            t += 1
        i += 1
    offsets = np.searchsorted(starts, doc_starts).astype(np.int64)
    offsets[-1] = count
    return hashes, offsets, starts, ends


@numba.njit(**_JIT)
def kgram_hashes(token_hashes: np.ndarray, token_offsets: np.ndarray, size: int, out_offsets: np.ndarray,
                 mults: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """`fingerprint.kgram_hashes`: fmix64(sum_i t_i * mults[i] + tags[m]) >> 32 over each run of
    m = `size` tokens in a doc, or over all m < size tokens of a shorter, nonempty doc."""
    out = np.empty(out_offsets[-1], dtype=np.uint32)
    for doc in range(len(token_offsets) - 1):
        first = token_offsets[doc]
        n = token_offsets[doc + 1] - first
        m = size if n >= size else n
        for w in range(out_offsets[doc + 1] - out_offsets[doc]):
            acc = tags[m]
            for pos in range(m):
                acc += token_hashes[first + w + pos] * mults[pos]
            out[out_offsets[doc] + w] = np.uint32(_fmix64(acc) >> np.uint64(32))
    return out


@numba.njit(**_JIT)
def rare_words(features: np.ndarray, offsets: np.ndarray, table_bits: int, limit: float, short_words: int):
    """`fingerprint.drop_frequent_words`' keep mask and the kept words' offsets: a word stays when its hashed document
    frequency (features unique per doc, counted in 2^table_bits buckets) is <= `limit`, or
    its doc has fewer than `short_words` words."""
    table_mask = np.uint32((1 << table_bits) - 1)
    counts = np.zeros(1 << table_bits, dtype=np.int64)
    for i in range(len(features)):
        counts[features[i] & table_mask] += 1
    keep = np.empty(len(features), dtype=np.bool_)
    kept_offsets = np.zeros(len(offsets), dtype=np.int64)
    kept = 0
    for doc in range(len(offsets) - 1):
        short = offsets[doc + 1] - offsets[doc] < short_words
        for i in range(offsets[doc], offsets[doc + 1]):
            keep[i] = short or counts[features[i] & table_mask] <= limit
            kept += keep[i]
        kept_offsets[doc + 1] = kept
    return keep, kept_offsets


@numba.njit(**_JIT)
def table_find(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """`fingerprint._HashTable.find`: the slot of each key in a linear-probing table whose empty
    slots hold 0 (a key of 0 is looked up as 1), or -1 where absent."""
    mask = np.uint64(len(table) - 1)
    found = np.empty(len(keys), dtype=np.int64)
    for i in range(len(keys)):
        key = keys[i]
        if key == 0:
            key = np.uint64(1)
        slot = key & mask
        while table[slot] != 0 and table[slot] != key:
            slot = (slot + np.uint64(1)) & mask
        found[i] = np.int64(slot) if table[slot] == key else -1
    return found


@numba.njit(**_JIT)
def unique_per_doc(values: np.ndarray, keep: np.ndarray, offsets: np.ndarray):
    """Per doc (CSR `offsets` over `values`), the sorted unique values where `keep` is true ->
    (values, offsets). What `rewrite_features` gets from one global sort of (doc, value)
    keys, with a sort per doc of ~100 values that stays in cache."""
    out = np.empty(len(values), dtype=values.dtype)
    out_offsets = np.zeros(len(offsets), dtype=np.int64)
    scratch = np.empty(len(values), dtype=values.dtype)
    written = 0
    for doc in range(len(offsets) - 1):
        count = 0
        for i in range(offsets[doc], offsets[doc + 1]):
            if keep[i]:
                scratch[count] = values[i]
                count += 1
        ordered = np.sort(scratch[:count])
        for i in range(count):
            if i == 0 or ordered[i] != ordered[i - 1]:
                out[written] = ordered[i]
                written += 1
        out_offsets[doc + 1] = written
    return out[:written].copy(), out_offsets


_M32 = np.uint64(0xFFFFFFFF)


@numba.njit(**_JIT)
def _rotl32(x: np.uint64, r: int) -> np.uint64:
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


@numba.njit(**_JIT)
def _scramble32(k: np.uint64) -> np.uint64:
    k = (k * np.uint64(0xCC9E2D51)) & _M32
    k = _rotl32(k, 15)
    return (k * np.uint64(0x1B873593)) & _M32


@numba.njit(**_JIT)
def murmurhash3_spans(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seed: int) -> np.ndarray:
    """`ngram_hash.murmurhash3_spans` before its signed view: MurmurHash3_x86_32 of each byte span
    (uint32), one span at a time, where numpy processes spans block by block after sorting
    them by length. On 100k corpus-100k sentences' n-grams: 0.65 s of numpy, ~0.05 s here."""
    out = np.empty(len(starts), dtype=np.uint32)
    for i in range(len(starts)):
        start = starts[i]
        length = lengths[i]
        h = np.uint64(seed) & _M32
        for b in range(length >> 2):
            at = start + 4 * b
            k = (np.uint64(buffer[at]) | (np.uint64(buffer[at + 1]) << np.uint64(8))
                 | (np.uint64(buffer[at + 2]) << np.uint64(16)) | (np.uint64(buffer[at + 3]) << np.uint64(24)))
            h ^= _scramble32(k)
            h = _rotl32(h, 13)
            h = (h * np.uint64(5) + np.uint64(0xE6546B64)) & _M32
        tail = start + (length & ~3)
        rest = length & 3
        k = np.uint64(0)
        if rest >= 3:
            k ^= np.uint64(buffer[tail + 2]) << np.uint64(16)
        if rest >= 2:
            k ^= np.uint64(buffer[tail + 1]) << np.uint64(8)
        if rest >= 1:
            k ^= np.uint64(buffer[tail])
            h ^= _scramble32(k)
        h ^= np.uint64(length) & _M32
        h ^= h >> np.uint64(16)
        h = (h * np.uint64(0x85EBCA6B)) & _M32
        h ^= h >> np.uint64(13)
        h = (h * np.uint64(0xC2B2AE35)) & _M32
        h ^= h >> np.uint64(16)
        out[i] = np.uint32(h)
    return out
