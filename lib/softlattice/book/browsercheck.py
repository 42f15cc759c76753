r"""Check in a real browser that the built book reads as it should: figures drawn, math rendered,
no machine paths and no Python warnings on any page.

Usage::

    python -m softlattice.book.browsercheck                 # every page in _build/_build/html
    python -m softlattice.book.browsercheck --page notebooks/00_structures.html

The built HTML is served from a local HTTP server on 127.0.0.1; headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright, which downloads no browser of its own when given an
executable) loads each page. A page passes when

- every plotly figure div holds plotly's SVG (``.main-svg``), and a chapter page (``notebooks/NN_*``)
  holds at least one figure;
- every math element was typeset by MathJax (served from the book itself) and no raw TeX delimiter
  (``\(``, ``\[``, ``$$``) is left in the visible text outside code;
- the visible text outside code inputs holds no absolute path of the build machine and no Python
  warning (``SomethingWarning:``);
- no uncaught JavaScript error occurred and every request to the book itself succeeded.

Requests to other hosts (thebe from a CDN) fail on a machine without internet; they and console
messages are reported as notes, not failures. A full-page screenshot of each page is written under
``_build/screenshots/``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from softlattice.infra.paths import BUILD_DIR, REPO_ROOT

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # WebGL through software rendering, for plotly's 3D scenes
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader")


PROSE_TEXT_JS = """() => {
    const main = (document.querySelector('main') || document.body).cloneNode(true);
    main.querySelectorAll('pre, code, .cell_input, .highlight, mjx-container, script, style')
        .forEach(e => e.remove());
    return main.innerText;
}"""
"""Visible text of the page's main part without code inputs and typeset math."""
MATH_JS = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    const math = [...document.querySelectorAll('.math')];
    return [math.length, math.filter(e => e.querySelector('mjx-container')).length];
}"""
"""Waits for MathJax, then counts math elements and those it typeset."""
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$")
PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning\b:")
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:home|tmp|root|work|usr|var|opt|mnt)/[\w.-]+")


def text_problems(text: str, repository_root: str = str(REPO_ROOT)) -> list[str]:
    """What a reader should not see in a page's visible prose and outputs: raw TeX, Python warnings,
    absolute paths of the build machine (each named with its context)."""
    problems = []
    for label, pattern in (("raw TeX", RAW_TEX), ("Python warning", PYTHON_WARNING), ("machine path", MACHINE_PATH)):
        for match in list(pattern.finditer(text))[:3]:
            context = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " ")
            problems.append(f"{label} in the text: ...{context}...")
    if repository_root in text and not any("machine path" in p for p in problems):
        problems.append(f"machine path in the text: {repository_root}")
    return problems


@dataclass
class PageReport:
    """What one page showed in the browser."""

    page: str
    figures: int = 0
    drawn: int = 0
    webgl_canvases: int = 0
    math: int = 0
    math_typeset: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.drawn == self.figures and self.math_typeset == self.math


def find_chromium() -> str:
    """Path of the Chromium executable (``$CHROMIUM`` or ``chromium`` on PATH)."""
    candidate = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate:
        raise RuntimeError("no Chromium found: install Debian's package (apt-get install chromium) or "
                           "set CHROMIUM to the browser's path")
    return candidate


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def check_pages(html_dir: Path, pages: Sequence[str], screenshot_dir: Path,
                timeout_ms: int = 60_000) -> list[PageReport]:
    """Load each page from a local server in headless Chromium and report on its figures."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium(),
                                                 args=list(CHROMIUM_FLAGS))
            for page_path in pages:
                report = PageReport(page_path)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                origin = f"http://127.0.0.1:{server.server_address[1]}/"
                page.on("pageerror", lambda error, r=report: r.errors.append(f"JS error: {error}"))
                page.on("console", lambda message, r=report: r.notes.append(
                    f"console error: {message.text}") if message.type == "error" else None)
                page.on("response", lambda response, r=report, o=origin: r.errors.append(
                    f"HTTP {response.status} for {response.url}")
                    if response.url.startswith(o) and response.status >= 400 else None)
                page.on("requestfailed", lambda request, r=report, o=origin: (
                    r.errors if request.url.startswith(o) else r.notes).append(
                    f"request failed: {request.url} ({request.failure})"))
                url = origin + page_path
                response = page.goto(url, wait_until="load", timeout=timeout_ms)
                if response is None or not response.ok:
                    report.errors.append(f"HTTP {response.status if response else 'no response'} for {url}")
                else:
                    report.figures = page.locator(".plotly-graph-div").count()
                    try:
                        page.wait_for_function(
                            "() => [...document.querySelectorAll('.plotly-graph-div')]"
                            ".every(d => d.querySelector('.main-svg'))", timeout=timeout_ms)
                    except PlaywrightTimeout:
                        report.errors.append("timed out waiting for plotly figures to draw")
                    report.drawn = page.evaluate(
                        "() => [...document.querySelectorAll('.plotly-graph-div')]"
                        ".filter(d => d.querySelector('.main-svg')).length")
                    report.webgl_canvases = page.locator(".plotly-graph-div canvas").count()
                    report.math, report.math_typeset = page.evaluate(MATH_JS)
                    if report.math_typeset < report.math:
                        report.errors.append(f"{report.math - report.math_typeset} of {report.math} math "
                                             "elements not typeset by MathJax")
                    report.errors += text_problems(page.evaluate(PROSE_TEXT_JS))
                    report.screenshot = screenshot_dir / (Path(page_path).stem + ".png")
                    page.screenshot(path=str(report.screenshot), full_page=True)
                page.close()
                reports.append(report)
            browser.close()
    finally:
        server.shutdown()
    return reports


def book_pages(html_dir: Path) -> list[str]:
    """Relative paths of the built pages: the chapters (``notebooks/*.html``) and the prose pages
    (``book/*.html``, the front page), without Sphinx's generated index and search pages."""
    pages = [p for pattern in ("notebooks/*.html", "book/*.html") for p in html_dir.glob(pattern)]
    return sorted(p.relative_to(html_dir).as_posix() for p in pages)


def needs_figure(page: str) -> bool:
    """A chapter page (``notebooks/NN_*``) must hold a figure; other pages may hold none."""
    name = Path(page).name
    return page.startswith("notebooks/") and name[:1].isdigit()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.book.browsercheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html-dir", type=Path, default=BUILD_DIR / "_build" / "html")
    parser.add_argument("--page", action="append", help="page to check (default: every chapter)")
    parser.add_argument("--screenshots", type=Path, default=BUILD_DIR / "screenshots")
    args = parser.parse_args(argv)
    pages = args.page or book_pages(args.html_dir)
    if not pages:
        print(f"[browsercheck] ERROR: no pages under {args.html_dir}", file=sys.stderr)
        return 1
    reports = check_pages(args.html_dir, pages, args.screenshots)
    failed = False
    for report in reports:
        if needs_figure(report.page) and not report.figures:
            report.errors.append("no plotly figure on the chapter page")
        status = "ok" if report.ok else "FAIL"
        failed |= status == "FAIL"
        print(f"[browsercheck] {status} {report.page}: {report.drawn}/{report.figures} figures drawn, "
              f"{report.webgl_canvases} WebGL canvases, {report.math_typeset}/{report.math} math typeset, screenshot {report.screenshot}")
        for error in report.errors:
            print(f"[browsercheck]     error: {error}")
        for note in report.notes:
            print(f"[browsercheck]     note (not a failure): {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
