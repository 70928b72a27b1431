"""Candidates stage: banding parameters, buckets by sorting, caps, and agreement with datasketch."""
from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from dedup.candidates import LSHBanding, merge_pairs, optimal_bands, pairs_in_runs
from dedup.fingerprint import MAX_HASH, Fingerprinter, MinHasher


@pytest.mark.parametrize("threshold,num_perm", [(0.5, 128), (0.3, 128), (0.8, 64), (0.9, 256), (0.1, 32)])
def test_optimal_bands_equals_datasketch(threshold: float, num_perm: int) -> None:
    assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)
    assert optimal_bands(threshold, num_perm, 0.2, 0.8) == _optimal_param(threshold, num_perm, 0.2, 0.8)


def sets_with_jaccard(rng: np.random.Generator, base_size: int, jaccard: float) -> tuple[np.ndarray, np.ndarray]:
    """Two hash sets of `base_size` elements each whose exact Jaccard is about `jaccard`."""
    shared = int(round(2 * base_size * jaccard / (1 + jaccard)))
    values = rng.choice(1 << 32, size=shared + 2 * (base_size - shared), replace=False).astype(np.uint32)
    common, rest = values[:shared], values[shared:]
    return np.concatenate([common, rest[: base_size - shared]]), np.concatenate([common, rest[base_size - shared :]])


def signatures_for(pairs_of_sets: list[tuple[np.ndarray, np.ndarray]], num_perm: int = 128) -> np.ndarray:
    docs = [doc for pair in pairs_of_sets for doc in pair]
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs])))
    return MinHasher(num_perm, 1).signatures(np.concatenate(docs), offsets)


def test_lsh_recall_above_and_rejection_below_threshold() -> None:
    rng = np.random.default_rng(11)
    high = [sets_with_jaccard(rng, 300, 0.8) for _ in range(40)]
    low = [sets_with_jaccard(rng, 300, 0.15) for _ in range(40)]
    lsh = LSHBanding(threshold=0.5, num_perm=128)
    pairs = {tuple(p) for p in lsh.candidate_pairs(signatures_for(high + low)).tolist()}
    found_high = sum((2 * k, 2 * k + 1) in pairs for k in range(len(high)))
    found_low = sum((2 * k, 2 * k + 1) in pairs for k in range(len(high), len(high) + len(low)))
    print(f"b={lsh.bands} r={lsh.rows}: J=0.8 found {found_high}/40, J=0.15 found {found_low}/40")
    assert found_high >= 38
    assert found_low <= 4


def test_candidates_equal_datasketch_minhashlsh() -> None:
    """Same b and r, so exactly the pairs datasketch's index returns (no cap reached)."""
    rng = np.random.default_rng(3)
    groups = [sets_with_jaccard(rng, 120, j) for j in (0.9, 0.7, 0.55, 0.45, 0.35, 0.2, 0.5, 0.6)]
    signatures = signatures_for(groups)
    ours = {tuple(p) for p in LSHBanding(0.5, 128, max_bucket=10_000).candidate_pairs(signatures).tolist()}
    index = MinHashLSH(threshold=0.5, num_perm=128)
    sketches = [MinHash(seed=1, hashvalues=row, scheme="affine32") for row in signatures]
    for doc, sketch in enumerate(sketches):
        index.insert(doc, sketch)
    theirs = {(min(d, e), max(d, e)) for d, s in enumerate(sketches) for e in index.query(s) if e != d}
    assert ours == theirs and ours


def test_bands_shared_out_give_the_whole_result() -> None:
    """Pairs of band ranges that cover every band, merged: the pairs of all bands (what the scan's
    threads do with the rewrite channel); each range alone finds fewer."""
    rng = np.random.default_rng(5)
    groups = [sets_with_jaccard(rng, 150, j) for j in (0.9, 0.6, 0.45, 0.35, 0.3, 0.25, 0.2, 0.5, 0.4, 0.33)]
    signatures = signatures_for(groups)
    lsh = LSHBanding(0.3, 128)
    whole = lsh.candidate_pairs(signatures)
    first, rest = lsh.candidate_pairs(signatures, bands=range(25)), lsh.candidate_pairs(signatures, bands=range(25, 37))
    assert lsh.bands == 37 and len(first) < len(whole) and len(rest) < len(whole)
    np.testing.assert_array_equal(merge_pairs(first, rest), whole)
    assert len(lsh.candidate_pairs(signatures, bands=range(0))) == 0
    with pytest.raises(ValueError, match="range"):
        lsh.candidate_pairs(signatures, bands=range(30, 40))


