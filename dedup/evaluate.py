"""`dedup eval`: accuracy of the verifier and relate stages on labelled pairs.

Reads pair files like ../shared/data/pairs/*.jsonl (`id`, `a`, `b`, `label`), labels every
pair the way a scan would (corpus-fitted cleaning and IDF, same alignment, same rules), and
prints: the confusion matrix of gold label by predicted relation; derived-vs-not precision,
recall, F1 and accuracy; two baselines at their best threshold on the same file (word
5-gram Jaccard, TF-IDF document cosine) so the verifier's gain is visible; and end-to-end
recall: all texts in one corpus, scanned, counting the gold derived pairs the scan finds.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from dedup.clean import Cleaner
from dedup.document import Document, InputProblem, Skip
from dedup.pipeline import ScanConfig, Scanner
from dedup.relate import DERIVED, RELATIONS, relate_pair
from dedup.verify import SentenceVectorizer, Verifier, split_sentences

# Gold labels that mean "derived" when --derived is not given, in order of preference.
_DEFAULT_DERIVED = (("cut", "light", "heavy"), ("paraphrase",))


@dataclass(slots=True)
class GoldPair:
    id: str
    a: str
    b: str
    label: str


def read_pairs(path: Path, warn: Callable[[Skip], None] | None = None) -> list[GoldPair]:
    """Labelled pairs; malformed lines are skipped with a warning naming the line."""
    if not path.exists():
        raise InputProblem(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    pairs: list[GoldPair] = []
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pair = GoldPair(str(row.get("id", f"line-{number}")), str(row["a"] or ""), str(row["b"] or ""),
                                str(row["label"]))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as problem:
                if warn:
                    warn(Skip(str(path), number, f"not a labelled pair ({type(problem).__name__}: {problem})"))
                continue
            pairs.append(pair)
    if not pairs:
        raise InputProblem(f"{path}: no labelled pairs (expected JSONL with id, a, b, label)")
    return pairs


@dataclass(slots=True)
class Prediction:
    id: str
    relation: str
    score: float


def predict(pairs: Sequence[GoldPair]) -> list[Prediction]:
    """Label each pair as a scan would: clean and fit the IDF on all texts of the file."""
    texts = [p.a for p in pairs] + [p.b for p in pairs]
    cleaned = Cleaner().fit_transform(texts)
    clean_a, clean_b = cleaned[: len(pairs)], cleaned[len(pairs):]
    verifier = Verifier()
    sentences = [split_sentences(t) for t in cleaned]
    flat = [s.text for doc in sentences for s in doc]
    # The IDF is fitted on the file's sentences and the alignment reads their TF-IDF rows.
    matrix = verifier.vectorizer.fit_transform(flat) if flat else None
    starts = np.cumsum([0] + [len(doc) for doc in sentences])
    out: list[Prediction] = []
    n = len(pairs)
    for k, pair in enumerate(pairs):
        sa, sb = sentences[k], sentences[n + k]
        alignment = verifier.align_rows(sa, sb, matrix, (starts[k], starts[k + 1]),
                                        matrix, (starts[n + k], starts[n + k + 1]))
        relation = relate_pair(Document(f"{pair.id}:a", pair.a), Document(f"{pair.id}:b", pair.b),
                               clean_a[k], clean_b[k], verifier.features(alignment))
        out.append(Prediction(pair.id, relation.relation, relation.score))
    return out


def prf(pred: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    tp = int((pred & gold).sum())
    fp = int((pred & ~gold).sum())
    fn = int((~pred & gold).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": float((pred == gold).mean()),
            "called_derived": int(pred.sum())}


def word_ngram_jaccard(a: str, b: str, n: int = 5) -> float:
    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb) if ga | gb else 0.0


def baselines(pairs: Sequence[GoldPair]) -> dict[str, np.ndarray]:
    """Scores of the two baselines: word 5-gram Jaccard and TF-IDF document cosine."""
    jaccard = np.array([word_ngram_jaccard(p.a, p.b) for p in pairs])
    vectorizer = SentenceVectorizer().fit([p.a for p in pairs] + [p.b for p in pairs])
    cosine = np.asarray(vectorizer.transform([p.a for p in pairs]).multiply(
        vectorizer.transform([p.b for p in pairs])).sum(axis=1)).ravel()
    return {"word 5-gram Jaccard": jaccard, "TF-IDF document cosine": cosine}


def best_threshold(scores: np.ndarray, gold: np.ndarray) -> tuple[float, dict[str, float]]:
    """The threshold that maximises accuracy on this file (ties: the higher F1)."""
    best: tuple[float, float, float, dict] | None = None
    for threshold in np.unique(np.round(scores, 4)):
        stats = prf(scores >= threshold, gold)
        key = (stats["accuracy"], stats["f1"])
        if best is None or key > best[:2]:
            best = (*key, float(threshold), stats)
    assert best is not None
    return best[2], best[3]


def end_to_end_recall(pairs: Sequence[GoldPair], gold: np.ndarray) -> tuple[int, int, int]:
    """Scan all texts as one corpus; (gold derived pairs, of them found derived, candidates)."""
    docs = [Document(f"{p.id}\ta", p.a) for p in pairs] + [Document(f"{p.id}\tb", p.b) for p in pairs]
    docs = [d for d in docs if d.text.strip()]
    result = Scanner(ScanConfig(related=False, jobs=1)).scan(docs)
    found = {frozenset((r.a, r.b)) for r in result.pairs if r.relation in DERIVED}
    wanted = [frozenset((f"{p.id}\ta", f"{p.id}\tb")) for p, g in zip(pairs, gold) if g]
    return len(wanted), sum(1 for w in wanted if w in found), result.candidates


def run_eval(path: Path, derived: list[str] | None = None, out: Path | None = None, end_to_end: bool = True,
             console: Console | None = None, warn: Callable[[Skip], None] | None = None) -> dict:
    """The `dedup eval` command; returns the figures it printed (for tests and benchmarks)."""
    console = console or Console()
    pairs = read_pairs(Path(path), warn)
    labels = sorted({p.label for p in pairs})
    if derived is None:
        derived = next((list(c) for c in _DEFAULT_DERIVED if set(c) & set(labels)), [])
    unknown = set(derived) - set(labels)
    if unknown:
        console.print(f"[yellow]note[/]: --derived names labels not in the file: {', '.join(sorted(unknown))}")
    gold = np.array([p.label in derived for p in pairs])
    with console.status(f"labelling {len(pairs)} pairs"):
        predictions = predict(pairs)
    pred = np.array([p.relation in DERIVED for p in predictions])

    matrix = Table(title=f"{Path(path).name}: gold label (rows) by predicted relation", header_style="bold")
    matrix.add_column("gold \\ predicted")
    for relation in RELATIONS:
        matrix.add_column(relation, justify="right")
    counts = Counter((pair.label, p.relation) for pair, p in zip(pairs, predictions))
    for label_ in labels:
        matrix.add_row(label_ + (" *" if label_ in derived else ""), *[str(counts[(label_, r)] or "") for r in RELATIONS])
    console.print(matrix)
    console.print(f"* counted as derived: {', '.join(derived) if derived else '(none: every pair should be not derived)'}")

    ours = prf(pred, gold)
    summary = Table(title="derived vs not derived", header_style="bold")
    for name in ("method", "threshold", "precision", "recall", "F1", "accuracy", "called derived"):
        summary.add_column(name, justify="left" if name == "method" else "right")
    summary.add_row("dedup (verify + relate)", "-", *_fmt(ours))
    figures: dict = {"file": str(path), "pairs": len(pairs), "derived_labels": derived, "dedup": ours,
                     "confusion": {f"{g}->{r}": c for (g, r), c in counts.items()}}
    if gold.any() and (~gold).any():
        for name, scores in baselines(pairs).items():
            threshold, stats = best_threshold(scores, gold)
            summary.add_row(f"{name} (best on this file)", f"{threshold:.3f}", *_fmt(stats))
            figures[name] = {"threshold": threshold, **stats}
    console.print(summary)

    if end_to_end:
        with console.status("end-to-end scan of all texts"):
            total, found, candidates = end_to_end_recall(pairs, gold)
        if total:
            console.print(f"end-to-end: scanning all {2 * len(pairs)} texts as one corpus finds {found} of {total} "
                          f"gold derived pairs as derived (recall {found / total:.3f}; {candidates} candidate pairs)")
        figures["end_to_end"] = {"gold_derived": total, "found": found, "candidates": candidates}
    if out is not None:
        with open(out, "w", encoding="utf-8") as handle:
            for p in predictions:
                handle.write(json.dumps({"id": p.id, "relation": p.relation, "score": round(p.score, 4)}) + "\n")
        console.print(f"predictions written to {out}")
    return figures


def _fmt(stats: dict[str, float]) -> list[str]:
    return [f"{stats['precision']:.3f}", f"{stats['recall']:.3f}", f"{stats['f1']:.3f}", f"{stats['accuracy']:.3f}",
            str(stats["called_derived"])]
