"""Cleaned texts held on disk during a large scan, read back a batch or a document at a time.

After cleaning, a scan reads the texts once in batches (fingerprint) and then a document's
text only when one of its pairs is verified or labelled. At a million news articles the
texts are about 1.3 GB of Python strings; written once to an unlinked temporary file
they cost 8 bytes a document (an offset), and each read is one `os.pread` (a few
microseconds, served from the OS page cache while memory allows). `pread` takes no file
position, so forked verify workers share the inherited descriptor safely.

The file is created already unlinked where the OS allows (`tempfile.TemporaryFile`), so a
killed scan leaves nothing behind; `TMPDIR` chooses its directory.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np

__all__ = ["SpillError", "TextStore", "TextsById", "char_lengths", "spill_texts"]

# Bytes buffered before each write while the texts go to disk. A million news texts (1.3 GB)
# took 2.1-2.5 s to store in 16 MB writes and 0.8 s in 1 MB ones (the kernel's large-write path
# on this machine; see also `rowstore.WRITE_PIECE`), with one core idle.
WRITE_CHUNK = 1 << 20


class TextStore(Sequence[str]):
    """A read-only sequence of texts kept in a temporary file, not in memory."""

    def __init__(self, texts: Iterable[str], directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="dedup-texts-", dir=directory)
        lengths: list[int] = []
        chars: list[int] = []
        pending: list[bytes] = []
        pending_bytes = 0
        for text in texts:
            data = text.encode("utf-8", "surrogatepass")
            lengths.append(len(data))
            chars.append(len(text))
            pending.append(data)
            pending_bytes += len(data)
            if pending_bytes >= WRITE_CHUNK:
                self._file.write(b"".join(pending))
                pending, pending_bytes = [], 0
        self._file.write(b"".join(pending))
        self._file.flush()
        self._offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._offsets[1:])
        self._chars = np.asarray(chars, dtype=np.int64)
        self._fd = self._file.fileno()
        self._held: dict[int, str] = {}  # texts read once for a while (`held`)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            start, stop, step = k.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._range(start, max(start, stop))
        if self._held:
            text = self._held.get(k)
            if text is not None:
                return text
        k = int(k)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError("TextStore index out of range")
        start, end = int(self._offsets[k]), int(self._offsets[k + 1])
        return os.pread(self._fd, end - start, start).decode("utf-8", "surrogatepass") if end > start else ""

    @contextmanager
    def held(self, indices: Iterable[int]) -> Iterator[None]:
        """Texts `indices` read once and served from memory inside the block. A verify block
        reads a document's text in every pair it is in, to split, label and compare it: on
        corpus-1m the reads (a pread and a decode each) were 4% of a block's time."""
        self._held = {k: self[k] for k in indices}
        try:
            yield
        finally:
            self._held = {}

    def _range(self, start: int, stop: int) -> list[str]:
        """Texts start..stop-1 with one read (the fingerprint stage takes batches of them)."""
        base = int(self._offsets[start])
        raw = os.pread(self._fd, int(self._offsets[stop]) - base, base)
        bounds = (self._offsets[start:stop + 1] - base).tolist()
        return [raw[lo:hi].decode("utf-8", "surrogatepass") for lo, hi in zip(bounds[:-1], bounds[1:])]

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), 1024):
            yield from self._range(start, min(len(self), start + 1024))

    def char_lengths(self) -> np.ndarray:
        """len() of every text, without reading them back."""
        return self._chars

    def __reduce__(self):
        # A descriptor means nothing in another process unless inherited by fork.
        raise TypeError("a TextStore cannot be pickled; forked workers inherit it")


class TextsById(Mapping[str, str]):
    """id -> text over a sequence of texts in document order (no per-document copy)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self._index = {doc_id: k for k, doc_id in enumerate(ids)}
        self._texts = texts

    def __getitem__(self, doc_id: str) -> str:
        return self._texts[self._index[doc_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def char_lengths(texts: Sequence[str]) -> np.ndarray:
    """len() of every text as int64; a `TextStore` answers without reading its texts back."""
    if isinstance(texts, TextStore):
        return texts.char_lengths()
    return np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))


def text_bytes(texts: Sequence[str]) -> int:
    """Characters in `texts`: what they hold in memory as (mostly one-byte) Python strings."""
    return int(char_lengths(texts).sum())


class SpillError(RuntimeError):
    """The temporary text file could not be written (a full or read-only temporary folder)."""


def spill_texts(texts: Sequence[str], limit_mb: float | None, directory: str | None = None) -> Sequence[str]:
    """`texts` as a `TextStore` when they exceed `limit_mb` megabytes, else unchanged
    (None: never). The caller drops its own list so that the strings are freed."""
    if limit_mb is None or isinstance(texts, TextStore) or text_bytes(texts) <= limit_mb * 2**20:
        return texts
    try:
        return TextStore(texts, directory)
    except OSError as error:
        where = directory or tempfile.gettempdir()
        raise SpillError(f"cannot keep the cleaned texts ({text_bytes(texts) / 2**20:,.0f} MB) in a temporary "
                         f"file in {where}: {error.strerror or error}; set TMPDIR to a folder with room, "
                         f"or keep them in memory (--spill-texts-mb -1)") from error
