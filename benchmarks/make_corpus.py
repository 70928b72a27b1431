"""Build a scaled benchmark corpus with planted near-duplicates of known ground truth.

    python benchmarks/make_corpus.py --size 10000 --out benchmarks/data/corpus-10k.jsonl

Writes three files next to each other:
  corpus-10k.jsonl        one article a line: id, text, date, source, title
  corpus-10k.truth.jsonl  one planted pair a line: a (source id), b (derivative id), kind, family, expected
  corpus-10k.provenance.npz  per document, the real sentences it was made from (see run.py's precision)
  corpus-10k.meta.json    the parameters and counts, so a result can be traced to its corpus

How the corpus is made (and why):
- *Base* articles are distinct stories. The real articles (by default the Reuters-21578 and BBC corpora in
  ../shared/data/corpora, items under 50 words skipped) are used verbatim first. Beyond them, new bases are
  spliced from sentences of random real articles; in each sentence a quarter of the words are replaced by
  random corpus words (so 76% of its 5-grams change) and every digit is remapped by a per-article
  permutation. At 1M docs each real sentence is drawn about forty times, so spliced bases do share
  sentences, but two copies of a sentence keep only ~6% of its 5-grams in common. The price: spliced text
  reads as news with a word salad sprinkled in, not as fluent prose. Their length follows the real
  articles' length distribution, so the cost per document is the same at every corpus size.
- About `--derived` (15%) of the documents are *derivatives* of an earlier base, one of seven kinds, each
  written as a ground-truth pair: exact, word_edits (5-15% of words substituted / deleted / inserted),
  reorder (a quarter of the sentences swapped), truncation (last 30-50% dropped), insertion (a paragraph of
  unrelated sentences added), boilerplate (menu / share / bio / copyright lines added), partial_paste (2-3
  paragraphs of the source pasted into a new unrelated article). A derivative is dated after its source and
  credited to another outlet. Bases may have several derivatives; pairs *between* those siblings are not
  written (they are implied: the benchmark counts them as neither hit nor false alarm).
- The real corpora contain near-duplicates of their own (Reuters repeats and corrections, and many
  template stories). Among the real bases used, every pair with word 5-gram Jaccard >= 0.3 or containment
  >= 0.5 is computed exactly and written with kind `natural` and family `unknown`: they are neither planted
  nor guaranteed derived, so the benchmark does not count them for recall nor against precision.
Generation streams its output, and a derivative regenerates its source from the same per-document seed,
so memory stays bounded by the real corpus whatever `--size` is.
"""
from __future__ import annotations

import argparse
import bisect
import glob
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.sparse as sp

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = "../shared/data/corpora/*.jsonl"
MIN_WORDS = 50
KINDS = ("exact", "word_edits", "reorder", "truncation", "insertion", "boilerplate", "partial_paste")
# The relation labels (DESIGN.md) a correct detector may give each planted kind.
EXPECTED_LABELS = {
    "exact": ["exact"],
    "word_edits": ["near_duplicate", "rewrite"],
    "reorder": ["near_duplicate", "rewrite"],
    "truncation": ["near_duplicate", "partial"],
    "insertion": ["near_duplicate", "partial"],
    "boilerplate": ["exact", "near_duplicate"],
    "partial_paste": ["partial"],
}
NATURAL_JACCARD = 0.3
NATURAL_CONTAINMENT = 0.5
SHINGLE = 5
N_OUTLETS = 200
PASTE_MIN_WORDS = 30
# Share of words replaced in each spliced sentence: 0.75**5 = 24% of its 5-grams survive, so two bases that
# drew the same sentence share about 6% of its 5-grams. Without it, at 100k docs 15% of the peers' LSH pairs
# (rensa, threshold 0.5) were spliced bases sharing one long sentence; with it the share is in the README.
SPLICE_SUBSTITUTION = 0.25
SIGN_OFF_RE = re.compile(r"\s+Reuter\s*(&#3;)?\s*$")
WORD_RE = re.compile(r"\w+")
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z0-9])")
PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n|\n(?=[ \t]{2,}\S)")
WHITESPACE_RE = re.compile(r"\s+")
BOILERPLATE_TOP = (
    "Home | World | Business | Markets | Sport | Opinion | Video",
    "Skip to main content",
    "Subscribe | Sign in",
    "Advertisement",
    "Share this article: Facebook Twitter LinkedIn Email",
)
BOILERPLATE_BOTTOM = (
    "Read full bio",
    "Sign up for our daily newsletter to get the top stories in your inbox.",
    "Share this article: Facebook Twitter LinkedIn Email",
    "Comments are closed for this story.",
    "Related coverage: Markets | Economy | Companies",
    "Reporting by staff writers; editing by the news desk. Our standards: The Trust Principles.",
)


