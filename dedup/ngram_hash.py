"""Hashed n-gram counts of many sentences at once, equal to scikit-learn's HashingVectorizer.

The verifier embeds every sentence of the corpus as word 1-2-grams and char_wb 3-5-grams
hashed into 2^18 columns. scikit-learn builds one Python string per n-gram and hashes it
in a Cython loop: about 4,000 sentences a second, most of a scan's verify time. Here a
batch of sentences is one array of code points, and every n-gram is a (byte start, byte
length) span of a UTF-8 buffer, hashed by a MurmurHash3 (x86, 32-bit) vectorised over spans.
The definitions are scikit-learn's, so the counts are the same matrices, entry for entry:

* text lower-cased with `str.lower`;
* words: maximal runs of `\\w` characters (`(?u)\\b\\w+\\b`), unigrams and the bigram
  "w1 w2" of each two consecutive words;
* char_wb: each whitespace-separated word padded with one space on both sides, all its
  3-, 4- and 5-character windows (a padded word of L < 5 characters stops at L);
* column = |murmurhash3_32(UTF-8 bytes, seed 0)| mod n_features (signed hash), counts summed.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from dedup.fingerprint import ranks_within
from dedup.jit import kernel

__all__ = ["murmurhash3_spans", "ngram_counts", "packed_ngram_counts"]

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)


def _rotl(values: np.ndarray, shift: int) -> np.ndarray:
    return (values << np.uint32(shift)) | (values >> np.uint32(32 - shift))


def _scramble(k: np.ndarray) -> np.ndarray:
    k *= _C1
    k = _rotl(k, 15)
    k *= _C2
    return k


def murmurhash3_spans(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seed: int = 0) -> np.ndarray:
    """Signed MurmurHash3_x86_32 of the byte spans buffer[starts[i]:starts[i] + lengths[i]].

    `buffer` (uint8) must hold 3 readable bytes past the last span (their value is ignored).
    Every little-endian 4-byte word of the buffer is read once; spans are processed by
    descending block count, so the ones still needing a block are a prefix.
    """
    count = len(starts)
    compiled = kernel("murmurhash3_spans", count)
    if compiled is not None:
        return compiled(buffer, np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64),
                        int(seed) & 0xFFFFFFFF).view(np.int32)
    blocks = lengths >> 2
    # A stable sort of small integers is a radix sort: linear, unlike a comparison sort.
    order = np.argsort(np.uint8(255) - np.minimum(blocks, 255).astype(np.uint8), kind="stable")
    starts = starts[order].astype(np.int64)
    lengths = lengths[order].astype(np.int64)
    blocks = blocks[order]
    wide = buffer.astype(np.uint32)
    words = wide[:-3] | (wide[1:-2] << np.uint32(8)) | (wide[2:-1] << np.uint32(16)) | (wide[3:] << np.uint32(24))
    h = np.full(count, seed, dtype=np.uint32)
    n_blocks = int(blocks[0]) if count else 0
    # Spans with more than b blocks, for every b: a prefix, since blocks are sorted descending.
    live_counts = np.searchsorted(-blocks, -np.arange(n_blocks), side="left")
    for b in range(n_blocks):
        live = int(live_counts[b])
        hb = h[:live] ^ _scramble(words[starts[:live] + 4 * b])
        hb = _rotl(hb, 13)
        h[:live] = hb * np.uint32(5) + np.uint32(0xE6546B64)
    tail_mask = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)[lengths & 3]
    h ^= _scramble(words[starts + 4 * blocks] & tail_mask)  # an empty tail scrambles to 0
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    out = np.empty(count, dtype=np.int32)
    out[order] = h.view(np.int32)
    return out


_ASCII_WORD = np.array([chr(c).isalnum() or c == ord("_") for c in range(256)], dtype=bool) & (np.arange(256) < 128)
_INT_MIN = -(2**31)


@lru_cache(maxsize=1)
def bmp_word_table() -> np.ndarray:
    """Is each code point below 2^16 a `\\w` character (`str.isalnum()` or "_")? Made once a
    process (~10 ms): one gather per batch, where masking the ASCII points and mapping the
    others through np.unique took 6% of hashing a batch of corpus-1m sentences."""
    return np.array([chr(c).isalnum() or c == 95 for c in range(1 << 16)], dtype=bool)


def _word_chars(points: np.ndarray) -> np.ndarray:
    """Per code point: is it a `\\w` character (`str.isalnum()` or "_"), as Python's re says."""
    if points.dtype == np.uint8:  # an ASCII batch (`_encode`)
        return _ASCII_WORD[points]
    out = bmp_word_table()[np.minimum(points, 0xFFFF)]
    astral = np.flatnonzero(points > 0xFFFF)
    if len(astral):
        values, inverse = np.unique(points[astral], return_inverse=True)
        out[astral] = np.array([chr(int(v)).isalnum() for v in values], dtype=bool)[inverse]
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in a mask that begins and ends with False."""
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    return edges[0::2], edges[1::2]


def _windows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """starts[k] + 0, 1, ..., counts[k] - 1 for every k, laid end to end."""
    return np.repeat(starts, counts) + ranks_within(counts)


def _encode(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(code points, UTF-8 bytes + 4 zero bytes, byte offset of each code point or None if ASCII)."""
    if text.isascii():
        points = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        return points, np.concatenate([points, np.zeros(4, dtype=np.uint8)]), None
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    data = np.frombuffer(text.encode("utf-8", "surrogatepass") + b"\0", dtype=np.uint8)
    # A code point starts at each byte that is not a continuation byte (10xxxxxx); the zero
    # byte appended gives the end offset. One pass over the bytes, where summing each code
    # point's width made four int64 temporaries of the points (a row store chunk: ~20 MB each).
    byte_at = np.flatnonzero((data & 0xC0) != 0x80)
    return points, np.concatenate([data, np.zeros(3, dtype=np.uint8)]), byte_at


