"""Run `dedup scan` and its peers on benchmark corpora, score them against the planted pairs, write the results.

    python benchmarks/run.py benchmarks/data/corpus-10k.jsonl [more corpora ...]

Each tool runs in its own process (this script re-invoked with --child), so its peak RSS is its own: the
parent reads it from `os.wait4`, like /usr/bin/time. A peer whose full run would exceed --budget seconds
(10 minutes) is measured on the first --subsample documents only; its figures say so and its full-corpus
time is extrapolated linearly from that rate. Results are merged into benchmarks/out/results.json
(one entry per corpus and tool, so sizes and tools can be run separately), then results.md and results.png are redrawn.
Peak RSS is the larger of wait4's (largest single process) and the sampled sum over the tool's process tree
(dedup's worker processes count). Sampling the tree costs CPU the tool would use, so a tool with worker
processes (dedup) is timed in a run without the sampler and run again with it for the peak; a single-process
peer's peak is wait4's, which is exact (--sampled-timing times the sampled run instead, one run per tool).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import PEERS, ToolRun, read_texts  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "benchmarks" / "out"
TOOLS = ("dedup", "datasketch", "datasketch_bulk", "rensa")
ALL_TOOLS = TOOLS + tuple(peer for peer in PEERS if peer not in TOOLS)  # also shingles_only, on request
PEER_THRESHOLD = 0.5  # peers' LSH threshold on word 5-gram Jaccard: the usual near-duplicate setting
NUM_PERM = 128
BUDGET_SECONDS = 600.0
SUBSAMPLE = 10_000
DEDUP_TIMEOUT = 3 * 3600.0
DERIVED_RELATIONS = {"exact", "near_duplicate", "rewrite", "partial"}
MIN_SAMPLE_PAUSE = 0.2  # seconds between two passes of the process-tree memory sampler, at least
SAMPLER_PAUSE_PER_PASS = 20.0  # ... and 20x the last pass took: the sampler's share of one core near 5%
# Tools that start worker processes: wait4 sees only their largest process, so their tree is sampled,
# in a run of its own (the timed run is not sampled; see `measure_tool`).
MULTIPROCESS_TOOLS = frozenset({"dedup"})
FAST_STAGES = ("fingerprint", "candidates")  # the stages the 2x / 20x targets are about


# ---------------------------------------------------------------- dedup: the one place that knows its API
def scan_with_dedup(corpus: Path, limit: int | None) -> tuple[ToolRun, list[str]]:
    """Scan the first `limit` documents with dedup's Python API; (run, relation label of each pair)."""
    from dedup.ingest import iter_documents
    from dedup.pipeline import ScanConfig, Scanner

    positions: dict[str, int] = {}

    def documents():
        for position, doc in enumerate(itertools.islice(iter_documents(corpus), limit)):
            positions[doc.id] = position
            yield doc

    started = time.perf_counter()
    result = Scanner(ScanConfig(num_perm=NUM_PERM, jobs=0)).scan(documents())
    wall = time.perf_counter() - started
    stages = {stage: float(getattr(entry, "seconds", 0.0)) for stage, entry in result.profile.items()}
    unprofiled = wall - sum(stages.values())
    if unprofiled > 0.05 * wall:
        stages["other"] = unprofiled
    pairs = np.array([sorted((positions[p.a], positions[p.b])) for p in result.pairs], dtype=np.int64).reshape(-1, 2)
    relations = [str(getattr(p.relation, "value", p.relation)) for p in result.pairs]
    peaks = ", ".join(f"{stage} {entry.peak_rss_mb:,.0f}" for stage, entry in result.profile.items())
    notes = [f"{result.candidates:,} candidate pairs, {len(result.pairs):,} derived",
             f"main process peak RSS (MB) by the end of each stage: {peaks}"]
    return ToolRun("dedup", len(positions), pairs, stages, notes), relations


