"""Pipeline mechanics: memory-bounded verify blocks and the document-cosine prefilter."""
from __future__ import annotations

import functools
import gc
import os
from pathlib import Path

import numpy as np
import pytest

import dedup.pipeline as pipeline
from dedup import jit
from dedup.document import Document
from dedup.ingest import read_documents

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def _corpus() -> list[Document]:
    docs, _ = read_documents(SEEDS)
    base = {d.id[:3]: d.text for d in docs}
    extra = [
        Document("copy-000", base["000"]),
        Document("edit-000", base["000"].replace("11,000", "12,000").replace("Roughly 600", "Roughly 700")),
        Document("paste-003", base["003"] + "\n\n" + "\n\n".join(base["000"].split("\n\n")[8:12])),
    ]
    return docs + extra


def _summary(result) -> list[tuple]:
    return [(p.a, p.b, p.relation, round(p.score, 4)) for p in result.pairs]


@pytest.mark.parametrize("jobs, row_store, spill, reuse", [
    (1, "unused", False, False), (2, "used", False, False), (2, "used", False, True), (2, "unwritable", False, False),
    (2, "used", True, False), (2, "unwritable", True, False)])
def test_blocked_verify_gives_the_same_pairs(monkeypatch, jobs, row_store, spill, reuse):
    """Blocks verified one after another in this process (1 job), or each on a forked worker
    (2 jobs) that reads its sentences' rows from the scan's row store, or hashes them itself
    when the temporary folder cannot hold the store: the pairs of the corpus verified whole.
    With the texts spilled to a file, a block worker holds its documents' texts in memory.
    Each block gets a fresh worker, or (`reuse`, a small scan) the workers take block after
    block: the same pairs."""
    from dedup.rowstore import RowStore

    docs = _corpus()
    whole = pipeline.Scanner(pipeline.ScanConfig(jobs=1, related=True)).scan(docs)

    stores = []
    if row_store == "unwritable":  # the temporary folder fills up while the rows are written
        import errno

        import dedup.rowstore as rowstore

        def full(*_):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(rowstore, "pwrite_all", full)
    monkeypatch.setattr(pipeline, "RowStore", lambda *args, **kw: stores.append(RowStore(*args, **kw)) or stores[-1])

    monkeypatch.setattr(pipeline, "BLOCK_SENTENCES", 40)  # a few documents per block
    monkeypatch.setattr(pipeline, "REUSE_BLOCK_WORKERS", 10 ** 9 if reuse else 0)
    forked_blocks, fresh = [], []
    monkeypatch.setattr(pipeline, "_verify_blocks",
                        lambda *args, verify=pipeline._verify_blocks, **kw: forked_blocks.append(args[2])
                        or fresh.append(kw["fresh_workers"]) or verify(*args, **kw))
    verified_here = []  # blocks verified in this process: with fresh workers, a few pairs to load the kernels
    monkeypatch.setattr(pipeline, "_verify_block_pairs", lambda block, verify=pipeline._verify_block_pairs:
                        verified_here.append((block.copy(), jit.MIN_SIZE)) or verify(block))
    scanner = pipeline.Scanner(pipeline.ScanConfig(jobs=jobs, related=True, spill_texts_mb=0 if spill else None))
    fit_idf = scanner._fit_idf

    def fit_without_matrix(vectorizer, texts, pairs, all_sentences=None, folded=None):
        sentences, _ = fit_idf(vectorizer, texts, pairs, all_sentences, folded)  # same IDF, but behave as a corpus
        return sentences, None  # too large to vectorise whole

    monkeypatch.setattr(scanner, "_fit_idf", fit_without_matrix)
    all_pairs = _candidate_pairs(docs)
    blocks = list(scanner._pair_blocks(all_pairs, _sentences(docs), whole=False))
    assert len(blocks) > 1 and sum(len(b) for b in blocks) == len(all_pairs)
    if row_store == "unwritable":
        with pytest.warns(UserWarning, match="No space left.*TMPDIR.*hashes its own sentences"):
            blocked = scanner.scan(docs)
    else:
        blocked = scanner.scan(docs)
    assert _summary(blocked) == _summary(whole)
    assert any(p.relation == "rewrite" for p in blocked.pairs)
    assert (len(forked_blocks[0]) > 1) if jobs > 1 else not forked_blocks
    assert fresh == ([not reuse] if jobs > 1 else [])
    if fresh == [True]:
        assert len(verified_here) == 1 and verified_here[0][1] == 0
        assert np.array_equal(verified_here[0][0], forked_blocks[0][0][:pipeline.WARM_PAIRS])
    else:
        assert not verified_here
    if row_store == "used":  # each distinct sentence of the paired documents hashed once, at most
        sentences = _sentences(docs)
        distinct = {s.text for d in range(len(docs)) for s in sentences[d]}
        assert len(stores) == 1 and 0 < len(stores[0]) <= len(distinct)
    else:
        assert not stores


