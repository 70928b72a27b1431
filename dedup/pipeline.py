"""The scan: ingest -> clean -> fingerprint -> candidates -> verify -> relate, with a profile.

`Scanner(config).scan(documents)` is the Python API behind `dedup scan`. Each stage is a
module of its own; this one only wires them together, times them, and keeps what the
reports need (cleaned texts and alignments of the pairs it returns). Ingest and clean
stream in chunks to worker processes; per document, only the cleaned text, compact
signatures and passage anchors are held until candidates.
"""
from __future__ import annotations

import ctypes
import gc
import math
import multiprocessing as mp
import os
from collections import deque
import resource
import sys
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import partial
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import xxhash
from scipy.sparse.csgraph import reverse_cuthill_mckee
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from dedup.candidates import LSHBanding, SharedPassages, merge_pairs
from dedup.clean import Cleaner, Prepared, prepare
from dedup.document import Document, Skip
from dedup.fastverify import SentenceTable, VerbatimFacts, decide, sentence_table
from dedup.fingerprint import Fingerprinter, estimate_jaccard, ranks_within, scan_fingerprints, warm_kernels
from dedup.rowstore import RowStore, RowStoreError
from dedup.textstore import EncodedTexts, TextSink, TextStore, TextsById, encode_texts
from dedup.relate import (DATELINE_CHARS, DERIVED, DERIVED_SCORE, PASTE_RUN_LINKS, Relation, clusters, dateline_date,
                          earliest, normalised, relate_pair)
from dedup.jit import compiled_always, jit_available, joined, kernel, loaded_kernel
from dedup.verify import (VERBATIM_SIMILARITY, Alignment, ChunkSimilarities, LayoutDocuments, PairFeatures, Sentence,
                          SentenceStore, Verifier, chunk_similarities, packed_spans, split_batch_with_keys, stack_rows)
from dedup.workers import bounded_map, close_pools, worker_pool

STAGES = ("ingest", "clean", "fingerprint", "candidates", "verify", "relate")
# Candidates below this whole-document TF-IDF cosine (mean of word and char cosines) are not
# aligned. On 5,000 documents of benchmarks' 10k corpus every derived pair the aligner found
# had cosine >= 0.22, while 46% of `related` candidates were below 0.20; Clough & Stevenson
# derived pairs are >= 0.28 and MRPC paraphrases >= 0.36 at their 5th percentile. Webis-CPC
# paraphrases reach down to 0.18 at the 5th percentile, hence the margin.
DOC_COSINE_FLOOR = 0.15
# Documents per clean task: small enough to stream, large enough that task overhead is noise.
CLEAN_CHUNK = 500
# Documents read before workers load the fingerprint kernels: past ~1,500 documents (2 MB)
# the fingerprint stage runs batches on the pool, where the kernels pay for their load.
WARM_KERNELS_AFTER = 2000
# LSH pairs whose Jaccard is estimated at once (two gathered uint16 signature rows each: 8 MB).
ESTIMATE_CHUNK = 1 << 14
# Standard errors below a channel's threshold that an LSH pair's estimated Jaccard may fall
# and still be verified (`estimate_floor`): rewrite channel 0.3 -> 0.199 (a pair truly at 0.3
# is dropped with chance 0.6%), copy 0.5 -> 0.389. Half the threshold (rewrite 0.15) was the
# floor before; against it, on the end-to-end scans of ../shared/data/pairs, 2.5 finds the same
# gold derived pairs of Clough & Stevenson (29 of 35) and Webis-CPC (145 of 250) and one fewer
# of MRPC (2,487 of 2,753), and the same planted pairs of benchmarks' corpus-100k and corpus-1m,
# while the candidates fall 16% / 32% (spliced bases sharing a few real sentences; see
# benchmarks/README.md).
ESTIMATE_FLOOR_Z = 2.5
# Documents per sentence-splitting task on the worker pool.
SPLIT_CHUNK = 1_000
# Sentences whose TF-IDF rows are held at once during verify (~3 KB each: about 1 GB), by all
# workers together: with N workers a block holds BLOCK_SENTENCES / N.
BLOCK_SENTENCES = 300_000
# Blocks per worker at least, so that no worker idles long at the end of the stage. Smaller
# blocks hash a document again more often, but little: corpus-100k hashed 344k sentences in
# eleven 40k-sentence blocks, 331k in two 300k ones.
BLOCKS_PER_WORKER = 4
# Candidate pairs from which the fast path's verdicts are made on forked workers. Below it the
# fork and the sentences both workers meet cost what the second core saves: corpus-100k's 50k
# candidates took 0.45 s in the parent and 0.5 s on two workers (three runs each).
PARALLEL_DECIDE_PAIRS = 100_000
# Pairs aligned per task (and per compiled call).
VERIFY_CHUNK = 500
# Pairs the parent verifies, and throws away, to load the kernels its block workers inherit.
WARM_PAIRS = 64
# Sentences in paired documents up to which verify's block workers take block after block;
# past it each block gets a fresh worker (`_verify_blocks`). A fresh process pays again for
# its kernels, its word stems and the memory it faults in: corpus-100k (310k sentences) and
# the first 150k documents of corpus-1m (297k), verify 12.5 -> 11.6 s (three pairs) and
# 12.2 -> 10.7 s, tree peak +76 / +50 MB; the first 300k (704k sentences), no faster
# (25.0 -> 25.6 s) and +660 MB; at 1M long-lived workers reached 4.6 GB.
REUSE_BLOCK_WORKERS = 400_000


@dataclass(slots=True)
class ScanConfig:
    """Parameters of a scan (the CLI options map one to one)."""

    # Copy channel: word k-shingles; LSH tuned to this Jaccard.
    threshold: float = 0.5
    # Rewrite channel: stemmed content words. Seeds 000/001 (heavy paraphrase) have 0.43,
    # same-event pairs up to 0.22 (fingerprint tests); 0.3 finds the former with high
    # probability and lets the verifier reject the latter.
    rewrite_threshold: float = 0.3
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    jobs: int = 0  # 0 = all cores
    max_bucket: int = 200
    related: bool = False  # also return `related` and `template` pairs
    clusters: bool = False
    progress: bool = False  # rich progress bars on stderr
    # Decide verbatim copies (one side's sentences all in the other, in order) without
    # aligning them: the same labels and features (dedup.fastverify); off = align every pair.
    fast_verify: bool = True
    # Keep each aligned pair's sentence alignment on its PairResult (the HTML report diffs every
    # pair). Off, `ScanResult.pair_diff` aligns a pair again when asked (the same alignment), and
    # a large scan does not hold links for every verified pair (nor, through them, every
    # paired document's sentences) until it ends.
    keep_alignments: bool = False
    # Cleaned texts over this many MB are kept in an unlinked temporary file (in TMPDIR), written
    # chunk by chunk as the cleaning workers send them once the limit is passed and read back a
    # batch or a document at a time, instead of in memory: at a million news articles they are
    # 1.3 GB, a third of the scan's peak. None: always in memory.
    spill_texts_mb: float | None = 512.0

    @property
    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)


@dataclass(slots=True)
class PairResult:
    """One reported pair: the fields every output format carries, plus the evidence."""

    a: str
    b: str
    relation: str
    score: float
    source: str | None
    derivative: str | None
    direction_reason: str | None
    coverage_a: float
    coverage_b: float
    cluster: int | None = None
    features: PairFeatures | None = None
    alignment: Alignment | None = None  # with ScanConfig.keep_alignments, for aligned (not fast-path) pairs

    def to_dict(self) -> dict:
        return {
            "a": self.a, "b": self.b, "relation": self.relation, "score": round(self.score, 4),
            "source": self.source, "derivative": self.derivative, "direction_reason": self.direction_reason,
            "coverage_a": round(self.coverage_a, 4), "coverage_b": round(self.coverage_b, 4), "cluster": self.cluster,
        }


