"""Fingerprint stage: datasketch-exact MinHash, tokeniser vs a slow reference, rewrite channel."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

import dedup.fingerprint as fingerprint
from dedup.fingerprint import (
    BYTE_BASE,
    LENGTH_TAGS,
    MAX_HASH,
    POSITION_MULTIPLIERS,
    Fingerprinter,
    MinHasher,
    estimate_jaccard,
    fmix64_int,
    normalise_word,
)

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

EDGE_TEXTS = [
    "The quick brown fox jumps over the lazy dog. The quick brown fox!",
    "Café “quoted” words—dashed…ellipsis, ÜBER-straße naïve résumé",
    "Figures: 11,000 troops, 3.5% growth, $1.13bn (£600m) in 2025.",
    "two words",
    "one",
    "",
    "   \n\t ... !!! ",
    "北朝鮮は、ロシアに追加部隊を派遣。 emoji 🙂 ok\u00a0nbsp «guillemets»",
    "MiXeD CaSe and under_score and apostrophe's and don't",
]
MAX = (1 << 64) - 1


def reference_shingles(text: str, size: int) -> list[int]:
    """Slow, independent statement of the copy channel's shingle hashes (Python ints)."""
    # Word characters: ASCII letters/digits and any non-ASCII character except Latin-1
    # symbols U+0080-00BF, general punctuation U+2000-207F and CJK punctuation U+3000-303F.
    words = re.findall(r"[a-z0-9\u00c0-\u1fff\u2080-\u2fff\u3040-\U0010ffff]+", text.lower())
    token_hashes = []
    for word in words:
        value = 0
        for j, byte in enumerate(word.encode("utf-8")):
            value = (value + byte * pow(BYTE_BASE, j, 1 << 64)) & MAX
        token_hashes.append(fmix64_int(value))
    if not token_hashes:
        return []
    windows = [token_hashes[i : i + size] for i in range(len(token_hashes) - size + 1)] or [token_hashes]
    out = []
    for window in windows:
        acc = LENGTH_TAGS[len(window)]
        for pos, value in enumerate(window):
            acc = (acc + value * POSITION_MULTIPLIERS[pos]) & MAX
        out.append(fmix64_int(acc) >> 32)
    return out


def datasketch_signature(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """datasketch's MinHash over our shingle hashes, passed through unchanged."""
    sketch = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda value: value)
    sketch.update_batch(hashes.tolist())
    return sketch.hashvalues


def seed_texts() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in SEEDS]


def set_jaccard(hashes: np.ndarray, offsets: np.ndarray, i: int, j: int) -> float:
    a = set(hashes[offsets[i] : offsets[i + 1]].tolist())
    b = set(hashes[offsets[j] : offsets[j + 1]].tolist())
    return len(a & b) / len(a | b) if a | b else 0.0


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (16, 7), (200, 42), (1, 3)])
def test_minhash_identical_to_datasketch(num_perm: int, seed: int) -> None:
    texts = seed_texts() + EDGE_TEXTS
    hashes, offsets = Fingerprinter("copy", num_perm=num_perm, seed=seed).shingles(texts)
    signatures = MinHasher(num_perm, seed).signatures(hashes, offsets)
    assert signatures.shape == (len(texts), num_perm) and signatures.dtype == np.uint32
    for doc in range(len(texts)):
        doc_hashes = hashes[offsets[doc] : offsets[doc + 1]]
        if len(doc_hashes):
            assert np.array_equal(signatures[doc], datasketch_signature(doc_hashes, num_perm, seed))
        else:
            assert np.all(signatures[doc] == MAX_HASH)