# ---------------------------------------------------------------- child process: one tool, one corpus
def child(tool: str, corpus: Path, limit: int | None, threshold: float, out: Path) -> None:
    """Run one tool and leave its pairs (.npz) and timings (.json) at `out`."""
    started = time.perf_counter()
    if tool == "dedup":
        run, relations = scan_with_dedup(corpus, limit)
    else:
        run, relations = PEERS[tool](read_texts(corpus, limit), threshold, NUM_PERM), []
    wall = time.perf_counter() - started
    np.savez(out.with_suffix(".npz"), pairs=run.pairs, relations=np.array(relations, dtype=str))
    out.with_suffix(".json").write_text(json.dumps(
        {"tool": run.tool, "n_docs": run.n_docs, "stages": run.stages, "notes": run.notes, "wall": wall}))


def measure(tool: str, corpus: Path, limit: int | None, threshold: float, timeout: float,
            sample_interval: float | None = None, sampled: bool = True) -> dict:
    """Run `tool` in a fresh process; its report plus peak RSS (MB) and process wall seconds. With
    `sampled`, the summed memory of its process tree is sampled while it runs (`TreeMemory`)."""
    work = OUT_DIR / "tmp" / f"{tool}-{corpus.stem}-{limit or 'all'}"
    work.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", tool, "--threshold", str(threshold),
               "--child-out", str(work), str(corpus)] + (["--limit", str(limit)] if limit else [])
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    killer = threading.Timer(timeout, kill_tree, (process.pid,))
    killer.start()
    tree_peak = TreeMemory(process.pid, sample_interval) if sampled else None
    _, status, usage = os.wait4(process.pid, 0)
    killer.cancel()
    if tree_peak is not None:
        tree_peak.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        reason = f"timed out after {timeout:.0f} s" if elapsed >= timeout else f"exit code {process.returncode}"
        return {"tool": tool, "failed": reason, "process_seconds": elapsed}
    report = json.loads(work.with_suffix(".json").read_text())
    found = np.load(work.with_suffix(".npz"))
    report.update(pairs=found["pairs"], relations=found["relations"], process_seconds=elapsed,
                  memory_samples=tree_peak.passes if tree_peak else 0,
                  memory_sampling_seconds=round(tree_peak.pass_seconds, 2) if tree_peak else 0.0,
                  peak_rss_mb=max(usage.ru_maxrss / 1024, tree_peak.peak_mb if tree_peak else 0.0))  # Linux: KB
    return report


def measure_tool(tool: str, corpus: Path, limit: int | None, threshold: float, timeout: float,
                 args: argparse.Namespace) -> dict:
    """`measure`, timed without the memory sampler; a tool with worker processes then runs the same work
    again under the sampler, for its tree's peak.

    Reading PSS walks every process's page tables: at 1M, dedup's three processes took ~9 CPU-seconds
    of sampling (135 passes) from a scan on two busy cores, while a single-process peer leaves the
    sampler a free core. The sampled run's scan time is kept in the results (`sampled_run_seconds`).
    """
    if args.sampled_timing:
        return measure(tool, corpus, limit, threshold, timeout, args.sample_interval)
    timed = measure(tool, corpus, limit, threshold, timeout, sampled=False)
    if tool not in MULTIPROCESS_TOOLS or "failed" in timed:
        return timed
    sampled = measure(tool, corpus, limit, threshold, timeout, args.sample_interval)
    if "failed" in sampled:
        timed["notes"].append(f"the memory-sampled run failed ({sampled['failed']}): peak RSS is the largest process's")
        return timed
    sampled_seconds = sum(sampled["stages"].values())
    timed.update(peak_rss_mb=max(timed["peak_rss_mb"], sampled["peak_rss_mb"]),
                 memory_samples=sampled["memory_samples"], memory_sampling_seconds=sampled["memory_sampling_seconds"],
                 sampled_run_seconds=round(sampled_seconds, 2))
    timed["notes"].append(f"timed without the memory sampler; peak RSS also from a second run under it "
                          f"({sampled['memory_samples']} samples, {sampled['memory_sampling_seconds']:.1f} s of "
                          f"sampling), whose own {tool} time was {sampled_seconds:.1f} s")
    return timed


