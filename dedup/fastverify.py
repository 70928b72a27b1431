"""Verify stage, fast path: the verdict on verbatim copies, for all candidate pairs at once.

Most derived pairs of a news corpus are exact or near-verbatim copies: one text's sentences
all occur, word for word and in the same order, in the other (a copy with boilerplate
added, a truncated copy, a copy with a paragraph inserted). For such a pair the aligner's
outcome is known without a similarity matrix:

- identical sentences have identical TF-IDF rows, so their similarity is 1, the largest
  possible; a monotone path linking every sentence of the covered side to its verbatim
  counterpart has the greatest total gain, so the anchors are exactly those links;
- every sentence of the covered side is then used, so gap filling and the order-free pass
  find nothing, and a merge cannot beat 1 (a neighbour k of a verbatim link adds
  (1 + s) / sqrt(2 + 2 s) <= 1, s being k's similarity to both sides);
- so the links are the verbatim ones, and every feature follows from sentence lengths, each
  sentence's fidelity to itself and its figures. `relate.label` then labels the pair as the
  full path would (`exact` or `near_duplicate` on these features).

Pairs are matched by a sort/join on (pair, sentence id) across all pairs; only documents
whose sentences are all distinct are decided (a repeated sentence could be linked either
way). A pair the proof does not cover goes to the aligner. Scores match the full path up to
its similarity rounding (1e-6 per link); see tests/test_fastverify.py. One tie is not ruled
out: a sentence differing from another only in letter case has the same TF-IDF row, so if the
longer side held both, the aligner could link the variant, whose fidelity differs by at most a
capitalised-word term; coverages and labels would stay, the score move by < 0.01 (no such pair
changed in corpus-10k or corpus-100k: all scores equal). The only Python loop is per distinct
linked sentence (`VerbatimFacts.fill`: a few regex searches each).
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from dedup.fidelity import STOPWORDS, copied, fidelity, fidelity_features, tokens
from dedup.fingerprint import ranks_within
from dedup.jit import kernel
from dedup.verify import COPIED_FIDELITY, PairFeatures, SentenceStore, has_figures, longest_runs, runs_at_edge

# Shortcuts for `fidelity.tokens` (lower-cased [a-z0-9] runs).
_ANY_TOKEN = re.compile(r"[a-z0-9]")
_SURE_CONTENT = re.compile(r"[0-9]|[a-z]{%d,}" % (max(len(w) for w in STOPWORDS) + 1))

# Pairs joined at once: their sentence rows (a handful of int64 arrays of ~10 rows a pair and
# side) stay at a few hundred MB.
PAIR_CHUNK = 200_000


class SentenceTexts(Sequence[str]):
    """The distinct sentence texts by id, read from the first document that holds each when
    asked: the table holds no strings (interning corpus-1m's 3.6M distinct sentences in a dict
    held ~1 GB and took 14 s of the parent's time, most of it reading documents again)."""

    def __init__(self, sentences: SentenceStore, starts: np.ndarray, first: np.ndarray) -> None:
        self.sentences = sentences
        self.starts = starts  # n_docs + 1 offsets of the documents' sentence positions
        self.first = first  # per id: the position of its first occurrence

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return list(self.many(np.arange(*k.indices(len(self)))))
        return next(self.many([k]))

    def many(self, ids) -> Iterator[str]:
        """The texts of `ids`, in order; each run of ids from one document reads it once (ids
        are numbered in order of first occurrence, so ascending ids come document by document)."""
        positions = self.first[np.asarray(ids, dtype=np.int64)]
        docs = np.searchsorted(self.starts, positions, side="right") - 1
        current, texts = -1, []
        for position, doc in zip(positions.tolist(), docs.tolist()):
            if doc != current:
                current, texts = doc, self.sentences.texts(doc)
            yield texts[position - int(self.starts[doc])]


@dataclass(slots=True)
class SentenceTable:
    """Every document's sentences as arrays: a shared id per distinct sentence text."""

    ids: np.ndarray  # int64, sentence text id, documents' sentences laid end to end
    starts: np.ndarray  # int64, n_docs + 1 offsets into `ids`
    chars: np.ndarray  # int64, len(sentence.text): the verifier's coverage weights
    texts: SentenceTexts  # distinct sentence texts, indexed by id
    distinct: np.ndarray  # bool per document: no sentence text repeated in it

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)