def test_minhash_chunks_split_docs_and_extreme_values() -> None:
    """Docs that straddle work chunks, and hash values 0 and 2^32-1, still match datasketch."""
    rng = np.random.default_rng(5)
    counts = np.array([1, 0, 37, 500, 3, 0, 1200, 2])
    offsets = np.concatenate(([0], np.cumsum(counts)))
    hashes = rng.integers(0, 1 << 32, offsets[-1], dtype=np.uint64).astype(np.uint32)
    hashes[[0, 5, 600]] = [0, 0xFFFFFFFF, 0]
    small = MinHasher(64, 9)
    small.chunk_rows = 97
    signatures = small.signatures(hashes, offsets)
    assert np.array_equal(signatures, MinHasher(64, 9).signatures(hashes, offsets))
    for doc in np.flatnonzero(counts):
        expected = datasketch_signature(hashes[offsets[doc] : offsets[doc + 1]], 64, 9)
        assert np.array_equal(signatures[doc], expected)
    assert np.all(signatures[counts == 0] == MAX_HASH)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_copy_shingles_match_slow_reference(size: int) -> None:
    texts = EDGE_TEXTS + seed_texts()[:1]
    hashes, offsets = Fingerprinter("copy", shingle_size=size).shingles(texts)
    for doc, text in enumerate(texts):
        assert hashes[offsets[doc] : offsets[doc + 1]].tolist() == reference_shingles(text, size), text[:40]


def test_short_and_empty_docs() -> None:
    hashes, offsets = Fingerprinter("copy", shingle_size=5).shingles(["two words", "", "a b c d e", "!!"])
    assert np.diff(offsets).tolist() == [1, 0, 1, 0]
    # A doc of fewer than k tokens is one shingle of all its tokens, not padded to k.
    assert hashes[0] != Fingerprinter("copy", shingle_size=5).shingles(["two words two"])[0][0]


def test_tokeniser_splits_on_unicode_punctuation_and_lowercases() -> None:
    fp = Fingerprinter("copy", shingle_size=1)
    plain, _ = fp.shingles(["bayes theorem said 11 000"])
    fancy, _ = fp.shingles(["Bayes’ “THEOREM” — said… 11,000"])
    assert plain.tolist() == fancy.tolist()


def test_output_independent_of_batching_and_jobs() -> None:
    texts = (seed_texts() + EDGE_TEXTS) * 3
    for channel in ("copy", "rewrite"):
        reference = Fingerprinter(channel, num_perm=32).transform(texts)
        tiny_batches = Fingerprinter(channel, num_perm=32, batch_bytes=3000).transform(texts)
        two_jobs = Fingerprinter(channel, num_perm=32, jobs=2, batch_bytes=3000)
        assert np.array_equal(reference, tiny_batches)
        assert np.array_equal(reference, two_jobs.transform(texts))
        one_h, one_o = Fingerprinter(channel, batch_bytes=3000).shingles(texts)
        two_h, two_o = two_jobs.shingles(texts)
        assert np.array_equal(one_h, two_h) and np.array_equal(one_o, two_o)


def test_transform_of_nothing() -> None:
    assert Fingerprinter().transform([]).shape == (0, 128)
    hashes, offsets = Fingerprinter("rewrite").shingles([])
    assert len(hashes) == 0 and offsets.tolist() == [0]


def test_rewrite_channel_separates_seed_rewrite_from_same_topic() -> None:
    texts = seed_texts()
    hashes, offsets = Fingerprinter("rewrite").shingles(texts)
    copy_hashes, copy_offsets = Fingerprinter("copy").shingles(texts)
    rewrite = set_jaccard(hashes, offsets, 0, 1)
    others = {SEEDS[j].name[:3]: set_jaccard(hashes, offsets, 0, j) for j in (2, 3, 4)}
    print(f"rewrite channel J(000,001)={rewrite:.3f}; vs 000: {others}; "
          f"copy channel J(000,001)={set_jaccard(copy_hashes, copy_offsets, 0, 1):.3f}")
    assert rewrite > 1.5 * max(others.values())
    assert set_jaccard(copy_hashes, copy_offsets, 0, 1) < 0.05  # why the rewrite channel exists
    signatures = Fingerprinter("rewrite", num_perm=256).transform(texts)
    assert estimate_jaccard(signatures[0], signatures[1]) > max(
        estimate_jaccard(signatures[0], signatures[j]) for j in (2, 3, 4)
    )