class TreeMemory:
    """Peak of the summed PSS of a process and its descendants, sampled while it runs.

    `wait4`'s ru_maxrss is the largest *single* process; a tool with worker processes holds the sum.
    Reading PSS walks the page tables of every process: at 1M, dedup's parent and two forked verify workers
    each map ~2.8 GB and one pass takes ~60 ms, CPU taken from the tool on a two-core machine (at a fixed
    0.2 s, a quarter of a core). So by default the pause after a pass is SAMPLER_PAUSE_PER_PASS times that
    pass (the sampler's share of a core stays near 5%), never under MIN_SAMPLE_PAUSE; `interval` fixes it.
    """

    def __init__(self, pid: int, interval: float | None = None) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_mb = 0.0
        self.passes = 0
        self.pass_seconds = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        pause = self.interval or MIN_SAMPLE_PAUSE
        while not self.done.wait(pause):
            started = time.perf_counter()
            try:
                tree = [root] + root.children(recursive=True)
            except psutil.Error:  # the tool has exited between two samples
                return
            total = 0
            for process in tree:
                try:
                    # PSS where the OS has it: forked workers share the parent's pages
                    # copy-on-write, and summing their RSS would count those pages twice.
                    info = process.memory_full_info()
                    total += getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            took = time.perf_counter() - started
            self.passes += 1
            self.pass_seconds += took
            pause = self.interval or max(MIN_SAMPLE_PAUSE, SAMPLER_PAUSE_PER_PASS * took)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def kill_tree(pid: int) -> None:
    """Kill a timed-out tool and its workers (only the processes this benchmark started)."""
    try:
        root = psutil.Process(pid)
        for process in root.children(recursive=True) + [root]:
            process.kill()
    except psutil.Error:
        pass


def measure_within_budget(tool: str, corpus: Path, n_docs: int, args: argparse.Namespace) -> dict:
    """Full run if it fits the budget; otherwise the subsample run, labelled, with the full time extrapolated."""
    if tool == "dedup" or n_docs <= args.subsample:
        timeout = DEDUP_TIMEOUT if tool == "dedup" else args.budget * 1.5
        return measure_tool(tool, corpus, None, args.threshold, timeout, args)
    probe = measure_tool(tool, corpus, args.subsample, args.threshold, args.budget * 1.5, args)
    if "failed" in probe:
        return probe
    estimate = sum(probe["stages"].values()) * n_docs / probe["n_docs"]
    if estimate <= args.budget:
        return measure_tool(tool, corpus, None, args.threshold, args.budget * 1.5, args)
    probe["subsample"] = probe["n_docs"]
    probe["extrapolated_seconds"] = estimate
    probe["notes"].append(f"would take ~{estimate / 60:.0f} min on all {n_docs} docs: measured on the first "
                          f"{probe['n_docs']}, full time extrapolated linearly")
    return probe


