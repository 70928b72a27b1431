"""The verify fast path (dedup.fastverify): on the pairs it decides, the same labels, coverages
and scores as the full alignment; a scan gives the same output with it on and off.

The corpus is made here from the seeds: copies of 000 and 003 with whole paragraphs cut, added
or pasted (which the fast path can decide), and variants it must leave to the aligner
(reordered paragraphs, a changed figure, a repeated sentence, a mid-sentence cut).
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from dedup.clean import Cleaner
from dedup.document import Document
from dedup.fastverify import VerbatimFacts, decide, sentence_table
from dedup.ingest import read_documents
from dedup.pipeline import DOC_COSINE_FLOOR, ScanConfig, Scanner
from dedup.relate import label
from dedup.verify import SentenceStore, Verifier, split_sentences

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
# Tolerances on the pairs the fast path decides. Coverages are sums of the same sentence
# lengths; the score differs only by the full path's similarity rounding (1e-6 a link).
COVERAGE_TOLERANCE = 1e-9
SCORE_TOLERANCE = 1e-5


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def _corpus() -> list[Document]:
    docs, _ = read_documents(SEEDS)
    base = {d.id[:3]: d.text for d in docs}
    p0, p3 = _paragraphs(base["000"]), _paragraphs(base["003"])
    join = "\n\n".join
    extra = {
        "copy-000": base["000"],
        "cut-000": join(p0[: len(p0) * 2 // 3]),  # truncation at a paragraph
        "tail-000": join(p0[3:]),  # the opening cut
        "insert-000": join(p0[:4] + p3[2:4] + p0[4:]),  # unrelated paragraphs inserted
        "footer-000": base["000"] + "\n\nShare this article. Sign up for our newsletter to get the latest news.",
        # A sentence of stopwords only, long enough to count as copied: its verbatim link's
        # fidelity is COPIED_FIDELITY in both paths, not the model's value for it.
        "stopwords-000": join(p0[:3] + ["And so it was, and it is what it was before all of that."] + p0[3:]),
        "stopwords-copy": join(p0[:3] + ["And so it was, and it is what it was before all of that."] + p0[3:6]),
        "paste-003": join(p3[:3] + p0[5:8] + p3[3:]),  # passages of 000 pasted into 003
        "copy-003": base["003"],
        "cut-003": join(p3[:-2]),
        # For the aligner: order changed, a figure changed, a sentence repeated, a cut mid-sentence.
        "reorder-000": join(p0[4:8] + p0[:4] + p0[8:]),
        "edit-000": base["000"].replace("11,000", "12,000"),
        "repeat-000": join(p0[:5] + [p0[5] + " " + split_sentences(p0[2])[0].text] + p0[6:]),
        "midcut-000": base["000"][: len(base["000"]) // 2],
    }
    # One outlet each: six copies of 000 from one source would teach the cleaner its lines as boilerplate.
    return [Document(d.id, d.text, source=d.id) for d in docs] + [Document(k, v, source=k) for k, v in extra.items()]


@pytest.fixture(scope="module")
def aligned():
    """Cleaned texts, sentences, the fitted verifier, and the full alignment's features of every pair."""
    docs = _corpus()
    texts = Cleaner().fit_transform([d.text for d in docs], [d.source for d in docs])
    sentences = [split_sentences(t) for t in texts]
    verifier = Verifier()
    matrix = verifier.vectorizer.fit_transform([s.text for doc in sentences for s in doc])
    starts = np.cumsum([0] + [len(s) for s in sentences])
    rows = [(int(starts[k]), int(starts[k + 1])) for k in range(len(docs))]
    pairs = np.array(list(itertools.combinations(range(len(docs)), 2)), dtype=np.int64)
    full = {}
    for i, j in pairs.tolist():
        alignment = verifier.align_rows(sentences[i], sentences[j], matrix, rows[i], matrix, rows[j])
        full[i, j] = verifier.features(alignment)
    return docs, texts, sentences, verifier, pairs, full


