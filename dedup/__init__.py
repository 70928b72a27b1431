"""dedup: find copies, rewrites and partial reuse in news copy, and show what changed.

    from dedup import read_documents, scan
    docs, skipped = read_documents("seeds/")
    result = scan(docs, clusters=True)
    for pair in result.pairs:
        print(pair.source, "->", pair.derivative, pair.relation, pair.score)
"""
from dedup.document import Document, InputProblem, Skip
from dedup.ingest import iter_documents, read_documents
from dedup.pipeline import PairResult, ScanConfig, Scanner, ScanResult, scan

__all__ = [
    "Document", "InputProblem", "Skip", "iter_documents", "read_documents",
    "PairResult", "ScanConfig", "Scanner", "ScanResult", "scan",
]
__version__ = "0.1.0"