def test_blocks_follow_the_candidate_graph_so_documents_are_hashed_fewer_times(monkeypatch):
    """A chain of documents numbered at random: in (first, second) order each block holds pairs
    from all over the chain and hashes most documents twice; in `_local_order` a block holds a
    stretch of the chain. Either way every pair is verified once, each first document's pairs
    stay together, and the blocks respect the sentence budget."""

    class OneSentenceEach:
        def __init__(self, n: int) -> None:
            self.n = n

        def __len__(self) -> int:
            return self.n

        def counts(self) -> np.ndarray:
            return np.ones(self.n, dtype=np.int64)

    n = 400
    chain = np.random.default_rng(3).permutation(n)
    links = np.sort(np.column_stack([chain[:-1], chain[1:]]), axis=1)
    star = np.column_stack([np.full(5, chain[0]), chain[-5:]])  # one document with several partners
    pairs = np.unique(np.concatenate([links, np.sort(star, axis=1)]), axis=0)

    ordered = pipeline._local_order(pairs, n)
    assert sorted(map(tuple, ordered.tolist())) == sorted(map(tuple, pairs.tolist()))
    firsts = ordered[:, 0]
    runs = firsts[np.r_[True, firsts[1:] != firsts[:-1]]]
    assert len(runs) == len(np.unique(firsts))  # one run of pairs per first document

    monkeypatch.setattr(pipeline, "BLOCK_SENTENCES", 20)
    scanner = pipeline.Scanner()
    blocks = list(scanner._pair_blocks(pairs, OneSentenceEach(n), whole=False))
    assert sum(len(b) for b in blocks) == len(pairs)
    assert all(len(np.unique(b)) <= 20 for b in blocks)
    hashed = sum(len(np.unique(b)) for b in blocks)
    in_sorted_order = 0
    monkeypatch.setattr(pipeline, "_local_order", lambda p, _: p)
    for block in scanner._pair_blocks(pairs, OneSentenceEach(n), whole=False):
        in_sorted_order += len(np.unique(block))
    assert hashed < 1.2 * n < in_sorted_order


def test_large_corpus_idf_keeps_sentences_of_paired_documents_only():
    from dedup.clean import Cleaner
    from dedup.verify import SentenceVectorizer

    texts = Cleaner().fit_transform([d.text for d in _corpus()])
    vectorizer = SentenceVectorizer(max_fit_sentences=20)  # the corpus counts as too large to hash whole
    pairs = np.array([[0, 1]])
    sentences, matrix = pipeline.Scanner()._fit_idf(vectorizer, texts, pairs)
    assert matrix is None and vectorizer._word_idf.idf_ is not None
    assert sentences.count(0) and sentences.count(1)
    assert all(sentences.is_split(k) and sentences.count(k) == 0 for k in range(2, len(texts)))


def test_large_corpus_idf_is_the_same_whether_the_paired_documents_prove_it_large_or_not():
    """The IDF of a corpus too large to hash whole comes from a seeded sample of all its
    documents, not from its pairs: the same `idf_` when the two paired documents alone hold
    more sentences than the sample may (no probe of the corpus in order) and when they hold
    fewer (the probe splits documents in order until the corpus proves too large)."""
    from dedup.clean import Cleaner
    from dedup.verify import SentenceStore, SentenceVectorizer

    texts = Cleaner().fit_transform([d.text for d in _corpus()])
    counts = SentenceStore(texts).counts()
    by_count = np.argsort(counts, kind="stable")
    largest, smallest = sorted(by_count[-2:].tolist()), sorted(by_count[:2].tolist())
    limit = int(counts[largest].sum()) - 1  # two largest: over it; two smallest and corpus: under / over
    assert counts[smallest].sum() <= limit < counts.sum()
    idf, probed = [], []
    for pair in (largest, smallest):
        vectorizer = SentenceVectorizer(max_fit_sentences=limit)
        scanner = pipeline.Scanner()
        split, calls = scanner._split, []
        scanner._split = lambda t, s, indices, folded=None: calls.append(indices) or split(t, s, indices, folded)
        sentences, matrix = scanner._fit_idf(vectorizer, texts, np.array([pair]))
        assert matrix is None and all(sentences.count(k) for k in pair)
        assert all(sentences.count(k) == 0 for k in range(len(texts)) if k not in pair)
        idf.append((vectorizer._word_idf.idf_, vectorizer._char_idf.idf_))
        probed.append(any(isinstance(indices, range) for indices in calls))
    assert probed == [False, True]
    assert np.array_equal(idf[0][0], idf[1][0]) and np.array_equal(idf[0][1], idf[1][1])


