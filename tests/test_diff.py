"""A pair's claim diff: built from an alignment, rendered to the terminal and to JSON."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from dedup.diff import build_diff, is_claim, render_terminal
from dedup.verify import Alignment, Link, Sentence

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def sentences(text: str) -> list[Sentence]:
    """A naive split for hand-built alignments (the verifier's splitter is tested elsewhere)."""
    return [Sentence(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\s.!?][^.!?]*[.!?]", text)]


TEXT_A = ("Roughly 600 soldiers have been killed, according to South Korean intelligence. "
          "The army could send 4,000 more troops in October. "
          "By AFP. "
          "Officials in Seoul briefed lawmakers on the plan on Thursday.")
TEXT_B = ("Around 600 soldiers have died. "
          "The army might send 5,000 more troops in the past year. "
          "Analysts expect the conflict to drag on for a long time.")


def hand_alignment() -> Alignment:
    sa, sb = sentences(TEXT_A), sentences(TEXT_B)
    return Alignment(sa, sb, [Link((0,), (0,), 0.6, "anchor"), Link((1,), (1,), 0.7, "anchor")])


def test_build_diff_hand_alignment():
    diff = build_diff(hand_alignment(), "rewrite", 0.8, "a", "b", "a is dated earlier", "a", "b")
    assert [p.status for p in diff.alignments] == ["changed", "changed"]
    first = {(c.type, c.a, c.b) for c in diff.alignments[0].changes}
    assert ("number", "Roughly 600", "Around 600") in first
    assert ("attribution", "according to South Korean intelligence", None) in first
    second = {(c.type, c.a, c.b) for c in diff.alignments[1].changes}
    assert ("number", "4,000", "5,000") in second
    assert ("hedge", "could", "might") in second
    assert ("time", "in October", "in the past year") in second
    # the byline is not a claim; the Seoul sentence is a dropped claim, the analysts one added
    assert [c.text for c in diff.dropped] == ["Officials in Seoul briefed lawmakers on the plan on Thursday."]
    assert [c.text for c in diff.added] == ["Analysts expect the conflict to drag on for a long time."]
    assert diff.boilerplate_a == [2]


def test_change_spans_point_into_the_documents():
    diff = build_diff(hand_alignment(), None, None, None, None, None, "a", "b")
    for pair in diff.alignments:
        for change in pair.changes:
            if change.a_span:
                assert TEXT_A[change.a_span[0]:change.a_span[1]] == change.a
            if change.b_span:
                assert TEXT_B[change.b_span[0]:change.b_span[1]] == change.b


def test_merged_sentences_map_back_to_both():
    a = "The plant employs 300 people. It opened in 1999."
    b = "The plant, which opened in 2001, employs 300 people."
    sa, sb = sentences(a), sentences(b)
    diff = build_diff(Alignment(sa, sb, [Link((0, 1), (0,), 0.7, "merge")]), None, None, None, None, None, "a", "b")
    changes = diff.alignments[0].changes
    time = [c for c in changes if c.type == "time"]
    assert [(c.a, c.b) for c in time] == [("in 1999", "in 2001")]
    assert a[time[0].a_span[0]:time[0].a_span[1]] == "in 1999"


def test_json_schema():
    diff = build_diff(hand_alignment(), "rewrite", 0.8, "a", "b", "a is dated earlier", "a", "b")
    data = json.loads(json.dumps(diff.to_json()))
    for key in ("relation", "score", "source", "derivative", "summary", "alignments", "added", "dropped"):
        assert key in data
    assert data["summary"]["altered"] == 2 and data["summary"]["added"] == 1 and data["summary"]["dropped"] == 1
    alignment = data["alignments"][0]
    assert set(alignment) >= {"a_sentences", "b_sentences", "similarity", "changes"}
    assert alignment["a_sentences"][0]["index"] == 0
    change = alignment["changes"][0]
    assert set(change) >= {"type", "a", "b", "weight"}
    assert change["type"] == "number"  # a changed figure ranks first


def test_terminal_render_shows_summary_then_pairs():
    diff = build_diff(hand_alignment(), "rewrite", 0.8, "a", "b", "a is dated earlier", "a", "b")
    buffer = io.StringIO()
    render_terminal(diff, Console(file=buffer, width=140, color_system=None))
    out = buffer.getvalue()
    assert "relation: rewrite" in out and "2 altered" in out and "1 added" in out and "1 dropped" in out
    assert out.index("relation") < out.index("Roughly 600") < out.index("Analysts expect")
    assert "'Roughly 600' -> 'Around 600'" in out


@pytest.mark.parametrize("text,expected", [
    ("By AFP", False),
    ("June 26, 2025", False),
    ("North Korea to Send More Troops to Russia, South Korean Intelligence Says", False),
    ("Related article: North Korea Targets Russian Tourists", False),
    ("Lee said Pyongyang provided several million artillery shells.", True),
])
def test_is_claim(text, expected):
    assert is_claim(text) is expected


def _real_verifier():
    verify = pytest.importorskip("dedup.verify")
    if not hasattr(verify, "Verifier"):
        pytest.skip("dedup.verify.Verifier not implemented yet")
    from dedup.clean import clean_text

    texts = [clean_text(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))]
    return verify.Verifier().fit(texts), texts


def test_seed_pair_with_the_verifier_alignment():
    verifier, texts = _real_verifier()
    alignment = verifier.align(texts[0], texts[1])
    diff = build_diff(alignment, "rewrite", None, None, None, None, "000", "001",
                      weight=verifier.vectorizer.word_weight)
    data = diff.to_json()
    changes = {(c["type"], c["a"], c["b"]) for al in data["alignments"] for c in al["changes"]}
    assert ("number", "several million", "millions") in changes
    assert ("number", "Roughly 600", "around 600") in changes
    assert ("time", "in October last year", "in the past year") in changes
    assert ("time", "as early as July or August", "by late summer") in changes
    assert any(t == "attribution" and a and "South Korean intelligence" in a for t, a, _ in changes)
    assert any(c["text"].startswith("North Korea has emerged as a critical ally") for c in data["added"])
    # the scan and the diff read the same alignment
    assert [(p.a_sentences, p.b_sentences) for p in diff.alignments] == \
        sorted([(list(l.a), list(l.b)) for l in alignment.links])


def test_diff_command_json_and_errors(tmp_path):
    _real_verifier()  # skips until the verifier is in
    import typer
    from typer.testing import CliRunner

    from dedup.cli_diff import diff

    app = typer.Typer()
    app.command()(diff)
    app.command("noop")(lambda: None)  # two commands, so `diff` is addressed by name as in dedup.cli
    runner = CliRunner()
    page = tmp_path / "diff.html"
    result = runner.invoke(app, ["diff", "000_b7963910c6951773", "001_a792afd7f87c1107",
                                 "--corpus", str(SEEDS), "--format", "json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert data["a"] == "000_b7963910c6951773" and data["summary"]["added"] >= 1
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    missing = runner.invoke(app, ["diff", str(tmp_path / "nope.txt"), "x"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert "Traceback" not in missing.output
