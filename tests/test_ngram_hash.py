"""dedup.ngram_hash must give scikit-learn's HashingVectorizer matrices, entry for entry."""
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from dedup.ngram_hash import murmurhash3_spans, ngram_counts

SENTENCES = [
    "",
    "I",
    "a b",
    "The U.S. economy grew 3.5% in 2024, adding 11,000 jobs.",
    "  Tabs\tand\nnew   lines\u00a0and a no-break space ",
    "Ünïcödé naïve café — “quoted” İstanbul ǅ x_y don't",
    "日本語のテキスト 𝒳𝒴 emoji 😀 ok ß ﬁ",
    "supercalifragilisticexpialidocious antidisestablishmentarianism words",
]


def test_murmurhash_spans_match_murmurhash3_32():
    rng = np.random.default_rng(0)
    keys = [bytes(rng.integers(0, 256, size=n, dtype=np.uint8)) for n in range(0, 41) for _ in range(5)]
    buffer = np.frombuffer(b"".join(keys) + b"\0\0\0\0", dtype=np.uint8)
    lengths = np.array([len(k) for k in keys])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for seed in (0, 42):
        expected = [murmurhash3_32(k, seed=seed) for k in keys]
        assert murmurhash3_spans(buffer, starts, lengths, seed).tolist() == expected


# Batches whose whitespace is folded already, as dedup's splitter makes them: ngram_counts
# only lower-cases them (one call for an ASCII batch), where other batches are folded first.
FOLDED_ASCII = ["The U.S. economy grew 3.5% in 2024, adding 11,000 jobs.", "I", "a b", "x_y don't (sic) -- ok"]
FOLDED_UNICODE = FOLDED_ASCII + ["İstanbul ΟΔΟΣ ΣΑΣ. café — “quoted”", "日本語 𝒳𝒴 😀 ß ﬁ"]


@pytest.mark.parametrize("n_features", [2**18, 1000])
@pytest.mark.parametrize("sentences", [SENTENCES, FOLDED_ASCII, FOLDED_UNICODE], ids=["unfolded", "ascii", "unicode"])
def test_ngram_counts_equal_hashing_vectorizer(n_features, sentences):
    word = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm=None,
                             token_pattern=r"(?u)\b\w+\b", dtype=np.float32)
    char = HashingVectorizer(n_features=n_features, analyzer="char_wb", ngram_range=(3, 5),
                             alternate_sign=False, norm=None, dtype=np.float32)
    got_word, got_char = ngram_counts(sentences, n_features)
    for got, want in ((got_word, word.transform(sentences)), (got_char, char.transform(sentences))):
        want.sort_indices()
        got.sort_indices()  # the char counts come unsorted within a row: the same entries
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got.indptr, want.indptr)
        assert np.array_equal(got.indices, want.indices)
        assert np.array_equal(got.data, want.data)


@pytest.mark.parametrize("batch", [
    [], [""], ["", ""], ["a", ""], ["", "a"], [" a"], ["a "], ["a  b"], ["a\tb"], ["a\x1cb"], ["no\u00a0break"],
    ["line\u2028sep"], ["İİ x", "y"], ["ΑΣ ΟΔΟΣ", "ς"], FOLDED_ASCII, FOLDED_UNICODE, SENTENCES,
])
def test_folded_batch_is_each_sentence_lowered_and_folded(batch):
    from dedup.ngram_hash import _folded_batch

    normal = [" ".join(text.lower().split()) for text in batch]
    joined, lengths = _folded_batch(batch)
    assert joined == " " + " ".join(normal) + " "
    assert lengths.tolist() == [len(text) for text in normal]


def test_ngram_counts_ascii_batch_counts_repeats():
    word, char = ngram_counts(["the cat the cat"], 2**18)
    assert word.sum() == 4 + 3  # four unigrams, three bigrams
    assert sorted(word.data.tolist()) == [1.0, 2.0, 2.0, 2.0]  # "cat the" once; the, cat, "the cat" twice
    assert char.sum() == 4 * (3 + 2 + 1)  # " the " has 3 trigrams, 2 four-grams, 1 five-gram


def test_sentence_counts_on_the_worker_pool_equal_one_process(monkeypatch):
    import dedup.verify as verify

    monkeypatch.setattr(verify, "HASH_CHUNK", 3)  # 14 parts: the pool path
    sentences = [f"Sentence {k} says Pyongyang sent {k * 7} shells and {k} units." for k in range(40)]
    vectorizer = verify.SentenceVectorizer()
    one, pooled = vectorizer.counts(sentences, jobs=1), vectorizer.counts(sentences, jobs=2)
    for a, b in zip(one, pooled):
        assert a.shape == b.shape == (40, vectorizer.n_features)
        assert (a != b).nnz == 0


