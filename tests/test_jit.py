"""The compiled kernels (dedup.jit) must give the numpy paths' arrays exactly, whatever the text."""
import random
from pathlib import Path

import numpy as np
import pytest

import dedup.fingerprint as fp
from dedup import jit

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

pytestmark = pytest.mark.skipif(not jit.jit_available(), reason="numba not importable or DEDUP_NO_JIT set")


def _odd_texts(count: int) -> list[str]:
    """Short texts that stress the tokeniser: non-ASCII words and punctuation, numbers with
    separators, non-ASCII digits, empty and one-letter texts."""
    rng = random.Random(7)
    pieces = list("abcXYZ019 ,.,.\n\t-'\"") + ["é", "ß", "\u2019", "\u201c", "\u00a0", "\u00bb", "\u3001", "漢", "\u2014",
                                                  "\u2081", "Ω", "1,000", "3.5", "ÉCOLE", "٣", "²", "😀", "İ"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(count)]
    return texts + ["", "a", "x y", "1,2,3", "é", "\u2014\u2014", "12.5.6 7,8"]


def _news_texts() -> list[str]:
    seeds = [path.read_text(encoding="utf-8") for path in SEEDS]
    # Each seed again with its sentences rotated, so the batch is large and not all repeats.
    rotated = [". ".join(t.split(". ")[k:] + t.split(". ")[:k]) for t in seeds for k in range(1, 12)]
    return seeds + rotated