def test_pairs_are_unique_sorted_and_ordered() -> None:
    texts = ["alpha beta gamma delta epsilon zeta eta theta"] * 4 + ["iota kappa lambda mu nu xi omicron pi"] * 2
    signatures = Fingerprinter(num_perm=64).transform(texts)
    pairs = LSHBanding(0.5, 64).candidate_pairs(signatures)
    assert pairs.dtype == np.int64 and pairs.shape == (7, 2)
    assert np.all(pairs[:, 0] < pairs[:, 1])
    assert list(map(tuple, pairs.tolist())) == sorted(set(map(tuple, pairs.tolist())))
    assert [4, 5] in pairs.tolist() and [0, 3] in pairs.tolist()


def test_empty_docs_never_collide() -> None:
    signatures = Fingerprinter(num_perm=64).transform(["", "...", "   ", "some real words in a short text here"])
    assert np.all(signatures[:3] == MAX_HASH)
    lsh = LSHBanding(0.5, 64)
    assert len(lsh.candidate_pairs(signatures)) == 0
    assert lsh.empty_docs == 3


def test_huge_buckets_emit_neighbour_chain() -> None:
    signatures = Fingerprinter(num_perm=64).transform(["the same template text for every one of these docs"] * 10)
    capped = LSHBanding(0.5, 64, max_bucket=4)
    pairs = capped.candidate_pairs(signatures)
    assert pairs.tolist() == [[d, d + 1] for d in range(9)]
    assert capped.capped_buckets == capped.bands and capped.capped_docs == 10 * capped.bands
    uncapped = LSHBanding(0.5, 64, max_bucket=10)
    assert len(uncapped.candidate_pairs(signatures)) == 45 and uncapped.capped_buckets == 0


def test_pairs_in_runs_and_merge() -> None:
    order = np.array([7, 3, 5, 1, 9])
    pairs = pairs_in_runs(order, np.array([0, 3]), np.array([3, 2]))
    assert pairs.tolist() == [[7, 3], [7, 5], [3, 5], [1, 9]]
    merged = merge_pairs(np.array([[2, 5], [0, 1]]), np.array([[0, 1], [1, 3]]), np.zeros((0, 2), dtype=np.int64))
    assert merged.tolist() == [[0, 1], [1, 3], [2, 5]]
    assert merge_pairs().shape == (0, 2)


def test_bad_signatures_and_parameters() -> None:
    with pytest.raises(ValueError):
        LSHBanding(0.5, 128).candidate_pairs(np.zeros((3, 16), dtype=np.uint32))
    with pytest.raises(ValueError):
        LSHBanding(0.5, 128, max_bucket=1)
    with pytest.raises(ValueError):
        optimal_bands(1.5, 128)


def test_shared_passages_find_pasted_passages_regardless_of_length():
    from dedup.candidates import SharedPassages

    pasted = ("The ministry said exports rose sharply in the third quarter of the year. "
              "Officials expect the trend to continue well into the next financial year.")
    long_story = [f"Unrelated sentence number {k} about a {k}th different matter entirely today." for k in range(40)]
    texts = [
        pasted + " A closing line that only the source has, with eight words.",  # 0: source
        " ".join(long_story[:20]) + "\n\n" + pasted + "\n\n" + " ".join(long_story[20:]),  # 1: pasted into a long story
        "The ministry said exports rose sharply in the third quarter. Another story entirely.",  # 2: one short overlap
        "Too short to count. Too short to count.",  # 3: fewer words than an anchor
        "Too short to count. Too short to count.",  # 4
    ]
    finder = SharedPassages(min_shared=2)
    assert finder.candidate_pairs(*finder.anchors(texts)).tolist() == [[0, 1]]


