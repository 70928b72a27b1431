"""Candidates stage: LSH banding over MinHash signatures, grouped by sorting, not by dicts.

Each band of `rows` signature slots is mixed into one 64-bit key per document; documents
with equal keys in some band share a bucket and become a candidate pair. Buckets are the
runs of equal keys after an argsort, and the pairs inside every bucket are generated with
`np.repeat` arithmetic, so the stage has no Python work per document or per pair.

Bands and rows come from the threshold exactly as datasketch's `MinHashLSH` chooses them
(`_optimal_param`: minimise the weighted false-positive and false-negative areas).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from scipy.integrate import quad

from dedup.fingerprint import MAX_HASH, fmix64, passage_anchors, ranks_within, splitmix64, tokenise_batch

__all__ = ["optimal_bands", "LSHBanding", "SharedPassages", "merge_pairs", "pairs_in_runs"]

_U64 = np.uint64


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising fp_weight * P(false positive) + fn_weight * P(false negative).

    The same search and the same numerical integration as datasketch's `_optimal_param`,
    so an index built here and a `MinHashLSH` agree on b and r.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    best_error = float("inf")
    best = (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_pos, _ = quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)
            false_neg, _ = quad(lambda s: 1 - (1 - (1 - s ** float(rows)) ** float(bands)), threshold, 1.0)
            error = false_pos * fp_weight + false_neg * fn_weight
            if error < best_error:
                best_error = error
                best = (bands, rows)
    return best


def pairs_in_runs(order: np.ndarray, run_starts: np.ndarray, run_sizes: np.ndarray) -> np.ndarray:
    """All pairs (order[p], order[q]), p < q, inside each run [start, start+size) -> (m, 2).

    A run of size L yields L(L-1)/2 pairs; element q of a run pairs with the L-1-q after it.
    """
    run_sizes = np.asarray(run_sizes, dtype=np.int64)
    if len(run_sizes) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    within = ranks_within(run_sizes)
    position = np.repeat(run_starts.astype(np.int64), run_sizes) + within
    partners = np.repeat(run_sizes, run_sizes) - 1 - within
    left = np.repeat(position, partners)
    right = left + 1 + ranks_within(partners)
    return np.stack([order[left], order[right]], axis=1)


def _pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    """One int64 per pair (i * n + j), ordered as (i, j) is: sorting keys sorts pairs."""
    return pairs[:, 0] * np.int64(n) + pairs[:, 1]


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Sorted, deduplicated (i, j) rows, assuming 0 <= i, j < n."""
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    keys = np.sort(_pair_keys(pairs, n))
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return np.stack([keys // n, keys % n], axis=1)


def merge_pairs(*pair_arrays: np.ndarray) -> np.ndarray:
    """Union of (m, 2) pair arrays (e.g. copy and rewrite channels), unique and sorted."""
    arrays = [np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in pair_arrays]
    pairs = np.concatenate(arrays) if arrays else np.zeros((0, 2), dtype=np.int64)
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    return _unique_pairs(pairs, int(pairs.max()) + 1)


class LSHBanding:
    """Candidate pairs from MinHash signatures by banding.

    `max_bucket` bounds the quadratic blow-up of huge buckets (boilerplate templates,
    mass-syndicated copies): a bucket of more than `max_bucket` docs emits only the
    pairs between neighbours in doc order (d1-d2, d2-d3, ...), so its documents stay
    connected for clustering at linear cost, while the full L(L-1)/2 pairs are not listed.
    After `candidate_pairs`, `capped_buckets` and `capped_docs` say how often that happened
    (summed over bands). Docs with no shingles (all-max signatures) are left out entirely,
    so empty texts never collide with each other; `empty_docs` counts them.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        num_perm: int = 128,
        max_bucket: int = 200,
        weights: tuple[float, float] = (0.5, 0.5),
        params: tuple[int, int] | None = None,
    ) -> None:
        if max_bucket < 2:
            raise ValueError("max_bucket must be at least 2")
        self.threshold = float(threshold)
        self.num_perm = int(num_perm)
        self.max_bucket = int(max_bucket)
        self.bands, self.rows = params if params is not None else optimal_bands(self.threshold, self.num_perm, *weights)
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        self._band_seeds = np.array(splitmix64(0x5EED0100, self.bands), dtype=np.uint64)
        self.capped_buckets = 0
        self.capped_docs = 0
        self.empty_docs = 0

    compact_pairs = 1 << 22  # pairs held (64 MB) before the first deduplication

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """(n, bands) uint64: each band's rows folded into one key (multiply-xor, then fmix64)."""
        self._check(signatures)
        return np.stack([self.band_key(signatures, band) for band in range(self.bands)], axis=1)

    def band_key(self, signatures: np.ndarray, band: int) -> np.ndarray:
        """(n,) uint64 keys of one band (a band at a time: the (n, bands) matrix of all keys
        is 300 MB at a million documents)."""
        keys = np.full(len(signatures), self._band_seeds[band], dtype=np.uint64)
        for row in range(band * self.rows, (band + 1) * self.rows):
            keys ^= signatures[:, row].astype(np.uint64)
            keys *= _U64(0x9E3779B97F4A7C15)
            keys ^= keys >> _U64(29)
        return fmix64(keys)

    def _check(self, signatures: np.ndarray) -> None:
        if signatures.ndim != 2 or signatures.shape[1] < self.bands * self.rows:
            raise ValueError(f"signatures must be (n, >= {self.bands * self.rows}), got {signatures.shape}")

    def candidate_pairs(self, signatures: np.ndarray, keep: Callable[[np.ndarray], np.ndarray] | None = None,
                        bands: range | None = None) -> np.ndarray:
        """(m, 2) int64 doc index pairs, i < j, unique, sorted, sharing a bucket in some band.

        `keep(pairs) -> bool mask`, if given, filters each band's pairs as they are found (the
        scan's Jaccard-estimate floor), so memory holds the kept pairs, not every raw collision;
        the pairs held are deduplicated whenever they double, since a close pair recurs in
        many bands. The result is the same as filtering the full union afterwards.

        `bands`, a range of band numbers (default all): the pairs of those bands only. The
        union over ranges that cover every band is the whole result, so a caller can share
        the bands out among threads.
        """
        bands = range(self.bands) if bands is None else bands
        if len(bands) and (bands[0] < 0 or bands[-1] >= self.bands):
            raise ValueError(f"bands must lie in range({self.bands}), got {bands}")
        signatures = np.asarray(signatures)
        n = len(signatures)
        self.capped_buckets = self.capped_docs = 0
        empty = np.uint16(0xFFFF) if signatures.dtype == np.uint16 else MAX_HASH  # uint16: compact signatures
        live = np.flatnonzero(~np.all(signatures == empty, axis=1)) if n else np.zeros(0, np.int64)
        self.empty_docs = n - len(live)
        if len(live) < 2:
            return np.zeros((0, 2), dtype=np.int64)
        self._check(signatures)
        live_signatures = signatures[live] if len(live) < n else signatures
        found: list[np.ndarray] = []
        held, compacted = 0, 0
        for band in bands:
            keys = self.band_key(live_signatures, band)
            order = np.argsort(keys, kind="stable")  # stable: doc order inside a bucket
            sorted_keys = keys[order]
            del keys
            starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
            sizes = np.diff(np.append(starts, len(sorted_keys)))
            shared = sizes >= 2
            small = shared & (sizes <= self.max_bucket)
            members = live[order]
            band_pairs = [pairs_in_runs(members, starts[small], sizes[small])]
            big = shared & ~small
            if big.any():
                self.capped_buckets += int(big.sum())
                self.capped_docs += int(sizes[big].sum())
                # Neighbour chain inside each capped bucket: positions start .. start+size-2.
                left = np.repeat(starts[big], sizes[big] - 1) + ranks_within(sizes[big] - 1)
                band_pairs.append(np.stack([members[left], members[left + 1]], axis=1))
            pairs = np.concatenate(band_pairs)
            if keep is not None and len(pairs):
                pairs = pairs[keep(pairs)]
            found.append(pairs)
            held += len(pairs)
            if held > 2 * max(compacted, self.compact_pairs):
                found = [_unique_pairs(np.concatenate(found), n)]
                held = compacted = len(found[0])
        return _unique_pairs(np.concatenate(found), n) if found else np.zeros((0, 2), dtype=np.int64)


class SharedPassages:
    """Candidate pairs from passages the two documents share word for word.

    MinHash Jaccard sees a pasted passage as a small overlap of two large sets, so a story
    that pastes three paragraphs of wire copy into a long article, or an excerpt cut from a
    long source, can fall below any sensible LSH threshold. Each document is reduced to its
    winnowed word 8-gram hashes (`fingerprint.passage_anchors`, computed in the fingerprint
    pass), and two documents sharing `min_shared` of them are proposed when the shorter holds
    at most `short_doc_anchors` anchors, `long_min_shared` of them whatever their length.
    Anchors ignore sentence and paragraph breaks, so a paste whose line breaks were lost or
    changed (a table re-flowed into one paragraph) is found as well as one kept intact.
    Grouping is by sorting (hash, doc) keys; an anchor in more than `max_bucket` documents
    is boilerplate or a stock phrase and proposes nothing.
    """

    part_anchors = 1 << 23  # anchors grouped at once: ~0.25 GB of sort temporaries

    def __init__(self, min_shared: int = 2, max_bucket: int = 50, long_min_shared: int = 3,
                 short_doc_anchors: int = 44) -> None:
        # min_shared=2: one common 8-gram is a stock phrase as often as a paste; winnowing
        # guarantees two anchors for a shared run of 23 words (a short paragraph).
        self.min_shared = min_shared
        self.max_bucket = max_bucket
        # Two anchors make a paste only in a short document. Sharing exactly two means no common
        # run of 3 * 8 + 8 - 1 = 31 words (that has a third), and relate calls a paste `partial`
        # only when it covers PASTE_RUN_SHARE (15%) of the shorter text: 31 words are 15% of 207
        # words, about 44 anchors at the 2 / 9 of k-grams that winnowing keeps. Past that the pair
        # needs a third anchor. corpus-100k (benchmarks/make_corpus.py): 6,486 of 56,121
        # candidates fewer (documents spliced from one common real sentence), 13 derived pairs
        # fewer, none of them planted; end-to-end recall on ../shared/data/pairs unchanged.
        self.long_min_shared = long_min_shared
        self.short_doc_anchors = short_doc_anchors

    def _bucket_pairs(self, anchors: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """All (i, j), i < j, of documents sharing an anchor held by at most `max_bucket`
        documents, once per shared anchor."""
        keys = np.sort((anchors.astype(np.uint64) << _U64(32)) | owners)  # by hash, then doc
        if len(keys) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # an anchor counts once per doc
        hashes = keys >> _U64(32)
        starts = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1])))
        del hashes
        sizes = np.diff(np.append(starts, len(keys)))
        keep = (sizes >= 2) & (sizes <= self.max_bucket)
        docs = (keys & _U64(0xFFFFFFFF)).astype(np.int64)
        return pairs_in_runs(docs, starts[keep], sizes[keep])  # i < j: docs ascend within a run

    def anchors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(anchor hashes, offsets) of texts, as the scan's fingerprint pass computes them."""
        token_hashes, token_offsets, _, _, _ = tokenise_batch(texts)
        return passage_anchors(token_hashes, token_offsets)

    def candidate_pairs(self, anchors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(m, 2) document pairs sharing at least `min_shared` anchors (`long_min_shared` when
        the shorter document holds more than `short_doc_anchors`), i < j, sorted.

        `anchors`/`offsets`: CSR, each document's anchor hashes (uint32, repeats allowed).
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        anchors = np.asarray(anchors, dtype=np.uint32)
        n = len(offsets) - 1
        # Anchors are grouped part by part (by the top bits of a bijective mix of the anchor, so
        # an anchor's documents all fall in one part): the sort's temporaries stay near
        # `part_anchors` keys however large the corpus is. Not by the anchor's own top bits:
        # anchors are window minima, so most are small (corpus-1m: 37.1M of 45.5M anchors in
        # the lowest quarter, and that part's sort held 2.5 GB).
        bits = min(8, max(0, int(np.ceil(np.log2(max(len(anchors), 1) / self.part_anchors)))))
        if bits == 0:
            found = [self._bucket_pairs(anchors, np.repeat(np.arange(n, dtype=np.uint32), np.diff(offsets)))]
        else:
            mixed = anchors * np.uint32(0x9E3779B1)  # odd multiplier: a bijection of uint32
            top = (mixed >> np.uint32(32 - bits)).astype(np.uint8)
            del mixed
            found = []
            for part in range(1 << bits):
                at = np.flatnonzero(top == part)
                owners = (np.searchsorted(offsets, at, side="right") - 1).astype(np.uint32)
                found.append(self._bucket_pairs(anchors[at], owners))
            del top, at, owners
        pairs = np.concatenate(found)
        if len(pairs) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        pair_keys = np.sort(_pair_keys(pairs, n))
        run_starts = np.flatnonzero(np.concatenate(([True], pair_keys[1:] != pair_keys[:-1])))
        counts = np.diff(np.append(run_starts, len(pair_keys)))
        enough = counts >= self.min_shared
        pair_keys, counts = pair_keys[run_starts[enough]], counts[enough]
        pairs = np.stack([pair_keys // n, pair_keys % n], axis=1)
        if self.long_min_shared > self.min_shared:
            doc_anchors = np.diff(offsets)  # a document's length in anchors
            shorter = np.minimum(doc_anchors[pairs[:, 0]], doc_anchors[pairs[:, 1]])
            pairs = pairs[(counts >= self.long_min_shared) | (shorter <= self.short_doc_anchors)]
        return pairs