def _everything(texts: list[str]) -> dict:
    plain, joined = fp.tokenise_batch_twice(texts)
    out = {"plain": plain[:4], "joined": joined[:4], "single": fp.tokenise_batch(texts)[:4],
           "single_joined": fp.tokenise_batch(texts, join_numbers=True)[:4],
           "anchors": fp.passage_anchors(plain[0], plain[1]), "rewrite": fp.rewrite_features(texts, tokens=joined)}
    for k in (1, 3, 5, 8):
        hashes, offsets = fp.kgram_hashes(plain[0], plain[1], k)
        out[f"kgram{k}"] = (hashes, offsets)
        out[f"minhash{k}"] = fp.MinHasher(64, seed=k).signatures(hashes, offsets)
    hashes, offsets = out["kgram5"]
    out["minhash_slice"] = fp.MinHasher(128).signatures(hashes, offsets[3:9])  # offsets not starting at 0
    features, feature_offsets = fp.rewrite_features(texts * (fp.FREQUENT_MIN_CORPUS // len(texts) + 1))
    out["drop_frequent"] = fp.drop_frequent_words(features, feature_offsets)
    table = fp._HashTable(10)
    table.insert(np.unique(plain[0][::3]))
    out["table_find"] = table.find(np.concatenate([plain[0], np.zeros(2, np.uint64)]))
    return out


def _assert_same(compiled, reference, where: str) -> None:
    if isinstance(reference, (tuple, list)):
        assert len(compiled) == len(reference), where
        for index, (got, want) in enumerate(zip(compiled, reference)):
            _assert_same(got, want, f"{where}[{index}]")
        return
    assert compiled.dtype == reference.dtype, where
    np.testing.assert_array_equal(compiled, reference, err_msg=where)


@pytest.mark.parametrize("kind", ["news", "odd"])
def test_kernels_equal_numpy_paths(monkeypatch, kind):
    texts = _news_texts() if kind == "news" else _odd_texts(400)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    compiled = _everything(texts)
    with jit.numpy_only():
        reference = _everything(texts)
    assert compiled.keys() == reference.keys()
    for name in reference:
        _assert_same(compiled[name], reference[name], f"{kind}:{name}")
    assert len(compiled["plain"][0]) > 1000  # the batch is not trivially small


def test_small_inputs_keep_the_numpy_path(monkeypatch):
    assert jit.kernel("tokens", jit.MIN_SIZE - 1) is None
    assert jit.kernel("tokens", jit.MIN_SIZE) is not None
    with jit.numpy_only():
        assert jit.kernel("tokens", jit.MIN_SIZE) is None


def test_compiled_always_lifts_the_size_floor_inside_its_block():
    with jit.compiled_always():
        assert jit.kernel("tokens", 1) is not None
    assert jit.kernel("tokens", 1) is None and jit.MIN_SIZE > 1


def test_a_kernel_module_that_fails_to_load_falls_back_to_numpy(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def failing_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "dedup" and fromlist and "_kernels" in fromlist:
            raise RuntimeError("cannot cache function 'tokens': no locator available")
        return real_import(name, globals, locals, fromlist, level)

    texts = _news_texts()
    expected = fp.tokenise_batch(texts)[0]
    jit._kernels.cache_clear()
    monkeypatch.setattr(builtins, "__import__", failing_import)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    monkeypatch.delitem(__import__("sys").modules, "dedup._kernels", raising=False)
    try:
        with pytest.warns(RuntimeWarning, match="numpy code"):
            assert not jit.jit_available()
        np.testing.assert_array_equal(fp.tokenise_batch(texts)[0], expected)
    finally:
        monkeypatch.undo()
        jit._kernels.cache_clear()
    assert jit.jit_available()


def test_murmurhash_kernel_equals_numpy_and_scikit_learn(monkeypatch):
    from sklearn.utils import murmurhash3_32

    from dedup.ngram_hash import murmurhash3_spans, ngram_counts

    rng = np.random.default_rng(3)
    buffer = rng.integers(0, 256, 5000, dtype=np.uint8)
    starts = rng.integers(0, 4900, 3000)
    lengths = rng.integers(0, 41, 3000)  # every tail length, up to ten 4-byte blocks
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    for seed in (0, 42, 2**32 - 1):
        compiled = murmurhash3_spans(buffer, starts, lengths, seed)
        with jit.numpy_only():
            reference = murmurhash3_spans(buffer, starts, lengths, seed)
        assert compiled.dtype == reference.dtype == np.int32
        np.testing.assert_array_equal(compiled, reference)
        expected = [murmurhash3_32(bytes(buffer[s:s + n]), seed=seed) for s, n in zip(starts[:300], lengths[:300])]
        assert compiled[:300].tolist() == expected
    sentences = [s for t in _news_texts() + _odd_texts(200) for s in t.split(". ")]
    # A batch of more distinct words than the kernel's word table keeps (32,768): the words
    # past that are hashed where they stand, with the same counts.
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzé"))
    words = ["".join(w) for w in rng.choice(letters, size=(40_000, 7))]
    many_words = [" ".join(words[k:k + 8]) for k in range(0, len(words), 8)]
    # Rows of every size: each row counts in a table sized by its length, so one very long
    # row (24k characters, ~60k n-grams) and repeats of one short word must count as well.
    long_rows = [" ".join(words[:3000]), "a " * 500, "x"]
    for batch in (sentences, many_words + sentences, long_rows + sentences[:50]):
        compiled = ngram_counts(batch, 1 << 18)
        with jit.numpy_only():
            reference = ngram_counts(batch, 1 << 18)
        for got, want in zip(compiled, reference):
            assert (got != want).nnz == 0 and got.shape == want.shape
            np.testing.assert_array_equal(got.indptr, want.indptr)


def test_similarity_kernels_equal_numpy_paths(monkeypatch):
    """The verify chunk's similarities, prefilter inputs, neighbour dots and `_cannot_be_derived`
    verdicts: the kernels' sums run in another order, so totals, norms and dots agree to 1e-12 and
    the rounded similarities and verdicts exactly."""
    from dedup import pipeline
    from dedup.verify import Verifier, chunk_similarities, split_sentences

    texts = _news_texts()
    sentences = [split_sentences(t) for t in texts]
    verifier = Verifier()
    index: dict[str, int] = {}  # one row per distinct sentence text, as a scan's verify blocks hold them
    row_map = np.array([index.setdefault(s.text, len(index)) for doc in sentences for s in doc])
    matrix = verifier.vectorizer.fit_transform(list(index))
    assert len(index) < len(row_map)
    starts = np.cumsum([0] + [len(s) for s in sentences])
    chars = np.array([len(s.text) for doc in sentences for s in doc], dtype=np.float64)
    rng = np.random.default_rng(5)
    pairs = np.unique(rng.integers(0, len(texts), (300, 2)), axis=0)  # sorted: a first document's pairs together
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    rows_a = np.stack([starts[pairs[:, 0]], starts[pairs[:, 0] + 1]], axis=1)
    rows_b = np.stack([starts[pairs[:, 1]], starts[pairs[:, 1] + 1]], axis=1)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    compiled = chunk_similarities(matrix, row_map, rows_a, rows_b)
    with jit.numpy_only():
        reference = chunk_similarities(matrix, row_map, rows_a, rows_b)
    np.testing.assert_array_equal(compiled.offsets, reference.offsets)
    np.testing.assert_array_equal(compiled.flat, reference.flat)
    for name in ("totals", "norms_a", "norms_b"):
        np.testing.assert_allclose(getattr(compiled, name), getattr(reference, name), rtol=1e-12, err_msg=name)
    for rows in np.unique(np.concatenate([rows_a, rows_b]), axis=0).tolist():
        np.testing.assert_allclose(compiled.adjacent(rows), reference.adjacent(rows), rtol=1e-12, atol=1e-15)
    todo = np.arange(0, len(pairs), 2)
    verdicts = pipeline._cannot_be_derived_all(verifier, compiled, chars, rows_a[:, 0], rows_b[:, 0], todo)
    with jit.numpy_only():
        expected = pipeline._cannot_be_derived_all(verifier, reference, chars, rows_a[:, 0], rows_b[:, 0], todo)
    np.testing.assert_array_equal(verdicts, expected)
    assert 0 < verdicts.sum() < len(todo) and not verdicts[1::2].any()  # both verdicts occur; others untouched
    assert (compiled.flat == 1.0).any() and len(compiled.flat) > 10_000  # copied sentences; not a toy size

    # With a cosine floor, pairs below it get no matrix; the kept pairs' matrices are the same.
    floor = float(np.median(compiled.totals / (compiled.norms_a * compiled.norms_b)))
    kept = chunk_similarities(matrix, row_map, rows_a, rows_b, floor)
    with jit.numpy_only():
        kept_reference = chunk_similarities(matrix, row_map, rows_a, rows_b, floor)
    np.testing.assert_array_equal(kept.kept, kept_reference.kept)
    assert 0 < len(kept.kept) < len(pairs) and len(kept.flat) < len(compiled.flat)
    np.testing.assert_allclose(kept.totals, reference.totals, rtol=1e-12)
    for p in kept.kept.tolist():
        np.testing.assert_array_equal(kept.matrix(p), reference.matrix(p))

    # The block's documents made once (`LayoutDocuments`, of every document of the layout, some
    # of them empty and some in no pair) give each chunk the same norms, dots and kept pairs.
    from dedup.verify import LayoutDocuments
    layout = np.stack([starts[:-1], starts[1:]], axis=1)
    empty = np.array([[starts[3], starts[3]]])  # an empty document shares its first row with another
    layout = np.concatenate([layout[:3], empty, layout[3:]])
    documents = LayoutDocuments.of_rows(matrix, row_map, layout)
    assert documents is not None and len(documents.lo) == len(layout) - 1
    assert documents.norms_of(empty)[0] == 0.0 and documents.norms_of(layout[4:5])[0] > 0.0
    with_empty = (np.concatenate([rows_a, np.repeat(empty, 2, axis=0)]), np.concatenate([layout[4:6], rows_b]))
    for side_a, side_b in ((rows_a, rows_b), (rows_a[5:40], rows_b[5:40]), with_empty):
        shared = chunk_similarities(matrix, row_map, side_a, side_b, floor, documents)
        alone = chunk_similarities(matrix, row_map, side_a, side_b, floor)
        np.testing.assert_array_equal(shared.kept, alone.kept)
        np.testing.assert_array_equal(shared.flat, alone.flat)
        np.testing.assert_array_equal(shared.norms_a, alone.norms_a)
        np.testing.assert_array_equal(shared.norms_b, alone.norms_b)
        for rows in np.unique(np.concatenate([side_a, side_b]), axis=0).tolist():
            np.testing.assert_allclose(shared.adjacent(rows), alone.adjacent(rows), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(documents.adjacent(empty[0].tolist()), np.zeros(1))
    with pytest.raises(KeyError):  # a document in no pair of the chunk, asked of the chunk's own
        chunk_similarities(matrix, row_map, rows_a[:1], rows_b[:1], floor).adjacent(layout[-1].tolist())


def test_longest_insertion_kernel_equals_difflib():
    from dedup import _kernels
    from dedup.fidelity import _longest_insertion

    rng = np.random.default_rng(11)
    for trial in range(3000):
        alphabet = int(rng.integers(1, 8))  # small alphabets: repeats and ties between blocks
        a = rng.integers(0, alphabet, int(rng.integers(0, 25)))
        b = rng.integers(0, alphabet, int(rng.integers(0, 25)))
        if trial % 3 == 0 and len(a):  # an edited copy: cut, insert, replace
            b = np.concatenate([a[:len(a) // 3], rng.integers(0, 9, int(rng.integers(0, 6))), a[len(a) // 2:]])
        expected = _longest_insertion.__wrapped__(tuple(a.tolist()), tuple(b.tolist()))
        assert _kernels.longest_insertion(a.astype(np.int64), b.astype(np.int64)) == expected, (a, b)


def test_gram_counts_kernel_equals_python_sets():
    """Distinct and shared n-grams, and which tokens the other side holds, as Python's sets of
    tuples count them: small alphabets give repeats within and across sides, and a reused table
    must come back empty from every call."""
    from dedup import _kernels

    rng = np.random.default_rng(5)
    longest = 40
    table = np.full(_kernels._table_mask(2 * longest) + 1, -1, dtype=np.int64)
    used = np.empty(2 * longest, dtype=np.int64)
    for trial in range(2000):
        alphabet = int(rng.integers(1, 10))
        x = rng.integers(0, alphabet, int(rng.integers(0, longest + 1))) * 1_000_003  # ids far apart
        y = rng.integers(0, alphabet, int(rng.integers(0, longest + 1))) * 1_000_003
        if trial % 4 == 0:
            y = np.concatenate([x[:len(x) // 2], y[:5]])
        counts = [np.zeros(5, dtype=np.int64) for _ in range(3)]
        present = np.empty(len(x) + len(y), dtype=np.bool_)
        _kernels._gram_counts(x, y, 4, *counts, present, table, used)
        for n in range(1, 5):
            grams_x = {tuple(x[k:k + n]) for k in range(len(x) - n + 1)}
            grams_y = {tuple(y[k:k + n]) for k in range(len(y) - n + 1)}
            assert [c[n] for c in counts] == [len(grams_x), len(grams_y), len(grams_x & grams_y)], (x, y, n)
        np.testing.assert_array_equal(present, np.concatenate([np.isin(x, y), np.isin(y, x)]))
        assert (table == -1).all()


def test_compiled_token_ids_are_the_regex_tokens():
    """The compiled tokeniser and vocabulary give each text the ids of `fidelity.tokens(text)`:
    separators alone or doubled, non-ASCII letters (some lower-case to ASCII: the Kelvin sign,
    dotted capital I), digits with separators, and enough new words to grow the table."""
    from dedup import fidelity

    rng = random.Random(8)
    alphabet = list("abcXYZ019 .,'-?!\u00e9\u212a\u0130\u00df\u03a3\u2019\n\t") + ["\U0001F600", "\ud800"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += [" ".join(f"w{k}x{rng.randrange(10**6)}" for k in range(50)) for _ in range(200)]  # ~10k new tokens
    texts += _news_texts()[:3] + ["", "...", "1,200.5 and 3.", "a.b,c'd ''e"]
    assert jit.loaded_kernel("vocabulary_find") is not None
    ids, offsets = fidelity._VOCABULARY.ids_of(texts)
    words = fidelity._VOCABULARY.words
    for t, text in enumerate(texts):
        assert [words[i] for i in ids[offsets[t]:offsets[t + 1]].tolist()] == fidelity.tokens(text), text
    again, _ = fidelity._VOCABULARY.ids_of(texts)  # all known now
    np.testing.assert_array_equal(again, ids)


def test_link_feature_kernel_equals_the_python_features(monkeypatch):
    """Every FEATURE_NAMES column and the `copied` flag of sentence pairs that share much, little
    or nothing: the compiled rows are the per-pair Python ones."""
    import dedup.fidelity as fidelity_module
    from dedup.fidelity import link_feature_rows

    sentences = [s for t in _news_texts()[:5] for s in t.split(". ") if s.strip()]
    sentences += [s for s in _odd_texts(60) if s.strip()]
    rng = random.Random(3)

    def edited(text: str) -> str:
        words = text.split()
        if len(words) > 4:
            k = rng.randrange(len(words))
            words[k:k + rng.randint(0, 3)] = rng.choice([[], ["Reuters"], ["said", "on", "Monday"], ["1,200"]])
        return " ".join(words)

    links = [(s, edited(s), rng.random()) for s in sentences]
    links += [(rng.choice(sentences), rng.choice(sentences), rng.random()) for _ in range(300)]
    links += [(s, s, 1.0) for s in sentences[:20]] + [("", "x", 0.1), ("The 3 cats.", "", 0.0)]
    weights = {}

    def weight(word: str) -> float:
        return weights.setdefault(word, 1.0 + (hash(word) % 997) / 100)

    assert jit.loaded_kernel("link_features") is not None
    rows, copied = link_feature_rows(links, weight)
    with jit.numpy_only():
        expected_rows, expected_copied = link_feature_rows(links, weight)
    np.testing.assert_allclose(rows, expected_rows, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(copied, expected_copied)
    assert copied.any() and not copied.all()
    assert fidelity_module._id_arrays(["Net profit rose 5 pct"])[0].dtype == np.int64


def test_tfidf_kernel_equals_scikit_learn_weighting(monkeypatch):
    """The sentence TF-IDF rows, bit for bit: scikit-learn's sublinear tf, IDF and two L2
    normalisations (the kernel sums squares in float64 as scikit-learn does, so the order of a
    row's entries, which the hashing leaves unsorted, does not matter)."""
    from dedup.ngram_hash import ngram_counts
    from dedup.verify import SentenceVectorizer, _tfidf_rows

    sentences = [s for t in _news_texts() + _odd_texts(200) for s in t.split(". ")]
    sentences += ["word " * 300, "", "   "]  # a count far past the usual, an empty row
    vectorizer = SentenceVectorizer(n_features=2**16).fit(sentences)
    word, char = ngram_counts(sentences, vectorizer.n_features)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    got = _tfidf_rows(word, char, vectorizer._word_idf, vectorizer._char_idf)
    with jit.numpy_only():
        expected = _tfidf_rows(word, char, vectorizer._word_idf, vectorizer._char_idf)
    got.sort_indices()
    expected.sort_indices()
    assert got.dtype == expected.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


def test_packed_counts_kernel_equals_tfidf_of_the_unpacked_counts(monkeypatch):
    """A row store's rows: TF-IDF made straight from packed counts (one compiled pass) equals
    `_tfidf_rows` of the unpacked count matrices, compiled or numpy, entry for entry and in the
    same order, escaped counts (8,192 and more at 2^18 features) and empty rows included."""
    from dedup.ngram_hash import ngram_counts, pack_counts, unpack_counts
    from dedup.verify import SentenceVectorizer, _tfidf_packed, _tfidf_rows

    sentences = [s for t in _news_texts() + _odd_texts(200) for s in t.split(". ")]
    sentences += ["the " * 9000, "", "a " * 8191 + "b " * 8192, "   "]
    vectorizer = SentenceVectorizer().fit(sentences)
    word, char = ngram_counts(sentences, vectorizer.n_features)
    packed, entries = pack_counts(word, char, vectorizer.n_features)
    assert len(packed) > word.nnz + char.nnz  # escaped counts: "the" 9,000 times, its char n-grams, "b" 8,192
    indptr = np.concatenate([[0], np.cumsum(entries)])
    idf = (vectorizer._word_idf, vectorizer._char_idf)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    got = _tfidf_packed(packed, indptr, vectorizer.n_features, *idf)
    compiled = _tfidf_rows(word, char, *idf)
    with jit.numpy_only():
        unpacked = _tfidf_packed(packed, indptr, vectorizer.n_features, *idf)
        reference = _tfidf_rows(*unpack_counts(packed, indptr, vectorizer.n_features), *idf)
    for other in (compiled, unpacked):
        assert got.dtype == other.dtype == np.float32 and got.shape == other.shape
        np.testing.assert_array_equal(got.indptr, other.indptr)
        np.testing.assert_array_equal(got.indices, other.indices)
        np.testing.assert_array_equal(got.data, other.data)
    assert (got != reference).nnz == 0


def test_block_cut_kernel_equals_the_python_loop():
    """Blocks of pairs under a sentence budget: the same starts from the kernel and the loop,
    with documents met again inside a block, pairs larger than the budget and pairs (i, i)."""
    from dedup.pipeline import _block_starts

    jit._kernels()
    rng = np.random.default_rng(5)
    for n_docs, n_pairs, budget in ((50, 400, 30), (1000, 5000, 200), (20, 300, 5), (10, 1, 3)):
        counts = rng.integers(0, 12, size=n_docs)
        pairs = rng.integers(0, n_docs, size=(n_pairs, 2))
        pairs[::17, 1] = pairs[::17, 0]
        compiled = _block_starts(pairs, counts, budget)
        with jit.numpy_only():
            looped = _block_starts(pairs, counts, budget)
        assert compiled == looped and compiled[0] == 0
        assert len(looped) > 1 or n_pairs == 1


def test_compiled_sentence_spans_equal_the_regex_splitter():
    """`text_sentence_spans` gives `verify.sentence_spans`' spans: sentence ends before capitals,
    digits and opening quotes, runs of marks and closing quotes, abbreviations and initials
    (dotted, upper-case, further than the regex's 20-character window), every ASCII whitespace
    (the separators \\x1c-\\x1f too) in and between paragraphs, pieces without a word; and, on
    code points, Unicode spaces (no-break, thin, ideographic, line separator, NEL) and letters."""
    from dedup import _kernels
    from dedup.verify import _ABBREVIATION_KEYS, _bmp_tables, sentence_spans

    rng = random.Random(11)
    pieces = ["Mr.", "U.S.", "e.g.", "Inc.", "J.", "approx.", "word", "Word", "42", "3.5", ".", "...", "!?", "?",
              '."', ".)", "'", '"', "(", "[", "]", " ", "  ", "\n", "\n\n", " \n \n ", "\r\n\r\n", "\t", "\x0b",
              "\x0c", "\x1c", "\x1f", "_", "-", "averyveryverylongword.", "A", "z"]
    unicode_pieces = ["\u00a0", "\u2009", "\u3000", "\u2028", "\x85", "\n\u00a0\n", "caf\u00e9", "\u00c9t\u00e9.",
                      "\u00bd", "\u2014", "\u201c", "\u0663", "\ud800"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(20000)]
    texts += [" ".join(rng.choice(pieces[:12]) for _ in range(60)) for _ in range(2000)]
    texts += ["".join(rng.choice(pieces + unicode_pieces) for _ in range(rng.randint(0, 30))) for _ in range(10000)]
    texts += _news_texts() + ["", "\n\n", "A. B. C.", "Hi. There"]
    # The word before a period is looked for in the 20 characters before it: its edge matters.
    texts += [f"{head}{'.' * dots}{tail}. Next one." for dots in range(14, 24) for head in ("Q", "Mr")
              for tail in ("x", "Mr", "co")]
    for text in texts:
        expected = np.asarray(sentence_spans(text), dtype=np.int32).reshape(-1, 2)
        data = (np.frombuffer(text.encode("ascii"), dtype=np.uint8) if text.isascii()
                else np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32))
        got = _kernels.text_sentence_spans(data, _ABBREVIATION_KEYS, *_bmp_tables())
        np.testing.assert_array_equal(got, expected, err_msg=repr(text))


def test_compiled_split_batch_equals_the_per_text_regex_path():
    """A split worker's chunk (`pipeline._split_texts`): spans, sentence keys and folded-text
    keys from the batch kernels equal those of each text on the regex path, for ASCII texts with
    plain spacing and without (doubled spaces, tabs, odd newlines, spaces at the edges) and
    non-ASCII texts among them (split as code points, or by the regex past 2^16)."""
    from dedup.pipeline import _folded_key, _split_texts
    from dedup.verify import _spans_folded, split_with_keys

    rng = random.Random(12)
    words = ["Prices", "rose", "4.5%", "Mr.", "U.S.", "said.", "Then", "it", "fell.", "\"Yes,\"", "(AP)"]
    gaps = [" "] * 40 + ["  ", "\n\n", "\n", "\t", " \n\n", "\n\n\n\n", "\n\n\n", "\x1c"]
    texts = []
    for trial in range(3000):
        spacing = gaps if trial % 2 else [" "] * 10 + ["\n\n"]  # half of them plainly spaced
        parts = [rng.choice(words) + rng.choice(spacing) for _ in range(rng.randint(0, 40))]
        if trial % 10 == 0:  # not ASCII: code points, or the regex path past 2^16
            parts.insert(rng.randint(0, len(parts)), rng.choice(["caf\u00e9 ", "\u00a0", "\U0001d400 "]))
        text = "".join(parts)
        texts.append(rng.choice(gaps) + text if trial % 3 == 0 else text.strip() if trial % 3 == 1 else text)
    assert 0.2 < sum(map(_spans_folded, texts)) / len(texts) < 0.8
    assert sum(map(len, texts)) > jit.MIN_SIZE
    assert any(t.isascii() for t in texts) and not all(t.isascii() for t in texts)
    batch = _split_texts(texts)
    with jit.numpy_only():
        expected = [(*split_with_keys(text), _folded_key(text)) for text in texts]
    for text, got, want in zip(texts, batch, expected):
        assert got == want, repr(text)


def test_sentence_table_kernel_equals_the_numpy_numbering(monkeypatch):
    """The compiled sentence numbering gives `sentence_table`'s sorted path its ids, first
    occurrences and per-document repeats exactly: news sentences repeated across and within
    documents, empty documents, and keys forged to share their low half (told apart by the high)."""
    from dedup.fastverify import sentence_table
    from dedup.verify import SentenceStore, packed_spans, sentence_keys

    rng = random.Random(3)
    pool = [s.strip() + "." for t in _news_texts() for s in t.split(". ") if s.strip()]
    texts = [" ".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    texts[5] = texts[9] = ""
    texts[7] = f"{pool[0]} {pool[1]} {pool[0]}"  # one document repeating a sentence
    store = SentenceStore(texts)
    for k, text in enumerate(texts):
        store.put(k, packed_spans(text))
        if k % 4 == 0 and store.count(k):  # forged: every sentence of these shares one low half
            digests, chars = sentence_keys(store.texts(k))
            forged = np.frombuffer(digests, dtype=np.uint64).reshape(-1, 2).copy()
            forged[:, 0] = 7
            store.put(k, packed_spans(text), (forged.tobytes(), chars))
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    compiled = sentence_table(store)
    with jit.numpy_only():
        reference = sentence_table(store)
    for name in ("ids", "starts", "chars", "distinct"):
        _assert_same(getattr(compiled, name), getattr(reference, name), name)
    assert list(compiled.texts.many(np.arange(len(reference.texts)))) == list(
        reference.texts.many(np.arange(len(reference.texts))))
    assert not compiled.distinct[7] and compiled.distinct[5] and compiled.distinct.sum() > 100
    assert len(reference.texts) < len(reference.ids)  # sentences repeat: not a trivial numbering


def test_boilerplate_count_kernel_equals_the_sorted_counts(monkeypatch):
    """Lines learnt as boilerplate, and their counts, from the compiled hash-table count and
    from the numpy sorts: footers of several sources at shares around the threshold, a line
    repeated inside one document (counted once), exact copies (counted once), short lines (not
    counted) and a line shared by two sources (a hash per source)."""
    from dedup.clean import Cleaner

    rng = random.Random(11)
    words = "minister region spring officials market shares trading exchange rose fell said".split()
    footers = [f"Footer {k}: subscribe to our newsletter for more {rng.choice(words)} news." for k in range(12)]
    texts, sources = [], []
    for d in range(600):
        source = "ABC"[d % 3]
        body = [" ".join(rng.choice(words) for _ in range(12)).capitalize() + f" story {d} part {p}." for p in range(4)]
        extra = [footers[k] for k in range(12) if rng.random() < 0.02 * (k + 1)]
        if d % 5 == 0:  # a short tag line, twice in the document (a distant repeat of under 8 words stays)
            body = [body[0], "Tags: world markets today", *body[1:], "Tags: world markets today"]
        texts.append("\n\n".join(body + extra + ["OK", "Shared line across every source of the corpus."]))
        sources.append(source)
    texts += texts[:30]  # exact copies
    sources += sources[:30]
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    compiled = Cleaner(min_docs=5, max_doc_share=0.05)
    out = compiled.fit_transform(texts, sources)
    with jit.numpy_only():
        reference = Cleaner(min_docs=5, max_doc_share=0.05)
        want = reference.fit_transform(texts, sources)
    _assert_same(compiled.boilerplate_lines_, reference.boilerplate_lines_, "lines")
    _assert_same(compiled.boilerplate_counts_, reference.boilerplate_counts_, "counts")
    assert out == want
    assert 10 < len(reference.boilerplate_lines_) < 3 * 12 + 3  # some footers learnt, not every line


def test_kept_words_of_batches_equal_those_of_the_joined_sets(monkeypatch):
    """The scan's frequent-word filter over its batches' word sets (`_kept_words`: counted and
    kept batch by batch, compiled) equals `drop_frequent_words` on the sets joined, on both
    paths: frequent words go, rare ones stay, short documents keep all of theirs; one batch's
    offsets do not start at 0 (a slice of a larger array)."""
    rng = np.random.default_rng(9)
    common = [f"common{k}" for k in range(30)]
    rare = [f"rare{k}" for k in range(20_000)]
    texts = [" ".join([*rng.choice(common, 8), *rng.choice(rare, int(rng.integers(5, 40)))])
             for _ in range(fp.FREQUENT_MIN_CORPUS + 500)]
    features, offsets = fp.rewrite_features(texts)
    cuts = [0, 700, 1900, len(offsets) - 1]
    parts = [(features[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo]) for lo, hi in zip(cuts[:-1], cuts[1:])]
    parts[1] = (parts[1][0], parts[1][1] + 7)
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    compiled = fp._kept_words(parts)
    with jit.numpy_only():
        reference = fp.drop_frequent_words(features, offsets)
        numpy_parts = fp._kept_words(parts)
    _assert_same(compiled, reference, "kept words")
    _assert_same(numpy_parts, reference, "kept words, numpy path")
    sizes, kept = np.diff(offsets), np.diff(reference[1])
    assert 0 < len(reference[0]) < len(features)  # some words dropped, not all
    assert (kept[sizes < fp.SHORT_DOC_WORDS] == sizes[sizes < fp.SHORT_DOC_WORDS]).all() and (sizes < fp.SHORT_DOC_WORDS).any()


def test_template_figure_flags_are_those_of_the_figure_sets():
    """Per link, `template_figure_flags` gives what each side's `_figures` set gives (a figure on
    either side; each side with one the other lacks), whether the figure words are read by the
    kernel (ASCII texts) or by the regex (others): possessives and underscores, which `\\w+`
    and the token pattern split differently, non-ASCII letters beside a figure word, numbers
    with separators, and texts that repeat."""
    from dedup import verify

    jit._kernels()
    rng = random.Random(11)
    pieces = ["April's", "april", "six_", "SIX", "sixé", "Monday", "one.two", "1,000", "1000", "3.5", "ten", "tens",
              "May", "mayor", "\u00e9", "Ω", "x", "-", "'", " ", " ", ".", "seventeen", "Wednesday", "hundred"]
    texts = ["".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(0, 12)))
             for _ in range(400)]
    texts += [t for t in _news_texts()[:5]] + ["", "Pay April six", "Pay June six", "Record March 15"]
    side_a = [rng.choice(texts) for _ in range(3000)]
    side_b = [rng.choice(texts) for _ in range(3000)]
    figured, swapped = verify.template_figure_flags(side_a, side_b)
    want_figured, want_swapped = [], []
    for a, b in zip(side_a, side_b):
        fa, fb = verify._figures(a), verify._figures(b)
        want_figured.append(bool(fa or fb))
        want_swapped.append(bool(fa - fb) and bool(fb - fa))
    assert figured.tolist() == want_figured and swapped.tolist() == want_swapped
    assert 200 < sum(want_swapped) < 2800 and sum(want_figured) < 3000  # both outcomes are met
    ascii_only = [t for t in texts if t.isascii()]
    assert jit.loaded_kernel("figure_word_masks") is not None and len(ascii_only) > 100


def test_compiled_monotone_anchors_are_the_python_dp_links():
    """The compiled DP gives `monotone_anchors`' Python links: small and large matrices (both
    Python tables), ties between equal similarities, float32 input, sliced views (the gaps
    between anchors), and matrices with nothing above the threshold."""
    from dedup.verify import SMALL_DP_CELLS, monotone_anchors

    jit._kernels()
    rng = np.random.default_rng(5)
    cases = []
    for trial in range(400):
        m, n = rng.integers(1, 60 if trial % 5 == 0 else 15, 2)
        sim = rng.random((m, n))
        if trial % 2:
            sim = np.round(sim, 1)  # ties
        if trial % 7 == 0:
            sim = sim.astype(np.float32)
        if trial % 3 == 0 and m > 2 and n > 2:
            sim = sim[1:-1, 1:-1]
        cases.append((sim, 0.3 if trial % 11 else 1.5))
    assert any(s.shape[0] * s.shape[1] > SMALL_DP_CELLS for s, _ in cases)
    found = [monotone_anchors(sim, threshold) for sim, threshold in cases]
    with jit.numpy_only():
        expected = [monotone_anchors(sim, threshold) for sim, threshold in cases]
    assert found == expected
    assert sum(map(bool, found)) > 300 and not all(found)


def test_rewrite_words_counted_as_batches_arrive_keep_the_same_words(monkeypatch):
    """With worker processes, the fingerprint stage counts each batch's rewrite words as it
    arrives (`_StreamedWordCounts`) instead of after the last one; the signatures are those of
    one process, which counts at the end. Words in just over the frequent-word limit of
    documents tell a lost or doubled batch apart."""
    from dedup.fingerprint import FREQUENT_DOCS, FREQUENT_MIN_CORPUS, Fingerprinter, scan_fingerprints

    jit._kernels()
    monkeypatch.setattr(jit, "MIN_SIZE", 0)
    rng = np.random.default_rng(4)
    n = FREQUENT_MIN_CORPUS + 600
    near_limit = [f"mid{k}" for k in range(40)]  # each in ~FREQUENT_DOCS + 12 documents
    placed = {word: set(rng.choice(n, FREQUENT_DOCS + 12, replace=False).tolist()) for word in near_limit}
    texts = [" ".join([*(f"rare{d}x{k}" for k in range(25)), *(w for w in near_limit if d in placed[w])])
             for d in range(n)]
    streamed = []
    original = fp._compiled_kept_words

    def watched(parts, n_docs, limit, counts=None):
        streamed.append(counts is not None)
        return original(parts, n_docs, limit, counts)

    monkeypatch.setattr(fp, "_compiled_kept_words", watched)
    copy, rewrite = Fingerprinter("copy", batch_bytes=20_000), Fingerprinter("rewrite", batch_bytes=20_000)
    one = scan_fingerprints(texts, copy, rewrite, jobs=1, compact=True)
    two = scan_fingerprints(texts, copy, rewrite, jobs=2, compact=True)
    assert streamed == [False, True]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
