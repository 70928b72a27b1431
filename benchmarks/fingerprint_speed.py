"""Speed of the fingerprint and candidates stages against datasketch and rensa, in one run.

Reads ../shared/data/corpora/*.jsonl (Reuters-21578 + BBC, relative to the repo root) and
prints docs/s for: our copy channel (word 5-grams) and rewrite channel (stemmed content
words), fingerprint alone and fingerprint + LSH candidates, with jobs=1 and jobs=N;
datasketch the ordinary way (`MinHash.update` per shingle, `MinHashLSH` insert + query) on
a subsample; and rensa (`RMinHash.from_token_sets`, `RMinHashLSH`) on the whole corpus.
Because these articles are shorter than the ~550 words of the target workload, it also
prints words/s and "550-word docs/s" (words/s / 550).

    python benchmarks/fingerprint_speed.py [--limit N] [--subsample 1000] [--jobs 2]

Timings on a shared machine are noisy: compare the ratios, which come from the same run.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dedup.candidates import LSHBanding, optimal_bands  # noqa: E402
from dedup.fingerprint import Fingerprinter  # noqa: E402

CORPORA = REPO / ".." / "shared" / "data" / "corpora"
WORD_RE = re.compile(r"\w+")
TARGET_WORDS = 550  # the performance issue's article length


def load_texts(limit: int | None) -> list[str]:
    texts: list[str] = []
    for path in sorted(CORPORA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            texts.extend(json.loads(line)["text"] for line in handle)
    return texts[:limit] if limit else texts


def peer_shingles(text: str, size: int = 5) -> list[str]:
    """What a datasketch or rensa user writes: lowercase, \\w+ tokens, word 5-grams."""
    words = WORD_RE.findall(text.lower())
    if len(words) < size:
        return [" ".join(words)]
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


def with_cpu(run, *args) -> dict:
    """Run a timing function and add the CPU seconds this process spent (robust to a busy
    machine; for jobs > 1 it misses the workers, so it is only shown for one process)."""
    started = time.process_time()
    result = run(*args)
    result["cpu_s"] = time.process_time() - started
    return result


def time_ours(texts: list[str], channel: str, threshold: float, num_perm: int, jobs: int) -> dict:
    fingerprinter = Fingerprinter(channel, num_perm=num_perm, jobs=jobs)
    started = time.perf_counter()
    signatures = fingerprinter.transform(texts)
    fingerprint_s = time.perf_counter() - started
    lsh = LSHBanding(threshold, num_perm)
    started = time.perf_counter()
    pairs = lsh.candidate_pairs(signatures)
    candidates_s = time.perf_counter() - started
    return {"fingerprint_s": fingerprint_s, "candidates_s": candidates_s, "pairs": len(pairs),
            "capped": lsh.capped_buckets}


def time_datasketch(texts: list[str], threshold: float, num_perm: int) -> dict:
    from datasketch import MinHash, MinHashLSH

    started = time.perf_counter()
    sketches = []
    for text in texts:
        sketch = MinHash(num_perm=num_perm)
        for shingle in peer_shingles(text):
            sketch.update(shingle.encode("utf-8"))
        sketches.append(sketch)
    fingerprint_s = time.perf_counter() - started
    started = time.perf_counter()
    index = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for doc, sketch in enumerate(sketches):
        index.insert(doc, sketch)
    pairs = {(min(d, e), max(d, e)) for d, s in enumerate(sketches) for e in index.query(s) if e != d}
    return {"fingerprint_s": fingerprint_s, "candidates_s": time.perf_counter() - started, "pairs": len(pairs)}


def _has_rensa() -> bool:
    try:
        import rensa  # noqa: F401
    except ImportError:
        return False
    return True


def time_rensa(texts: list[str], threshold: float, num_perm: int) -> dict:
    from rensa import RMinHash, RMinHashLSH

    started = time.perf_counter()
    sketches = RMinHash.from_token_sets([peer_shingles(t) for t in texts], num_perm=num_perm, seed=42)
    fingerprint_s = time.perf_counter() - started
    # rensa needs bands dividing num_perm: the divisor nearest datasketch's optimum.
    best = optimal_bands(threshold, num_perm)[0]
    bands = min((b for b in range(1, num_perm + 1) if num_perm % b == 0), key=lambda b: abs(b - best))
    started = time.perf_counter()
    index = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=bands)
    index.insert_many(sketches, start_key=0)
    found = index.query_all(sketches)
    pairs = sum(len([e for e in hits if e > d]) for d, hits in enumerate(found))
    return {"fingerprint_s": fingerprint_s, "candidates_s": time.perf_counter() - started, "pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use the first N documents")
    parser.add_argument("--subsample", type=int, default=1000, help="documents for datasketch (slow)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=0.5, help="copy channel LSH threshold")
    parser.add_argument("--rewrite-threshold", type=float, default=0.4)
    args = parser.parse_args()

    texts = load_texts(args.limit)
    words = sum(len(WORD_RE.findall(t)) for t in texts)
    mean_words = words / len(texts)
    print(f"{len(texts)} docs, {mean_words:.0f} words/doc on average; num_perm={args.num_perm}")
    runs: dict[str, tuple[int, dict]] = {}
    for channel, threshold in (("copy", args.threshold), ("rewrite", args.rewrite_threshold)):
        for jobs in sorted({1, args.jobs}):
            runs[f"dedup {channel} jobs={jobs}"] = (len(texts), with_cpu(time_ours, texts, channel, threshold, args.num_perm, jobs))
    rensa = with_cpu(time_rensa, texts, args.threshold, args.num_perm) if _has_rensa() else None
    if rensa is not None:
        runs["rensa"] = (len(texts), rensa)
    sample = texts[: args.subsample]
    runs[f"datasketch ({len(sample)} docs)"] = (len(sample), with_cpu(time_datasketch, sample, args.threshold, args.num_perm))

    sample_words = sum(len(WORD_RE.findall(t)) for t in sample) / len(sample)
    ds_result = runs[f"datasketch ({len(sample)} docs)"][1]
    datasketch_rate = len(sample) / (ds_result["fingerprint_s"] + ds_result["candidates_s"])
    datasketch_words = datasketch_rate * sample_words
    rensa_rate = len(texts) / (rensa["fingerprint_s"] + rensa["candidates_s"]) if rensa else None
    print(f"{'tool':28} {'fp docs/s':>10} {'fp+cand docs/s':>15} {'550w docs/s':>12} {'x datasketch':>13} "
          f"{'x rensa':>8} {'pairs':>9} {'550w docs/cpu-s':>16}")
    for name, (n, result) in runs.items():
        total = result["fingerprint_s"] + result["candidates_s"]
        rate = n / total
        per_doc_words = sample_words if name.startswith("datasketch") else mean_words
        vs_datasketch = rate * per_doc_words / datasketch_words  # per word: the subsample differs
        vs_rensa = f"{rate / rensa_rate:8.2f}" if rensa_rate else "       -"
        single = "jobs=" not in name or "jobs=1" in name
        cpu_rate = f"{n * per_doc_words / TARGET_WORDS / result['cpu_s']:.0f}" if single else "-"
        print(f"{name:28} {n / result['fingerprint_s']:10.0f} {rate:15.0f} {rate * per_doc_words / TARGET_WORDS:12.0f} "
              f"{vs_datasketch:13.1f} {vs_rensa} {result['pairs']:9d} {cpu_rate:>16}")


if __name__ == "__main__":
    main()
