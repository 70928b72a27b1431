"""Refit the claim-fidelity weights of dedup/fidelity.py on MRPC's training pairs.

    python benchmarks/calibrate_fidelity.py [../shared/data/pairs/mrpc.train.jsonl]

Prints cross-validated accuracy/F1 and the WEIGHTS / INTERCEPT lines to paste into
dedup/fidelity.py. The sentence IDF is fitted on the file's own sentences, as `dedup eval` does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from dedup.fidelity import FEATURE_NAMES, fidelity_features
from dedup.verify import SentenceVectorizer

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pairs" / "mrpc.train.jsonl"


def main(path: Path) -> None:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    a = [r["a"] for r in rows]
    b = [r["b"] for r in rows]
    y = np.array([r["label"] == "paraphrase" for r in rows])
    vectorizer = SentenceVectorizer().fit(a + b)
    sim = np.asarray(vectorizer.transform(a).multiply(vectorizer.transform(b)).sum(axis=1)).ravel()
    x = np.array([fidelity_features(s, t, c, vectorizer.word_weight) for s, t, c in zip(a, b, sim)])
    model = LogisticRegression(max_iter=5000, C=1.0)
    proba = cross_val_predict(model, x, y, cv=5, method="predict_proba")[:, 1]
    for threshold in (0.4, 0.45, 0.5, 0.55):
        pred = proba >= threshold
        tp = (pred & y).sum()
        precision, recall = tp / max(1, pred.sum()), tp / y.sum()
        f1 = 2 * precision * recall / (precision + recall)
        print(f"cv threshold {threshold:.2f}: accuracy {(pred == y).mean():.3f} F1 {f1:.3f}")
    model.fit(x, y)
    print("# features:", ", ".join(FEATURE_NAMES))
    print("WEIGHTS = np.array([" + ", ".join(f"{w:.4f}" for w in model.coef_[0]) + "])")
    print(f"INTERCEPT = {model.intercept_[0]:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
