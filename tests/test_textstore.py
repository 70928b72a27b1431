"""Cleaned texts spilled to a temporary file during verify: read back unchanged, in forked
workers too, and a scan that spills reports exactly what one in memory does."""
from __future__ import annotations

import multiprocessing as mp
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import dedup.pipeline as pipeline
import dedup.textstore as textstore
from dedup.document import Document
from dedup.textstore import SpillError, TextsById, TextSink, TextStore, encode_texts

TEXTS = ["Plain ASCII news.", "", "Ünïcode — “quotes”, 東京 and an emoji 🙂", "lone \udcff surrogate", "x" * 5000]


def test_texts_read_back_unchanged():
    store = TextStore(TEXTS)
    assert len(store) == len(TEXTS)
    assert list(store) == TEXTS
    assert store[-1] == TEXTS[-1] and store[1:3] == TEXTS[1:3]
    with pytest.raises(IndexError):
        store[len(TEXTS)]


def test_writes_in_chunks(monkeypatch):
    monkeypatch.setattr(textstore, "WRITE_CHUNK", 7)
    texts = [f"document {k} " * (k % 4) for k in range(200)]
    assert list(TextStore(texts)) == texts


def test_held_texts_are_read_once_and_served_from_memory(monkeypatch):
    store = TextStore(TEXTS)
    reads = []
    real_pread = textstore.os.pread
    monkeypatch.setattr(textstore.os, "pread", lambda *args: reads.append(args) or real_pread(*args))
    with store.held([0, 2, 4]):
        assert len(reads) == 3  # one read per held text that is not empty
        assert [store[k] for k in (0, 2, 4, 0, 2, 4)] == [TEXTS[0], TEXTS[2], TEXTS[4]] * 2
        assert len(reads) == 3
        assert store[3] == TEXTS[3] and len(reads) == 4  # not held: read from the file
    assert store[0] == TEXTS[0] and len(reads) == 5  # after the block, from the file again


def _read(args):
    store, k = _STORE, args
    return store[k]


_STORE: TextStore | None = None


def test_forked_workers_read_the_inherited_store():
    global _STORE
    _STORE = TextStore(TEXTS * 20)
    try:
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
            assert list(pool.map(_read, range(len(_STORE)))) == TEXTS * 20
    finally:
        _STORE = None


def test_a_store_is_not_pickled():
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(TextStore(TEXTS))


def test_a_sink_that_cannot_write_says_where_and_what_to_do(tmp_path):
    sink = TextSink(0, directory=str(tmp_path / "missing"))
    with pytest.raises(SpillError, match=r"\(0 MB\) in a temporary file in .*missing: .*set TMPDIR.*--spill-texts-mb -1"):
        sink.add(encode_texts(TEXTS))


def test_texts_by_id():
    mapping = TextsById(["a", "b", "c"], TEXTS[:3])
    assert dict(mapping) == {"a": TEXTS[0], "b": TEXTS[1], "c": TEXTS[2]}
    with pytest.raises(KeyError):
        mapping["z"]


def test_a_scan_that_spills_reports_the_same(monkeypatch):
    from test_pipeline import _corpus, _summary

    docs = _corpus()
    in_memory = pipeline.Scanner(pipeline.ScanConfig(jobs=2, related=True, spill_texts_mb=None)).scan(docs)
    kept = []
    real_texts = pipeline.TextSink.texts
    monkeypatch.setattr(pipeline.TextSink, "texts", lambda sink: kept.append(real_texts(sink)) or kept[-1])
    spilled = pipeline.Scanner(pipeline.ScanConfig(jobs=2, related=True, spill_texts_mb=0)).scan(docs)
    assert isinstance(kept[0], TextStore)
    assert _summary(spilled) == _summary(in_memory) and any(p.relation == "rewrite" for p in spilled.pairs)
    assert dict(spilled.cleaned) == dict(in_memory.cleaned)
    diff, text_a, _ = spilled.pair_diff(spilled.pairs[0])
    assert text_a == in_memory.cleaned[spilled.pairs[0].a] and diff is not None


def test_boilerplate_is_dropped_from_spilled_texts_too(monkeypatch):
    """The scan learns a source's menu line after its texts are on disk: the few texts that
    hold it are rewritten in the store, and read back as a scan in memory cleans them."""
    from test_clean import make_corpus

    menu = "Home | World | Business | Sport | Weather | Sign in to your account"
    texts = [f"{menu}\n\n{text}" if k % 3 else text for k, text in enumerate(make_corpus(60))]
    docs = [Document(f"d{k:02d}", text, source="paper") for k, text in enumerate(texts)]
    monkeypatch.setattr(pipeline, "CLEAN_CHUNK", 7)  # several chunks, the store started mid-way
    results = {}
    for limit in (None, 0.004):  # 0.004 MB: the first chunk or two stay in memory, then the store
        results[limit] = pipeline.Scanner(pipeline.ScanConfig(jobs=2, spill_texts_mb=limit)).scan(docs)
    assert isinstance(results[0.004].cleaned._texts, TextStore)
    assert dict(results[0.004].cleaned) == dict(results[None].cleaned)
    cleaned = list(results[0.004].cleaned._texts)
    assert cleaned == [text.replace(f"{menu}\n\n", "") for text in texts]
    assert results[0.004].cleaned._texts.char_lengths().tolist() == [len(text) for text in cleaned]


def test_a_sink_keeps_texts_in_memory_under_its_limit_and_on_disk_past_it():
    chunks = [TEXTS[:2], TEXTS[2:4], TEXTS[4:]]
    for limit, on_disk in ((None, False), (1.0, False), (50 / 2**20, True), (0, True)):
        sink = TextSink(limit)
        for chunk in chunks:
            sink.add(encode_texts(chunk))
        texts = sink.texts()
        assert isinstance(texts, TextStore) == on_disk and list(texts) == TEXTS
        sink.replace([(0, "Replaced, and longer than before."), (3, "")])
        assert list(sink.texts()) == ["Replaced, and longer than before.", *TEXTS[1:3], "", TEXTS[4]]


def test_replaced_texts_read_back_alone_in_slices_and_held():
    texts = [f"text {k} " * (k % 5) for k in range(3000)]
    store = TextStore(texts)
    for k in (0, 5, 1023, 1024, 2999):
        texts[k] = f"replaced {k} ünï"
        store[k] = texts[k]
    assert store[5] == texts[5] and store[-1] == texts[-1]
    assert list(store) == texts and store[1000:1030] == texts[1000:1030]
    assert store.char_lengths().tolist() == [len(t) for t in texts]
    with store.held([5, 6]):
        assert store[5] == texts[5]


def test_slices_and_lengths_without_reading_one_by_one():
    texts = TEXTS * 3
    store = TextStore(texts)
    assert store[2:9] == texts[2:9] and store[5:2] == [] and store[::4] == texts[::4]
    assert store.char_lengths().tolist() == [len(t) for t in texts]
    assert textstore.char_lengths(texts).tolist() == store.char_lengths().tolist()


def test_fingerprints_of_a_store_equal_those_of_the_list():
    import numpy as np

    from dedup.fingerprint import Fingerprinter, scan_fingerprints
    from test_pipeline import _corpus

    texts = [d.text for d in _corpus()] * 3
    store = TextStore(texts)
    results = []
    for source in (texts, store):
        copy = Fingerprinter("copy", batch_bytes=4096)  # several batches, on the pool
        results.append(scan_fingerprints(source, copy, Fingerprinter("rewrite"), jobs=2, compact=True))
    assert len(copy._batches(store)) > 2
    for from_list, from_store in zip(*results):
        assert np.array_equal(from_list, from_store)