# ---------------------------------------------------------------- scoring against the planted pairs
class Truth:
    """The planted pairs of one corpus, as document positions, and the families they form."""

    def __init__(self, corpus: Path) -> None:
        with corpus.open(encoding="utf-8") as handle:
            positions = {json.loads(line)["id"]: i for i, line in enumerate(handle)}
        self.n_docs = len(positions)
        truth_path = corpus.with_name(corpus.name.removesuffix(".jsonl") + ".truth.jsonl")
        planted, kinds, expected, natural = [], [], [], []
        with truth_path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                pair = sorted((positions[record["a"]], positions[record["b"]]))
                if record["family"] == "derived":
                    planted.append(pair)
                    kinds.append(record["kind"])
                    expected.append(frozenset(record.get("expected", ())))
                else:
                    natural.append(pair)
        self.planted = np.array(planted, dtype=np.int64).reshape(-1, 2)
        self.kinds = np.array(kinds)
        self.expected = expected  # the relation labels make_corpus.py expects for each planted pair
        edges = np.concatenate([self.planted, np.array(natural, dtype=np.int64).reshape(-1, 2)])
        graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(self.n_docs,) * 2)
        _, self.family = connected_components(graph, directed=False)
        provenance = corpus.with_name(corpus.name.removesuffix(".jsonl") + ".provenance.npz")
        self.provenance: tuple[np.ndarray, np.ndarray] | None = None  # (ids, CSR offsets), if make_corpus wrote it
        if provenance.exists():
            with np.load(provenance) as stored:
                self.provenance = (stored["ids"], stored["offsets"])

    def share_a_sentence(self, pairs: np.ndarray) -> np.ndarray:
        """Mask of pairs whose documents were made from a common real sentence (a spliced base drew a
        sentence of a real article, or two bases drew the same one): derived by construction, though
        no planted pair records it."""
        ids, offsets = self.provenance
        return np.array([np.intersect1d(ids[offsets[a]:offsets[a + 1]], ids[offsets[b]:offsets[b + 1]],
                                        assume_unique=True).size > 0 for a, b in pairs.tolist()], dtype=bool)

    def score(self, pairs: np.ndarray, n_docs: int) -> dict:
        """Recall of the planted pairs among the first `n_docs` documents, and precision.

        Precision counts a found pair as right when both documents are in one family of planted (or
        natural) pairs: two derivatives of one source are near-duplicates of each other too, and
        Reuters' own repeats are real. A found pair between unrelated documents is a false alarm.
        `precision_shared_sentences` also counts as right a pair made from a common real sentence
        (the corpus' provenance file): spliced bases reuse real sentences, at 1M each about 40 times.
        """
        inside = self.planted[:, 1] < n_docs
        planted, kinds = self.planted[inside], self.kinds[inside]
        hit = np.isin(planted[:, 0] * n_docs + planted[:, 1], pairs[:, 0] * n_docs + pairs[:, 1])
        same_family = self.family[pairs[:, 0]] == self.family[pairs[:, 1]] if len(pairs) else np.array([], bool)
        explained = same_family.copy()
        if self.provenance is not None and len(pairs):
            explained[~same_family] = self.share_a_sentence(pairs[~same_family])
        return {
            "planted": int(len(planted)),
            "found_planted": int(hit.sum()),
            "recall": float(hit.mean()) if len(hit) else None,
            "recall_by_kind": {kind: round(float(hit[kinds == kind].mean()), 3) for kind in sorted(set(kinds))},
            "pairs_reported": int(len(pairs)),
            "precision": float(same_family.mean()) if len(pairs) else None,
            "precision_shared_sentences": (float(explained.mean()) if len(pairs) and self.provenance is not None
                                           else None),
        }


    def label_agreement(self, pairs: np.ndarray, relations: np.ndarray, n_docs: int) -> dict[str, float]:
        """Per planted kind: the share of found planted pairs whose relation label is one the corpus
        maker expects (a pasted passage `partial`, a truncation `near_duplicate` or `partial`, ...)."""
        relation_of = {(int(a), int(b)): str(r) for (a, b), r in zip(pairs, relations)}
        agree: dict[str, list[bool]] = {}
        for (a, b), kind, expected in zip(self.planted.tolist(), self.kinds.tolist(), self.expected):
            if b < n_docs and (a, b) in relation_of:
                agree.setdefault(kind, []).append(relation_of[(a, b)] in expected)
        return {kind: round(float(np.mean(hits)), 3) for kind, hits in sorted(agree.items())}