@dataclass(slots=True)
class Cluster:
    """A story cluster: documents linked by derived pairs, and its earliest member."""

    id: int
    members: list[str]
    earliest: str

    def to_dict(self) -> dict:
        return {"id": self.id, "members": self.members, "earliest": self.earliest}


@dataclass(slots=True)
class StageStats:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    items: int = 0

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 3), "peak_rss_mb": round(self.peak_rss_mb, 1), "items": self.items}


@dataclass(slots=True)
class ScanResult:
    """What a scan found. `docs` holds each document's metadata, its `text` cut to the dateline
    head relate reads (or "" when the head has no dateline): the raw corpus is not kept.
    `cleaned` maps id -> cleaned text, which the diff view and reports read (a large scan
    reads it from a temporary file: see `ScanConfig.spill_texts_mb`)."""

    documents: int
    skipped: list[Skip]
    pairs: list[PairResult]
    clusters: list[Cluster] = field(default_factory=list)
    candidates: int = 0
    profile: dict[str, StageStats] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict, repr=False)
    cleaned: Mapping[str, str] = field(default_factory=dict, repr=False)
    verifier: Verifier | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = {
            "documents": self.documents,
            "skipped": [s.to_dict() for s in self.skipped],
            "candidates": self.candidates,
            "pairs": [p.to_dict() for p in self.pairs],
        }
        if self.clusters:
            out["clusters"] = [c.to_dict() for c in self.clusters]
        return out

    def pair_diff(self, pair: PairResult):
        """(PairDiff, cleaned text A, cleaned text B) for the HTML report and `dedup diff`."""
        from dedup.diff import build_diff  # the diff view is optional for a plain scan

        text_a, text_b = self.cleaned[pair.a], self.cleaned[pair.b]
        alignment = pair.alignment or self.verifier.align(text_a, text_b)
        weight = self.verifier.vectorizer.word_weight if self.verifier else None
        diff = build_diff(alignment, pair.relation, pair.score, pair.source, pair.derivative,
                          pair.direction_reason, pair.a, pair.b, weight=weight)
        return diff, text_a, text_b


def _clean_chunk(texts: list[str], sources: list[str], min_chars: int,
                 warm: bool = False) -> tuple[Prepared, EncodedTexts, list[str]]:
    """Clean a chunk (worker side) -> (its `Prepared` without the texts, the cleaned texts
    encoded, of each raw text only what relate reads later: its head when that holds a
    dateline, else nothing). `warm`: the corpus is large enough for the fingerprint kernels,
    so load them now (`warm_kernels`, once per process)."""
    if warm:
        warm_kernels()
    heads = []
    for text in texts:
        head = text[:DATELINE_CHARS]
        heads.append(head if dateline_date(head) is not None else "")
    prepared = prepare(texts, sources, min_chars)
    encoded = encode_texts(prepared.texts)
    prepared.texts = []
    return prepared, encoded, heads


def _distinct_rows(vectorizer, sentences: list[str], jobs: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """TF-IDF rows of sentences, each distinct text hashed once (copies share most sentences:
    corpus-100k's documents in pairs have 463k sentences, 358k distinct) -> (one row per
    distinct text, the row of each sentence). Rows are stacked as the chunks arrive."""
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(text, len(index)) for text in sentences), dtype=np.int64, count=len(sentences))
    distinct = list(index)
    del index
    return stack_rows(vectorizer.transform_chunks(distinct, jobs), len(distinct), 2 * vectorizer.n_features), ids


def _split_texts(texts: list[str]) -> list[tuple[bytes, tuple[bytes, bytes], bytes]]:
    """Sentence spans of each text, their sentences' keys (see `split_with_keys`) and the text's
    `_FoldedTexts` key (worker side), packed: a few bytes to send back, not objects. A chunk of
    news is large enough for the compiled splitter and folder (`split_batch_with_keys`,
    `_folded_keys`)."""
    return [(packed, keys, folded) for (packed, keys), folded in zip(split_batch_with_keys(texts), _folded_keys(texts))]


def _folded_key(text: str) -> bytes:
    """The 16-byte digest of a text with case and whitespace folded (`relate.normalised`)."""
    return xxhash.xxh3_128_digest(normalised(text).encode("utf-8", "surrogatepass"))


def _folded_keys(texts: Sequence[str]) -> list[bytes]:
    """`_folded_key` of each text; the ASCII ones folded in one compiled call (`ascii_fold_batch`)
    when the batch is large enough."""
    ascii_at = [k for k, text in enumerate(texts) if text.isascii()]
    compiled = kernel("ascii_fold_batch", sum(len(texts[k]) for k in ascii_at))
    if compiled is None:
        return [_folded_key(text) for text in texts]
    buffer, offsets = joined([texts[k].encode("ascii") for k in ascii_at])
    folded, folded_offsets = compiled(np.frombuffer(buffer, dtype=np.uint8), offsets)
    view = memoryview(folded)
    keys: list[bytes | None] = [None] * len(texts)
    for k, lo, hi in zip(ascii_at, folded_offsets[:-1].tolist(), folded_offsets[1:].tolist()):
        keys[k] = xxhash.xxh3_128_digest(view[lo:hi])
    return [_folded_key(texts[k]) if key is None else key for k, key in enumerate(keys)]


def estimate_floor(threshold: float, num_perm: int, z: float = ESTIMATE_FLOOR_Z) -> float:
    """Lowest estimated Jaccard an LSH pair of a channel tuned to `threshold` is kept at:
    `z` standard errors of a `num_perm`-slot estimate below the threshold."""
    return threshold - z * math.sqrt(threshold * (1.0 - threshold) / num_perm)


def _estimate_at_least(pairs: np.ndarray, sigs: np.ndarray, floor: float) -> np.ndarray:
    """Mask of pairs whose estimated Jaccard is >= floor, in chunks: two gathered signature
    rows per pair would outgrow the signatures themselves."""
    keep = np.zeros(len(pairs), dtype=bool)
    for lo in range(0, len(pairs), ESTIMATE_CHUNK):
        chunk = pairs[lo:lo + ESTIMATE_CHUNK]
        keep[lo:lo + len(chunk)] = estimate_jaccard(sigs[chunk[:, 0]], sigs[chunk[:, 1]]) >= floor
    return keep