@dataclass(slots=True)
class Article:
    """A real article split into paragraphs of sentences (the form mutations work on)."""

    text: str
    title: str
    date: datetime | None
    source: str
    paragraphs: list[list[str]]
    n_words: int


def read_records(path: Path) -> Iterator[dict]:
    """JSONL or Parquet records; a bad JSONL line is skipped with a one-line warning."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                print(f"warning: {path}:{line_no}: not JSON ({err.msg}), skipped", file=sys.stderr)
                continue
            if isinstance(record, dict):
                yield record
            else:
                print(f"warning: {path}:{line_no}: not a JSON object, skipped", file=sys.stderr)


def parse_date(value: object) -> datetime | None:
    """ISO dates and the Reuters-21578 form '26-FEB-1987 15:01:01.79'; anything else is no date."""
    if not isinstance(value, str) or not value.strip():
        return None
    for fmt in ("%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def split_paragraphs(text: str) -> list[list[str]]:
    """Unwrap hard line breaks, then split paragraphs into sentences; the Reuters sign-off is dropped."""
    paragraphs = []
    for block in PARAGRAPH_BREAK_RE.split(SIGN_OFF_RE.sub("", text)):
        block = WHITESPACE_RE.sub(" ", block).strip()
        if not block:
            continue
        paragraphs.append([s for s in SENTENCE_END_RE.split(block) if s])
    return paragraphs


def load_articles(paths: list[Path]) -> list[Article]:
    """The real articles of at least MIN_WORDS words."""
    articles = []
    for path in paths:
        for record in read_records(path):
            text = record.get("text")
            if not isinstance(text, str):
                continue
            n_words = len(WORD_RE.findall(text))
            if n_words < MIN_WORDS:
                continue
            paragraphs = split_paragraphs(text)
            if not paragraphs:
                continue
            articles.append(Article(text, str(record.get("title") or ""), parse_date(record.get("date")),
                                    str(record.get("source") or path.stem), paragraphs, n_words))
    return articles


def shingle_hashes(text: str) -> set[int]:
    """Word 5-gram shingles of the lower-cased text, as Python hashes (only compared within one run)."""
    words = WORD_RE.findall(text.lower())
    if len(words) < SHINGLE:
        return {hash(" ".join(words))}
    return {hash(" ".join(words[i:i + SHINGLE])) for i in range(len(words) - SHINGLE + 1)}


def natural_pairs(texts: list[str], block: int = 2000) -> list[tuple[int, int, float, float]]:
    """All pairs among `texts` with exact 5-gram Jaccard >= NATURAL_JACCARD or containment >= NATURAL_CONTAINMENT.

    Exact, not sampled: a sparse doc x shingle matrix times its transpose, by row blocks (about 20k real
    articles, a few seconds).
    """
    vocab: dict[int, int] = {}
    indptr, indices = [0], []
    for text in texts:
        indices.extend(vocab.setdefault(h, len(vocab)) for h in shingle_hashes(text))
        indptr.append(len(indices))
    matrix = sp.csr_matrix((np.ones(len(indices), dtype=np.int32), np.array(indices, dtype=np.int64),
                            np.array(indptr, dtype=np.int64)), shape=(len(texts), len(vocab)))
    sizes = np.diff(matrix.indptr)
    found = []
    for start in range(0, len(texts), block):
        shared = (matrix[start:start + block] @ matrix.T).tocoo()
        rows = shared.row + start
        keep = rows < shared.col
        rows, cols, inter = rows[keep], shared.col[keep], shared.data[keep].astype(np.float64)
        jaccard = inter / (sizes[rows] + sizes[cols] - inter)
        containment = inter / np.minimum(sizes[rows], sizes[cols])
        hit = (jaccard >= NATURAL_JACCARD) | (containment >= NATURAL_CONTAINMENT)
        found.extend(zip(rows[hit].tolist(), cols[hit].tolist(), jaccard[hit].tolist(), containment[hit].tolist()))
    return found


class CorpusMaker:
    """Deterministic generator: document `i` depends only on (seed, i), so a source can be rebuilt on demand."""

    def __init__(self, articles: list[Article], size: int, derived_share: float, seed: int) -> None:
        self.articles = articles
        self.seed = seed
        self.size = size
        self.sentences = [s for article in articles for p in article.paragraphs for s in p]
        # Article j's sentences are self.sentences[first_sentence[j]:first_sentence[j + 1]].
        self.first_sentence = np.cumsum([0] + [sum(len(p) for p in a.paragraphs) for a in articles])
        self.sentence_tokens = [tuple(s.split()) for s in self.sentences]
        self.lengths = [article.n_words for article in articles]
        layout = random.Random(f"{seed}:layout")
        self.vocabulary = [w for s in layout.sample(self.sentences, min(20000, len(self.sentences))) for w in s.split()]
        n_derived = int(round(size * derived_share))
        # Derivative slots are spread uniformly but never among the first few docs (they need an earlier base).
        derived_slots = set(layout.sample(range(min(size, 20), size), min(n_derived, max(0, size - 20))))
        self.is_derived = [i in derived_slots for i in range(size)]
        n_bases = size - len(derived_slots)
        real_order = layout.sample(range(len(articles)), len(articles))[:n_bases]
        base_slots = [i for i in range(size) if not self.is_derived[i]]
        real_slots = layout.sample(base_slots, len(real_order)) if len(real_order) < n_bases else base_slots
        self.real_at = dict(zip(real_slots, real_order))  # slot -> index of the real article placed there
        self.base_slots = base_slots

    def rng(self, i: int, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{i}:{purpose}")

    def doc_id(self, i: int) -> str:
        return f"doc-{i:07d}"

    def spliced(self, rng: random.Random, n_words: int, drawn: list[int] | None = None) -> list[list[str]]:
        """Paragraphs of random real sentences until `n_words`, a quarter of their words substituted and digits
        remapped, so that two spliced articles drawing the same sentence still share few of its 5-grams.
        The index of each sentence drawn is appended to `drawn` (the document's provenance)."""
        digits = list("0123456789")
        rng.shuffle(digits)
        table = str.maketrans("0123456789", "".join(digits))
        picked, total = [], 0
        while total < n_words:
            index = rng.randrange(len(self.sentence_tokens))
            if drawn is not None:
                drawn.append(index)
            words = self.sentence_tokens[index]
            if len(words) >= 4:
                words = list(words)
                for at in rng.sample(range(len(words)), int(len(words) * SPLICE_SUBSTITUTION + rng.random())):
                    words[at] = rng.choice(self.vocabulary)
            picked.append(" ".join(words).translate(table))
            total += len(words)
        paragraphs, at = [], 0
        while at < len(picked):
            step = rng.randint(1, 3)
            paragraphs.append(picked[at:at + step])
            at += step
        return paragraphs

    def base(self, i: int) -> tuple[str, list[list[str]], str, datetime, str, list[int]]:
        """(text, paragraphs, title, date, source, provenance) of base slot `i`; the provenance lists the
        real sentences it is made of (indices into `self.sentences`)."""
        rng = self.rng(i, "base")
        if i in self.real_at:
            j = self.real_at[i]
            article = self.articles[j]
            date = article.date or datetime(2004, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(2 * 365 * 86400))
            provenance = list(range(int(self.first_sentence[j]), int(self.first_sentence[j + 1])))
            return article.text, article.paragraphs, article.title, date, article.source, provenance
        provenance: list[int] = []
        paragraphs = self.spliced(rng, rng.choice(self.lengths), provenance)
        title = WHITESPACE_RE.sub(" ", " ".join(paragraphs[0][0].split()[:8])).strip(" ,.;:")
        date = datetime(2010, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(15 * 365 * 86400))
        return render(paragraphs), paragraphs, title, date, f"outlet-{rng.randrange(N_OUTLETS):03d}", provenance

    def derive(self, kind: str, paragraphs: list[list[str]], text: str, rng: random.Random,
               outlet: str, drawn: list[int] | None = None) -> str:
        """The text of a derivative of `kind` made from its source's paragraphs (real sentences it adds
        beyond the source's are appended to `drawn`)."""
        if kind == "exact":
            return text
        if kind == "word_edits":
            return render(edit_paragraphs(paragraphs, rng, self.vocabulary, rng.uniform(0.05, 0.15)))
        if kind == "reorder":
            return render(reorder(paragraphs, rng))
        if kind == "truncation":
            flat = [s for p in paragraphs for s in p]
            keep = max(1, int(round(len(flat) * rng.uniform(0.5, 0.7))))
            return render(regroup(flat[:keep], paragraphs))
        if kind == "insertion":
            extra = [s for p in self.spliced(rng, rng.randint(30, 70), drawn) for s in p]
            at = rng.randint(1, len(paragraphs)) if len(paragraphs) > 1 else 1
            return render(paragraphs[:at] + [extra] + paragraphs[at:])
        if kind == "boilerplate":
            top = rng.sample(BOILERPLATE_TOP, rng.randint(1, 3))
            bottom = rng.sample(BOILERPLATE_BOTTOM, rng.randint(1, 3))
            bottom.append(f"(c) {rng.randint(2015, 2025)} {outlet}. All rights reserved.")
            return "\n".join(top) + "\n\n" + render(paragraphs) + "\n\n" + "\n".join(bottom)
        if kind == "partial_paste":
            host = self.spliced(rng, rng.choice(self.lengths), drawn)
            return render(paste(paragraphs, host, rng))
        raise ValueError(f"unknown kind {kind!r}")

    def documents(self) -> Iterator[tuple[dict, dict | None, list[int]]]:
        """(document, planted pair or None, provenance) for every slot, in order."""
        for i in range(self.size):
            if not self.is_derived[i]:
                text, _, title, date, source, provenance = self.base(i)
                yield {"id": self.doc_id(i), "text": text, "date": date.isoformat(), "source": source,
                       "title": title}, None, provenance
                continue
            rng = self.rng(i, "derived")
            src = self.base_slots[rng.randrange(bisect.bisect_left(self.base_slots, i))]
            src_text, src_paragraphs, src_title, src_date, src_source, provenance = self.base(src)
            kind = rng.choice(KINDS)
            outlet = f"outlet-{rng.randrange(N_OUTLETS):03d}"
            if outlet == src_source:
                outlet = f"outlet-{(int(outlet[-3:]) + 1) % N_OUTLETS:03d}"
            text = self.derive(kind, src_paragraphs, src_text, rng, outlet, provenance)
            date = src_date + timedelta(seconds=rng.randint(600, 5 * 86400))
            yield ({"id": self.doc_id(i), "text": text, "date": date.isoformat(), "source": outlet,
                    "title": src_title},
                   {"a": self.doc_id(src), "b": self.doc_id(i), "kind": kind, "family": "derived",
                    "expected": EXPECTED_LABELS[kind]}, provenance)


def render(paragraphs) -> str:
    return "\n\n".join(" ".join(p) for p in paragraphs)


def regroup(sentences: list[str], shape: list[list[str]]) -> list[list[str]]:
    """Cut `sentences` back into paragraphs of the sizes in `shape` (the tail may be shorter)."""
    out, at = [], 0
    for p in shape:
        if at >= len(sentences):
            break
        out.append(sentences[at:at + len(p)])
        at += len(p)
    return out


def edit_paragraphs(paragraphs: list[list[str]], rng: random.Random, vocabulary: list[str],
                    rate: float) -> list[list[str]]:
    """Substitute (60%), delete (25%) or insert after (15%) each word with probability `rate`."""
    out = []
    for p in paragraphs:
        sentences = []
        for sentence in p:
            words = []
            for word in sentence.split():
                if rng.random() >= rate:
                    words.append(word)
                    continue
                roll = rng.random()
                if roll < 0.6:
                    words.append(rng.choice(vocabulary))
                elif roll >= 0.85:
                    words.extend((word, rng.choice(vocabulary)))
            if words:
                sentences.append(" ".join(words))
        if sentences:
            out.append(sentences)
    return out or paragraphs


def reorder(paragraphs: list[list[str]], rng: random.Random) -> list[list[str]]:
    """Swap about a quarter of the sentences with another sentence, keeping the paragraph sizes."""
    flat = [s for p in paragraphs for s in p]
    if len(flat) < 2:
        return paragraphs
    for _ in range(max(1, len(flat) // 4)):
        x, y = rng.sample(range(len(flat)), 2)
        flat[x], flat[y] = flat[y], flat[x]
    return regroup(flat, paragraphs)


def paste(source: list[list[str]], host: list[list[str]], rng: random.Random) -> list[list[str]]:
    """2-3 consecutive paragraphs of `source` pasted into `host` as one block.

    The block grows until it holds PASTE_MIN_WORDS words (Reuters tables have one-line paragraphs), and a
    source of fewer than 4 paragraphs gives 40-60% of its sentences instead, so the paste is always a
    passage, never the whole source.
    """
    flat = [s for p in source for s in p]
    if len(source) >= 4:
        at = rng.randrange(len(source) - 1)
        block = [s for p in source[at:at + rng.randint(2, 3)] for s in p]
        start = sum(len(p) for p in source[:at])
    else:
        n = max(1, int(round(len(flat) * rng.uniform(0.4, 0.6))))
        start = rng.randrange(len(flat) - n + 1)
        block = flat[start:start + n]
    end = start + len(block)
    while sum(len(s.split()) for s in block) < PASTE_MIN_WORDS and end < len(flat):
        block.append(flat[end])
        end += 1
    where = rng.randint(1, len(host)) if len(host) > 1 else 1
    return host[:where] + [block] + host[where:]


def source_paths(patterns: list[str] | None) -> list[Path]:
    """The input files: the user's, else the shared corpora relative to the repository root."""
    if patterns:
        paths = [Path(p) for p in patterns]
    else:
        paths = sorted(Path(p) for p in glob.glob(str(REPO_ROOT / DEFAULT_SOURCES)))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise SystemExit(f"error: no input corpus found: {', '.join(missing) or DEFAULT_SOURCES}")
    return paths


def write_corpus(maker: CorpusMaker, out: Path, truth: Path, provenance_path: Path) -> dict:
    """Stream the documents and planted pairs to disk; the natural pairs among real bases go to `truth` too,
    and each document's provenance (the real sentences it was made from) to `provenance_path` (.npz: `ids`
    and CSR `offsets`, one row a document in corpus order)."""
    counts = dict.fromkeys(KINDS, 0)
    words = 0
    ids: list[np.ndarray] = []
    sizes: list[int] = []
    with out.open("w", encoding="utf-8") as docs, truth.open("w", encoding="utf-8") as pairs:
        for doc, planted, provenance in maker.documents():
            ids.append(np.unique(np.array(provenance, dtype=np.int32)))
            sizes.append(len(ids[-1]))
            docs.write(json.dumps(doc, ensure_ascii=False) + "\n")
            words += len(doc["text"].split())
            if planted:
                counts[planted["kind"]] += 1
                pairs.write(json.dumps(planted) + "\n")
        slots = sorted(maker.real_at)
        naturals = natural_pairs([maker.articles[maker.real_at[s]].text for s in slots])
        for x, y, jaccard, containment in naturals:
            pairs.write(json.dumps({"a": maker.doc_id(slots[x]), "b": maker.doc_id(slots[y]), "kind": "natural",
                                    "family": "unknown", "jaccard": round(jaccard, 3),
                                    "containment": round(containment, 3)}) + "\n")
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    np.savez_compressed(provenance_path, ids=np.concatenate(ids) if ids else np.zeros(0, np.int32), offsets=offsets)
    return {"planted": counts, "natural": len(naturals), "real_bases": len(maker.real_at),
            "spliced_bases": len(maker.base_slots) - len(maker.real_at), "mean_words": words / max(1, maker.size)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True, help="number of documents")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL (truth and meta written beside it)")
    parser.add_argument("--from", dest="sources", nargs="+", help=f"JSONL or Parquet inputs (default {DEFAULT_SOURCES})")
    parser.add_argument("--derived", type=float, default=0.15, help="share of documents that are planted derivatives")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.size < 1 or not 0 <= args.derived < 1:
        raise SystemExit("error: --size must be >= 1 and --derived in [0, 1)")
    started = time.perf_counter()
    paths = source_paths(args.sources)
    articles = load_articles(paths)
    if not articles:
        raise SystemExit(f"error: no article of {MIN_WORDS}+ words in {', '.join(map(str, paths))}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stem = args.out.name.removesuffix(".jsonl")
    truth = args.out.with_name(stem + ".truth.jsonl")
    maker = CorpusMaker(articles, args.size, args.derived, args.seed)
    provenance = args.out.with_name(stem + ".provenance.npz")
    summary = write_corpus(maker, args.out, truth, provenance)
    meta = {"size": args.size, "seed": args.seed, "derived_share": args.derived,
            "sources": [os.path.relpath(p, REPO_ROOT) for p in paths], "real_articles_available": len(articles),
            "truth": truth.name, "provenance": provenance.name, **summary,
            "seconds": round(time.perf_counter() - started, 1)}
    args.out.with_name(stem + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
