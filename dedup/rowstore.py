"""Sentence TF-IDF rows hashed once per scan, kept in a temporary file, read back per verify block.

A large scan verifies its pairs in blocks whose sentence rows fit in memory (~2.4 KB a
sentence). A document whose pairs fall in several blocks had its sentences hashed again in
each: corpus-1m hashed 7.04M sentences over 47 blocks for 3.59M distinct texts, and hashing
was 38% of a block's time. A `RowStore` hashes each distinct text once, on forked workers
that append the rows they make to one unlinked temporary file (a shared counter hands out
the offsets, so no worker waits for another's order); a block then reads the rows it needs
with a few `os.pread`s, served from the OS page cache while memory allows. Rows are the same
float32 values either way: a row depends on its text alone.

The file holds each row's n-gram counts (`ngram_hash.pack_counts`: 4 bytes an entry), not its
TF-IDF values (8 bytes: an int32 column and a float32), and the values are made again as rows
are read (`SentenceVectorizer.from_packed`, one compiled pass). On corpus-1m the rows were
~9 GB of page cache, and fresh memory is dear on a virtual machine whose host takes back the
guest's free pages: the row store's workers spent 114 of their 177 CPU-seconds in the kernel.

The file is created already unlinked (`tempfile.TemporaryFile`), so a killed scan leaves
nothing behind; `TMPDIR` chooses its directory.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from dedup.ngram_hash import packed_ngram_counts
from dedup.textstore import pwrite_all
from dedup.workers import start_worker

__all__ = ["RowStore", "RowStoreError"]

# Texts hashed per worker task (one `SentenceVectorizer.counts` chunk).
STORE_CHUNK = 20_000
# A stored entry is a packed column and count (uint32). Sentences of corpus-100k have 2.16
# word and char n-gram entries per character: the size check allows 2.5.
BYTES_PER_ENTRY = 4
ENTRIES_PER_CHAR = 2.5


class RowStoreError(RuntimeError):
    """The temporary row file could not be written (a full or read-only temporary folder)."""


# State inherited by the forked hashing workers: (file descriptor, offset counter, vectorizer).
_WRITER: tuple | None = None


def _hash_and_append(job: tuple[int, list[str]]) -> tuple[int, int, np.ndarray]:
    """Worker side: the n-gram counts of a chunk of texts, appended to the file packed
    (`pack_counts`) -> (chunk number, byte offset, stored entries per row)."""
    k, texts = job
    fd, counter, vectorizer = _WRITER
    packed, entries = packed_ngram_counts(texts, vectorizer.n_features)
    with counter.get_lock():
        offset = counter.value
        counter.value += packed.nbytes
    pwrite_all(fd, memoryview(packed).cast("B"), offset)  # in 1 MB pieces: see `textstore.WRITE_CHUNK`
    return k, offset, entries


class RowStore:
    """TF-IDF rows of `n_rows` texts (row k is texts[k]), written once, read back by row number.

    `texts` is consumed in order, STORE_CHUNK at a time, by `jobs` forked workers (the caller
    freezes its heap around the fork, as verify does for its own workers). `rows(numbers)`
    works in any process forked after construction: reads use `os.pread`, which takes no file
    position, so processes share the inherited descriptor safely.
    """

    def __init__(self, vectorizer, texts: Iterable[str], n_rows: int, jobs: int = 1,
                 directory: str | None = None, track: Callable | None = None, chars: int | None = None) -> None:
        global _WRITER
        self._vectorizer = vectorizer  # weighs the stored counts as rows are read
        if chars is not None:  # the texts' total length: refuse early rather than fill the disk
            needed = int(ENTRIES_PER_CHAR * BYTES_PER_ENTRY * chars)
            free = shutil.disk_usage(directory or tempfile.gettempdir()).free
            if needed > free:
                raise RowStoreError(self._advice(directory, f"needs about {needed / 2**30:.1f} GB, "
                                                            f"{free / 2**30:.1f} GB free"))
        try:
            self._file = tempfile.TemporaryFile(prefix="dedup-rows-", dir=directory)
        except OSError as error:
            raise RowStoreError(self._advice(directory, error)) from error
        self._fd = self._file.fileno()
        self.entries = np.zeros(n_rows, dtype=np.int64)  # a row's stored (packed) entries
        self.offsets = np.zeros(n_rows, dtype=np.int64)  # byte offset of a row's first entry
        n_chunks = -(-n_rows // STORE_CHUNK)
        tasks = _chunked(texts, STORE_CHUNK)
        counter = mp.get_context("fork").Value("q", 0)
        _WRITER = (self._fd, counter, vectorizer)
        try:
            with mp.get_context("fork").Pool(max(1, jobs), initializer=start_worker) as pool:
                done = pool.imap_unordered(_hash_and_append, tasks)
                for k, offset, entries in (track(done, "hash sentences", n_chunks) if track else done):
                    self._place(k, offset, entries)
        except OSError as error:
            self._file.close()
            raise RowStoreError(self._advice(directory, error)) from error
        finally:
            _WRITER = None
        self.bytes_written = int(counter.value)

    def _place(self, k: int, offset: int, entries: np.ndarray) -> None:
        """Record where chunk k's rows are: laid end to end from `offset`."""
        begin = k * STORE_CHUNK
        stop = begin + len(entries)
        before = np.zeros(len(entries), dtype=np.int64)
        np.cumsum(entries[:-1], out=before[1:])
        self.entries[begin:stop] = entries
        self.offsets[begin:stop] = offset + 4 * before

    @staticmethod
    def _advice(directory: str | None, error: OSError | str) -> str:
        where = directory or tempfile.gettempdir()
        reason = error if isinstance(error, str) else error.strerror or error
        return (f"cannot keep sentence vectors in a temporary file in {where}: {reason}; "
                f"set TMPDIR to a folder with room")

    def __len__(self) -> int:
        return len(self.entries)

    def rows(self, numbers: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """The rows `numbers` -> (one CSR row per distinct number, in increasing order; the
        matrix row of each requested number), as `_distinct_rows` gives for texts.

        Rows stored one after another (consecutive numbers of one chunk) are read with one
        pread into their place in the matrix, so a block's own rows, stored in the order
        blocks first use them, cost a few reads."""
        distinct, inverse = np.unique(np.asarray(numbers, dtype=np.int64), return_inverse=True)
        entries = self.entries[distinct]
        starts = self.offsets[distinct]
        indptr = np.zeros(len(distinct) + 1, dtype=np.int64)
        np.cumsum(entries, out=indptr[1:])
        packed = np.empty(int(indptr[-1]), dtype=np.uint32)
        new_read = np.ones(len(distinct), dtype=bool)
        new_read[1:] = starts[1:] != starts[:-1] + 4 * entries[:-1]
        first = np.flatnonzero(new_read)
        ends = np.append(first[1:], len(distinct))
        packed_bytes = memoryview(packed).cast("B")
        for lo, hi, offset in zip(first.tolist(), ends.tolist(), starts[first].tolist()):
            begin, end = 4 * int(indptr[lo]), 4 * int(indptr[hi])
            if end > begin:
                self._read_into(packed_bytes[begin:end], offset)
        return self._vectorizer.from_packed(packed, indptr), inverse.ravel()

    def _read_into(self, target: memoryview, offset: int) -> None:
        got = os.preadv(self._fd, [target], offset)
        if got != len(target):
            raise RowStoreError(f"the temporary row file is shorter than written ({got} of {len(target)} bytes)")

    def close(self) -> threading.Thread:
        """Close the file on a thread of its own, returned (join it to wait): the last descriptor
        closing frees the file's page cache, which took the parent 0.5-0.6 s for corpus-1m's
        rows, with the other core idle."""
        closing = threading.Thread(target=self._file.close, name="dedup-row-store-close")
        closing.start()
        return closing

    def __reduce__(self):
        raise TypeError("a RowStore cannot be pickled; forked workers inherit it")


def _chunked(texts: Iterable[str], size: int) -> Iterable[tuple[int, list[str]]]:
    """(chunk number, list of up to `size` texts) over `texts`."""
    chunk: list[str] = []
    k = 0
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield k, chunk
            chunk, k = [], k + 1
    if chunk:
        yield k, chunk