def test_shared_passages_ignore_sentence_and_line_breaks():
    """A passage re-flowed on paste (line breaks lost, a table joined into one paragraph) is found."""
    from dedup.candidates import SharedPassages

    rows = ["Shr loss 13 cts vs loss one ct", "Net loss 18,600,000 vs profit 3,300,000",
            "Revs 394.0 mln vs 351.0 mln", "Shr loss 21 cts vs loss 16 cts", "Net loss 23,300,000 vs profit 3,900,000"]
    host = "A host story about something else with words of its own, written for another outlet. " * 3
    texts = ["\n\n".join(rows), host + " ".join(rows) + " " + host.replace("host", "guest")]
    finder = SharedPassages()
    assert finder.candidate_pairs(*finder.anchors(texts)).tolist() == [[0, 1]]


def test_shared_passages_ignore_boilerplate():
    from dedup.candidates import SharedPassages

    footer = ("Copyright the publisher, all rights reserved, do not redistribute this. "
              "Sign up for our newsletter to get the latest stories every morning.")
    texts = [f"Story {k} opens with its own distinct first sentence of words. " + footer for k in range(60)]
    finder = SharedPassages(max_bucket=50)
    assert len(finder.candidate_pairs(*finder.anchors(texts))) == 0
    assert len(SharedPassages(max_bucket=100).candidate_pairs(*finder.anchors(texts))) == 60 * 59 // 2


def test_passage_anchors_are_winnowed_kgrams():
    """Anchors are a subset of each doc's 8-gram hashes, and any 15 shared words give one."""
    from dedup.fingerprint import kgram_hashes, passage_anchors, tokenise_batch

    rng = np.random.default_rng(3)
    words = [f"w{k}" for k in range(500)]
    texts = [" ".join(rng.choice(words, size=n)) for n in (3, 9, 12, 40, 200)]
    shared = " ".join(rng.choice(words, size=15))
    texts += [texts[4] + " " + shared, shared + " " + texts[3]]
    token_hashes, token_offsets, *_ = tokenise_batch(texts)
    anchors, offsets = passage_anchors(token_hashes, token_offsets)
    grams, gram_offsets = kgram_hashes(token_hashes, token_offsets, 8)
    assert offsets[1] == 0  # 3 words: no anchor
    for d in range(1, len(texts)):
        mine = anchors[offsets[d]:offsets[d + 1]]
        assert len(mine) >= 1 and set(mine) <= set(grams[gram_offsets[d]:gram_offsets[d + 1]])
        assert np.all(mine[1:] != mine[:-1])  # a winnowed minimum is kept once per run
    assert set(anchors[offsets[5]:offsets[6]]) & set(anchors[offsets[6]:offsets[7]])


def test_shared_passages_grouped_in_parts_give_the_same_pairs():
    from dedup.candidates import SharedPassages

    rng = np.random.default_rng(5)
    words = [f"w{k}" for k in range(300)]
    passages = [" ".join(rng.choice(words, size=30)) for _ in range(20)]
    texts = [" ".join([passages[k % 20], " ".join(rng.choice(words, size=60)), passages[(3 * k) % 20]])
             for k in range(80)]
    whole = SharedPassages()
    anchors, offsets = whole.anchors(texts)
    parted = SharedPassages()
    parted.part_anchors = 64  # many parts
    expected = whole.candidate_pairs(anchors, offsets)
    assert len(expected) > 0
    assert np.array_equal(parted.candidate_pairs(anchors, offsets), expected)


def test_band_filter_and_compaction_equal_filtering_the_union():
    """`keep` applied per band, with the held pairs deduplicated along the way, gives the
    union's pairs filtered afterwards."""
    rng = np.random.default_rng(11)
    base = rng.integers(0, 2**32, size=(40, 128), dtype=np.uint64).astype(np.uint32)
    sigs = np.repeat(base, 5, axis=0)
    noise = rng.random(sigs.shape) < 0.5
    sigs[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint64).astype(np.uint32)

    def keep(pairs):
        return (pairs[:, 0] + pairs[:, 1]) % 3 != 0

    banding = LSHBanding(0.3, 128)
    union = banding.candidate_pairs(sigs)
    assert len(union) > 50
    expected = union[keep(union)]
    banding.compact_pairs = 4  # deduplicate after nearly every band
    assert np.array_equal(banding.candidate_pairs(sigs, keep), expected)


