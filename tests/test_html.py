"""HTML claim diff and scan report: structure checks, and a real headless Chromium render.

The browser test needs Debian's `chromium` package and Python Playwright (the `test`
extra); `.ci/run` installs both. Where either is missing the test is skipped, saying which.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from dedup.diff import build_diff
from dedup.html import render_pair_html, write_scan_report
from dedup.verify import Alignment, Link, Sentence

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "diff-000-001.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

TEXT_A = "Roughly 600 soldiers were killed, officials said. The <army> left on Monday.\n\nBy AFP"
TEXT_B = "Around 600 soldiers died, officials said. The <army> left on Monday. Talks will resume."


def small_diff():
    def split(text):
        return [Sentence(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\s.][^.]*(?:\.|$)", text)]

    sa, sb = split(TEXT_A), split(TEXT_B)
    alignment = Alignment(sa, sb, [Link((0,), (0,), 0.7, "anchor"), Link((1,), (1,), 1.0, "anchor")])
    return build_diff(alignment, "near_duplicate", 0.9, "a1", "b1", "a1 is dated earlier", "a1", "b1")


def test_pair_page_is_self_contained_and_escaped():
    page = render_pair_html(small_diff(), TEXT_A, TEXT_B)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(?:script|img|iframe)[^>]+src=|<link\b|@import|url\(", page)
    assert "The &lt;army&gt; left" in page and "<army>" not in page
    assert 'class="legend"' in page
    # statuses: the first pair changed a figure, the second is verbatim, one added claim
    assert 's-changed' in page and 's-verbatim' in page and 's-added' in page
    assert re.search(r'class="c c-fact" data-type="number" id="chg-\d+-a" title="number: Around 600">Roughly 600<', page)
    # every change in the summary links to an anchor that exists
    for target in re.findall(r'href="#(chg-[^"]+)"', page):
        assert f'id="{target}"' in page


def _fake_result(tmp_texts: dict[str, str]):
    diff = small_diff()
    pairs = [SimpleNamespace(a="a1", b="b1", relation="near_duplicate", score=0.9, source="a1", derivative="b1",
                             direction_reason="a1 is dated earlier", coverage_a=0.8, coverage_b=0.7, cluster=0)]
    return SimpleNamespace(pairs=pairs, pair_diff=lambda pair: (diff, tmp_texts["a1"], tmp_texts["b1"]))


def test_scan_report_folder_links_each_pair(tmp_path):
    result = _fake_result({"a1": TEXT_A, "b1": TEXT_B})
    index = write_scan_report(result, tmp_path / "report")
    assert index == tmp_path / "report" / "index.html"
    page = index.read_text(encoding="utf-8")
    links = re.findall(r'href="(pairs/[^"]+)"', page)
    assert len(links) == 1 and (tmp_path / "report" / links[0]).exists()
    assert "near_duplicate" in page and "Clusters" in page
    assert "../index.html" in (tmp_path / "report" / links[0]).read_text(encoding="utf-8")


def test_scan_report_single_file(tmp_path):
    result = _fake_result({"a1": TEXT_A, "b1": TEXT_B})
    out = write_scan_report(result, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert 'href="#diff-1"' in page and 'id="diff-1"' in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids must stay unique when diffs share one page"


def _chromium():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no Chromium on PATH: install Debian's chromium package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Python Playwright is not installed (pip install -e '.[test]')")
    return executable, sync_playwright


def _seed_diff():
    from dedup.clean import clean_text
    from dedup import verify

    if not hasattr(verify, "Verifier"):
        pytest.skip("dedup.verify.Verifier not implemented yet")
    texts = [clean_text(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "seeds").glob("*.txt"))]
    verifier = verify.Verifier().fit(texts)
    alignment = verifier.align(texts[0], texts[1])
    diff = build_diff(alignment, "rewrite", None, None, None, None, "000", "001",
                      weight=verifier.vectorizer.word_weight)
    return diff, texts[0], texts[1]


def test_seed_diff_in_headless_chromium(tmp_path):
    executable, sync_playwright = _chromium()
    diff, text_a, text_b = _seed_diff()
    page_path = tmp_path / "diff.html"
    page_path.write_text(render_pair_html(diff, text_a, text_b), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            assert page.locator("#legend").is_visible()
            for label in ("verbatim", "reworded", "changed fact", "added", "dropped"):
                assert page.locator("#legend").get_by_text(label, exact=True).is_visible()
            assert page.locator("#doc-a").is_visible() and page.locator("#doc-b").is_visible()
            # the changed figures are highlighted in both texts, in the changed-fact colour
            fact_colour = page.evaluate(
                "getComputedStyle(document.documentElement).getPropertyValue('--fact').trim()")
            for side, figure in (("a", "several million"), ("b", "millions"),
                                 ("a", "Roughly 600"), ("b", "around 600")):
                mark = page.locator(f'#doc-{side} .c-fact[data-type="number"]', has_text=figure).first
                assert mark.is_visible(), figure
                background = mark.evaluate("el => getComputedStyle(el).backgroundColor")
                assert background == _rgb(fact_colour), (figure, background)
            # the top of the page: summary, legend and both texts side by side
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            # a change in the summary table scrolls to its mark
            page.locator("#changes ~ table a").first.click()
            assert page.evaluate("location.hash").startswith("#chg-")
            assert page.locator(page.evaluate("location.hash")).is_visible()
        finally:
            browser.close()
    assert all(url.startswith(("file:", "data:", "about:")) for url in requests), requests
    assert SCREENSHOT.stat().st_size > 10_000


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[k:k + 2], 16) for k in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"