@pytest.mark.parametrize("jobs, max_fit", [(1, 200_000), (2, 200_000), (2, 25), (1, 25)])
def test_idf_from_worker_frequencies_equals_scikit_learn_fit(monkeypatch, jobs, max_fit):
    """`fit_sentences` sums each chunk's document frequencies and makes the IDF itself, and
    `fit_counts` does the same from whole matrices: the same float32 `idf_` as scikit-learn's
    TfidfTransformer fitted on the (seeded sample's) stacked count matrices, on the pool or not,
    and for no sentences at all."""
    from sklearn.feature_extraction.text import TfidfTransformer

    import dedup.verify as verify

    monkeypatch.setattr(verify, "HASH_CHUNK", 3)  # 14 parts: the pool path
    base = Path(__file__).resolve().parents[1] / "seeds"
    sentences = [s for path in sorted(base.glob("*.txt")) for s in path.read_text().split(". ")][:40]
    for texts in (sentences, []):
        word, char = verify.SentenceVectorizer().counts(texts, jobs=1)
        fitted = verify.SentenceVectorizer(max_fit_sentences=max_fit).fit_sentences(texts, jobs=jobs)
        from_counts = verify.SentenceVectorizer(max_fit_sentences=max_fit).fit_counts(word, char)
        keep = fitted._fit_rows(len(texts))
        assert (keep is not None) == (len(texts) > max_fit)
        rows = slice(None) if keep is None else keep
        for counts, ours, theirs in ((word, fitted._word_idf, from_counts._word_idf),
                                     (char, fitted._char_idf, from_counts._char_idf)):
            expected = TfidfTransformer(sublinear_tf=True).fit(counts[rows]).idf_
            assert ours.idf_.dtype == theirs.idf_.dtype == expected.dtype
            assert np.array_equal(ours.idf_, expected) and np.array_equal(theirs.idf_, expected)
    assert len(set(fitted._word_idf.idf_.tolist())) == 1  # no sentences: every n-gram unseen
    assert len(set(from_counts._word_idf.idf_.tolist())) == 1
    frequent_and_rare = verify.SentenceVectorizer().fit_sentences(sentences)._word_idf.idf_
    assert len(set(frequent_and_rare.tolist())) > 3


def test_stack_rows_equals_vstack(monkeypatch):
    """Rows assembled chunk by chunk into arrays sized from the first chunk: the same matrix as
    `transform(distinct)`, with chunks of a few rows and a first chunk too sparse for the size
    estimate (so the output grows)."""
    import numpy as np

    from dedup import verify

    rng = np.random.default_rng(3)
    distinct = ["a", "b", ""] + [" ".join(rng.choice(["tanks", "troops", "Seoul", "11,000", "said", "the"],
                                                     size=int(rng.integers(1, 30)))) + f" {k}" for k in range(40)]
    vectorizer = verify.SentenceVectorizer(n_features=2**10).fit(distinct)
    expected = vectorizer.transform(distinct)
    monkeypatch.setattr(verify, "HASH_CHUNK", 4)
    got = verify.stack_rows(vectorizer.transform_chunks(distinct), len(distinct), 2 * vectorizer.n_features)
    # A row's char entries come in an order that depends on the other sentences of its chunk
    # (`ngram_counts` does not sort them); the values do not.
    got.sort_indices()
    expected.sort_indices()
    assert got.shape == expected.shape
    assert (got != expected).nnz == 0 and np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices) and np.array_equal(got.data, expected.data)
    assert verify.stack_rows(iter([]), 0, 8).shape == (0, 8)
    with pytest.raises(ValueError, match="3 rows arrived for 5"):
        verify.stack_rows(iter([expected[:3]]), 5, expected.shape[1])


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("n_features", [2**18, 2**12])
def test_packed_counts_unpack_to_the_same_matrices(n_features, compiled, monkeypatch):
    """A row store keeps counts packed (column | count << bits); counts too large for the bits
    left are escaped, including one whose escape entry reads as count 0 and one that does not.
    The compiled packing and the numpy one give the same entries."""
    from dedup import jit
    from dedup.ngram_hash import pack_counts, packed_column_bits, packed_ngram_counts, unpack_counts

    texts = SENTENCES + ["a " * 9000, "b " * 8191 + "c " * 8192, "d " * 600_000, ""]
    word, char = ngram_counts(texts, n_features)
    monkeypatch.setattr(jit, "MIN_SIZE", 0 if compiled else 1 << 62)
    if compiled and not jit.jit_available():
        pytest.skip("numba is not installed")
    packed, entries = pack_counts(word, char, n_features)
    with jit.numpy_only():
        reference = pack_counts(word, char, n_features)
    np.testing.assert_array_equal(packed, reference[0])
    np.testing.assert_array_equal(entries, reference[1])
    assert packed.dtype == np.uint32 and len(entries) == len(texts) and entries.sum() == len(packed)
    limit = 1 << (32 - packed_column_bits(n_features))  # 8,192 at 2^18 features, 524,288 at 2^12
    escaped = int((word.data >= limit).sum() + (char.data >= limit).sum())
    assert escaped > 0 and len(packed) == word.nnz + char.nnz + escaped
    got_word, got_char = unpack_counts(packed, np.concatenate([[0], np.cumsum(entries)]), n_features)
    for got, want in ((got_word, word), (got_char, char)):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.data, want.data)
    # What a row store keeps, counted and packed in one pass (the kernel) or packed after counting
    # (the entry order within a row is the counting path's own, so both sides count the same way).
    fused, fused_entries = packed_ngram_counts(texts, n_features)
    expected, expected_entries = pack_counts(*ngram_counts(texts, n_features), n_features)
    np.testing.assert_array_equal(fused, expected)
    np.testing.assert_array_equal(fused_entries, expected_entries)
    assert fused.dtype == np.uint32 and fused_entries.dtype == np.int32


def test_encode_maps_each_code_point_to_its_utf8_offset() -> None:
    """Byte offsets of 1-, 2-, 3- and 4-byte characters and of a lone surrogate (which a scan
    can read from JSON escapes), against each character encoded alone."""
    from dedup.ngram_hash import _encode

    text = "a\u00e9\u4e00\U0001F600\ud800 z\u00df"
    points, buffer, byte_at = _encode(text)
    widths = [len(c.encode("utf-8", "surrogatepass")) for c in text]
    assert byte_at.tolist() == [0, *np.cumsum(widths).tolist()]
    assert points.tolist() == [ord(c) for c in text]
    assert bytes(buffer) == text.encode("utf-8", "surrogatepass") + bytes(4)
    assert _encode("plain")[2] is None