def test_rewrite_normalisation() -> None:
    assert normalise_word("11,000") == "#11000"
    assert normalise_word("1.50bn") == "#1.5"
    assert normalise_word("the") is None and normalise_word("x") is None
    fp = Fingerprinter("rewrite")
    a, a_off = fp.shingles(["The troops were deployed: 11,000 of them, said officials."])
    b, b_off = fp.shingles(["Officials say 11000 troops deploying"])
    assert sorted(a.tolist()) == sorted(b.tolist())
    assert np.diff(a_off).tolist() == [4]  # troop, deploy, #11000, offici


def test_rewrite_vocabulary_survives_growth() -> None:
    """A vocabulary that starts tiny and grows many times maps every word the same way,
    including words it already knew in the batch that made it grow."""
    words = [f"alpha beta word{i} term{i * 7} 4{i},{i:03d} gamma" for i in range(600)]
    fresh = Fingerprinter("rewrite").shingles(words)
    saved = fingerprint._vocabulary
    try:
        fingerprint._vocabulary = fingerprint._RewriteVocabulary(capacity_log2=2)
        grown = Fingerprinter("rewrite", batch_bytes=500).shingles(words)
    finally:
        fingerprint._vocabulary = saved
    assert np.array_equal(fresh[0], grown[0]) and np.array_equal(fresh[1], grown[1])


def test_hash_table_collisions_and_zero_key() -> None:
    table = fingerprint._HashTable(capacity_log2=4)
    keys = np.array([0, 16, 32, 48, 5, 21], dtype=np.uint64)  # same low bits: long probe chains
    slots = table.insert(keys)
    assert len(set(slots.tolist())) == len(keys)
    assert np.array_equal(table.find(keys), slots)
    assert table.find(np.array([64, 7], dtype=np.uint64)).tolist() == [-1, -1]


def test_estimate_jaccard() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.uint32)
    b = np.array([1, 2, 0, 0], dtype=np.uint32)
    assert estimate_jaccard(a, b) == 0.5
    assert estimate_jaccard(np.stack([a, a]), np.stack([a, b])).tolist() == [1.0, 0.5]


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Fingerprinter("semantic")
    with pytest.raises(ValueError):
        Fingerprinter(shingle_size=0)
    with pytest.raises(ValueError):
        MinHasher(num_perm=0)


def test_scan_fingerprints_match_each_channel_alone() -> None:
    """The scan's one-pass fingerprints (shared tokenisation, any jobs, compact or not) equal each
    channel's own signatures, and its anchors equal the passage channel's."""
    from dedup.candidates import SharedPassages
    from dedup.fingerprint import scan_fingerprints

    texts = [f"Doc {k}: the 11,000 troops and 3.5 billion dollars, said officials on day {k}. " * (k % 5 + 1)
             for k in range(300)] + ["", "one", "Émile Zola wrote “J’accuse…!” in 1898"]
    copy = Fingerprinter("copy", num_perm=64, batch_bytes=4000)
    rewrite = Fingerprinter("rewrite", num_perm=64, batch_bytes=4000)
    copy_sigs, rewrite_sigs, anchors, offsets = scan_fingerprints(texts, copy, rewrite, jobs=1)
    assert np.array_equal(copy_sigs, copy.transform(texts))
    assert np.array_equal(rewrite_sigs, rewrite.transform(texts))
    expected_anchors, expected_offsets = SharedPassages().anchors(texts)
    assert np.array_equal(offsets, expected_offsets) and np.array_equal(anchors, expected_anchors)
    compact = scan_fingerprints(texts, copy, rewrite, jobs=2, compact=True)
    assert np.array_equal(compact[0], copy_sigs.astype(np.uint16))
    assert np.array_equal(compact[1], rewrite_sigs.astype(np.uint16))
    assert np.array_equal(compact[2], anchors)


