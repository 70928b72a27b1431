"""The peers `dedup` is measured against, each used the way its documentation shows.

Every peer gets the same input and the same shingles: the text lower-cased, tokenised with `\\w+`, word
5-grams joined by a space. Each returns its LSH candidate pairs (what a user of that library gets back as
"near-duplicates") and the seconds spent per stage. Peak memory is measured by the caller, one peer per
process (see run.py), because RSS only ever grows within a process.

- datasketch: `MinHash.update` once per shingle (bytes), `MinHashLSH(threshold, num_perm)`, insert every
  document then query every document. The ordinary way, as in the datasketch README.
- datasketch_bulk: `MinHash.bulk` (one shared permutation set, `update_batch` per document) and an
  LSH `insertion_session`, then one query per document (datasketch has no batch query).
- rensa: `RMinHash.from_token_sets` (Rust, full-set R-MinHash) and `RMinHashLSH.insert_many` +
  `query_all`.
All three use the same banding: rensa needs `num_perm` divisible by the band count, so the bands are
datasketch's own optimum restricted to exact divisors (`lsh_bands`), passed to datasketch as `params`.
"""
from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WORD_RE = re.compile(r"\w+")
SHINGLE = 5
BATCH = 10_000  # documents held at once: bounds the peers' text memory on 1M-document corpora


@dataclass
class ToolRun:
    """What one tool produced on one corpus (or its first `n_docs` documents)."""

    tool: str
    n_docs: int
    pairs: np.ndarray  # (k, 2) int64 document positions, a < b, unique
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    notes: list[str] = field(default_factory=list)