def summarise(report: dict, truth: Truth) -> dict:
    """Per-stage docs/s, totals and accuracy of one tool run (the pairs themselves are dropped)."""
    if "failed" in report:
        return {"failed": report["failed"]}
    n_docs = report["n_docs"]
    stages = report["stages"]
    pairs, relations = report["pairs"], report["relations"]
    if len(relations):  # dedup labels its pairs: only derived relations count as found
        derived = np.isin(relations, list(DERIVED_RELATIONS))
        by_relation = {str(k): int(v) for k, v in zip(*np.unique(relations, return_counts=True))}
        pairs = pairs[derived]
        agreement = truth.label_agreement(pairs, relations[derived], n_docs)
    else:
        by_relation = agreement = None
    seconds = sum(stages.values())
    fast = sum(stages.get(stage, 0.0) for stage in FAST_STAGES)
    summary = {
        "n_docs": n_docs,
        "seconds": round(seconds, 2),
        "process_seconds": round(report["process_seconds"], 2),
        "memory_samples": report.get("memory_samples"),
        "memory_sampling_seconds": report.get("memory_sampling_seconds"),
        "sampled_run_seconds": report.get("sampled_run_seconds"),
        "docs_per_s": n_docs / seconds if seconds else None,
        "fingerprint_candidates_docs_per_s": n_docs / fast if fast else None,
        "stages": {stage: {"seconds": round(s, 3), "docs_per_s": round(n_docs / s, 1) if s else None}
                   for stage, s in stages.items()},
        "peak_rss_mb": round(report["peak_rss_mb"], 1),
        "notes": report["notes"],
        **truth.score(pairs, n_docs),
    }
    if by_relation is not None:
        summary["pairs_by_relation"] = by_relation
        summary["label_agreement_by_kind"] = agreement
    if "subsample" in report:
        summary["subsample"] = report["subsample"]
        summary["extrapolated_seconds"] = round(report["extrapolated_seconds"], 1)
    return summary


def ratios(tools: dict) -> dict:
    """dedup's docs/s over each peer's, for the whole run and for fingerprint + candidates."""
    dedup = tools.get("dedup", {})
    out = {}
    for name, peer in tools.items():
        if name == "dedup" or "failed" in peer or "failed" in dedup or not dedup:
            continue
        out[name] = {
            "whole": round(dedup["docs_per_s"] / peer["docs_per_s"], 2),
            "fingerprint_candidates": round(dedup["fingerprint_candidates_docs_per_s"]
                                            / peer["fingerprint_candidates_docs_per_s"], 2)
            if dedup.get("fingerprint_candidates_docs_per_s") else None,
        }
    return out


# ---------------------------------------------------------------- targets, table, plot
def targets(runs: dict) -> list[dict]:
    """The issue's targets, checked at every size that has the figures (the issue sets them at 100k and 1M)."""
    checks = []
    for name, run in sorted(runs.items(), key=lambda item: item[1]["n_docs"]):
        tools, size, r = run["tools"], run["n_docs"], run.get("ratios", {})
        dedup = tools.get("dedup")
        if not dedup or "failed" in dedup:
            continue

        def check(what: str, value, goal: str, ok: bool) -> None:
            checks.append({"corpus": name, "n_docs": size, "target": what, "value": value, "goal": goal, "met": ok})

        if "rensa" in r and r["rensa"]["fingerprint_candidates"]:
            value = r["rensa"]["fingerprint_candidates"]
            check("fingerprint+candidates vs rensa", value, ">= 2x", value >= 2)
        if "datasketch" in r:
            value = r["datasketch"]["fingerprint_candidates"]
            if value:
                check("fingerprint+candidates vs datasketch", value, ">= 20x", value >= 20)
            check("whole scan vs datasketch", r["datasketch"]["whole"], ">= 10x", r["datasketch"]["whole"] >= 10)
        if dedup["recall"] is not None:
            check("recall of planted pairs", round(dedup["recall"], 3), ">= 0.95", dedup["recall"] >= 0.95)
        if size >= 1_000_000:
            check("wall seconds", dedup["process_seconds"], "< 300", dedup["process_seconds"] < 300)
            check("peak RSS MB", dedup["peak_rss_mb"], "< 4096", dedup["peak_rss_mb"] < 4096)
            smaller = [x for x in runs.values() if 100_000 <= x["n_docs"] < size and "dedup" in x["tools"]
                       and "failed" not in x["tools"]["dedup"]]
            if smaller:
                base = max(smaller, key=lambda x: x["n_docs"])["tools"]["dedup"]
                growth = round(base["docs_per_s"] / dedup["docs_per_s"], 2)
                check("time per doc vs 100k", growth, "<= 1.5x", growth <= 1.5)
    return checks


