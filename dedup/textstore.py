"""Cleaned texts held on disk during a large scan, read back a batch or a document at a time.

After cleaning, a scan reads the texts once in batches (fingerprint) and then a document's
text only when one of its pairs is verified or labelled. At a million news articles the
texts are about 1.3 GB of Python strings; written to an unlinked temporary file (a chunk
at a time as the cleaning workers send them, already encoded: `TextSink`) they cost 8
bytes a document (an offset), and each read is one `os.pread` (a few
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
from dataclasses import dataclass

import numpy as np

__all__ = ["EncodedTexts", "SpillError", "TextSink", "TextStore", "TextsById", "char_lengths", "encode_texts", "pwrite_all"]

# Bytes written per call to a temporary file (this one's texts, and the row store's rows). A
# million news texts (1.3 GB) took 2.1-2.5 s to store in 16 MB writes and 0.8 s in 1 MB ones (the
# kernel's large-write path on this machine), with one core idle; the row store's ~30 MB chunks
# took 1.6-2.3 s whole against 0.6-0.9 s in 1 MB pieces, when its writes were 13% of its CPU in a
# py-spy of corpus-1m.
WRITE_CHUNK = 1 << 20


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """os.pwrite until every byte of `data` is written at `offset`, at most WRITE_CHUNK bytes a call."""
    while len(data):
        written = os.pwrite(fd, data[:WRITE_CHUNK], offset)
        data, offset = data[written:], offset + written


class TextStore(Sequence[str]):
    """A sequence of texts kept in a temporary file, not in memory: appended a chunk at a time
    (`extend`), read back by index or slice, and replaced one by one (`store[k] = text`)."""

    def __init__(self, texts: Iterable[str] = (), directory: str | None = None) -> None:
        self._file = tempfile.TemporaryFile(prefix="dedup-texts-", dir=directory)
        self._fd = self._file.fileno()
        self._end = 0  # bytes written so far
        self._byte_parts: list[np.ndarray] = []  # lengths of texts appended since the last read
        self._char_parts: list[np.ndarray] = []
        self._offsets = np.zeros(1, dtype=np.int64)
        self._chars = np.zeros(0, dtype=np.int64)
        self._moved: dict[int, tuple[int, int]] = {}  # replaced texts: index -> (start, end) in the file
        self._moved_order: np.ndarray | None = None  # the keys of _moved, sorted (made when a batch is read)
        self._held: dict[int, str] = {}  # texts read once for a while (`held`)
        pending: list[str] = []
        for text in texts:
            pending.append(text)
            if len(pending) == 1024:
                self.extend(encode_texts(pending))
                pending = []
        self.extend(encode_texts(pending))

    def extend(self, encoded: "EncodedTexts") -> None:
        """Append texts already encoded (a cleaning worker's chunk): one write, no decoding."""
        self._append(encoded.blob)
        self._byte_parts.append(encoded.byte_lengths)
        self._char_parts.append(encoded.char_lengths)

    def __setitem__(self, k: int, text: str) -> None:
        """Text k becomes `text` (a scan drops boilerplate lines from a few texts after they are
        stored): written at the end of the file, and read from there from now on."""
        k = int(k)
        if not 0 <= k < len(self):
            raise IndexError("TextStore index out of range")
        self._moved[k] = (self._end, self._append(text.encode("utf-8", "surrogatepass")))
        self._moved_order = None
        self._chars[k] = len(text)
        self._held.pop(k, None)

    def _append(self, data: bytes) -> int:
        """Write `data` at the end of the file; -> the new end."""
        pwrite_all(self._fd, memoryview(data), self._end)
        self._end += len(data)
        return self._end

    def _seal(self) -> None:
        """Fold the lengths appended since the last read into the offsets and lengths."""
        if not self._byte_parts:
            return
        lengths = np.concatenate(self._byte_parts)
        offsets = np.empty(len(self._offsets) + len(lengths), dtype=np.int64)
        offsets[:len(self._offsets)] = self._offsets
        np.cumsum(lengths, out=offsets[len(self._offsets):])
        offsets[len(self._offsets):] += self._offsets[-1]
        self._offsets = offsets
        self._chars = np.concatenate([self._chars, *self._char_parts])
        self._byte_parts, self._char_parts = [], []

    def __len__(self) -> int:
        self._seal()
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
        start, end = self._moved.get(k) or (int(self._offsets[k]), int(self._offsets[k + 1]))
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
        self._seal()
        base = int(self._offsets[start])
        raw = os.pread(self._fd, int(self._offsets[stop]) - base, base)
        bounds = (self._offsets[start:stop + 1] - base).tolist()
        texts = [raw[lo:hi].decode("utf-8", "surrogatepass") for lo, hi in zip(bounds[:-1], bounds[1:])]
        if self._moved:
            if self._moved_order is None:
                self._moved_order = np.sort(np.fromiter(self._moved, dtype=np.int64, count=len(self._moved)))
            order = self._moved_order
            for k in order[np.searchsorted(order, start):np.searchsorted(order, stop)].tolist():
                texts[k - start] = self[k]
        return texts

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), 1024):
            yield from self._range(start, min(len(self), start + 1024))

    def char_lengths(self) -> np.ndarray:
        """len() of every text, without reading them back."""
        self._seal()
        return self._chars

    def __reduce__(self):
        # A descriptor means nothing in another process unless inherited by fork.
        raise TypeError("a TextStore cannot be pickled; forked workers inherit it")