def _fake_words(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct made-up words (letters only: numbers are normalised by the rewrite channel)."""
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    words = {"".join(letters[rng.integers(0, 20, 7)]) for _ in range(count * 2)}
    return sorted(words)[:count]


def test_frequent_words_do_not_make_rewrite_candidates() -> None:
    """In a corpus large enough for document frequency to mean something, words shared by
    every document (a wire's "said", "mln", "pct") no longer make unrelated stories rewrite
    candidates, while a paraphrase pair sharing its rare words still is one; short documents
    keep their frequent words."""
    from dedup.fingerprint import FREQUENT_MIN_CORPUS, SHORT_DOC_WORDS, drop_frequent_words, rewrite_features, scan_fingerprints
    from dedup.pipeline import ScanConfig, Scanner

    rng = np.random.default_rng(7)
    vocabulary = _fake_words(rng, 60_000)
    frequent, rare = vocabulary[:15], vocabulary[15:]
    n = FREQUENT_MIN_CORPUS + 100
    stories = [list(rng.choice(rare, 30, replace=False)) for _ in range(n)]
    stories[1] = stories[0][:20] + list(rng.choice(rare, 10, replace=False))  # a paraphrase of doc 0
    texts = [" ".join(frequent + story) for story in stories]
    copy, rewrite = Fingerprinter("copy"), Fingerprinter("rewrite")
    scanner = Scanner(ScanConfig(jobs=1))
    _, rewrite_sigs, _, _ = scan_fingerprints(texts, copy, rewrite, jobs=1, compact=True)
    pairs = scanner.candidate_pairs(np.full_like(rewrite_sigs, 0xFFFF), rewrite_sigs)
    assert [0, 1] in pairs.tolist()
    assert len(pairs) < 10
    # Rewrite MinHash in blocks of documents on a pool gives the same signatures.
    from dedup.fingerprint import _rewrite_signatures
    blocked = _rewrite_signatures(rewrite, *drop_frequent_words(*rewrite_features(texts)), True, jobs=2, docs_per_block=500)
    assert np.array_equal(blocked, rewrite_sigs)
    # The same corpus with every word kept (as a small corpus is): frequent words alone reach the
    # Jaccard floor, and unrelated stories become candidates by the thousand.
    features, offsets = rewrite_features(texts)
    unfiltered = rewrite.minhasher.signatures(features, offsets).astype(np.uint16)
    assert len(scanner.candidate_pairs(np.full_like(unfiltered, 0xFFFF), unfiltered)) > 1000
    # Frequent words go; a short document keeps them all.
    short = " ".join(frequent + stories[2][: SHORT_DOC_WORDS - len(frequent) - 1])
    features, offsets = rewrite_features(texts + [short])
    kept, kept_offsets = drop_frequent_words(features, offsets)
    sizes = np.diff(kept_offsets)
    assert sizes[0] == 30 and sizes[-1] == np.diff(offsets)[-1] == SHORT_DOC_WORDS - 1
    # Below FREQUENT_MIN_CORPUS documents nothing is dropped.
    small, small_offsets = drop_frequent_words(*rewrite_features(texts[:100]))
    assert np.array_equal(np.diff(small_offsets), np.diff(rewrite_features(texts[:100])[1]))


def test_non_ascii_digits_are_words_not_numbers():
    # str.isdigit says "٣" and "₂" are digits; the number pattern does not, which crashed.
    assert fingerprint.normalise_word("٣") == "٣"
    assert fingerprint.normalise_word("₂x") == "₂x"
    assert fingerprint.normalise_word("11,000") == "#11000"
    features, offsets = fingerprint.rewrite_features(["Arabic-Indic ٣ and subscript ₂ digits"])
    assert offsets.tolist() == [0, len(features)] and len(features) >= 3