def test_fast_path_matches_the_full_alignment_on_the_pairs_it_decides(aligned):
    docs, texts, sentences, verifier, pairs, full = aligned
    table = sentence_table(SentenceStore(texts))
    verdicts = decide(pairs, table, VerbatimFacts(table, verifier.vectorizer.word_weight), DOC_COSINE_FLOOR)
    assert len(verdicts.pairs) + len(verdicts.rest) == len(pairs)
    ids = [d.id for d in docs]
    decided = {frozenset((ids[i], ids[j])) for i, j in verdicts.pairs.tolist()}
    for fast, (i, j) in zip(verdicts.features, verdicts.pairs.tolist()):
        slow = full[i, j]
        got, want = label(texts[i], texts[j], fast), label(texts[i], texts[j], slow)
        assert got[0] == want[0], (ids[i], ids[j], got, want)
        assert got[1] == pytest.approx(want[1], abs=SCORE_TOLERANCE)
        assert fast.coverage_a == pytest.approx(slow.coverage_a, abs=COVERAGE_TOLERANCE)
        assert fast.coverage_b == pytest.approx(slow.coverage_b, abs=COVERAGE_TOLERANCE)
        # The features the label reads are the full path's too.
        for name in ("links", "anchors", "longest_run", "verbatim_run", "verbatim_run_at_edge", "figure_links",
                     "figure_mismatches", "sentences_a", "sentences_b", "chars_a", "chars_b", "order_consistency"):
            assert getattr(fast, name) == getattr(slow, name), (ids[i], ids[j], name)
        for name in ("faithful_coverage_a", "faithful_coverage_b", "mean_similarity", "mean_fidelity",
                     "longest_run_share", "verbatim_run_share", "weighted_coverage_a", "weighted_coverage_b"):
            assert getattr(fast, name) == pytest.approx(getattr(slow, name), abs=SCORE_TOLERANCE), (ids[i], ids[j], name)
    s000 = next(d for d in ids if d.startswith("000"))
    for variant in ("copy-000", "cut-000", "tail-000", "insert-000", "footer-000"):
        assert frozenset((s000, variant)) in decided, variant
    for variant in ("reorder-000", "edit-000", "repeat-000", "midcut-000", "paste-003"):
        assert frozenset((s000, variant)) not in decided, variant
    # Pairs of unrelated seeds are never decided here.
    seeds = [d for d in ids if d[:3].isdigit()]
    assert not any(frozenset(p) in decided for p in itertools.combinations(seeds, 2))


def test_scan_output_is_the_same_with_the_fast_path_on_and_off():
    docs = _corpus()
    results = {}
    for fast in (True, False):
        scanner = Scanner(ScanConfig(jobs=1, related=True, fast_verify=fast))
        result = scanner.scan(docs)
        results[fast] = [p.to_dict() for p in result.pairs]
        if fast:
            assert scanner.fast_decided_ >= 5
    assert results[True] == results[False]
    assert {p["relation"] for p in results[True]} >= {"exact", "near_duplicate", "partial"}


def test_fast_path_on_forked_workers_gives_the_same_output(monkeypatch, tmp_path):
    """Parts of the pairs decided and labelled on forked workers (two jobs, forced past the
    size floor here): the pairs, relations, scores and counts of deciding them in this process."""
    import multiprocessing

    import dedup.pipeline as pipeline

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method")
    docs = _corpus()
    serial = Scanner(ScanConfig(jobs=1, related=True))
    want = [p.to_dict() for p in serial.scan(docs).pairs]
    deciders = tmp_path / "pids"

    def decide_noting_the_process(*args, decide=pipeline.decide):
        with deciders.open("a") as out:  # the workers inherit this function
            out.write(f"{os.getpid()}\n")
        return decide(*args)

    monkeypatch.setattr(pipeline, "PARALLEL_DECIDE_PAIRS", 1)
    monkeypatch.setattr(pipeline, "decide", decide_noting_the_process)
    forked = Scanner(ScanConfig(jobs=2, related=True))
    assert [p.to_dict() for p in forked.scan(docs).pairs] == want
    pids = deciders.read_text().split()
    assert len(pids) == 4 and str(os.getpid()) not in pids  # four parts, none decided in this process
    assert forked.fast_decided_ == serial.fast_decided_ >= 5 and forked.related_ == serial.related_


def test_pair_diff_is_the_same_whether_alignments_were_kept_or_not():
    """Fast-path pairs and scans without kept alignments re-align in `pair_diff`: the same diff."""
    docs = _corpus()
    kept = Scanner(ScanConfig(jobs=1, keep_alignments=True)).scan(docs)
    dropped = Scanner(ScanConfig(jobs=1)).scan(docs)
    assert [p.to_dict() for p in kept.pairs] == [p.to_dict() for p in dropped.pairs]
    assert all(p.alignment is None for p in dropped.pairs)
    assert any(p.alignment is not None for p in kept.pairs) and any(p.alignment is None for p in kept.pairs)
    for with_links, without in zip(kept.pairs, dropped.pairs):
        assert kept.pair_diff(with_links)[0].to_json() == dropped.pair_diff(without)[0].to_json()