def _trim_heap() -> None:
    """Give the heap's free pages back to the OS after a stage drops its temporaries.

    glibc keeps freed small-object memory mapped, and peak RSS counts it: on corpus-1m,
    RSS after the fingerprint stage is 3,387 MB, and 2,743 MB once trimmed. A no-op where
    the C library has no `malloc_trim` (musl, macOS).
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


class Scanner:
    """Finds derived pairs in a corpus. Parameters in `ScanConfig`; `scan` runs every stage."""

    def __init__(self, config: ScanConfig | None = None) -> None:
        self.config = config or ScanConfig()
        self.profile: dict[str, StageStats] = {stage: StageStats() for stage in STAGES}
        self.doc_keys_: np.ndarray | None = None  # per document, set by the clean stage

    @contextmanager
    def _stage(self, name: str, items: int = 0) -> Iterator[StageStats]:
        stats = self.profile[name]
        start = time.perf_counter()
        yield stats
        stats.seconds += time.perf_counter() - start
        stats.peak_rss_mb = max(stats.peak_rss_mb, _peak_rss_mb())
        stats.items = max(stats.items, items)

    def scan(self, documents: Iterable[Document], skipped: list[Skip] | None = None) -> ScanResult:
        """Run the whole pipeline on documents (an iterable is consumed once). Python's automatic
        garbage collection is paused in this process while it runs (`_collection_paused`), and
        left as it was found."""
        with _collection_paused():
            return self._scan(documents, skipped)

    def _scan(self, documents: Iterable[Document], skipped: list[Skip] | None) -> ScanResult:
        cfg = self.config
        docs, texts = self._ingest_and_clean(documents)
        n = len(docs)
        with self._stage("fingerprint", n):
            copy_sigs, rewrite_sigs, anchors, anchor_offsets = scan_fingerprints(
                texts, Fingerprinter("copy", cfg.shingle_size, cfg.num_perm, cfg.seed),
                Fingerprinter("rewrite", cfg.shingle_size, cfg.num_perm, cfg.seed), cfg.workers, compact=True)
            _trim_heap()
        with self._stage("candidates", n) as st:
            pairs = self.candidate_pairs(copy_sigs, rewrite_sigs, anchors, anchor_offsets)
            del anchors, anchor_offsets, copy_sigs, rewrite_sigs  # verify needs none of them
            _trim_heap()
            st.items = len(pairs)
        results = self.verify_pairs(docs, texts, pairs)
        with self._stage("relate", len(results)):
            found_clusters = self._cluster(docs, results) if cfg.clusters else []
            if not cfg.related:
                results = [r for r in results if r.relation in DERIVED]
        return ScanResult(
            documents=n, skipped=list(skipped or []), pairs=results, clusters=found_clusters,
            candidates=len(pairs), profile=self.profile, docs={d.id: d for d in docs},
            cleaned=TextsById([d.id for d in docs], texts), verifier=self.verifier_,
        )

    def _ingest_and_clean(self, documents: Iterable[Document]) -> tuple[list[Document], list[str]]:
        """Read and clean in one streaming pass: chunks of raw texts go to worker processes as
        they are read, and each Document keeps only the head of its raw text (the dateline,
        all that relate reads of it), so the raw corpus is never held whole. The boilerplate
        lines are then learnt from the chunks' line hashes and dropped from the few documents
        that hold one. Time spent reading is profiled as ingest, the rest as clean.
        """
        jobs = self.config.workers
        cleaner = Cleaner()
        docs: list[Document] = []
        prepared_parts: list[Prepared] = []
        cleaned = TextSink(self.config.spill_texts_mb)  # on disk as they come, past the limit
        pending: deque[tuple[Future, int]] = deque()  # (chunk result, its first doc), oldest first
        chunk: list[Document] = []
        read_seconds = 0.0
        start = time.perf_counter()

        def collect() -> None:
            """Take the oldest chunk's result; its Documents drop their raw text."""
            future, first = pending.popleft()
            prepared, encoded, heads = future.result()
            prepared_parts.append(prepared)
            cleaned.add(encoded)
            docs[first:first + len(heads)] = [d.with_text(h) for d, h in zip(docs[first:first + len(heads)], heads)]

        def flush() -> None:
            task = ([d.text for d in chunk], ["" if d.source is None else str(d.source) for d in chunk], cleaner.min_chars,
                    len(docs) >= WARM_KERNELS_AFTER)
            if jobs > 1:
                future = worker_pool(jobs).submit(_clean_chunk, *task)
            else:
                future = Future()
                future.set_result(_clean_chunk(*task))
            pending.append((future, len(docs)))
            docs.extend(chunk)
            chunk.clear()
            while len(pending) > 2 * jobs - 1:  # bound the raw text in flight
                collect()

        iterator = iter(documents)
        while True:
            tick = time.perf_counter()
            doc = next(iterator, None)
            read_seconds += time.perf_counter() - tick
            if doc is None:
                break
            chunk.append(doc)
            if len(chunk) == CLEAN_CHUNK:
                flush()
                if len(docs) >= WARM_KERNELS_AFTER:
                    warm_kernels()  # once, while the workers clean the chunks in flight
        if chunk:
            flush()
        while pending:
            collect()
        prepared = Prepared.join(prepared_parts)
        prepared_parts.clear()  # the joined copy is all that is needed from here
        sources = [d.source for d in docs]
        cleaner.fit_prepared(prepared, sources)
        texts = cleaned.texts()
        cleaned.replace(cleaner.without_boilerplate(prepared, texts))
        self.doc_keys_ = prepared.doc_keys  # hash of each text before boilerplate lines go (relate's `exact`)
        del prepared, cleaned
        _trim_heap()
        total = time.perf_counter() - start
        for name, seconds in (("ingest", read_seconds), ("clean", total - read_seconds)):
            stats = self.profile[name]
            stats.seconds += seconds
            stats.items = max(stats.items, len(docs))
            stats.peak_rss_mb = max(stats.peak_rss_mb, _peak_rss_mb())
        return docs, texts

    def candidate_pairs(self, copy_sigs: np.ndarray, rewrite_sigs: np.ndarray, anchors: np.ndarray | None = None,
                        anchor_offsets: np.ndarray | None = None) -> np.ndarray:
        """Union of both channels' LSH candidates, less those whose estimated Jaccard is far
        below the channel threshold (LSH false positives: `estimate_floor`, 2.5 standard errors
        of the estimate below it, so that estimation noise does not cost recall), and of the
        pairs sharing passages (when anchors are given).

        The three are independent sorts and gathers, in which numpy releases the GIL: with
        more than one job they run on two threads (the union is sorted, so the result is the
        same). Two, not three: each holds a few hundred MB of sort temporaries at a million
        documents, and two cores are busy with two. The rewrite channel's bands are shared
        out so that the threads finish together: corpus-1m on one core took 7.4 s for the
        rewrite channel, 6.7 s for shared passages and 4.0 s for copy; passages, then copy
        then two thirds of the rewrite bands, then the last third: ~9 s on two threads,
        where the whole rewrite channel first left copy to run alone after it (10.7 s).
        """
        cfg = self.config

        def channel(sigs: np.ndarray, threshold: float, part: slice = slice(None)) -> np.ndarray:
            banding = LSHBanding(threshold, cfg.num_perm, max_bucket=cfg.max_bucket)
            floor = estimate_floor(threshold, cfg.num_perm)
            return banding.candidate_pairs(sigs, partial(_estimate_at_least, sigs=sigs, floor=floor),
                                           bands=range(banding.bands)[part])

        tasks: list[Callable[[], np.ndarray]] = []
        if anchors is not None and anchor_offsets is not None:
            tasks.append(partial(SharedPassages().candidate_pairs, anchors, anchor_offsets))
        tasks.append(partial(channel, copy_sigs, cfg.threshold))
        if cfg.workers <= 1:
            tasks.append(partial(channel, rewrite_sigs, cfg.rewrite_threshold))
            return merge_pairs(*[task() for task in tasks])
        cut = -(-2 * LSHBanding(cfg.rewrite_threshold, cfg.num_perm).bands // 3)
        tasks += [partial(channel, rewrite_sigs, cfg.rewrite_threshold, slice(None, cut)),
                  partial(channel, rewrite_sigs, cfg.rewrite_threshold, slice(cut, None))]
        with ThreadPoolExecutor(max_workers=2) as threads:
            return merge_pairs(*[f.result() for f in [threads.submit(task) for task in tasks]])

    def verify_pairs(self, docs: list[Document], texts: Sequence[str], pairs: np.ndarray,
                     all_sentences: SentenceStore | None = None) -> list[PairResult]:
        """Align and label every candidate pair, sentence vectors computed once per document.

        Each block's evidence is labelled as soon as it is in, and unless `related` is asked
        for, only derived pairs are kept: a million-document scan verifies ~1.3M pairs, most
        of them `related`, and their features (~1 KB each) held to the end were 1 GB.
        """
        results: list[PairResult] = []
        relate_seconds = 0.0
        self.prefiltered_ = self.related_ = self.fast_decided_ = 0
        keys = self.doc_keys_
        if keys is not None and len(keys) != len(docs):
            keys = None  # texts that were not cleaned by this scanner

        folded = _FoldedTexts(texts, keys)
        label = partial(_label_evidence, docs=docs, texts=folded, keep_related=self.config.related)

        with self._stage("verify", len(pairs)) as stats:
            verifier = Verifier()
            self.verifier_ = verifier
            all_sentences, full_matrix = self._fit_idf(verifier.vectorizer, texts, pairs, all_sentences, folded)
            workers = self.config.workers
            forked = workers > 1 and "fork" in mp.get_all_start_methods()
            # The sentence table numbers every distinct sentence text: the fast path's verdicts
            # use it, and so does the row store of a scan verified in forked blocks.
            table = sentence_table(all_sentences) if len(pairs) and (
                self.config.fast_verify or (full_matrix is None and forked)) else None
            all_sentences.forget_keys()
            if self.config.fast_verify and table is not None:
                fast = _fast_path(pairs, table, VerbatimFacts(table, verifier.vectorizer.word_weight), label,
                                  workers if forked else 1)
                results.extend(fast.results)
                self.fast_decided_ = self.related_ = fast.labelled
                relate_seconds += fast.label_seconds
                pairs = fast.rest
                del fast
                _trim_heap()
            # Blocks of pairs whose documents' sentence vectors fit the memory budget; on a small
            # corpus there is one block and the vectors computed for the IDF are reused.
            budget = BLOCK_SENTENCES
            reuse_workers = False
            if full_matrix is None and forked:
                in_pairs = int(all_sentences.counts(np.unique(pairs).tolist()).sum()) if len(pairs) else 0
                budget = max(1, min(BLOCK_SENTENCES // workers, -(-in_pairs // (BLOCKS_PER_WORKER * workers))))
                reuse_workers = in_pairs <= REUSE_BLOCK_WORKERS
            blocks = [b for b in self._pair_blocks(pairs, all_sentences, full_matrix is not None, budget) if len(b)]
            skip_related = not self.config.related
            if full_matrix is None and forked and len(blocks) > 1:
                # Each block is a task of its own: its worker reads (or hashes) its sentences' rows
                # and aligns its pairs, so no block's rows (~1 GB) travel between processes.
                stored = _stored_rows(table, blocks, verifier.vectorizer, workers, self._track)
                del table
                _trim_heap()
                try:
                    done_blocks = [_verify_blocks(verifier, all_sentences, blocks, workers, self._track, folded,
                                                  skip_related, self.config.keep_alignments, label, stored,
                                                  fresh_workers=not reuse_workers)]
                finally:
                    if stored is not None:
                        stored.store.close()
            else:
                del table
                done_blocks = (_verify_parallel(verifier, all_sentences,
                                                *_block_layout(verifier, all_sentences, block, full_matrix, workers),
                                                block.tolist(), workers, self._track, folded, skip_related,
                                                self.config.keep_alignments, label) for block in blocks)
            for done in done_blocks:
                results.extend(done.results)
                self.prefiltered_ += done.prefiltered
                self.related_ += done.labelled
                relate_seconds += done.label_seconds
                del done
                _trim_heap()
            stats.seconds -= relate_seconds  # labelling is the relate stage's time
        relate_stats = self.profile["relate"]
        relate_stats.seconds += relate_seconds
        relate_stats.items = max(relate_stats.items, self.related_)
        results.sort(key=lambda r: (-r.score, r.a, r.b))
        return results

    def _fit_idf(self, vectorizer, texts: Sequence[str], pairs: np.ndarray, all_sentences: SentenceStore | None = None,
                 folded: _FoldedTexts | None = None) -> tuple[SentenceStore, sp.csr_matrix | None]:
        """Fit the sentence IDF on the corpus (not on the pair); -> (sentences per document, matrix).

        A corpus of up to `max_fit_sentences` sentences is hashed whole, and its TF-IDF matrix
        (all documents' sentences, in order) is returned for reuse. A larger one fits on the
        sentences of a seeded sample of documents and returns no matrix; then only documents
        that are in some pair keep their sentences (the others hold none), so a million-document
        scan never splits every document. Sentences are held as spans (`SentenceStore`); the
        split workers' folded-text keys go to `folded`.
        """
        jobs = self.config.workers
        sentences = all_sentences if all_sentences is not None else SentenceStore(texts)
        in_pairs = np.zeros(len(texts), dtype=bool)
        in_pairs[np.asarray(pairs, dtype=np.int64).ravel()] = True
        paired = np.flatnonzero(in_pairs).tolist()
        # The paired documents are split whatever the corpus' size. When they alone hold more
        # sentences than the IDF sample, the corpus is too large to hash whole; else the rest
        # is split in order, a batch at a time, until the corpus proves too large (splitting a
        # few documents more changes nothing). corpus-100k's paired documents hold 310k: no
        # probe of its first 20k documents in ten round trips, half of them in no pair (fitting
        # and splitting 1.50 / 1.45 s -> 1.33 / 1.38 s, alternated).
        self._split(texts, sentences, paired, folded)
        if int(sentences.counts(paired).sum()) <= vectorizer.max_fit_sentences:
            held = 0
            step = SPLIT_CHUNK * max(1, jobs)
            for begin in range(0, len(texts), step):
                batch = range(begin, min(len(texts), begin + step))
                self._split(texts, sentences, batch, folded)
                held += int(sentences.counts(batch).sum())
                if held > vectorizer.max_fit_sentences:
                    break
            else:
                return sentences, vectorizer.fit_transform([t for k in range(len(texts)) for t in sentences.texts(k)],
                                                           jobs)
        rng = np.random.default_rng(vectorizer.seed)
        sample = np.sort(rng.choice(len(texts), size=min(len(texts), vectorizer.max_fit_sentences // 20),
                                    replace=False))
        self._split(texts, sentences, sample.tolist(), folded)
        fit_on = [t for k in sample.tolist() for t in sentences.texts(k)][: vectorizer.max_fit_sentences]
        vectorizer.fit_sentences(fit_on, jobs)
        del fit_on
        for k in np.flatnonzero(~in_pairs).tolist():
            sentences.drop(k)
        return sentences, None

    def _split(self, texts: Sequence[str], sentences: SentenceStore, indices, folded: _FoldedTexts | None = None) -> None:
        """Split the documents `indices` not split yet, on the shared worker pool when there
        are many (the split is Python per sentence: 11 s of corpus-100k's verify). The workers
        also key each sentence (`sentence_table`) and each folded text (`folded`), while they
        hold the text."""
        todo = [k for k in indices if not sentences.is_split(k)]
        jobs = self.config.workers
        if jobs <= 1 or len(todo) < 2 * SPLIT_CHUNK:
            for k in todo:
                sentences.put(k, packed_spans(texts[k]))
            return
        chunks = ([texts[k] for k in todo[lo:lo + SPLIT_CHUNK]] for lo in range(0, len(todo), SPLIT_CHUNK))
        done = bounded_map(worker_pool(jobs), _split_texts, chunks, 4 * jobs)  # texts made as they are sent
        for k, (packed, keys, folded_key) in zip(todo, (doc for part in done for doc in part)):
            sentences.put(k, packed, keys)
            if folded is not None:
                folded.learn(k, folded_key)

    def _pair_blocks(self, pairs: np.ndarray, all_sentences: SentenceStore, whole: bool,
                     budget: int | None = None):
        """Consecutive blocks of pairs whose documents hold at most `budget` sentences
        (default BLOCK_SENTENCES).

        The TF-IDF rows of a block's sentences are the scan's largest allocation (word and char
        n-grams, about 3 KB a sentence); blocks bound it whatever the corpus size, at the cost of
        reading a document's rows again (from the row store, or hashing them again without one)
        in each block it appears in. Pairs are taken in an order in
        which neighbours in the candidate graph come together (`_local_order`), so that a
        document's pairs fall in few blocks.
        """
        if whole or len(pairs) == 0:
            yield pairs
            return
        budget = BLOCK_SENTENCES if budget is None else budget
        pairs = _local_order(pairs, len(all_sentences))
        cuts = _block_starts(pairs, all_sentences.counts(), budget)
        for begin, end in zip(cuts, [*cuts[1:], len(pairs)]):
            yield pairs[begin:end]

    def _track(self, items: Iterable, label: str, total: int | None = None):
        """A rich progress bar on stderr when asked for (long runs in a terminal)."""
        total = total if total is not None else len(items)
        if not self.config.progress or total < 10:
            return items
        from rich.console import Console
        from rich.progress import track

        return track(items, description=f"{label} ({total:,} chunks)", total=total,
                     console=Console(stderr=True), transient=True)

    def _cluster(self, docs: list[Document], results: list[PairResult]) -> list[Cluster]:
        index = {d.id: k for k, d in enumerate(docs)}
        derived = [(index[r.a], index[r.b]) for r in results if r.relation in DERIVED]
        labels = clusters(len(docs), derived)
        out: list[Cluster] = []
        for cid in range(int(labels.max()) + 1 if len(labels) else 0):
            members = [docs[k] for k in np.flatnonzero(labels == cid)]
            out.append(Cluster(cid, [m.id for m in members], earliest(members).id))
        for r in results:
            if r.relation in DERIVED:
                r.cluster = int(labels[index[r.a]])
        return out

    verifier_: Verifier | None = None
    prefiltered_: int = 0
    related_: int = 0  # pairs labelled by relate (all that verify did not drop)
    fast_decided_: int = 0


def _local_order(pairs: np.ndarray, n_docs: int) -> np.ndarray:
    """Pairs ordered so that consecutive pairs share documents: by the reverse Cuthill-McKee
    position of their first document in the candidate graph, then by (first, second).

    In (first, second) order a document's partners are spread over the whole pair list, and
    each verify block that holds one of them hashes the document's sentences again. Reverse
    Cuthill-McKee numbers the documents so that linked ones get close numbers (a breadth-first
    order; each connected component is numbered on its own), so a block holds a neighbourhood
    of the graph. Sentences hashed over all blocks (pairs the fast path left, 300k-sentence
    blocks): corpus-100k 403k -> 331k for 328k distinct; corpus-1m 9.66M -> 5.98M for 3.59M
    distinct, 36 -> 23 blocks (one connected component there holds 427k documents, so ordering
    by component alone saved 4%). Pairs of one first document stay consecutive, as
    `_verify_pairs` groups them (ordering by the pair's lower position saves 16% more hashing
    but splits 2.5x as many groups).
    """
    graph = sp.coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n_docs, n_docs))
    numbering = reverse_cuthill_mckee((graph + graph.T).tocsr(), symmetric_mode=True)
    position = np.empty(n_docs, dtype=np.int64)
    position[numbering] = np.arange(n_docs)
    return pairs[np.lexsort((pairs[:, 1], position[pairs[:, 0]]))]


def _block_starts(pairs: np.ndarray, counts: np.ndarray, budget: int) -> list[int]:
    """Where each block of `_pair_blocks` starts: pairs are taken in order, and a block closes
    before the pair whose new documents would take its sentences over `budget` (a block holds
    at least one pair). One compiled pass when the kernels are loaded (the Python loop was
    3.5 s of serial time at 1M, both cores idle); else this loop, which it equals."""
    compiled = loaded_kernel("block_starts")
    if compiled is not None:
        return compiled(np.ascontiguousarray(pairs, dtype=np.int64), np.asarray(counts, dtype=np.int64),
                        int(budget)).tolist()
    starts = [0]
    seen: set[int] = set()
    held = 0
    for k, (i, j) in enumerate(pairs.tolist()):
        new = [d for d in (i, j) if d not in seen]
        grow = sum(int(counts[d]) for d in new)
        if held + grow > budget and k > starts[-1]:
            starts.append(k)
            seen, held = set(), 0
            new = [i, j] if i != j else [i]
            grow = sum(int(counts[d]) for d in new)
        seen.update(new)
        held += grow
    return starts


# State shared with forked verify workers (read-only, inherited copy-on-write, never pickled).
_VERIFY_STATE: tuple | None = None
_VERIFY_LABEL: Callable[[list], list] | None = None


class _FoldedTexts:
    """The scan's texts, and whether `relate.label` would call two of them `exact` (which the
    skip test asks too): the same before boilerplate lines were dropped (`doc_keys`, hashes
    from the clean stage), or the same once case and whitespace are folded. Each text is
    folded and hashed once (`_folded_key`): by the split workers, which hold the texts anyway
    (`learn`), or else once per process when first asked (a fresh verify block's worker
    reading and folding its documents again was 4% of corpus-1m's block time). Equal keys are
    confirmed on the folded texts themselves."""

    def __init__(self, texts: Sequence[str], doc_keys: np.ndarray | None = None) -> None:
        self.texts = texts
        self.doc_keys = doc_keys
        self._keys = np.zeros((len(texts), 16), dtype=np.uint8)
        self._known = np.zeros(len(texts), dtype=bool)

    def __getitem__(self, k: int) -> str:
        return self.texts[k]

    def learn(self, k: int, key: bytes) -> None:
        """Text k's `_folded_key`, made elsewhere."""
        self._keys[k] = np.frombuffer(key, dtype=np.uint8)
        self._known[k] = True

    def key(self, k: int) -> bytes:
        if not self._known[k]:
            self.learn(k, _folded_key(self.texts[k]))
        return self._keys[k].tobytes()

    def exact(self, i: int, j: int) -> bool:
        if self.doc_keys is not None and self.doc_keys[i] == self.doc_keys[j]:
            return True
        return self.key(i) == self.key(j) and normalised(self.texts[i]) == normalised(self.texts[j])


def _label_evidence(evidence: list, docs: list[Document], texts: _FoldedTexts,
                    keep_related: bool) -> list[tuple[int, int, PairResult, list | None]]:
    """The relate stage on (i, j, links or None, features) evidence: -> (i, j, result, links) of
    each pair reported (derived pairs, or all with `keep_related`); the result's alignment is
    left for the caller, which holds the sentences."""
    out = []
    for i, j, links, feats in evidence:
        rel: Relation = relate_pair(docs[i], docs[j], texts[i], texts[j], feats, same_text=texts.exact(i, j))
        if keep_related or rel.relation in DERIVED:
            result = PairResult(docs[i].id, docs[j].id, rel.relation, rel.score, rel.source, rel.derivative,
                                rel.direction_reason, feats.coverage_a, feats.coverage_b, None, feats)
            out.append((i, j, result, links))
    return out


@dataclass(slots=True)
class _VerifiedBlock:
    """What the aligned pairs of a block gave: the reported results and the counts behind them."""

    results: list[PairResult]
    labelled: int  # pairs that reached the relate stage
    prefiltered: int  # pairs the whole-document cosine prefilter dropped
    label_seconds: float  # the relate stage's share of the block's wall time


@dataclass(slots=True)
class _FastVerdicts:
    """What the fast path gave (`_fast_path`): its reported results, the pairs left to the
    aligner (in their original order) and counts."""

    results: list[PairResult]
    rest: np.ndarray
    labelled: int  # pairs decided, all of which reached the relate stage
    label_seconds: float  # the relate stage's share of the fast path's wall time


# State shared with forked fast-path workers (read-only, inherited copy-on-write, never pickled).
_DECIDE_STATE: tuple | None = None


def _fast_path(pairs: np.ndarray, table: SentenceTable, facts: VerbatimFacts, label: Callable[[list], list],
               workers: int) -> _FastVerdicts:
    """`fastverify.decide` on the candidate pairs, and the relate stage on the pairs it decides.

    With `workers` > 1 and PARALLEL_DECIDE_PAIRS pairs or more, parts of the pairs go to forked
    workers, which inherit the sentence table and label their own verdicts (only reported pairs
    travel back). In the parent both ran with a core idle: corpus-1m's 820k candidates took
    4.4 s to decide and 1.6 s to label, and take 4.5 s for both on two workers (the parts
    meet many of the same sentences, and each fork copies the pages it writes). Parts come
    back in order, and a sentence's verbatim facts are the same whichever process finds
    them, so the result is the same whatever `workers` is.
    """
    global _DECIDE_STATE
    parallel = workers > 1 and len(pairs) >= PARALLEL_DECIDE_PAIRS
    size = -(-len(pairs) // (2 * workers)) if parallel else max(1, len(pairs))
    bounds = [(lo, min(len(pairs), lo + size)) for lo in range(0, len(pairs), size)]
    _DECIDE_STATE = (pairs, table, facts, label)
    try:
        if parallel:
            with _ready_to_fork(), mp.get_context("fork").Pool(workers) as pool:
                done = pool.map(_decide_part, bounds, chunksize=1)
        else:
            done = [_decide_part(part) for part in bounds]
    finally:
        _DECIDE_STATE = None
    share = min(workers, len(bounds)) if parallel else 1
    rest = [part[0] for part in done]
    return _FastVerdicts([result for part in done for _, _, result, _ in part[2]],
                         np.concatenate(rest) if rest else np.zeros((0, 2), dtype=np.int64),
                         sum(part[1] for part in done), sum(part[3] for part in done) / share)


def _decide_part(bounds: tuple[int, int]) -> tuple[np.ndarray, int, list, float]:
    """The fast path on pairs[lo:hi] of `_DECIDE_STATE`: -> (pairs left to the aligner, pairs
    decided, (i, j, result, None) of those reported, seconds spent labelling)."""
    pairs, table, facts, label = _DECIDE_STATE
    lo, hi = bounds
    verdicts = decide(pairs[lo:hi], table, facts, DOC_COSINE_FLOOR)
    start = time.perf_counter()
    reported = label([(i, j, None, f) for (i, j), f in zip(verdicts.pairs.tolist(), verdicts.features)])
    return verdicts.rest, len(verdicts.pairs), reported, time.perf_counter() - start


def _verify_chunk(chunk: list[tuple[int, int]]) -> tuple[list, int, int, float]:
    """Align and label a chunk of pairs: -> ((i, j, result, links) of the reported pairs, pairs
    labelled, pairs the prefilter dropped, seconds spent labelling).

    Pairs are sorted, so the pairs of one first document are consecutive and share its layout
    in `chunk_similarities`. A pair whose whole-document cosine is below
    DOC_COSINE_FLOOR is dropped before it is aligned. With `skip_related`, a pair whose
    similarities prove it cannot be derived (see `_cannot_be_derived`) is not aligned. Labels
    are given here, on the workers, so that only reported pairs travel back (links only: the
    parent holds the sentences).
    """
    with threadpool_limits(limits=1, user_api="blas"):  # a forked worker may not inherit the limit
        return _align_and_label(chunk)


def _align_and_label(chunk: list[tuple[int, int]]) -> tuple[list, int, int, float]:
    """`_verify_chunk` under a BLAS limit set by the caller."""
    evidence, prefiltered = _verify_pairs(chunk, *_VERIFY_STATE)
    start = time.perf_counter()
    reported = _VERIFY_LABEL(evidence)
    return reported, len(evidence), prefiltered, time.perf_counter() - start


def _verify_state(verifier: Verifier, sentences: SentenceStore, vectors: _Vectors, rows: dict,
                  row_chars: np.ndarray, texts: _FoldedTexts | None, skip_related: bool, keep_links: bool) -> tuple:
    """`_verify_pairs`' arguments after the chunk, as `_VERIFY_STATE` holds them (skipping needs
    the texts, for the exact-text test)."""
    return (verifier, sentences, vectors, rows, row_chars, texts, skip_related and texts is not None, keep_links)


def _chunks(pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive chunks of VERIFY_CHUNK pairs."""
    return [pairs[k:k + VERIFY_CHUNK] for k in range(0, len(pairs), VERIFY_CHUNK)]


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Pause automatic garbage collection for a scan: its million Documents, sentence spans and
    results hold no cycles, yet each full collection walks them all. corpus-1m, two cores:
    the parent spent 4.5 s in collections during ingest and 7.3 s during verify, and those
    after ingest freed 509 objects in all. A worker forked during the pause inherits it; see
    `start_worker` and `_ready_to_fork` for which workers collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _ready_to_fork() -> Iterator[None]:
    """Stop the idle shared workers, freeze the heap's objects and pause automatic garbage
    collection while verify workers are forked. Frozen objects are out of the workers'
    collections, which would otherwise write to (and so copy) every page of the inherited
    sentences (corpus-100k, peak RSS of the process tree while aligning: 3.4 GB -> 2.9 GB with
    both). The workers inherit the pause: they live for one block or one verify stage and free
    everything as they exit, and corpus-100k's block workers spent 4% of their time (0.76 s of
    18.3 s over 9 blocks) in collections that freed nothing. A pool that should collect starts
    its workers with `start_worker` (the row store's does)."""
    close_pools()
    gc.freeze()
    try:
        with _collection_paused():
            yield
    finally:
        gc.unfreeze()


@dataclass(slots=True)
class _Vectors:
    """A verify layout's sentence vectors: sentence k is row row_map[k] of `matrix`; `documents`
    holds each document's norm and neighbour dots (None without the compiled kernels)."""

    matrix: sp.csr_matrix
    row_map: np.ndarray
    documents: LayoutDocuments | None


@dataclass(slots=True)
class _StoredRows:
    """Every distinct sentence's TF-IDF row, hashed once for all verify blocks (`RowStore`),
    and where each document's sentences are in it."""

    store: RowStore
    doc_starts: np.ndarray  # int64, n_docs + 1: a document's sentences are positions [start, end)
    row_of: np.ndarray  # per sentence position: its text's row in the store (-1: not stored)
    chars: np.ndarray  # per sentence position: len(sentence.text)


def _sentence_positions(doc_starts: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Positions of the sentences of documents `docs`, one document after another, where a
    document's sentences are positions doc_starts[d]:doc_starts[d + 1]."""
    counts = doc_starts[docs + 1] - doc_starts[docs]
    return np.repeat(doc_starts[docs], counts) + ranks_within(counts)


def _stored_rows(table: SentenceTable, blocks: list[np.ndarray], vectorizer, workers: int,
                 track: Callable) -> _StoredRows | None:
    """Hash each distinct sentence text of the blocks' documents once, into a `RowStore` (or
    None, with a warning, when the temporary folder cannot hold it: blocks then hash their
    own). Texts are stored in the order the blocks first use them, so that a block's rows lie
    close together in the file."""
    docs = np.concatenate([np.unique(block.ravel()) for block in blocks])
    ids = table.ids[_sentence_positions(table.starts, docs)]
    distinct, first_use = np.unique(ids, return_index=True)
    del ids
    in_use_order = distinct[np.argsort(first_use, kind="stable")]
    del distinct, first_use
    row_of_id = np.full(len(table.texts), -1, dtype=np.int64)
    row_of_id[in_use_order] = np.arange(len(in_use_order))
    id_chars = np.zeros(len(table.texts), dtype=np.int64)
    id_chars[table.ids] = table.chars
    try:
        with _ready_to_fork():
            store = RowStore(vectorizer, table.texts.many(in_use_order), len(in_use_order), workers,
                             track=track, chars=int(id_chars[in_use_order].sum()))
    except RowStoreError as error:
        warnings.warn(f"dedup: {error}; each verify block hashes its own sentences instead", stacklevel=2)
        return None
    return _StoredRows(store, table.starts, row_of_id[table.ids], table.chars)


def _block_layout(verifier: Verifier, sentences: SentenceStore, block: np.ndarray, full_matrix: sp.csr_matrix | None,
                  jobs: int, stored: _StoredRows | None = None) -> tuple[_Vectors, dict, np.ndarray]:
    """A block's sentences, document after document -> ((TF-IDF matrix, its row for each
    position of the layout, the documents' norms and neighbour dots), each document's (start,
    end) in the layout, each sentence's length). Rows come from `full_matrix` when the corpus
    was hashed whole, or from `stored` when the scan's sentences were hashed once for all
    blocks; else each distinct sentence text of the block is hashed once, on `jobs` processes."""
    docs = np.unique(block.ravel())
    order = docs.tolist()
    # With a row store the counts are the sentence table's: asking the store for them touched
    # (and so copied, in a forked worker) each document's spans object: 2% of corpus-1m's block CPU.
    counts = stored.doc_starts[docs + 1] - stored.doc_starts[docs] if stored is not None else sentences.counts(order)
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows = {i: (int(starts[k]), int(starts[k + 1])) for k, i in enumerate(order)}
    if stored is not None:
        positions = _sentence_positions(stored.doc_starts, docs)
        matrix, row_map = stored.store.rows(stored.row_of[positions])
        row_chars = stored.chars[positions].astype(np.float64)
    else:
        block_texts = [t for i in order for t in sentences.texts(i)]
        row_chars = np.fromiter(map(len, block_texts), dtype=np.float64, count=len(block_texts))
        if full_matrix is not None:
            row_map = _sentence_positions(np.concatenate([[0], np.cumsum(sentences.counts())]), docs)
            matrix = full_matrix
        else:
            matrix, row_map = _distinct_rows(verifier.vectorizer, block_texts, jobs)
        del block_texts
    documents = LayoutDocuments.of_rows(matrix, row_map, np.stack([starts[:-1], starts[1:]], axis=1))
    return _Vectors(matrix, row_map, documents), rows, row_chars


# State shared with forked block workers (read-only, inherited copy-on-write, never pickled).
_BLOCKS_STATE: tuple | None = None


def _verify_block(k: int) -> tuple[list, int, int, float]:
    """Verify block k on a forked worker: hash its sentences here, then align and label its
    pairs chunk by chunk (`_verify_chunk`'s result, summed over the chunks)."""
    return _verify_block_pairs(_BLOCKS_STATE[2][k])


def _verify_block_pairs(block: np.ndarray) -> tuple[list, int, int, float]:
    """`_verify_block` of the pairs `block`, with the rest of the state from `_BLOCKS_STATE`."""
    global _VERIFY_STATE, _VERIFY_LABEL
    verifier, sentences, _, texts, skip_related, keep_links, label, stored = _BLOCKS_STATE
    # Spilled texts are held from the block's start: without a row store it reads them to hash its sentences too.
    documents = sentences.documents
    held = documents.held(np.unique(block).tolist()) if isinstance(documents, TextStore) else nullcontext()
    try:
        with held, threadpool_limits(limits=1, user_api="blas"):
            _VERIFY_STATE = _verify_state(verifier, sentences, *_block_layout(verifier, sentences, block, None, 1, stored),
                                          texts, skip_related, keep_links)
            _VERIFY_LABEL = label
            parts = [_align_and_label(chunk) for chunk in _chunks(block.tolist())]
    finally:
        _VERIFY_STATE = _VERIFY_LABEL = None
    return ([found for part in parts for found in part[0]], sum(part[1] for part in parts),
            sum(part[2] for part in parts), sum(part[3] for part in parts))


def _load_block_kernels(block: np.ndarray) -> None:
    """Verify the first WARM_PAIRS pairs of `block` in this process, every step on its compiled
    path, and throw the result away: each kernel a block uses is then loaded (from numba's
    cache) here, and every fresh block worker forked after inherits it instead of loading its
    own. On corpus-1m those loads were 2% of the blocks' CPU, ~0.12 s in each of 29 blocks."""
    if jit_available():
        with compiled_always():
            _verify_block_pairs(block[:WARM_PAIRS])


def _verify_blocks(verifier: Verifier, sentences: SentenceStore, blocks: list[np.ndarray], workers: int,
                   track: Callable, texts: _FoldedTexts | None, skip_related: bool, keep_alignments: bool,
                   label: Callable[[list], list], stored: _StoredRows | None = None,
                   fresh_workers: bool = True) -> _VerifiedBlock:
    """Verify blocks of pairs on forked workers, one block a task (see `_verify_block`); rows
    come from `stored` when given. `fresh_workers`: a new process for every block, else each
    worker takes blocks until none are left (`REUSE_BLOCK_WORKERS`).

    Hashing in the parent and sending each block's rows to the align workers cost more than
    the hashing itself: a 20k-sentence chunk's rows are 50 MB through a pipe (2 workers, 12
    chunks: 3.0 s when the rows stay on the worker, 5.0 s when they travel back). Blocks come
    back in order, so the result is the same whatever `workers` is.
    """
    global _BLOCKS_STATE
    _BLOCKS_STATE = (verifier, sentences, blocks, texts, skip_related, keep_alignments, label, stored)
    try:
        # On a large scan, a fresh worker per block (multiprocessing's Pool can fork one;
        # ProcessPoolExecutor cannot): a long-lived one keeps growing, as its caches fill and as
        # it touches (and so copies) more of the pages it inherited (corpus-1m: 4.6 GB peak PSS
        # of the tree). On a small one that costs more than it saves (`REUSE_BLOCK_WORKERS`).
        per_worker = 1 if fresh_workers else None
        if fresh_workers:
            _load_block_kernels(blocks[0])
        with _ready_to_fork(), mp.get_context("fork").Pool(workers, maxtasksperchild=per_worker) as pool:
            done = list(track(pool.imap(_verify_block, range(len(blocks))), "verify", len(blocks)))
    finally:
        _BLOCKS_STATE = None
    return _verified(done, sentences, min(workers, len(blocks)))


def _verified(done: list[tuple[list, int, int, float]], sentences: SentenceStore, share: int) -> _VerifiedBlock:
    """The parts' reported pairs, their alignments rebuilt from the links (the parent holds the
    sentences), and counts. Labelling ran inside the workers' wall time: its share is its
    seconds over the `share` workers that ran in parallel."""
    results = []
    for reported, _, _, _ in done:
        for i, j, result, links in reported:
            if links is not None:
                result.alignment = Alignment(sentences[i], sentences[j], links)
            results.append(result)
    return _VerifiedBlock(results, sum(part[1] for part in done), sum(part[2] for part in done),
                          sum(part[3] for part in done) / share)


def _verify_pairs(chunk: list[tuple[int, int]], verifier: Verifier, sentences: SentenceStore,
                  vectors: _Vectors, rows: dict, row_chars: np.ndarray,
                  texts: _FoldedTexts | None, skip_related: bool, keep_links: bool = True) -> tuple[list, int]:
    """`_verify_chunk`'s work. The block's sentences are laid out document after document
    (`rows[doc]` is a document's (start, end) there; `vectors` holds their TF-IDF rows);
    `row_chars[k]` is the length of sentence k's text."""
    if not chunk:
        return [], 0
    rows_a = np.array([rows[i] for i, _ in chunk], dtype=np.int64)
    rows_b = np.array([rows[j] for _, j in chunk], dtype=np.int64)
    # The prefilter: whole-document TF-IDF cosine (mean of word and char cosines); the pairs
    # below DOC_COSINE_FLOOR get no similarity matrix.
    sims = chunk_similarities(vectors.matrix, vectors.row_map, rows_a, rows_b, DOC_COSINE_FLOOR, vectors.documents)
    kept = sims.kept
    prefiltered = len(chunk) - len(kept)
    if skip_related:
        cannot = _cannot_be_derived_all(verifier, sims, row_chars, rows_a[:, 0], rows_b[:, 0], kept)

    aligned: list[tuple[int, int, Alignment]] = []
    first, sa = -1, []
    for p in kept.tolist():
        i, j = chunk[p]
        if skip_related and cannot[p] and not texts.exact(i, j):
            continue
        if i != first:  # Sentence objects are made here, per pair, from the spans
            first, sa = i, sentences[i]
        alignment = verifier.align_similarities(sa, sentences[j], sims.matrix(p), sims.adjacent(rows[i]),
                                                sims.adjacent(rows[j]))
        if skip_related and _aligned_cannot_be_derived(alignment) and not texts.exact(i, j):
            continue
        aligned.append((i, j, alignment))
    found = verifier.features_many([alignment for _, _, alignment in aligned])  # links scored in one batch
    out = [(i, j, alignment.links if keep_links else None, feats) for (i, j, alignment), feats in zip(aligned, found)]
    return out, prefiltered


def _aligned_cannot_be_derived(alignment: Alignment) -> bool:
    """True when the links alone prove `relate.label` would say `related`, unless it calls the
    texts `exact` (the caller's test), so the claim fidelity of every link (the costly part of
    the features) need not be scored.

    The derivation score is at most the better side's link coverage (fidelity <= 1); a pasted
    passage needs PASTE_RUN_LINKS near-verbatim links; two single sentences are judged on their
    link's fidelity, so they are never skipped. Tighter than
    `_cannot_be_derived`, which bounds coverage by every sentence that could be linked.
    """
    sa, sb, links = alignment.a_sentences, alignment.b_sentences, alignment.links
    if len(sa) <= 1 and len(sb) <= 1 or not sa or not sb:
        return False
    if sum(1 for link in links if link.similarity >= VERBATIM_SIMILARITY) >= PASTE_RUN_LINKS:
        return False
    for side, sentences in ((lambda link: link.a, sa), (lambda link: link.b, sb)):
        used = {k for link in links for k in side(link)}
        total = sum(len(s.text) for s in sentences)
        if total and sum(len(sentences[k].text) for k in used) / total >= DERIVED_SCORE - 1e-9:
            return False
    return True


def _cannot_be_derived(verifier: Verifier, sim: np.ndarray, chars_a: np.ndarray, chars_b: np.ndarray) -> bool:
    """True when the similarity matrix alone proves the alignment would label the pair `related`,
    unless `relate.label` calls the texts `exact` (the caller's test). `chars_*` are the lengths
    of each side's sentence texts.

    The derivation score is at most the better side's coverage (fidelity <= 1), and only the
    sentences `Verifier.linkable` allows can be covered; a pasted passage needs PASTE_RUN_LINKS
    links whose first sentences reach `Verifier.verbatim_floor`. Two single sentences are judged
    on their link's fidelity: never skipped.
    """
    if len(chars_a) <= 1 and len(chars_b) <= 1 or not len(chars_a) or not len(chars_b):
        return False
    bound = 0.0
    for linkable, lengths in zip(verifier.linkable(sim), (chars_a, chars_b)):
        lengths = np.asarray(lengths, dtype=np.float64)
        bound = max(bound, float(lengths[linkable].sum() / max(1.0, lengths.sum())))
    if bound >= DERIVED_SCORE:
        return False
    best_a, best_b = sim.max(axis=1), sim.max(axis=0)
    verbatim = verifier.verbatim_floor()
    if min(int((best_a >= verbatim).sum()), int((best_b >= verbatim).sum())) >= PASTE_RUN_LINKS:
        return False
    return True


def _cannot_be_derived_all(verifier: Verifier, sims: ChunkSimilarities, row_chars: np.ndarray,
                           first_a: np.ndarray, first_b: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """`_cannot_be_derived` of the pairs `todo` of a chunk (False for the others): one compiled
    call for the chunk, or the numpy test pair by pair. `first_*[p]` is the matrix row of
    pair p's first sentence on each side."""
    row_chars = np.asarray(row_chars, dtype=np.float64)
    compiled = loaded_kernel("cannot_be_derived")
    if compiled is not None:
        return compiled(sims.flat, sims.offsets, sims.n_a, sims.n_b, row_chars, first_a, first_b,
                        *verifier.link_floors(), verifier.verbatim_floor(), DERIVED_SCORE, PASTE_RUN_LINKS,
                        np.asarray(todo, dtype=np.int64))
    out = np.zeros(len(sims.n_a), dtype=bool)
    for p in np.asarray(todo).tolist():
        chars_a = row_chars[first_a[p]:first_a[p] + sims.n_a[p]]
        chars_b = row_chars[first_b[p]:first_b[p] + sims.n_b[p]]
        out[p] = _cannot_be_derived(verifier, sims.matrix(p), chars_a, chars_b)
    return out


def _verify_parallel(verifier: Verifier, sentences: SentenceStore, vectors: _Vectors,
                     rows: dict, row_chars: np.ndarray, pairs: list[tuple[int, int]], workers: int,
                     track: Callable, texts: _FoldedTexts | None, skip_related: bool, keep_alignments: bool,
                     label: Callable[[list], list]) -> _VerifiedBlock:
    """Align and label pairs in chunks, on forked worker processes when there are enough pairs.

    Chunks come back in submission order, so the result is the same whatever `workers` is.
    """
    global _VERIFY_STATE, _VERIFY_LABEL
    _VERIFY_STATE = _verify_state(verifier, sentences, vectors, rows, row_chars, texts, skip_related, keep_alignments)
    _VERIFY_LABEL = label
    # The products are tiny (sentences x sentences): a multi-threaded BLAS spends far more on
    # waking its threads than on the arithmetic (13x slower on a busy 2-core machine), and
    # forked workers would each start their own.
    try:
        chunks = _chunks(pairs)
        parallel = workers > 1 and len(chunks) >= 2 and "fork" in mp.get_all_start_methods()
        with threadpool_limits(limits=1, user_api="blas"):
            if not parallel:
                done = [_verify_chunk(chunk) for chunk in track(chunks, "verify")]
            else:
                with _ready_to_fork(), ProcessPoolExecutor(max_workers=workers,
                                                           mp_context=mp.get_context("fork")) as pool:
                    done = list(track(pool.map(_verify_chunk, chunks), "verify", len(chunks)))
        return _verified(done, sentences, min(workers, len(chunks)) if parallel else 1)
    finally:
        _VERIFY_STATE = _VERIFY_LABEL = None


def scan(documents: Iterable[Document], **options) -> ScanResult:
    """Convenience: `scan(docs, threshold=0.5, clusters=True)`."""
    return Scanner(ScanConfig(**options)).scan(documents)
