"""Sentence rows hashed once into a temporary file: read back bit for bit as the vectorizer
made them, in any order and from forked processes, and a missing folder is a clear error.

A row is compared with the one `SentenceVectorizer.transform` gives for the chunk of texts it
was stored with: on small batches (numpy path) the order of a row's entries depends on the
batch, so exact equality is asked of the same batches."""
from __future__ import annotations

import multiprocessing as mp
import pickle

import numpy as np
import pytest

import dedup.rowstore as rowstore
from dedup.rowstore import RowStore, RowStoreError
from dedup.verify import SentenceVectorizer

SENTENCES = [
    "The ministry said 11,000 people were evacuated on Tuesday.",
    "",  # a sentence with no n-grams: a row without entries
    "Ünïcode — “quotes”, 東京 and an emoji 🙂.",
    "Officials said roughly 600 homes were damaged.",
    "x",
    "Rescue teams worked through the night, the agency said in a statement.",
]


def _texts(n: int) -> list[str]:
    rng = np.random.default_rng(7)
    return [f"{SENTENCES[k % len(SENTENCES)]} {' '.join(map(str, rng.integers(0, 50, k % 7)))}".strip()
            if k % 11 and not 14 <= k < 21 else "" for k in range(n)]  # with chunk 7, chunk 2 is empty


def _fitted(texts: list[str]) -> SentenceVectorizer:
    return SentenceVectorizer(n_features=2**12).fit(texts)


def _as_stored(vectorizer: SentenceVectorizer, texts: list[str], chunk: int):
    """The rows as the store's workers make them: one `transform` call per chunk of texts."""
    import scipy.sparse as sp

    return sp.vstack([vectorizer.transform(texts[k:k + chunk]) for k in range(0, len(texts), chunk)], format="csr")


def _same(a, b) -> bool:
    a, b = a.tocsr(), b.tocsr()
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data) and a.data.dtype == b.data.dtype == np.float32)


@pytest.mark.parametrize("jobs", [1, 2])
def test_rows_read_back_as_the_vectorizer_makes_them(monkeypatch, jobs):
    monkeypatch.setattr(rowstore, "STORE_CHUNK", 7)  # many chunks, written in any order
    texts = _texts(60)
    vectorizer = _fitted(texts)
    store = RowStore(vectorizer, iter(texts), len(texts), jobs)
    assert len(store) == len(texts) and store.bytes_written == 4 * int(store.entries.sum())
    expected = _as_stored(vectorizer, texts, 7)
    rng = np.random.default_rng(0)
    for numbers in (np.arange(len(texts)), rng.integers(0, len(texts), 45), np.array([59, 3, 3, 0, 58, 1])):
        matrix, row_of = store.rows(numbers)
        assert _same(matrix, expected[np.unique(numbers)])
        assert _same(matrix[row_of], expected[numbers])
    store.close().join()  # closed on a thread (freeing a large file's pages takes a while)
    assert store._file.closed


_STORE: RowStore | None = None


def _read_in_child(numbers: list[int]) -> bytes:
    matrix, row_of = _STORE.rows(np.array(numbers))
    return pickle.dumps(matrix[row_of])


def test_forked_processes_read_the_inherited_store():
    global _STORE
    texts = _texts(30)
    vectorizer = _fitted(texts)
    _STORE = RowStore(vectorizer, texts, len(texts), 1)
    try:
        with mp.get_context("fork").Pool(2) as pool:
            read = [pickle.loads(m) for m in pool.map(_read_in_child, [[1, 2, 3], [29, 0, 29]])]
        expected = _as_stored(vectorizer, texts, rowstore.STORE_CHUNK)
        assert _same(read[0], expected[[1, 2, 3]])
        assert _same(read[1], expected[[29, 0, 29]])
    finally:
        _STORE.close()
        _STORE = None
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(RowStore(vectorizer, texts[:2], 2))


def test_a_missing_temporary_folder_is_a_clear_error(tmp_path):
    texts = _texts(5)
    missing = tmp_path / "no-such-folder"
    with pytest.raises(RowStoreError, match="no-such-folder.*TMPDIR"):
        RowStore(_fitted(texts), texts, len(texts), 1, directory=str(missing))


def test_a_folder_without_room_is_refused_before_writing(monkeypatch, tmp_path):
    from collections import namedtuple

    texts = _texts(5)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(rowstore.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(RowStoreError, match=r"needs about .* GB, 0\.0 GB free.*TMPDIR"):
        RowStore(_fitted(texts), texts, len(texts), 1, directory=str(tmp_path), chars=10**6)
