"""Check in a real browser that the built book's plotly figures draw.

Usage::

    python -m softlattice.book.browsercheck                 # every chapter page in _build/_build/html
    python -m softlattice.book.browsercheck --page notebooks/00_structures.html

The built HTML is served from a local HTTP server on 127.0.0.1; headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright, which downloads no browser of its own when given an
executable) loads each page. A page passes when it holds at least one plotly figure, every plotly
figure div holds plotly's SVG (``.main-svg``), no uncaught JavaScript error occurred and every
request to the book itself succeeded. Requests to other hosts (MathJax and thebe from CDNs) fail on
a machine without internet; they and console messages are reported as notes, not failures. A full-page screenshot of each page is written next to the
HTML folder, under ``_build/screenshots/``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from softlattice.infra.paths import BUILD_DIR

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # WebGL through software rendering, for plotly's 3D scenes
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader")


@dataclass
class PageReport:
    """What one page showed in the browser."""

    page: str
    figures: int = 0
    drawn: int = 0
    webgl_canvases: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.drawn == self.figures


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
                    report.screenshot = screenshot_dir / (Path(page_path).stem + ".png")
                    page.screenshot(path=str(report.screenshot), full_page=True)
                page.close()
                reports.append(report)
            browser.close()
    finally:
        server.shutdown()
    return reports


def chapter_pages(html_dir: Path) -> list[str]:
    """Relative paths of the built chapter pages (``notebooks/*.html``)."""
    return sorted(p.relative_to(html_dir).as_posix() for p in (html_dir / "notebooks").glob("*.html"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m softlattice.book.browsercheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html-dir", type=Path, default=BUILD_DIR / "_build" / "html")
    parser.add_argument("--page", action="append", help="page to check (default: every chapter)")
    parser.add_argument("--screenshots", type=Path, default=BUILD_DIR / "screenshots")
    args = parser.parse_args(argv)
    pages = args.page or chapter_pages(args.html_dir)
    if not pages:
        print(f"[browsercheck] ERROR: no chapter pages under {args.html_dir}", file=sys.stderr)
        return 1
    reports = check_pages(args.html_dir, pages, args.screenshots)
    failed = False
    for report in reports:
        status = "ok" if report.ok and report.figures else "FAIL"
        if not report.figures:
            report.errors.append("no plotly figure on the page")
        failed |= status == "FAIL"
        print(f"[browsercheck] {status} {report.page}: {report.drawn}/{report.figures} figures drawn, "
              f"{report.webgl_canvases} WebGL canvases, screenshot {report.screenshot}")
        for error in report.errors:
            print(f"[browsercheck]     error: {error}")
        for note in report.notes:
            print(f"[browsercheck]     note (not a failure): {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