def _spans(byte_at: np.ndarray | None, char_starts: np.ndarray, char_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte (start, length) of character spans."""
    if byte_at is None:
        return char_starts, char_ends - char_starts
    begin = byte_at[char_starts]
    return begin, byte_at[char_ends] - begin


def _to_matrix(rows: np.ndarray, hashes: np.ndarray, n_rows: int, n_features: int) -> sp.csr_matrix:
    """Counts of hashed features per row, as HashingVectorizer maps a signed hash to a column."""
    wide = hashes.astype(np.int64)
    cols = np.where(wide == _INT_MIN, (2**31 - 1 - (n_features - 1)) % n_features, np.abs(wide) % n_features)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_features))
    matrix.sum_duplicates()
    return matrix


def _char_wb_counts(words: list[str], n_features: int) -> sp.csr_matrix:
    """char_wb 3-5-gram counts of each (distinct) word: row k is the word words[k]."""
    points, buffer, byte_at = _encode(" " + " ".join(words) + " ")
    # The padded word " w " spans characters [s - 1, e]; its n-grams are its windows.
    starts, ends = _runs(points != ord(" "))
    padded = ends - starts + 2
    rows, begins, lengths = [], [], []
    for n in (3, 4, 5):
        has = padded >= n
        count = padded[has] - n + 1
        begin = _windows(starts[has] - 1, count)
        rows.append(np.repeat(np.flatnonzero(has), count))
        begins.append(begin)
        lengths.append(begin + n)
    begin, length = _spans(byte_at, np.concatenate(begins), np.concatenate(lengths))
    return _to_matrix(np.concatenate(rows), murmurhash3_spans(buffer, begin, length), len(words), n_features)


def _folded_batch(sentences: Sequence[str]) -> tuple[str, np.ndarray]:
    """(" " + the lower-cased sentences, each with its whitespace folded, joined by " " + " ";
    each folded sentence's length).

    Whitespace only separates: words (and so char_wb windows) and \\w runs are the same once
    every run of whitespace is one space. Sentences from dedup's own splitter are folded
    already, so the batch is checked whole and only lower-cased: folding each sentence
    (lower, split, join) was a fifth of this module's time on corpus-1m's row store.
    """
    joined = " ".join(sentences)
    # Folded as they are: no double space (which an empty, leading-space or trailing-space
    # sentence would also make), no space at either end, and no other whitespace: every
    # character str.split() splits on but " " is a control or separator character, which
    # isprintable() refuses. Lower-casing adds no whitespace.
    if joined.isprintable() and "  " not in joined and joined[:1] != " " and joined[-1:] != " ":
        if joined.isascii():  # ASCII lower-casing keeps every length: one call for the batch
            lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
            return " " + joined.lower() + " ", lengths
        lowered = [text.lower() for text in sentences]  # may lengthen a text ("İ" -> "i̇")
        return " " + " ".join(lowered) + " ", np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    normal = [" ".join(text.lower().split()) for text in sentences]
    return " " + " ".join(normal) + " ", np.fromiter(map(len, normal), dtype=np.int64, count=len(normal))


def _encoded_batch(sentences: Sequence[str]) -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None,
                                                   np.ndarray, np.ndarray]:
    """(`_folded_batch`'s joined text, its `_encode`d points, bytes and byte offsets, the
    character start and length of each row in it)."""
    joined, lengths = _folded_batch(sentences)
    row_starts = 1 + np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    points, buffer, byte_at = _encode(joined)
    return joined, points, buffer, byte_at, row_starts, lengths


def _kernel_batch(points: np.ndarray, buffer: np.ndarray, byte_at: np.ndarray | None, row_starts: np.ndarray,
                  lengths: np.ndarray) -> tuple:
    """The leading arguments of the `ngram_rows` and `ngram_packed` kernels."""
    ascii_ = byte_at is None
    return (points, buffer, np.zeros(0, dtype=np.int64) if ascii_ else byte_at, ascii_, _word_chars(points),
            row_starts, lengths)


def ngram_counts(sentences: Sequence[str], n_features: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(word 1-2-gram counts, char_wb 3-5-gram counts): float32 CSR, one row per sentence
    (the char matrix's column indices are not sorted within a row).

    Equal to HashingVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\\b\\w+\\b") and
    HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5)) with alternate_sign=False, norm=None.
    """
    n_rows = len(sentences)
    joined, points, buffer, byte_at, row_starts, lengths = _encoded_batch(sentences)
    compiled = kernel("ngram_rows", len(points))
    if compiled is not None:
        word_indptr, word_cols, word_counts, char_indptr, char_cols, char_counts = compiled(
            *_kernel_batch(points, buffer, byte_at, row_starts, lengths), n_features)
        shape = (n_rows, n_features)
        return (sp.csr_matrix((word_counts, word_cols, word_indptr), shape=shape),
                sp.csr_matrix((char_counts, char_cols, char_indptr), shape=shape))

    # char_wb n-grams depend on the word alone: hash each distinct word's n-grams once
    # (a batch has ~10x fewer distinct words than words), then count words per sentence.
    word_starts, _ = _runs(points != ord(" "))
    word_rows = np.searchsorted(row_starts, word_starts, side="right") - 1
    words = joined.split()
    distinct = {word: k for k, word in enumerate(dict.fromkeys(words))}
    word_ids = np.fromiter(map(distinct.__getitem__, words), dtype=np.int64, count=len(words))
    occurrences = sp.csr_matrix((np.ones(len(words), dtype=np.float32), (word_rows, word_ids)),
                                shape=(n_rows, len(distinct)))
    # Left with its column indices unsorted within each row, as the product makes them: every
    # consumer (TF-IDF weighting, normalisation, the verifier's similarity blocks) reads a
    # row's entries in any order, and sorting them was 16% of the time to hash a sentence.
    char = (occurrences @ _char_wb_counts(list(distinct), n_features)).tocsr()

    # words: \w runs, each copied to a token buffer followed by one space, so that the
    # bigram "w1 w2" is a contiguous span of it.
    token_starts, token_ends = _runs(_word_chars(points))
    token_rows = np.searchsorted(row_starts, token_starts, side="right") - 1
    begin, length = _spans(byte_at, token_starts, token_ends)
    tokens = buffer[_windows(begin, length + 1)]
    at = np.zeros(len(length) + 1, dtype=np.int64)
    np.cumsum(length + 1, out=at[1:])
    tokens[at[1:] - 1] = ord(" ")
    tokens = np.concatenate([tokens, np.zeros(4, dtype=np.uint8)])
    pair = np.flatnonzero(token_rows[1:] == token_rows[:-1])
    rows = np.concatenate([token_rows, token_rows[pair]])
    starts = np.concatenate([at[:-1], at[pair]])
    span_lengths = np.concatenate([length, length[pair] + 1 + length[pair + 1]])
    word = _to_matrix(rows, murmurhash3_spans(tokens, starts, span_lengths), n_rows, n_features)
    return word, char


# -- packed counts: a row store's compact form of a sentence's counts --------------------------

def packed_column_bits(n_features: int) -> int:
    """Bits of a packed entry that hold its column (word columns, then char columns + n_features)."""
    if n_features > 2**30:
        raise ValueError(f"packed counts hold columns below 2^31, not 2 * {n_features}")
    return (2 * n_features - 1).bit_length()


def pack_counts(word: sp.csr_matrix, char: sp.csr_matrix, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Count matrices -> (uint32 entries, entries per row): a row's word entries then its char
    entries (column + n_features), each as `column | count << column_bits`, in the matrices'
    own order. A count too large for the bits left (8,192 at 2^18 features: a row of at least
    that many characters) is written as count 0 followed by the count in an entry of its own.

    Half the bytes of the TF-IDF rows (int32 column + float32 value): a row store of corpus-1m
    writes ~9 GB of rows, and every GB of fresh page cache cost ~10 s of kernel time on this
    machine; the TF-IDF values are made again from the counts when rows are read."""
    bits = packed_column_bits(n_features)
    compiled = kernel("pack_counts", word.nnz + char.nnz)
    if compiled is not None:
        return compiled(word.indptr, word.indices, word.data, char.indptr, char.indices, char.data, n_features, bits)
    n_rows = word.shape[0]
    word_lengths, char_lengths = np.diff(word.indptr), np.diff(char.indptr)
    row_starts = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(word_lengths + char_lengths, out=row_starts[1:])
    columns = np.empty(int(row_starts[-1]), dtype=np.int64)
    counts = np.empty(len(columns), dtype=np.int64)
    word_at = np.repeat(row_starts[:-1], word_lengths) + ranks_within(word_lengths)
    char_at = np.repeat(row_starts[:-1] + word_lengths, char_lengths) + ranks_within(char_lengths)
    columns[word_at], counts[word_at] = word.indices, word.data
    columns[char_at], counts[char_at] = char.indices.astype(np.int64) + n_features, char.data
    large = counts >= (1 << (32 - bits))
    packed = (columns | np.where(large, 0, counts) << bits).astype(np.uint32)
    entries = (word_lengths + char_lengths).astype(np.int64)
    if large.any():  # rare: the count follows in an entry of its own
        where = np.flatnonzero(large)
        packed = np.insert(packed, where + 1, counts[where].astype(np.uint32))
        entries += np.bincount(np.searchsorted(row_starts, where, side="right") - 1, minlength=n_rows)
    return packed, entries.astype(np.int32)


def packed_ngram_counts(sentences: Sequence[str], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """`pack_counts(*ngram_counts(sentences, n_features), n_features)`: what a row store keeps.
    With numba, one kernel counts and packs each row, and the count matrices are never made."""
    _, points, buffer, byte_at, row_starts, lengths = _encoded_batch(sentences)
    compiled = kernel("ngram_packed", len(points))
    if compiled is None:
        return pack_counts(*ngram_counts(sentences, n_features), n_features)
    return compiled(*_kernel_batch(points, buffer, byte_at, row_starts, lengths), n_features,
                    packed_column_bits(n_features))


def unpack_counts(packed: np.ndarray, indptr: np.ndarray, n_features: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """`pack_counts`' rows (row r is packed[indptr[r]:indptr[r + 1]]) -> the (word, char)
    float32 count matrices, entries in their first order."""
    bits = packed_column_bits(n_features)
    packed = np.asarray(packed, dtype=np.uint32).astype(np.int64)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    columns, counts = packed & ((1 << bits) - 1), packed >> bits
    zero = counts == 0
    if zero.any():
        # A count-0 entry is an escape followed by its count, which may read as count 0 too:
        # in a run of count-0 entries, escapes are the 1st, 3rd, ... and counts the others.
        run_start = np.flatnonzero(zero & ~np.concatenate([[False], zero[:-1]]))
        zeros = np.flatnonzero(zero)
        rank = zeros - run_start[np.searchsorted(run_start, zeros, side="right") - 1]
        escaped = zeros[rank % 2 == 0]
    else:
        escaped = np.zeros(0, dtype=np.int64)
    if len(escaped):
        counts[escaped] = packed[escaped + 1]
        keep = np.ones(len(packed), dtype=bool)
        keep[escaped + 1] = False
        rows, columns, counts = rows[keep], columns[keep], counts[keep]
    is_char = columns >= n_features
    n_rows = len(indptr) - 1
    matrices = []
    for side, offset in ((~is_char, 0), (is_char, n_features)):
        side_indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[side], minlength=n_rows), out=side_indptr[1:])
        matrices.append(sp.csr_matrix((counts[side].astype(np.float32), (columns[side] - offset).astype(np.int32),
                                       side_indptr), shape=(n_rows, n_features)))
    return matrices[0], matrices[1]