@dataclass(frozen=True)
class EncodedTexts:
    """Texts as one UTF-8 buffer and their lengths: what a cleaning worker sends back, so that
    the scan can write a chunk to its `TextStore` as it arrives, without decoding it (a pickled
    bytes object is a copy; a pickled list of strings is a string made per text)."""

    blob: bytes
    byte_lengths: np.ndarray  # int64, per text
    char_lengths: np.ndarray  # int64, per text: len() of each text

    def decode(self) -> list[str]:
        """The texts again."""
        ends = np.cumsum(self.char_lengths).tolist()
        whole = self.blob.decode("utf-8", "surrogatepass")
        return [whole[lo:hi] for lo, hi in zip([0, *ends[:-1]], ends)]


def encode_texts(texts: Sequence[str]) -> EncodedTexts:
    """`texts` as an `EncodedTexts` (lone surrogates, which JSON escapes can make, kept)."""
    data = [text.encode("utf-8", "surrogatepass") for text in texts]
    return EncodedTexts(b"".join(data), np.fromiter(map(len, data), dtype=np.int64, count=len(data)),
                        np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))


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


class SpillError(RuntimeError):
    """The temporary text file could not be written (a full or read-only temporary folder)."""


class TextSink:
    """A scan's cleaned texts, taken chunk by chunk as the cleaning workers send them: held in
    memory while they are at most `limit_mb` megabytes (None: no limit), then in a `TextStore`
    that each later chunk is written to as it arrives. Spilled at the end of cleaning instead,
    corpus-1m's 1.3 GB took 3.1-3.7 s with one core idle (the first touch of that much page
    cache on this virtual machine), where the cleaning workers now hide it."""

    def __init__(self, limit_mb: float | None, directory: str | None = None) -> None:
        self.limit_chars = None if limit_mb is None else limit_mb * 2**20
        self.directory = directory
        self._chunks: list[EncodedTexts] = []
        self._chars = 0
        self._store: TextStore | None = None
        self._texts: list[str] = []  # the texts decoded, when they stay in memory

    def add(self, encoded: EncodedTexts) -> None:
        """Take the next chunk of texts."""
        self._chars += int(encoded.char_lengths.sum())
        try:
            if self._store is None and self.limit_chars is not None and self._chars > self.limit_chars:
                self._store = TextStore((), self.directory)
                for chunk in self._chunks:
                    self._store.extend(chunk)
                self._chunks = []
            if self._store is not None:
                self._store.extend(encoded)
            else:
                self._chunks.append(encoded)
        except OSError as error:
            raise _spill_error(self._chars, self.directory, error) from error

    def texts(self) -> list[str] | TextStore:
        """Every text taken, in order: a `TextStore` past the limit, else a list."""
        if self._store is None and self._chunks:
            self._texts += [text for chunk in self._chunks for text in chunk.decode()]
            self._chunks = []
        return self._store if self._store is not None else self._texts

    def replace(self, edits: Iterable[tuple[int, str]]) -> None:
        """texts()[i] = text for each (i, text) of `edits` (which may read the texts as it goes)."""
        texts = self.texts()
        try:
            for i, text in edits:
                texts[i] = text
        except OSError as error:
            raise _spill_error(self._chars, self.directory, error) from error


def _spill_error(chars: int, directory: str | None, error: OSError) -> SpillError:
    where = directory or tempfile.gettempdir()
    return SpillError(f"cannot keep the cleaned texts ({chars / 2**20:,.0f} MB) in a temporary file in {where}: "
                      f"{error.strerror or error}; set TMPDIR to a folder with room, or keep them in memory "
                      f"(--spill-texts-mb -1)")