def test_sentence_table_numbers_texts_as_interning_them_would(aligned):
    """Ids from the split workers' 128-bit keys are the ids interning the strings gave (first
    occurrence order), `texts` reads each back, and keys made in-process equal the workers'."""
    from dedup.pipeline import _split_texts
    from dedup.relate import normalised
    from dedup.verify import packed_spans
    from xxhash import xxh3_128_digest

    from dedup.verify import _spans_folded

    # The corpus's cleaned texts, and texts whose sentences are not their spans' bytes as they stand.
    texts = list(aligned[1]) + ["Caf\u00e9 owners said prices rose. Then they fell.", "Prices  rose.\tThen fell."]
    assert any(map(_spans_folded, texts)) and not all(map(_spans_folded, texts))
    store = SentenceStore(texts)
    worked = SentenceStore(texts)
    for k, (packed, keys, folded) in enumerate(_split_texts(list(texts))):
        assert packed == packed_spans(texts[k])
        assert folded == xxh3_128_digest(normalised(texts[k]).encode())  # `_FoldedTexts`' key
        worked.put(k, packed, keys)
        assert keys == store.keys(k)  # hashed from the text's bytes or from sentence strings: the same
    index: dict[str, int] = {}
    interned = [index.setdefault(t, len(index)) for k in range(len(store)) for t in store.texts(k)]
    assert len(index) < len(interned)  # copies share sentences: not a trivial numbering
    for table in (sentence_table(store), sentence_table(worked)):
        assert table.ids.tolist() == interned
        assert list(table.texts.many(np.arange(len(index)))) == list(index)
        assert table.texts[len(index) - 1] == list(index)[-1] and len(table.texts) == len(index)
        assert table.texts[1:4] == list(index)[1:4] and table.texts[-2:] == list(index)[-2:]
        assert table.chars.tolist() == [len(t) for k in range(len(store)) for t in store.texts(k)]


def test_sentence_table_tells_apart_texts_whose_keys_share_a_half():
    """Two texts whose digests share their first 64 bits (made so here) still get two ids."""
    from dedup.verify import packed_spans, sentence_keys

    texts = ["Alpha rose. Beta fell.", "Beta fell. Gamma held.", "Alpha rose."]
    store = SentenceStore(texts)
    for k, text in enumerate(texts):
        store.put(k, packed_spans(text))
        digests, chars = sentence_keys(store.texts(k))
        forged = np.frombuffer(digests, dtype=np.uint64).reshape(-1, 2).copy()
        forged[:, 0] = 7  # every sentence: the same low half
        store.put(k, packed_spans(text), (forged.tobytes(), chars))
    table = sentence_table(store)
    assert table.ids.tolist() == [0, 1, 1, 2, 0]
    assert list(table.texts.many([0, 1, 2])) == ["Alpha rose.", "Beta fell.", "Gamma held."]


def test_features_batch_equals_features_pair_by_pair(aligned):
    """The chunk-at-once features are `features`' pair by pair: the same counts, runs and flags,
    and the weighted shares to 1e-12 (sums in another order), on every pair of the corpus
    (reorders, merges, figure swaps, pasted passages) and on an empty side and a linkless pair."""
    from dedup.verify import Alignment, features, features_batch

    docs, texts, sentences, verifier, pairs, full = aligned
    alignments = [verifier.align(texts[i], texts[j]) for i, j in pairs.tolist()]
    alignments += [Alignment(sentences[0], []), Alignment([], sentences[1]), Alignment(sentences[0], sentences[1])]
    fidelities = verifier.link_fidelities_many(alignments)
    batch = features_batch(alignments, fidelities)
    assert len(batch) == len(alignments)
    for alignment, fidelity, got in zip(alignments, fidelities, batch):
        want = features(alignment, fidelity).to_dict()
        for name, value in got.to_dict().items():
            if isinstance(want[name], float):
                assert value == pytest.approx(want[name], rel=1e-12, abs=1e-15), name
            else:
                assert value == want[name] and type(value) is type(want[name]), name
    # The corpus has what each part of the batch handles.
    assert any(len(link.a) > 1 or len(link.b) > 1 for a in alignments for link in a.links)  # merges
    assert any(f.links >= 4 and f.order_consistency < 1 for f in batch)
    assert any(f.verbatim_run_at_edge for f in batch) and any(f.figure_mismatches for f in batch)
    assert any(0 < f.verbatim_run < f.links for f in batch)
