"""Verify stage: sentence alignment of a candidate pair, and the features the relate stage reads.

(Interface first; the implementation lands in the next commits.)
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a cleaned text; `start`/`end` are character offsets into that text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Link:
    """Sentences of A matched to sentences of B.

    `a` and `b` are sentence indices (one or two each: 1-1, 1-2 and 2-1 merges).
    `kind` is "anchor" (monotone 1-1 path), "merge" (gap filled with a 1-2/2-1
    merge), "gap" (1-1 found between anchors) or "reorder" (order-free mutual best).
    """

    a: tuple[int, ...]
    b: tuple[int, ...]
    similarity: float
    kind: str


@dataclass(slots=True)
class Alignment:
    """The sentence alignment of one pair: what the scan labels and the diff shows."""

    a_sentences: list[Sentence]
    b_sentences: list[Sentence]
    links: list[Link] = field(default_factory=list)

    @property
    def unmatched_a(self) -> list[int]:
        used = {i for link in self.links for i in link.a}
        return [i for i in range(len(self.a_sentences)) if i not in used]

    @property
    def unmatched_b(self) -> list[int]:
        used = {j for link in self.links for j in link.b}
        return [j for j in range(len(self.b_sentences)) if j not in used]