def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def markdown(results: dict) -> str:
    """One table per corpus: docs/s per stage, peak RSS, accuracy and dedup's speed ratios; then the targets."""
    lines = [f"Machine: {results['machine']['cpus']} cores, Python {results['machine']['python']}. "
             f"Peers: LSH threshold {results['settings']['peer_threshold']} on word 5-gram Jaccard, "
             f"{results['settings']['num_perm']} permutations. `*` = measured on a subsample (see notes).", ""]
    stages = ("ingest", "clean", "fingerprint", "candidates", "verify", "relate")
    for name, run in sorted(results["runs"].items(), key=lambda item: item[1]["n_docs"]):
        lines += [f"### {name}: {run['n_docs']:,} documents, {run['mean_words']:.0f} words on average", "",
                  "| tool | docs/s | " + " | ".join(stages) + " | fp+cand docs/s | peak RSS MB | precision "
                  "| precision incl. shared sentences | recall | dedup x (whole / fp+cand) |",
                  "|---|" + "---:|" * (len(stages) + 7)]
        for tool, t in run["tools"].items():
            if "failed" in t:
                lines.append(f"| {tool} | failed: {t['failed']} |")
                continue
            star = "*" if "subsample" in t else ""
            per_stage = [fmt(t["stages"].get(s, {}).get("docs_per_s")) for s in stages]
            ratio = run.get("ratios", {}).get(tool)
            ratio_text = f"{ratio['whole']:.1f} / {fmt(ratio['fingerprint_candidates'], 1)}" if ratio else "-"
            lines.append(f"| {tool}{star} | {fmt(t['docs_per_s'])} | " + " | ".join(per_stage)
                         + f" | {fmt(t['fingerprint_candidates_docs_per_s'])} | {fmt(t['peak_rss_mb'])} "
                         f"| {fmt(t['precision'], 3)} | {fmt(t.get('precision_shared_sentences'), 3)} "
                         f"| {fmt(t['recall'], 3)} | {ratio_text} |")
        notes = [f"{tool}: {note}" for tool, t in run["tools"].items() for note in t.get("notes", [])]
        dates = {t.get("date", run.get("date")) for t in run["tools"].values()}
        if len(dates) > 1:  # tools measured in separate runs: say when
            notes.append("measured " + ", ".join(f"{tool} {t.get('date', run.get('date'))}" for tool, t in run["tools"].items()))
        lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
        kinds = sorted({k for t in run["tools"].values() for k in t.get("recall_by_kind", {})})
        if kinds:
            lines += ["Recall by planted kind:", "", "| tool | " + " | ".join(kinds) + " |",
                      "|---|" + "---:|" * len(kinds)]
            for tool, t in run["tools"].items():
                if "recall_by_kind" in t:
                    lines.append(f"| {tool} | " + " | ".join(fmt(t["recall_by_kind"].get(k), 2) for k in kinds) + " |")
                if t.get("label_agreement_by_kind"):
                    lines.append(f"| {tool} label as expected | "
                                 + " | ".join(fmt(t["label_agreement_by_kind"].get(k), 2) for k in kinds) + " |")
            lines.append("")
    if results.get("targets"):
        lines += ["### Targets", "", "| corpus | target | value | goal | met |", "|---|---|---:|---|---|"]
        for c in results["targets"]:
            lines.append(f"| {c['corpus']} | {c['target']} | {c['value']} | {c['goal']} | {'yes' if c['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> bool:
    """docs/s and peak RSS against corpus size, one line per tool; hollow markers are subsample figures."""
    runs = sorted(results["runs"].values(), key=lambda run: run["n_docs"])
    if len(runs) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for tool in TOOLS:
        points = [(run["n_docs"], run["tools"][tool]) for run in runs
                  if tool in run["tools"] and "failed" not in run["tools"][tool]]
        if not points:
            continue
        sizes = [size for size, _ in points]
        for axis, key in ((speed, "docs_per_s"), (memory, "peak_rss_mb")):
            line, = axis.plot(sizes, [t[key] for _, t in points], marker="o", label=tool)
            sub = [(size, t[key]) for size, t in points if "subsample" in t]
            if sub:
                axis.plot(*zip(*sub), linestyle="none", marker="o", markersize=9, markerfacecolor="white",
                          markeredgecolor=line.get_color())
    for axis, label in ((speed, "documents per second (whole run)"), (memory, "peak RSS (MB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("corpus size (documents)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    speed.legend()
    figure.suptitle("dedup vs peers (hollow: measured on a subsample)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def corpus_mean_words(corpus: Path) -> float:
    meta = corpus.with_name(corpus.name.removesuffix(".jsonl") + ".meta.json")
    if meta.exists():
        return json.loads(meta.read_text())["mean_words"]
    sample = [len(text.split()) for batch in read_texts(corpus, 2000) for text in batch]
    return sum(sample) / max(1, len(sample))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="*", type=Path, help="corpus JSONL files made by make_corpus.py")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--threshold", type=float, default=PEER_THRESHOLD, help="the peers' LSH threshold")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds a peer may take in full")
    parser.add_argument("--subsample", type=int, default=SUBSAMPLE, help="documents a peer over budget runs on")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--sample-interval", type=float, default=None,
                        help="fixed seconds between memory samples (default: adaptive, see TreeMemory)")
    parser.add_argument("--sampled-timing", action="store_true",
                        help="time the run the memory sampler watches: one run per tool, the sampler's CPU "
                             "counted in the tool's time (the default times a run without it)")
    parser.add_argument("--child", choices=list(PEERS) + ["dedup"], help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.corpora[0], args.limit, args.threshold, args.child_out)
        return
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS) - set(PEERS)
    if unknown:
        raise SystemExit(f"error: unknown tool(s) {', '.join(sorted(unknown))}; known: {', '.join(TOOLS)}")
    for corpus in args.corpora:
        if not corpus.is_file() or not corpus.with_name(corpus.name.removesuffix(".jsonl") + ".truth.jsonl").is_file():
            raise SystemExit(f"error: {corpus}: no such corpus, or no .truth.jsonl beside it (make_corpus.py writes both)")
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    results["settings"] = {"peer_threshold": args.threshold, "num_perm": NUM_PERM, "budget_seconds": args.budget,
                           "subsample": args.subsample}
    for corpus in args.corpora:
        truth = Truth(corpus)
        # A run of some tools keeps the others' figures on the same corpus, each with its date.
        previous = results["runs"].get(corpus.name.removesuffix(".jsonl"), {})
        kept = previous.get("tools", {}) if previous.get("n_docs") == truth.n_docs else {}
        run = {"corpus": os.path.relpath(corpus.resolve(), REPO_ROOT), "n_docs": truth.n_docs,
               "mean_words": corpus_mean_words(corpus), "date": time.strftime("%Y-%m-%d %H:%M"),
               "tools": {tool: kept[tool] for tool in ALL_TOOLS if tool in kept and tool not in tools}}
        for tool in tools:
            print(f"[{corpus.name}] {tool} ...", file=sys.stderr, flush=True)
            run["tools"][tool] = summarise(measure_within_budget(tool, corpus, truth.n_docs, args), truth)
            run["tools"][tool]["date"] = time.strftime("%Y-%m-%d %H:%M")
            print(f"[{corpus.name}] {tool}: {json.dumps(run['tools'][tool])}", file=sys.stderr, flush=True)
        run["tools"] = {tool: run["tools"][tool] for tool in ALL_TOOLS if tool in run["tools"]}
        run["ratios"] = ratios(run["tools"])
        results["runs"][corpus.name.removesuffix(".jsonl")] = run
    results["targets"] = targets(results["runs"])
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    drawn = plot(results, args.out / "results.png")
    print(f"wrote {results_path}, results.md" + (", results.png" if drawn else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
