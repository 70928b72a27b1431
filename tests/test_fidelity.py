"""Claim fidelity of aligned sentences, and copied sentences as derivation evidence."""
from __future__ import annotations

import numpy as np
import pytest

from dedup.fidelity import FEATURE_NAMES, copied, fidelity, fidelity_features
from dedup.verify import Verifier

SOURCE = "Yucaipa owned Dominick's before selling the chain to Safeway in 1998 for $2.5 billion."


def _fidelity(a: str, b: str) -> float:
    verifier = Verifier().fit([a, b])
    similarity = float((verifier.vectorizer.transform([a]) @ verifier.vectorizer.transform([b]).T).toarray()[0, 0])
    return float(fidelity(fidelity_features(a, b, similarity, verifier.vectorizer.word_weight)))


def test_feature_vector_matches_names_and_ngram_shares_are_bounded():
    row = fidelity_features(SOURCE, "Yucaipa sold Dominick's to Safeway in 1998.", 0.5, lambda word: 1.0)
    assert row.shape == (len(FEATURE_NAMES),)
    ngram_columns = [k for k, name in enumerate(FEATURE_NAMES) if "gram_" in name]
    assert len(ngram_columns) == 10 and np.all((row[ngram_columns] >= 0) & (row[ngram_columns] <= 1))
    # lower share first, then higher, for every n
    assert all(row[k] <= row[k + 1] for k in ngram_columns[::2])


def test_same_claims_reworded_score_well_above_other_facts_about_the_same_deal():
    reworded = "Yucaipa had owned Dominick's before it sold the chain to Safeway in 1998 for $2.5 billion."
    other_figures = "Yucaipa bought Dominick's in 1995 for $693 million and sold it to Safeway for $1.8 billion in 1998."
    assert _fidelity(SOURCE, reworded) > 0.5
    assert _fidelity(SOURCE, reworded) > _fidelity(SOURCE, other_figures) + 0.3


def test_copied_means_a_clause_cut_or_added_not_a_filled_in_template():
    long = ("As a formal theorem, Bayes' theorem is valid in all common interpretations of probability, "
            "the textbook says.")
    assert copied(long, "Bayes' theorem is valid in all common interpretations of probability.")
    # other names and figures break the shared 3-grams
    assert not copied("Acme Corp said its board declared a quarterly dividend of 11 cts a share, up from 10 cts.",
                      "Bolt Inc said its board raised its quarterly dividend to 24 cts a share from 20 cts.")
    assert not copied("Prices rose.", "Prices rose.")  # too short to say


def test_a_copied_sentence_counts_as_faithful_in_documents_only():
    cut = "Bayes' theorem is valid in all common interpretations of probability."
    long = "As a formal theorem, Bayes' theorem is valid in all common interpretations of probability, the book says."
    other = "Frequentists assign probabilities to random events by their frequencies of occurrence."
    verifier = Verifier().fit([long, cut, other])
    single = verifier.link_fidelities(verifier.align(long, cut))
    document = verifier.link_fidelities(verifier.align(long + " " + other, cut + " " + other))
    assert len(single) == 1 and single[0] < 0.9  # two sentences: judged on their claims (a clause is gone)
    assert len(document) == 2 and document.min() > 0.9  # in a document: copied, so derivation evidence


def test_a_sentence_paired_with_itself_is_as_faithful_whatever_its_length():
    """The verify fast path relies on this: a verbatim link's fidelity depends only on whether
    the sentence has content words, not on how many n-grams it has."""
    short, long = "Prices rose.", "Shares of Acme rose sharply on Monday after the company reported record profits."
    same = [float(fidelity(fidelity_features(t, t, 1.0, lambda word: 1.0))) for t in (short, long)]
    assert same[0] == pytest.approx(same[1]) and same[0] > 0.9


@pytest.mark.parametrize("text", ["", "the of", "Prices rose.", "42", "Acme said on Monday it sold 1,200 shares.",
                                  "The deal, worth $2.5 billion, was signed by Safeway and Yucaipa in Chicago."])
def test_identical_sides_take_a_shortcut_equal_to_the_full_comparison(text):
    from dedup.fidelity import _compared_features

    weight = {"prices": 2.0, "acme": 3.5}.get
    fast = fidelity_features(text, text, 0.75, lambda word: weight(word, 1.0))
    full = _compared_features(text, "".join(text), 0.75, lambda word: weight(word, 1.0))
    np.testing.assert_array_equal(fast, full)


@pytest.mark.parametrize("text", ["Prices rose.", "one two three four five six seven eight",
                                  "a b c a b c a b c a b c", "Acme said on Monday it sold 1,200 shares to Safeway."])
def test_a_sentence_copied_onto_itself_needs_as_many_distinct_3grams_as_any_copy(text):
    from dedup.fidelity import COPIED_MIN_GRAMS, _grams, _WORD_3GRAMS

    assert copied(text, text) == (len(_grams(text)[_WORD_3GRAMS]) >= COPIED_MIN_GRAMS)


def test_link_rows_follow_the_weights_of_a_refit_vectorizer():
    """`link_feature_rows` keeps each word's weight per process; fitting the vectorizer again
    changes the weights, and the rows must follow (the compiled path, where the weights are kept)."""
    from dedup import jit
    from dedup.fidelity import link_feature_rows
    from dedup.verify import SentenceVectorizer

    if not jit.jit_available():
        pytest.skip("the weights are kept by the compiled path only")
    jit._kernels()
    links = [(SOURCE, "Yucaipa sold the Dominick's chain to Safeway in 1998 for about $2.5 billion.", 0.6),
             ("Safeway shares rose on the news of the deal.", "Shares of Safeway climbed after the deal.", 0.4)]
    vectorizer = SentenceVectorizer().fit([SOURCE, "Safeway shares rose.", "The chain was sold."])
    first, _ = link_feature_rows(links, vectorizer.word_weight)
    vectorizer.fit(["Safeway " * 5, "Dominick's chain", "shares deal news", "1998 billion"] * 3)
    again, _ = link_feature_rows(links, vectorizer.word_weight)
    fresh, _ = link_feature_rows(links, lambda word: vectorizer.word_weight(word))  # a new function: no kept weights
    np.testing.assert_array_equal(again, fresh)
    assert not np.array_equal(first[:, 3], again[:, 3])  # unmatched_weight_max moved with the weights