def test_scan_drops_lsh_pairs_estimated_far_below_the_channel_threshold() -> None:
    """A rewrite-channel LSH pair is verified only when its estimated Jaccard is within
    ESTIMATE_FLOOR_Z standard errors of the channel threshold: a pair agreeing on whole bands
    but on 22 of 128 slots (0.17) is dropped, one on 40 (0.31) is kept."""
    from dedup.pipeline import ESTIMATE_FLOOR_Z, ScanConfig, Scanner, estimate_floor

    config = ScanConfig(jobs=1)
    floor = estimate_floor(config.rewrite_threshold, config.num_perm)
    sigma = (0.3 * 0.7 / 128) ** 0.5
    assert floor == pytest.approx(0.3 - ESTIMATE_FLOOR_Z * sigma) and 0.15 < floor < 0.3
    _, rows = optimal_bands(config.rewrite_threshold, config.num_perm)
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 0xFFFF, size=(4, config.num_perm), dtype=np.uint16)

    def share(i: int, j: int, slots: int) -> None:
        # Whole bands from slot 0: the pair collides in the LSH, its estimate is slots / 128.
        sigs[j, :slots] = sigs[i, :slots]
        sigs[j, slots:] = sigs[j, slots:] ^ 0x5555  # no accidental agreement past `slots`

    share(0, 1, 40 // rows * rows)
    share(2, 3, 22 // rows * rows)
    assert 22 // rows * rows / 128 < floor < 40 // rows * rows / 128
    pairs = Scanner(config).candidate_pairs(np.full_like(sigs, 0xFFFF), sigs)
    assert pairs.tolist() == [[0, 1]]


def test_two_shared_anchors_propose_a_pair_only_when_the_shorter_document_is_short():
    """Two shared anchors mean a common run of under 31 words: a paste only in a short text
    (PASTE_RUN_SHARE of 207 words, ~44 anchors); a longer pair needs three. Checked against
    every pair's shared anchors counted by brute force."""
    from dedup.candidates import SharedPassages
    from dedup.fingerprint import PASSAGE_WINDOW, PASSAGE_WORDS
    from dedup.relate import PASTE_RUN_SHARE

    rng = np.random.default_rng(11)
    words = [f"w{k}" for k in range(3000)]
    passages = [" ".join(rng.choice(words, size=int(size))) for size in rng.integers(15, 24, size=12)]
    texts = []
    for k in range(120):
        own = " ".join(rng.choice(words, size=int(rng.choice([40, 400]))))
        texts.append(" ".join([passages[k % 12], own, passages[(5 * k + 1) % 12]]) if k % 3 else own)
    finder = SharedPassages()
    # The default follows from the winnowing and relate's paste rule (kept in step with them).
    longest_two_anchor_run = 3 * PASSAGE_WINDOW + PASSAGE_WORDS - 1
    words_at_share = longest_two_anchor_run / PASTE_RUN_SHARE
    assert finder.short_doc_anchors == int(2 / (PASSAGE_WINDOW + 1) * (words_at_share - PASSAGE_WORDS + 1))
    anchors, offsets = finder.anchors(texts)
    sets = [set(anchors[offsets[d]:offsets[d + 1]].tolist()) for d in range(len(texts))]
    holders = {}
    for d, mine in enumerate(sets):
        for anchor in mine:
            holders[anchor] = holders.get(anchor, 0) + 1
    sets = [{a for a in mine if holders[a] <= finder.max_bucket} for mine in sets]
    lengths = np.diff(offsets)
    expected, dropped_long, kept_short = [], 0, 0
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            shared = len(sets[i] & sets[j])
            short = min(lengths[i], lengths[j]) <= finder.short_doc_anchors
            if shared >= 3 or (shared == 2 and short):
                expected.append([i, j])
            dropped_long += shared == 2 and not short
            kept_short += shared == 2 and short
    assert dropped_long and kept_short  # both sides of the rule are exercised
    assert finder.candidate_pairs(anchors, offsets).tolist() == expected
    everything = SharedPassages(long_min_shared=2).candidate_pairs(anchors, offsets).tolist()
    assert len(everything) == len(expected) + dropped_long