def _sentences(docs):
    from dedup.clean import Cleaner
    from dedup.verify import SentenceStore

    return SentenceStore(Cleaner().fit_transform([d.text for d in docs]))


def _candidate_pairs(docs):
    import numpy as np

    n = len(docs)
    return np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)


def test_streamed_clean_keeps_only_datelines_and_is_the_same_for_any_jobs(monkeypatch):
    """Chunks cleaned as they are read (several chunks here): input Documents untouched, the
    result's Documents hold at most the dateline head, and direction still reads datelines."""
    from dedup.relate import DATELINE_CHARS

    monkeypatch.setattr(pipeline, "CLEAN_CHUNK", 3)
    docs = _corpus()
    base = docs[0].text
    docs += [Document("dated-early", "Seoul, March 3, 2025\n\n" + base),
             Document("dated-late", "Seoul, March 9, 2025\n\n" + base.replace("11,000", "12,000"))]
    texts = [d.text for d in docs]
    results = [pipeline.Scanner(pipeline.ScanConfig(jobs=jobs, related=True)).scan(docs) for jobs in (1, 2)]
    assert _summary(results[0]) == _summary(results[1])
    assert [d.text for d in docs] == texts
    assert all(len(d.text) <= DATELINE_CHARS for d in results[0].docs.values())
    assert results[0].docs["dated-early"].text.startswith("Seoul, March 3, 2025")
    pair = next(p for p in results[0].pairs if {p.a, p.b} == {"dated-early", "dated-late"})
    assert pair.source == "dated-early" and "dateline" in pair.direction_reason


def _vectorised_corpus():
    """The test corpus cleaned, split and vectorised with one IDF, and each doc's row range."""
    import numpy as np

    from dedup.clean import Cleaner
    from dedup.verify import Verifier, split_sentences

    docs = _corpus()
    texts = Cleaner().fit_transform([d.text for d in docs])
    sentences = [split_sentences(t) for t in texts]
    verifier = Verifier()
    matrix = verifier.vectorizer.fit_transform([s.text for doc in sentences for s in doc])
    starts = np.cumsum([0] + [len(s) for s in sentences])
    rows = {k: (int(starts[k]), int(starts[k + 1])) for k in range(len(docs))}
    return docs, texts, sentences, verifier, matrix, rows


def test_pairs_skipped_without_related_are_the_ones_alignment_calls_related():
    from dedup.relate import normalised, relate_pair
    from dedup.verify import GroupSimilarities, dense_pair

    docs, texts, sentences, verifier, matrix, rows = _vectorised_corpus()
    similarities = GroupSimilarities(matrix)
    skipped = derived = 0
    for i, j in _candidate_pairs(docs).tolist():
        sim = similarities(rows[i], [rows[j]])[0]
        da, db = dense_pair(matrix, rows[i], matrix, rows[j])
        np.testing.assert_allclose(sim, da @ db.T, atol=1e-6)  # the grouped product is the per-pair one
        alignment = verifier.align_rows(sentences[i], sentences[j], matrix, rows[i], matrix, rows[j])
        relation = relate_pair(docs[i], docs[j], texts[i], texts[j], verifier.features(alignment)).relation
        derived += relation != "related"
        chars_a, chars_b = ([len(s.text) for s in sentences[k]] for k in (i, j))
        if pipeline._cannot_be_derived(verifier, sim, np.array(chars_a), np.array(chars_b)) and \
                normalised(texts[i]) != normalised(texts[j]):  # `exact` texts: the scan's own test
            skipped += 1
            assert relation == "related", (docs[i].id, docs[j].id)
    assert skipped > 0 and derived > 0


