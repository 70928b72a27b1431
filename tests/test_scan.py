"""The scan through the Python API: labels of the seed pairs and of variants made from the seeds,
direction from dates, and story clusters.

The variants are written next to copies of the five seeds in a temporary folder, so the scan
sees them as one folder corpus (ids are file stems). One scan of that corpus is shared by
every test in this file.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dedup.document import Document
from dedup.ingest import read_documents
from dedup.pipeline import PairResult, ScanResult, scan
from dedup.relate import DERIVED
from dedup.verify import split_sentences

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
S000, S001, S003 = "000_b7963910c6951773", "001_a792afd7f87c1107", "003_7edcfdb596ca73d0"

# 000 with two figures changed and its last sentence cut.
FIGURE_EDITS = (("11,000 personnel", "12,000 personnel"), ("Roughly 600 North", "Roughly 700 North"))
CUT_SENTENCE = ("North Korean state media said leader Kim Jong Un had confirmed plans for further "
                "cooperation but did not provide details.")
# Three whole paragraphs of 000 pasted into 003, before this sentence of 003.
PASTED_PARAGRAPHS = ("NIS believes the additional", "Lee said Pyongyang is believed", "Russia and North Korea signed")
PASTE_BEFORE = "These troops are reportedly sent"


def seed_text(doc_id: str) -> str:
    return (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")


def pasted_paragraphs() -> list[str]:
    """The paragraphs of 000 that the partial variant reuses, whole."""
    paragraphs = [p.strip() for p in seed_text(S000).split("\n\n") if p.strip()]
    found = [p for start in PASTED_PARAGRAPHS for p in paragraphs if p.startswith(start)]
    assert len(found) == len(PASTED_PARAGRAPHS)
    return found


def variant_texts() -> dict[str, str]:
    """id -> text of each variant: an exact copy, a light edit and a partial reuse of 000."""
    original = seed_text(S000)
    near = original
    for old, new in FIGURE_EDITS:
        assert old in near
        near = near.replace(old, new)
    assert CUT_SENTENCE in near
    near = near.replace(CUT_SENTENCE, "")
    host = seed_text(S003)
    assert PASTE_BEFORE in host
    partial = host.replace(PASTE_BEFORE, "\n\n".join(pasted_paragraphs()) + "\n\n" + PASTE_BEFORE, 1)
    return {"v_exact": original, "v_near": near, "v_partial": partial}


def write_variant_corpus(folder: Path) -> Path:
    """The five seeds plus the variants as one folder corpus (also used by test_cli)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    for doc_id, text in variant_texts().items():
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return folder


def find_pair(result: ScanResult, x: str, y: str) -> PairResult | None:
    found = [p for p in result.pairs if {p.a, p.b} == {x, y}]
    assert len(found) <= 1, found
    return found[0] if found else None


def the_pair(result: ScanResult, x: str, y: str) -> PairResult:
    pair = find_pair(result, x, y)
    assert pair is not None, f"{x}/{y} not reported; pairs: {[(p.a, p.b, p.relation) for p in result.pairs]}"
    return pair


@pytest.fixture(scope="module")
def seeds_result() -> ScanResult:
    docs, skips = read_documents(SEEDS)
    assert skips == [] and len(docs) == 5
    return scan(docs, related=True, clusters=True, keep_alignments=True)


@pytest.fixture(scope="module")
def variants_result(tmp_path_factory) -> ScanResult:
    folder = write_variant_corpus(tmp_path_factory.mktemp("variants"))
    docs, skips = read_documents(folder)
    assert skips == [] and len(docs) == 8
    return scan(docs, related=True, clusters=True, keep_alignments=True)


# -- the seeds -----------------------------------------------------------------------------


def test_seed_rewrite_pair_is_rewrite_with_000_as_source(seeds_result):
    pair = the_pair(seeds_result, S000, S001)
    assert pair.relation == "rewrite"
    assert (pair.source, pair.derivative) == (S000, S001)
    assert pair.direction_reason


def test_no_other_seed_pair_is_derived(seeds_result):
    others = [p for p in seeds_result.pairs if {p.a, p.b} != {S000, S001}]
    assert all(p.relation == "related" for p in others), [(p.a, p.b, p.relation) for p in others]
    assert all(p.source is None and p.cluster is None for p in others)


def test_without_related_only_derived_pairs_are_returned():
    docs, _ = read_documents(SEEDS)
    result = scan(docs)
    assert [(p.a, p.b, p.relation) for p in result.pairs] == [(S000, S001, "rewrite")]
    assert result.clusters == []


def test_seed_cluster_has_000_as_earliest(seeds_result):
    pair = the_pair(seeds_result, S000, S001)
    [cluster] = seeds_result.clusters
    assert sorted(cluster.members) == [S000, S001]
    assert cluster.earliest == S000
    assert pair.cluster == cluster.id


# -- variants ------------------------------------------------------------------------------