def sentence_table(sentences: SentenceStore) -> SentenceTable:
    """Number the distinct sentence texts (in order of first occurrence) and lay them out.

    Texts are told apart by their 128-bit xxh3 digests (`SentenceStore.keys`, made on the split
    workers): two different sentences share one with probability ~n^2 / 2^129, about 1e-26 for
    the 3.6M distinct sentences of a million articles. Equal 64-bit halves with unequal other
    halves are caught, and then the whole digests are compared. With the kernels, one compiled
    pass (`_kernels.sentence_ids`) numbers them and finds the documents that repeat one.
    """
    keys = [sentences.keys(k) for k in range(len(sentences))]
    digests = np.frombuffer(b"".join([d for d, _ in keys]), dtype=np.uint64).reshape(-1, 2)
    chars = np.frombuffer(b"".join([c for _, c in keys]), dtype=np.int32).astype(np.int64)
    del keys
    counts = sentences.counts()
    starts = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    compiled = kernel("sentence_ids", len(digests))
    if compiled is not None:
        ids, first, distinct = compiled(np.ascontiguousarray(digests[:, 0]), np.ascontiguousarray(digests[:, 1]),
                                        starts)
        return SentenceTable(ids, starts, chars, SentenceTexts(sentences, starts, first), distinct)
    _, first, inverse = np.unique(digests[:, 0], return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if (digests[first[inverse], 1] != digests[:, 1]).any():  # a 64-bit collision: use all 128 bits
        _, first, inverse = np.unique(digests, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    by_first = np.argsort(first)
    rank = np.empty(len(first), dtype=np.int64)
    rank[by_first] = np.arange(len(first))
    ids = rank[inverse]
    owner = np.repeat(np.arange(len(sentences)), counts)
    order = np.lexsort((ids, owner))
    repeated = (owner[order][1:] == owner[order][:-1]) & (ids[order][1:] == ids[order][:-1])
    distinct = np.ones(len(sentences), dtype=bool)
    distinct[owner[order][1:][repeated]] = False
    return SentenceTable(ids, starts, chars, SentenceTexts(sentences, starts, first[by_first]), distinct)


@dataclass(slots=True)
class FastVerdicts:
    """Pairs the fast path decided (with the features the aligner would give) and the rest."""

    pairs: np.ndarray  # (k, 2) decided pairs
    features: list[PairFeatures]
    rest: np.ndarray  # (m, 2) pairs left to the aligner, in their original order


class VerbatimFacts:
    """Per distinct sentence: its fidelity to itself and whether it carries a figure, cached by id.

    A link between identical sentences has every fidelity feature fixed except whether the
    sentence has word tokens and content words; the model is evaluated once per such class
    with the real `fidelity_features`, so a change to the model carries over.
    """

    def __init__(self, table: SentenceTable, weight) -> None:
        self.table = table
        self.weight = weight
        self.fidelity = np.full(len(table.texts), np.nan)
        self.figures = np.zeros(len(table.texts), dtype=bool)
        self._by_class: dict[tuple[bool, bool], float] = {}

    def fill(self, ids: np.ndarray) -> None:
        """Compute the facts of the sentence ids not seen yet (a few regex searches each)."""
        todo = np.unique(ids)
        todo = todo[np.isnan(self.fidelity[todo])]
        for k, text in zip(todo.tolist(), self.table.texts.many(todo)):
            lower = text.lower()
            has_token = _ANY_TOKEN.search(lower) is not None
            # A digit or a run of 9+ letters is part of a token no stopword matches; only
            # sentences without one are tokenised to look for a content word.
            has_content = has_token and (_SURE_CONTENT.search(lower) is not None
                                         or not STOPWORDS.issuperset(tokens(text)))
            key = (has_token, has_content)
            value = self._by_class.get(key)
            if value is None:
                value = float(fidelity(fidelity_features(text, text, 1.0, self.weight)))
                self._by_class[key] = value
            if not has_content and has_token and copied(text, text):
                # Verifier.link_fidelities: a copied sentence counts as COPIED_FIDELITY in a
                # document pair (the content classes score above it anyway). Two one-sentence
                # documents that are identical are `exact` whatever the fidelity.
                value = max(value, COPIED_FIDELITY)
            self.fidelity[k] = value
            self.figures[k] = has_figures(text)


def decide(pairs: np.ndarray, table: SentenceTable, facts: VerbatimFacts, cosine_floor: float) -> FastVerdicts:
    """Split candidate pairs into verbatim copies (decided here) and pairs for the aligner.

    `cosine_floor` is the verify prefilter's whole-document cosine floor: a pair is decided
    only when the sentence counts prove its cosine reaches it (a document's vector is the sum
    of non-negative unit sentence rows, so with the covered side's n sentences inside the
    other's, cosine >= sqrt(n) / (sqrt(n) + extra sentences)); otherwise the aligner's path,
    prefilter included, decides as before.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    decided = np.zeros(len(pairs), dtype=bool)
    features: list[PairFeatures] = []
    for lo in range(0, len(pairs), PAIR_CHUNK):
        chunk = pairs[lo:lo + PAIR_CHUNK]
        mask, feats = _decide_chunk(chunk, table, facts, cosine_floor)
        decided[lo:lo + len(chunk)] = mask
        features += feats
    return FastVerdicts(pairs[decided], features, pairs[~decided])


def _decide_chunk(pairs: np.ndarray, table: SentenceTable, facts: VerbatimFacts,
                  cosine_floor: float) -> tuple[np.ndarray, list[PairFeatures]]:
    counts = table.counts
    n_a, n_b = counts[pairs[:, 0]], counts[pairs[:, 1]]
    eligible = table.distinct[pairs[:, 0]] & table.distinct[pairs[:, 1]] & (n_a > 0) & (n_b > 0)
    result = np.zeros(len(pairs), dtype=bool)
    cand = np.flatnonzero(eligible)
    if len(cand) == 0:
        return result, []
    n_a, n_b = n_a[cand], n_b[cand]
    start_a, start_b = table.starts[pairs[cand, 0]], table.starts[pairs[cand, 1]]
    # Sentence rows of each side, pair by pair, in document order.
    pa = np.repeat(np.arange(len(cand)), n_a)
    la = ranks_within(n_a)
    pb = np.repeat(np.arange(len(cand)), n_b)
    lb = ranks_within(n_b)
    ids_a, ids_b = table.ids[start_a[pa] + la], table.ids[start_b[pb] + lb]
    width = np.int64(len(table.texts) + 1)
    key_a, key_b = pa * width + ids_a, pb * width + ids_b  # < 2^62: PAIR_CHUNK x distinct sentences
    order = np.argsort(key_a, kind="stable")
    sorted_a = key_a[order]
    pos = np.minimum(np.searchsorted(sorted_a, key_b), len(sorted_a) - 1)
    found = sorted_a[pos] == key_b
    row_b = np.flatnonzero(found)  # matched B rows, in B order within each pair
    row_a = order[pos[found]]
    mp = pb[row_b]
    ma, mb = la[row_a], lb[row_b]
    matched = np.bincount(mp, minlength=len(cand))
    same = mp[1:] == mp[:-1]
    backwards = np.bincount(mp[1:][same & (ma[1:] <= ma[:-1])], minlength=len(cand))
    full_a, full_b = matched == n_a, matched == n_b
    covered = np.where(full_b, n_b, n_a).astype(np.float64)
    extra = np.abs(n_a - n_b).astype(np.float64)
    cosine_bound = np.sqrt(covered) / (np.sqrt(covered) + extra)
    # 1e-3: float32 rows are unit length only to ~1e-7; the bound needs no more margin than that.
    ok = (full_a | full_b) & (backwards == 0) & (cosine_bound >= cosine_floor + 1e-3)
    if not ok.any():
        return result, []
    result[cand[ok]] = True
    keep = ok[mp]
    link_rows = row_b[keep]
    link_ids = ids_b[link_rows]
    link_chars = table.chars[start_b[pb] + lb][link_rows].astype(np.float64)
    facts.fill(link_ids)
    chars_a = np.bincount(pa, weights=table.chars[start_a[pa] + la], minlength=len(cand))
    chars_b = np.bincount(pb, weights=table.chars[start_b[pb] + lb], minlength=len(cand))
    return result, _features(np.flatnonzero(ok), mp[keep], ma[keep], mb[keep], link_chars,
                             facts.fidelity[link_ids], facts.figures[link_ids], n_a, n_b, chars_a, chars_b)


def _features(decided: np.ndarray, mp: np.ndarray, ma: np.ndarray, mb: np.ndarray, link_chars: np.ndarray,
              link_fidelity: np.ndarray, link_figures: np.ndarray, n_a: np.ndarray, n_b: np.ndarray,
              chars_a: np.ndarray, chars_b: np.ndarray) -> list[PairFeatures]:
    """PairFeatures of the decided pairs, as `verify.features` reads them off verbatim links
    (similarity 1 each, links in the same order on both sides). Links are the matched rows,
    grouped by pair (`mp`) and in document order; a..._b arrays are indexed by pair."""
    size = len(n_a)
    links = np.bincount(mp, minlength=size)
    linked = np.bincount(mp, weights=link_chars, minlength=size)
    faithful = np.bincount(mp, weights=link_chars * link_fidelity, minlength=size)
    figure_links = np.bincount(mp, weights=link_figures, minlength=size)
    # Runs of links consecutive on both sides, as the aligner's features read them: each link
    # is one sentence a side, already in document order (and every link is verbatim).
    best_len, best_chars, first, last = longest_runs(np.arange(len(mp)), mp, ma, ma, mb, mb, link_chars, size)
    at_edge = runs_at_edge(first, last, ma, ma, mb, mb, n_a, n_b)
    out = []
    for q in decided.tolist():
        ca, cb = float(chars_a[q]), float(chars_b[q])
        shorter = min(ca, cb) or 1.0
        cov_a = float(linked[q] / ca) if ca else 0.0
        cov_b = float(linked[q] / cb) if cb else 0.0
        share = float(min(1.0, best_chars[q] / shorter))
        out.append(PairFeatures(
            coverage_a=cov_a, coverage_b=cov_b, anchors=int(links[q]), links=int(links[q]),
            longest_run=int(best_len[q]), longest_run_share=share,
            verbatim_run=int(best_len[q]), verbatim_run_share=share, verbatim_run_at_edge=bool(at_edge[q]),
            figure_links=int(figure_links[q]), figure_mismatches=0, verbatim_share=1.0, order_consistency=1.0,
            mean_similarity=1.0, weighted_coverage_a=cov_a, weighted_coverage_b=cov_b,
            faithful_coverage_a=float(faithful[q] / ca) if ca else 0.0,
            faithful_coverage_b=float(faithful[q] / cb) if cb else 0.0,
            mean_fidelity=float(faithful[q] / linked[q]) if linked[q] else 0.0,
            sentences_a=int(n_a[q]), sentences_b=int(n_b[q]), chars_a=int(ca), chars_b=int(cb),
        ))
    return out