def test_scan_without_related_reports_the_derived_pairs_of_a_full_scan():
    from dedup.relate import DERIVED

    docs = _corpus()
    full = pipeline.Scanner(pipeline.ScanConfig(jobs=1, related=True)).scan(docs)
    derived_only = pipeline.Scanner(pipeline.ScanConfig(jobs=1)).scan(docs)
    assert _summary(derived_only) == [s for s in _summary(full) if s[2] in DERIVED]
    assert derived_only.pairs


def test_small_and_vectorised_dp_give_the_same_table():
    import numpy as np

    from dedup.verify import _dp_table, _dp_table_small

    rng = np.random.default_rng(7)
    for trial in range(300):
        m, n = rng.integers(1, 15, 2)
        sim = rng.random((m, n))
        if trial % 2:
            sim = np.round(sim, 1)  # ties between equal similarities
        assert _dp_table(sim - 0.3) == _dp_table_small(sim - 0.3)


def test_group_similarities_in_small_batches_match_one_product():
    import numpy as np

    from dedup.verify import GroupSimilarities, Verifier, split_sentences

    docs = _corpus()
    sentences = [split_sentences(d.text) for d in docs]
    matrix = Verifier().vectorizer.fit_transform([s.text for doc in sentences for s in doc])
    starts = np.cumsum([0] + [len(s) for s in sentences])
    rows = [(int(starts[k]), int(starts[k + 1])) for k in range(len(docs))]
    whole = GroupSimilarities(matrix)(rows[0], rows[1:])
    batched = GroupSimilarities(matrix, max_cells=1)(rows[0], rows[1:])  # one partner per product
    assert [s.shape for s in batched] == [(rows[0][1] - rows[0][0], b1 - b0) for b0, b1 in rows[1:]]
    for one, other in zip(whole, batched):
        np.testing.assert_allclose(one, other, atol=1e-6)


def test_pairs_skipped_after_alignment_are_the_ones_the_label_calls_related():
    import itertools

    from dedup.relate import normalised, relate_pair

    docs, texts, sentences, verifier, matrix, rows = _vectorised_corpus()
    skipped = kept = 0
    for i, j in itertools.combinations(range(len(docs)), 2):  # every pair, not only candidates
        alignment = verifier.align_rows(sentences[i], sentences[j], matrix, rows[i], matrix, rows[j])
        relation = relate_pair(docs[i], docs[j], texts[i], texts[j], verifier.features(alignment)).relation
        if pipeline._aligned_cannot_be_derived(alignment) and normalised(texts[i]) != normalised(texts[j]):
            skipped += 1
            assert relation == "related", (docs[i].id, docs[j].id)
        else:
            kept += 1
    assert skipped > 0 and kept > 0


def test_sentences_split_on_workers_are_the_sequential_ones(monkeypatch):
    from dedup.verify import SentenceStore, split_sentences

    texts = [d.text for d in _corpus()] * 3
    monkeypatch.setattr(pipeline, "SPLIT_CHUNK", 2)  # several tasks on the pool
    sentences = SentenceStore(texts)
    pipeline.Scanner(pipeline.ScanConfig(jobs=2))._split(texts, sentences, range(len(texts)))
    assert all(sentences.is_split(k) for k in range(len(texts)))
    assert [sentences[k] for k in range(len(texts))] == [split_sentences(t) for t in texts]