def test_exact_copy_is_exact(variants_result):
    pair = the_pair(variants_result, S000, "v_exact")
    assert pair.relation == "exact"
    assert pair.score == 1.0
    assert pair.coverage_a == pytest.approx(1.0) and pair.coverage_b == pytest.approx(1.0)


def test_exact_copy_has_no_direction(variants_result):
    """Same text, same dateline, same specificity: nothing says which came first."""
    pair = the_pair(variants_result, S000, "v_exact")
    assert (pair.source, pair.derivative, pair.direction_reason) == (None, None, None)


def test_light_edit_is_near_duplicate(variants_result):
    pair = the_pair(variants_result, S000, "v_near")
    assert pair.relation == "near_duplicate"
    # The cut sentence leaves a side below full coverage; the rest is linked.
    assert min(pair.coverage_a, pair.coverage_b) < 1.0
    assert max(pair.coverage_a, pair.coverage_b) == pytest.approx(1.0)


def test_variants_keep_the_seed_rewrite(variants_result):
    pair = the_pair(variants_result, S000, S001)
    assert pair.relation == "rewrite"
    assert pair.source == S000


def test_unrelated_seeds_stay_related_next_to_variants(variants_result):
    for other in ("002_7872c0e30e46fc11", "004_53cbcb4c41f70d05"):
        for doc_id in (S000, "v_exact", "v_near", "v_partial"):
            pair = find_pair(variants_result, doc_id, other)
            assert pair is None or pair.relation == "related", (doc_id, other, pair)


def _partial_sides(pair: PairResult) -> tuple[list, list, float, float]:
    """(000's sentences, the pasted-into sentences, 000's coverage, the pasted-into coverage)."""
    al = pair.alignment
    assert al is not None
    if pair.a == S000:
        return al.a_sentences, al.b_sentences, pair.coverage_a, pair.coverage_b
    return al.b_sentences, al.a_sentences, pair.coverage_b, pair.coverage_a


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_partial_reuse_links_the_pasted_sentences(variants_result):
    pair = the_pair(variants_result, S000, "v_partial")
    source_sents, host_sents, source_cov, host_cov = _partial_sides(pair)
    print(f"\npartial 000 vs v_partial: relation={pair.relation} score={pair.score} "
          f"coverage_a({pair.a})={pair.coverage_a:.3f} coverage_b({pair.b})={pair.coverage_b:.3f}; "
          f"higher side: {'v_partial (pasted into)' if host_cov > source_cov else '000 (source)'}")
    # Far from a full copy on the side that received the paste.
    assert host_cov < 0.8
    assert source_cov < 0.8
    # Every pasted sentence is linked to itself, near-verbatim, in the same relative order.
    pasted = [_flat(s.text) for p in pasted_paragraphs() for s in split_sentences(p)]
    linked = []
    for link in pair.alignment.links:
        ia, ib = (link.a, link.b) if pair.a == S000 else (link.b, link.a)
        src = _flat(" ".join(source_sents[i].text for i in ia))
        host = _flat(" ".join(host_sents[j].text for j in ib))
        if src == host:
            linked.append((src, link.similarity, ia[0], ib[0]))
    linked_texts = [t for t, *_ in linked]
    for sentence in pasted:
        assert sentence in linked_texts, f"pasted sentence not linked: {sentence[:60]}"
    assert all(sim >= 0.95 for t, sim, *_ in linked if t in pasted)
    order = sorted((i, j) for t, _, i, j in linked if t in pasted)
    assert [j for _, j in order] == sorted(j for _, j in order)


def test_partial_reuse_is_labelled_partial(variants_result):
    pair = the_pair(variants_result, S000, "v_partial")
    assert pair.relation == "partial"


# -- direction -----------------------------------------------------------------------------


def test_earlier_date_field_is_the_source():
    """The date field decides even against specificity (001, the vaguer text, is dated first)."""
    docs = [Document("late", seed_text(S000), date="2025-06-27"),
            Document("early", seed_text(S001), date="2025-06-20")]
    [pair] = scan(docs).pairs
    assert pair.relation == "rewrite"
    assert (pair.source, pair.derivative) == ("early", "late")
    assert "date" in pair.direction_reason and "2025-06-20" in pair.direction_reason


def test_derived_pairs_only_carry_direction(variants_result):
    for pair in variants_result.pairs:
        assert (pair.source is None) == (pair.derivative is None) == (pair.direction_reason is None)
        if pair.relation not in DERIVED:
            assert pair.source is None
        elif pair.source is not None:
            assert {pair.source, pair.derivative} == {pair.a, pair.b}


def test_variant_cluster_is_rooted_at_000(variants_result):
    pair = the_pair(variants_result, S000, S001)
    cluster = next(c for c in variants_result.clusters if c.id == pair.cluster)
    assert {S000, S001, "v_exact", "v_near"} <= set(cluster.members)
    assert cluster.earliest == S000