class StageClock:
    """Accumulates wall seconds per stage across batches."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def timed(self, stage: str, iterable: Iterable) -> Iterator:
        """Yield from `iterable`, charging the time spent producing each item to `stage`."""
        iterator = iter(iterable)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - started)
                return
            self.add(stage, time.perf_counter() - started)
            yield item

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def read_texts(path: Path, limit: int | None = None, batch: int = BATCH) -> Iterator[list[str]]:
    """The `text` of the first `limit` JSONL records, in batches (the peers' ingest stage)."""
    texts: list[str] = []
    seen = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and seen >= limit:
                break
            texts.append(json.loads(line)["text"])
            seen += 1
            if len(texts) == batch:
                yield texts
                texts = []
    if texts:
        yield texts


def shingles(text: str) -> list[str]:
    """Word 5-grams of the lower-cased `\\w+` tokens (one shingle of all words if there are fewer than 5)."""
    words = WORD_RE.findall(text.lower())
    if len(words) < SHINGLE:
        return [" ".join(words)]
    return list(map(" ".join, zip(*(words[i:] for i in range(SHINGLE)))))


def unique_pairs(neighbours: Iterable[tuple[int, Iterable[int]]]) -> np.ndarray:
    """(key, candidate keys) lists -> unique (a, b) pairs with a < b, self-matches dropped."""
    rows, cols = [], []
    for key, found in neighbours:
        found = np.fromiter(found, dtype=np.int64)
        found = found[found != key]
        rows.append(np.full(len(found), key, dtype=np.int64))
        cols.append(found)
    if not rows:
        return np.empty((0, 2), dtype=np.int64)
    a, b = np.concatenate(rows), np.concatenate(cols)
    pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def run_datasketch(batches: Iterable[list[str]], threshold: float, num_perm: int) -> ToolRun:
    """datasketch the ordinary way: one `MinHash.update` per shingle, `MinHashLSH` insert then query."""
    from datasketch import MinHash, MinHashLSH

    clock = StageClock()
    signatures = []
    for texts in clock.timed("ingest", batches):
        started = time.perf_counter()
        for text in texts:
            minhash = MinHash(num_perm=num_perm)
            for shingle in shingles(text):
                minhash.update(shingle.encode("utf-8"))
            signatures.append(minhash)
        clock.add("fingerprint", time.perf_counter() - started)
    bands = lsh_bands(threshold, num_perm)
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=(bands, num_perm // bands))
    for key, minhash in enumerate(signatures):
        lsh.insert(key, minhash)
    pairs = unique_pairs((key, lsh.query(minhash)) for key, minhash in enumerate(signatures))
    clock.add("candidates", time.perf_counter() - started)
    return ToolRun("datasketch", len(signatures), pairs, clock.seconds)


def run_datasketch_bulk(batches: Iterable[list[str]], threshold: float, num_perm: int) -> ToolRun:
    """datasketch's batch API: `MinHash.bulk` and an LSH insertion session."""
    from datasketch import MinHash, MinHashLSH

    clock = StageClock()
    signatures = []
    for texts in clock.timed("ingest", batches):
        started = time.perf_counter()
        signatures.extend(MinHash.bulk(([s.encode("utf-8") for s in shingles(t)] for t in texts), num_perm=num_perm))
        clock.add("fingerprint", time.perf_counter() - started)
    bands = lsh_bands(threshold, num_perm)
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=(bands, num_perm // bands))
    with lsh.insertion_session() as session:
        for key, minhash in enumerate(signatures):
            session.insert(key, minhash)
    pairs = unique_pairs((key, lsh.query(minhash)) for key, minhash in enumerate(signatures))
    clock.add("candidates", time.perf_counter() - started)
    return ToolRun("datasketch_bulk", len(signatures), pairs, clock.seconds)


@functools.cache
def lsh_bands(threshold: float, num_perm: int) -> int:
    """datasketch's band optimum (equal false-positive / false-negative weights) over exact divisors of num_perm."""
    from datasketch.lsh import _false_negative_probability, _false_positive_probability

    def error(bands: int) -> float:
        rows = num_perm // bands
        return (_false_positive_probability(threshold, bands, rows)
                + _false_negative_probability(threshold, bands, rows))

    return min((b for b in range(1, num_perm + 1) if num_perm % b == 0), key=error)


def run_rensa(batches: Iterable[list[str]], threshold: float, num_perm: int, seed: int = 42) -> ToolRun:
    """rensa: `RMinHash.from_token_sets` per batch, `RMinHashLSH.insert_many` then `query_all`."""
    from rensa import RMinHash, RMinHashLSH

    clock = StageClock()
    signatures = []
    for texts in clock.timed("ingest", batches):
        started = time.perf_counter()
        signatures.extend(RMinHash.from_token_sets([shingles(t) for t in texts], num_perm=num_perm, seed=seed))
        clock.add("fingerprint", time.perf_counter() - started)
    bands = lsh_bands(threshold, num_perm)
    started = time.perf_counter()
    lsh = RMinHashLSH(threshold, num_perm, bands)
    lsh.insert_many(signatures, start_key=0)
    pairs = unique_pairs(enumerate(lsh.query_all(signatures)))
    clock.add("candidates", time.perf_counter() - started)
    return ToolRun("rensa", len(signatures), pairs, clock.seconds,
                   [f"RMinHashLSH with {bands} bands x {num_perm // bands} rows"])


def run_shingles_only(batches: Iterable[list[str]], threshold: float, num_perm: int) -> ToolRun:
    """Floor, not a peer: tokenise and shingle, nothing else (what any pure-Python tokeniser pays)."""
    clock = StageClock()
    n_docs = 0
    for texts in clock.timed("ingest", batches):
        started = time.perf_counter()
        for text in texts:
            shingles(text)
        n_docs += len(texts)
        clock.add("fingerprint", time.perf_counter() - started)
    return ToolRun("shingles_only", n_docs, np.empty((0, 2), dtype=np.int64), clock.seconds)


PEERS: dict[str, Callable[[Iterable[list[str]], float, int], ToolRun]] = {
    "datasketch": run_datasketch,
    "datasketch_bulk": run_datasketch_bulk,
    "rensa": run_rensa,
    "shingles_only": run_shingles_only,
}


if __name__ == "__main__":
    # Quick look: python benchmarks/peers.py rensa CORPUS.jsonl [LIMIT]
    name, corpus = sys.argv[1], Path(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    run = PEERS[name](read_texts(corpus, limit), 0.5, 128)
    print(json.dumps({"tool": run.tool, "docs": run.n_docs, "pairs": len(run.pairs), "stages": run.stages}))