def test_prefilter_drops_exactly_the_pairs_below_the_document_cosine_floor(monkeypatch):
    """The prefilter reads each pair's whole-document cosine off its sentence similarities; it
    must drop the pairs whose summed-sentence TF-IDF vectors have a cosine below the floor."""
    from sklearn.preprocessing import normalize

    docs, texts, sentences, verifier, matrix, rows = _vectorised_corpus()
    starts = [rows[k][0] for k in range(len(docs))] + [rows[len(docs) - 1][1]]
    owner = np.repeat(np.arange(len(docs)), np.diff(starts))
    doc_vectors = normalize(np.asarray(np.vstack([matrix[owner == k].sum(axis=0) for k in range(len(docs))])))
    pairs = _candidate_pairs(docs)
    cosine = (doc_vectors[pairs[:, 0]] * doc_vectors[pairs[:, 1]]).sum(axis=1)
    floor = float(np.sort(cosine)[len(cosine) // 2])  # half of the pairs on each side
    monkeypatch.setattr(pipeline, "DOC_COSINE_FLOOR", floor - 1e-4)

    scanner = pipeline.Scanner(pipeline.ScanConfig(jobs=1, related=True, fast_verify=False))
    monkeypatch.setattr(scanner, "candidate_pairs", lambda *args: pairs)
    result = scanner.scan(docs)
    ids = [d.id for d in docs]
    kept = {frozenset((ids[i], ids[j])) for (i, j), c in zip(pairs.tolist(), cosine) if c >= floor - 1e-4}
    assert {frozenset((p.a, p.b)) for p in result.pairs} == kept
    assert scanner.prefiltered_ == len(pairs) - len(kept) > 0


def test_folded_texts_exact_from_learnt_or_made_keys():
    """`exact` is the same whether the split workers' keys were learnt or made when asked, and
    equal keys are confirmed on the texts (a forged equal key does not make two texts equal)."""
    texts = ["Shares ROSE 5%.\n\nThen  fell.", "shares rose 5%. then fell.", "Shares rose 6%. Then fell."]
    made = pipeline._FoldedTexts(texts)
    learnt = pipeline._FoldedTexts(texts)
    for k, (_, _, key) in enumerate(pipeline._split_texts(texts)):
        learnt.learn(k, key)
    for folded in (made, learnt):
        assert folded.exact(0, 1) and not folded.exact(0, 2) and not folded.exact(1, 2)
    learnt.learn(2, learnt.key(0))
    assert not learnt.exact(0, 2)


def _noting_collection(function, name: str, log: Path, parent: int):
    """`function`, first noting in `log` whether the calling process collects garbage."""

    @functools.wraps(function)  # the same name, so a pool can still send it to its workers
    def noting(*args, **kwargs):
        with open(log, "a") as out:
            out.write(f"{name} {'parent' if os.getpid() == parent else 'worker'} {int(gc.isenabled())}\n")
        return function(*args, **kwargs)

    return noting


@pytest.mark.parametrize("blocked", [False, True])
def test_scan_pauses_collection_but_its_workers_collect(monkeypatch, tmp_path, blocked):
    """A scan pauses the parent's automatic garbage collection and hands it back as it found
    it; the workers of the pools it forks for cleaning and the row store collect, verify's
    workers (chunks or blocks), which live for one block or one verify stage, do not."""
    import dedup.rowstore as rowstore
    from dedup.workers import close_pools

    log = tmp_path / "collection.log"
    close_pools()  # the shared pool starts during the scan, under the pause
    for module, name in [(pipeline, "scan_fingerprints"), (pipeline, "_clean_chunk"), (pipeline, "_verify_pairs"),
                         (rowstore, "packed_ngram_counts")]:
        monkeypatch.setattr(module, name, _noting_collection(getattr(module, name), name, log, os.getpid()))
    scanner = pipeline.Scanner(pipeline.ScanConfig(jobs=2, related=True))
    if blocked:  # one verify block a forked worker, rows from the row store (as in the test above)
        monkeypatch.setattr(pipeline, "BLOCK_SENTENCES", 40)
        fit_idf = scanner._fit_idf
        monkeypatch.setattr(scanner, "_fit_idf", lambda *args: (fit_idf(*args)[0], None))
    else:  # chunks of the corpus's matrix on forked workers
        monkeypatch.setattr(pipeline, "VERIFY_CHUNK", 1)
    result = scanner.scan(_corpus())
    assert any(p.relation == "rewrite" for p in result.pairs) and gc.isenabled()
    noted = set(log.read_text().splitlines())
    expected = {"scan_fingerprints parent 0", "_clean_chunk worker 1", "_verify_pairs worker 0"}
    assert noted == expected | ({"packed_ngram_counts worker 1"} if blocked else set())
    close_pools()


def test_collection_pause_leaves_a_callers_own_pause():
    gc.disable()
    try:
        with pipeline._collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_verify_workers_are_forked_without_collection_even_outside_a_scan():
    """`_ready_to_fork` pauses collection, so verify's workers inherit the pause whoever calls
    verify; it hands collection back afterwards."""
    assert gc.isenabled()
    with pipeline._ready_to_fork():
        assert not gc.isenabled()
    assert gc.isenabled()
